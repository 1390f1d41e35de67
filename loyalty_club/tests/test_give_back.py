from datetime import date

from freezegun import freeze_time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import CommittedClubMixin, LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestGiveBack(LoyaltyClubCase):
    """Issue 22, item 7: points given back by a cancelled or refunded redemption return to the lots
    they were taken from, with their original expiry; a lot already due expires at the next run."""

    def _expire(self):
        while self.Posting._cron_expire_points(batch_size=2):
            pass

    def _give_back(self, redeem, points, key=None, card=None):
        return self.post(points, "reverse", key=key, card=card, reversed_entry=redeem)

    def _lots(self, card=None):
        return self.env["loyalty.club.entry"].search(
            [("card_id", "=", (card or self.card).id), ("points_remaining", ">", 0)], order="expiry_date, id"
        )

    def test_returned_points_keep_their_original_expiry(self):
        """Spend points that expire tomorrow, cancel, get them back: they still expire tomorrow
        (no fresh year of validity)."""
        with freeze_time("2025-01-10"):
            old_lot = self.post(100)
        with freeze_time("2025-12-01"):
            new_lot = self.post(50)
        with freeze_time("2026-01-09 10:00"):
            redeem = self.post(-120, "redeem")  # 100 from the January lot, 20 from December's
            self.assertEqual((old_lot.points_remaining, new_lot.points_remaining), (0, 30))
            consumptions = self.env["loyalty.club.lot.consumption"].search([("debit_entry_id", "=", redeem.id)])
            self.assertEqual(sorted(consumptions.mapped("points")), [20, 100])
            returned = self._give_back(redeem, 120)
        self.assertEqual(returned.points_remaining, 0, "the give-back opens no lot of its own")
        self.assertFalse(returned.expiry_date)
        self.assertEqual((old_lot.points_remaining, new_lot.points_remaining), (100, 50))
        self.assertEqual(self._lots().mapped("expiry_date"), [date(2026, 1, 10), date(2026, 12, 1)])
        self.assertBalanceIsLedgerSum()
        with freeze_time("2026-01-10 08:00"):
            self._expire()
            self.assertEqual(self.card.balance, 50, "the returned points of January expire on their date")
        self.assertBalanceIsLedgerSum()

    def test_partial_give_back_returns_the_last_taken_first(self):
        with freeze_time("2025-01-10"):
            january = self.post(60)
        with freeze_time("2025-02-10"):
            february = self.post(60)
        with freeze_time("2025-03-10"):
            redeem = self.post(-100, "redeem")  # 60 of January, 40 of February
            self._give_back(redeem, 30)
            self.assertEqual((january.points_remaining, february.points_remaining), (0, 50))
            self._give_back(redeem, 50)
            self.assertEqual((january.points_remaining, february.points_remaining), (40, 60))
        self.assertEqual(self.card.balance, 100)
        self.assertBalanceIsLedgerSum()

    def test_points_returned_to_an_expired_lot_expire_at_the_next_run(self):
        with freeze_time("2025-01-10"):
            lot = self.post(100)
        with freeze_time("2025-06-01"):
            redeem = self.post(-40, "redeem")
        with freeze_time("2026-01-10 08:00"):
            self._expire()  # the 60 left expire on their date
            self.assertEqual(self.card.balance, 0)
        with freeze_time("2026-02-01"):
            returned = self._give_back(redeem, 40)
            self.assertEqual(self.card.balance, 40, "the member gets the points back...")
            self.assertEqual(lot.points_remaining, 40)
            self.assertEqual(returned.points_remaining, 0)
            self._expire()
            self.assertEqual(self.card.balance, 0, "...and the next run expires them: their lot was due")
            expiries = self.env["loyalty.club.entry"].search(
                [("card_id", "=", self.card.id), ("kind", "=", "expire")], order="id"
            )
            self.assertEqual(expiries.mapped("points"), [-60, -40])
            self.assertEqual(
                expiries.mapped("posting_key"),
                [
                    f"loyalty.club.entry:{lot.id}:0:expire",
                    f"loyalty.club.entry:{lot.id}:40:expire",
                ],
            )
            count = self.ledger_count()
            self._expire()
            self.assertEqual(self.ledger_count(), count, "the expiry run stays idempotent")
        self.assertBalanceIsLedgerSum()

    def test_points_returned_to_a_due_lot_are_not_spendable(self):
        """A debit expires the due lots first: returned points of a due lot cannot be spent."""
        with freeze_time("2025-01-10"):
            self.post(100)
        with freeze_time("2025-06-01"):
            redeem = self.post(-100, "redeem")
        with freeze_time("2026-02-01"):
            self._give_back(redeem, 100)
            self.post(10, "bonus")
            self.post(-10, "redeem")
            self.assertEqual(self.card.balance, 0)
        self.assertBalanceIsLedgerSum()

    def test_give_back_never_exceeds_what_the_debit_took(self):
        self.post(100)
        redeem = self.post(-80, "redeem")
        self._give_back(redeem, 50)
        count = self.ledger_count()
        with self.assertRaisesRegex(ValidationError, "already given back"):
            self._give_back(redeem, 31)
        self.assertEqual(self.ledger_count(), count)
        self._give_back(redeem, 30)
        self.assertEqual(self.card.balance, 100)
        self.assertBalanceIsLedgerSum()

    def test_a_correction_goes_the_other_way(self):
        earned = self.post(100)
        redeem = self.post(-50, "redeem")
        count = self.ledger_count()
        with self.assertRaisesRegex(ValidationError, "the other way"):
            self.post(-10, "reverse", reversed_entry=redeem)
        with self.assertRaisesRegex(ValidationError, "the other way"):
            self.post(10, "reverse", reversed_entry=earned)
        self.assertEqual(self.ledger_count(), count)

    def test_a_correction_the_same_way_undoes_at_most_the_earlier_ones(self):
        """A credit note reset to draft gives back what it took: a correction going the entry's way
        is allowed up to what the earlier corrections took the other way, once per key."""
        earned = self.post(100)
        self.post(-30, "reverse", reversed_entry=earned, key="test:credit-note")
        count = self.ledger_count()
        with self.assertRaisesRegex(ValidationError, "at most what the earlier corrections took \\(30 points\\)"):
            self.post(31, "reverse", reversed_entry=earned, key="test:credit-note:undo")
        self.assertEqual(self.ledger_count(), count)
        undo = self.post(30, "reverse", reversed_entry=earned, key="test:credit-note:undo")
        self.assertEqual(self.post(30, "reverse", reversed_entry=earned, key="test:credit-note:undo"), undo)
        with self.assertRaisesRegex(ValidationError, "\\(0 points\\)"):
            self.post(1, "reverse", reversed_entry=earned, key="test:credit-note:undo2")
        self.assertEqual(self.card.balance, 100)
        self.assertBalanceIsLedgerSum()

    def test_give_back_is_exactly_once_per_key(self):
        lot = self.post(100)
        redeem = self.post(-100, "redeem")
        first = self._give_back(redeem, 100, key="test:giveback")
        again = self._give_back(redeem, 100, key="test:giveback")
        self.assertEqual(first, again)
        self.assertEqual(lot.points_remaining, 100)
        self.assertEqual(self.card.balance, 100)
        self.assertBalanceIsLedgerSum()

    def test_give_back_goes_to_the_card_of_the_debit_or_its_replacement(self):
        self.post(100)
        redeem = self.post(-100, "redeem")
        stranger = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        with self.assertRaisesRegex(ValidationError, "go back to that card"):
            self._give_back(redeem, 100, card=stranger)
        self.assertEqual(stranger.balance, 0)

    def test_give_back_on_the_replacement_card_keeps_the_earliest_expiry(self):
        """After a lost card is replaced, its lots are gone: the points given back become a lot of
        the new card with the expiry of the lots they came from (the earliest), never a fresh one."""
        with freeze_time("2025-01-10"):
            self.post(60)
        with freeze_time("2025-02-10"):
            self.post(60)
        with freeze_time("2025-03-10"):
            redeem = self.post(-100, "redeem")
            wizard = self.env["loyalty.club.card.replace.wizard"].create({"card_id": self.card.id})
            new = self.env["loyalty.club.card"].browse(wizard.action_replace()["res_id"])
            returned = self._give_back(redeem, 100, card=new)
        self.assertEqual(returned.points_remaining, 100)
        self.assertEqual(returned.expiry_date, date(2026, 1, 10))
        self.assertEqual(new.balance, 120)
        self.assertBalanceIsLedgerSum(new)
        self.assertBalanceIsLedgerSum(self.card)

    def test_debit_booked_before_lots_were_recorded_gives_back_a_new_lot(self):
        """Existing databases: a redemption made before the consumption table has no record; its
        give-back opens a new lot with the club's validity, as before."""
        with freeze_time("2025-01-10"):
            self.post(100)
            redeem = self.post(-100, "redeem")
        self.env.flush_all()
        self.env.cr.execute("ALTER TABLE loyalty_club_lot_consumption DISABLE TRIGGER USER")
        self.env.cr.execute("DELETE FROM loyalty_club_lot_consumption WHERE debit_entry_id = %s", [redeem.id])
        self.env.cr.execute("ALTER TABLE loyalty_club_lot_consumption ENABLE TRIGGER USER")
        with freeze_time("2025-06-01"):
            returned = self._give_back(redeem, 100)
        self.assertEqual(returned.points_remaining, 100)
        self.assertEqual(returned.expiry_date, date(2026, 6, 1))
        self.assertBalanceIsLedgerSum()

    def test_give_back_repays_a_debt_first(self):
        earned = self.post(100)
        redeem = self.post(-100, "redeem")
        self.Posting._post_reversal(self.card, 30, "test:reverse-earned", earned)  # a debt of 30
        self.assertEqual(self.card.balance, -30)
        self._give_back(redeem, 100)
        self.assertEqual(self.card.balance, 70)
        self.assertBalanceIsLedgerSum()

    def test_consumptions_are_recorded_by_the_service_only(self):
        self.post(10)
        redeem = self.post(-10, "redeem")
        consumption = self.env["loyalty.club.lot.consumption"].search([("debit_entry_id", "=", redeem.id)])
        self.assertEqual(len(consumption), 1)
        with self.assertRaises(UserError):
            consumption.write({"points_returned": 10})
        with self.assertRaises(UserError):
            consumption.unlink()
        with self.assertRaises(UserError):
            self.env["loyalty.club.lot.consumption"].create(
                {"debit_entry_id": redeem.id, "lot_id": redeem.id, "company_id": self.company.id, "points": 1}
            )


