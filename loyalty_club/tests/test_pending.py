from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestPendingPoints(LoyaltyClubCase):
    """Issue 22, club setting *pending period*: points earned by a purchase can be spent N days
    after it; until then they show as pending, a redemption is refused for them, and a refund
    inside the period cancels them without a debt."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.pending_days = 14

    def test_default_is_no_pending_period(self):
        club = self.env["loyalty.club"].create({"name": "Fresh club", "company_id": self.other_company.id})
        self.assertEqual(club.pending_days, 0)
        card = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": club.id})
        earned = self.post(100, card=card)
        self.assertFalse(earned.pending_until)
        self.assertEqual(card._loyalty_spendable_points(), 100)
        self.post(-100, "redeem", card=card)

    def test_spend_refused_during_the_period_and_allowed_after(self):
        with freeze_time("2025-03-01 10:00:00"):
            self.post(30, "bonus")  # a bonus is spendable at once
            earned = self.post(100, purchase_count=1)
            self.assertEqual(earned.pending_until, datetime(2025, 3, 15, 10, 0, 0))
            self.assertEqual(self.card.balance, 130)
            self.assertEqual(self.card.points_pending, 100)
            self.assertEqual(self.card._loyalty_pending_points(), 100)
            self.assertEqual(self.card._loyalty_spendable_points(), 30)
        with freeze_time("2025-03-15 09:59:59"):
            count = self.ledger_count()
            with self.assertRaisesRegex(UserError, "30 of its 130 points can be spent now"):
                self.post(-31, "redeem")
            self.assertEqual(self.ledger_count(), count, "a refused redemption books nothing")
            self.post(-30, "redeem")
            self.assertEqual(earned.points_remaining, 100, "the redemption took nothing of the pending lot")
        with freeze_time("2025-03-15 10:00:00"):
            self.card.invalidate_recordset(["points_pending"])
            self.assertEqual(self.card.points_pending, 0)
            self.assertEqual(self.card._loyalty_spendable_points(), 100)
            self.post(-100, "redeem")
        self.assertEqual(self.card.balance, 0)
        self.assertBalanceIsLedgerSum()

    def test_refund_inside_the_period_cancels_pending_points_without_debt(self):
        with freeze_time("2025-03-01 10:00:00"):
            self.post(50, "bonus")
            earned = self.post(100, purchase_count=1)
        with freeze_time("2025-03-05"):
            self.post(-50, "redeem")  # the member spends everything that is spendable
            entry, shortfall = self.Posting._post_reversal(self.card, 100, "test:refund", earned, purchase_count=-1)
        self.assertEqual((entry.points, shortfall), (-100, 0))
        self.assertEqual(self.card.balance, 0, "no debt: the refund took the pending points themselves")
        self.assertEqual(earned.points_remaining, 0)
        self.assertBalanceIsLedgerSum()

    def test_partial_policy_refund_inside_the_period(self):
        self.club.negative_balance_policy = "partial"
        with freeze_time("2025-03-01"):
            earned = self.post(100, purchase_count=1)
        with freeze_time("2025-03-02"):
            entry, shortfall = self.Posting._post_reversal(self.card, 40, "test:partial-refund", earned)
            self.assertEqual((entry.points, shortfall), (-40, 0))
            self.assertEqual(self.card.points_pending, 60)
        self.assertBalanceIsLedgerSum()

    def test_pending_points_travel_with_a_replaced_card(self):
        with freeze_time("2025-03-01 10:00:00"):
            self.post(100, purchase_count=1)
            wizard = self.env["loyalty.club.card.replace.wizard"].create({"card_id": self.card.id})
            new = self.env["loyalty.club.card"].browse(wizard.action_replace()["res_id"])
            self.assertEqual(new.balance, 100)
            self.assertEqual(new.points_pending, 100, "a replacement is no way around the pending period")
            with self.assertRaisesRegex(UserError, "pending"):
                self.post(-1, "redeem", card=new)

    def test_corrections_may_take_pending_points_last(self):
        """A manager's negative adjustment spends spendable lots first, then pending ones."""
        with freeze_time("2025-03-01"):
            self.post(20, "bonus")
            earned = self.post(100, purchase_count=1)
            self.post(-50, "adjust")
        self.assertEqual(earned.points_remaining, 70)
        self.assertBalanceIsLedgerSum()

    def test_negative_pending_period_is_refused(self):
        with self.assertRaises(ValidationError):
            self.club.pending_days = -1

    def test_the_till_summary_shows_pending_points(self):
        with freeze_time("2025-03-01"):
            self.post(40, purchase_count=1)
            config = (
                self.env["pos.config"]
                .with_company(self.company)
                .create({"name": "Pending shop", "company_id": self.company.id, "payment_method_ids": [(5, 0, 0)]})
            )
            summary = config._loyalty_club_card_summary(self.card)
        self.assertEqual((summary["balance"], summary["points_pending"]), (40, 40))
