from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..tools import posting_keys
from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestPointExpiry(LoyaltyClubCase):
    """Acceptance 5: FIFO lots expire in order, partly used lots expire their remainder, cron is idempotent."""

    def _expire(self):
        while self.Posting._cron_expire_points(batch_size=2):
            pass

    def _entries(self, kind):
        return self.env["loyalty.club.entry"].search([("card_id", "=", self.card.id), ("kind", "=", kind)], order="id")

    def test_lots_expire_in_order_with_remainders(self):
        with freeze_time("2025-01-10 10:00:00"):
            lot_january = self.post(100)
        with freeze_time("2025-03-10 10:00:00"):
            lot_march = self.post(50)
        with freeze_time("2025-06-01 10:00:00"):
            self.post(-30, "redeem")  # taken from the January lot, the oldest
        self.assertEqual(lot_january.expiry_date, date(2026, 1, 10))
        self.assertEqual(lot_january.points_remaining, 70)
        self.assertEqual(lot_march.points_remaining, 50)

        with freeze_time("2026-01-09 23:00:00"):
            self._expire()
            self.assertFalse(self._entries("expire"), "nothing is due the day before")
        with freeze_time("2026-01-10 08:00:00"):
            self._expire()
            expired = self._entries("expire")
            self.assertEqual(expired.mapped("points"), [-70], "only the unused remainder expires")
            self.assertEqual(expired.lot_id, lot_january)
            self.assertEqual(self.card.balance, 50)
            self.assertBalanceIsLedgerSum()
        with freeze_time("2026-03-10 08:00:00"):
            self._expire()
            self.assertEqual(self._entries("expire").mapped("points"), [-70, -50])
            self.assertEqual(self.card.balance, 0)
            count = self.ledger_count()
            self._expire()
            self.Posting._cron_expire_points()
            self.assertEqual(self.ledger_count(), count, "running the cron again posts nothing")
        self.assertBalanceIsLedgerSum()

    def test_the_job_and_a_debit_expire_a_lot_alike(self):
        """The job assembles its entries in SQL, a debit through _entry_values: the same columns."""
        card2 = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        with freeze_time("2025-01-10 10:00:00"):
            lot, lot2 = self.post(100), self.post(100, card=card2)
        with freeze_time("2026-01-11 08:00:00"):
            self.Posting._expire_card_lots(card2, fields.Datetime.now())  # what a debit of card 2 does first
            self._expire()  # the job: card 1's lot
            expected = self.Posting._entry_values(
                self.card, "expire", -100, posting_keys.lot_expiry(lot), fields.Datetime.now(),
                origin=lot, branch=self.card.company_id, reason="Points expired",
            )  # fmt: skip
        expected.update(
            {"points_remaining": 0, "lot_id": lot.id, "amount": 0, "purchase_count": 0, "qualifying": False}
        )
        by_job = self._entries("expire")
        by_debit = self.env["loyalty.club.entry"].search([("card_id", "=", card2.id), ("kind", "=", "expire")])
        self.assertEqual((by_debit.lot_id, by_debit.points), (lot2, -100))
        for name, value in expected.items():
            with self.subTest(column=name):
                self.assertEqual(by_job._fields[name].convert_to_write(by_job[name], by_job), value)
                if name not in ("card_id", "partner_id", "posting_key", "origin_id", "lot_id", "reason"):
                    self.assertEqual(by_job[name], by_debit[name], "as the debit's expiry")
        self.assertEqual((lot.points_remaining, lot2.points_remaining), (0, 0))
        self.assertBalanceIsLedgerSum()
        self.assertBalanceIsLedgerSum(card2)

    def test_cron_reports_progress_per_batch_until_nothing_is_due(self):
        """Each call expires one batch and tells the scheduler whether to call again; the
        count it reports is capped at one batch (no count of every due lot after each batch)."""
        cards = self.card | self.env["loyalty.club.card"].create(
            [{"partner_id": self.member2.id, "club_id": self.club.id}]
        )
        with freeze_time("2025-01-10"):
            for index in range(5):
                self.post(10, card=cards[index % 2])
        reports = []
        with (
            freeze_time("2026-02-01"),
            patch.object(type(self.env["ir.cron"]), "_notify_progress", lambda _self, **kw: reports.append(kw)),
        ):
            while self.Posting._cron_expire_points(batch_size=2):
                pass
        self.assertEqual(reports[-1], {"done": 0, "remaining": 0})
        self.assertTrue(all(report["remaining"] <= 2 for report in reports))
        self.assertEqual(cards.mapped("balance"), [0, 0])
        self.assertEqual(len(self._entries("expire")), 3)

    def test_fully_used_lot_expires_nothing(self):
        with freeze_time("2025-01-10"):
            self.post(40)
            self.post(-40, "redeem")
        with freeze_time("2026-02-01"):
            self._expire()
        self.assertFalse(self._entries("expire"))
        self.assertEqual(self.card.balance, 0)

    def test_redeem_cannot_spend_points_past_their_expiry(self):
        """Due lots are expired under the card lock before a debit, even before the cron ran."""
        with freeze_time("2025-01-10"):
            self.post(100)
        with freeze_time("2025-12-01"):
            self.post(20)
        with freeze_time("2026-02-01"):
            with self.assertRaisesRegex(UserError, "Not enough points"):
                self.post(-50, "redeem")
            self.post(-20, "redeem")
            self.assertEqual(self.card.balance, 0)
            self._expire()
            self.assertEqual(self._entries("expire").mapped("points"), [-100])
        self.assertBalanceIsLedgerSum()

    def test_never_expiring_club(self):
        self.club.expiry_months = 0
        entry = self.post(10)
        self.assertFalse(entry.expiry_date)
        with freeze_time("2040-01-01"):
            self._expire()
        self.assertEqual(self.card.balance, 10)

    def test_cron_batches_many_cards(self):
        cards = self.env["loyalty.club.card"].create(
            [{"partner_id": self.member2.id, "club_id": self.club.id} for _i in range(5)]
        )
        with freeze_time("2025-01-10"):
            for card in cards:
                self.post(10, card=card)
                self.post(5, card=card)
        with freeze_time("2026-06-01"):
            self._expire()
        for card in cards:
            self.assertEqual(card.balance, 0)
            self.assertBalanceIsLedgerSum(card)