@tagged("post_install", "-at_install")
class TestGiveBackConcurrency(CommittedClubMixin, TransactionCase):
    """Several refunds of one redemption at once (two tills, a credit note): the points given
    back never exceed what the redemption took, and the lots stay in step with the balance."""

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_concurrent_give_backs_of_one_redemption(self):
        ids = self.make_committed_card(balance=100, tag="giveback")
        with self.committed_env() as env:
            card = env["loyalty.club.card"].browse(ids["card"])
            redeem_id = env["loyalty.club.posting"]._post(card, -100, "redeem", f"giveback:{card.id}:redeem").id

        def give_back(env, index):
            card = env["loyalty.club.card"].browse(ids["card"])
            redeem = env["loyalty.club.entry"].browse(redeem_id)
            env["loyalty.club.posting"]._post(card, 30, "reverse", f"giveback:{card.id}:{index}", reversed_entry=redeem)

        outcomes = self._run_threads(6, give_back)
        unexpected = [outcome for outcome in outcomes if outcome not in ("ok", "refused")]
        self.assertFalse(unexpected, "no traceback may reach a caller:\n" + "\n".join(map(str, unexpected)))
        self.assertEqual(outcomes.count("ok"), 3, "3 x 30 of the 100 points taken; a fourth would exceed")
        balance, kinds, mismatches = self._card_state(ids["card"])
        self.assertEqual(balance, 90)
        self.assertEqual(kinds.count("reverse"), 3)
        self.assertFalse(mismatches)
        with self.committed_env() as env:
            lots = env["loyalty.club.entry"].search([("card_id", "=", ids["card"]), ("kind", "=", "earn")])
            self.assertEqual(sum(lots.mapped("points_remaining")), 90, "the points are back in their lot")
