from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestTierReferrals(LoyaltyClubCase):
    """Issue 22, club setting: referrals as a fourth term of the weighted tier metric (a member
    brought in counts once they have made a purchase)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.write(
            {
                "tier_metric": "weighted",
                "tier_weight_points": 0.8,
                "tier_weight_amount": 0,
                "tier_weight_purchases": 0,
                "tier_weight_referrals": 100,
            }
        )

    def _referred(self, name, card=None):
        partner = self.env["res.partner"].create({"name": name})
        return self.env["loyalty.club.card"].create(
            {"partner_id": partner.id, "club_id": self.club.id, "referred_by_card_id": (card or self.card).id}
        )

    def test_referrals_count_once_the_member_brought_in_buys(self):
        self.post(500, purchase_count=1)  # 0.8 x 500 = 400
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 400)
        first = self._referred("Friend 1")
        second = self._referred("Friend 2")
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 400, "no purchase yet: no referral")
        self.post(10, card=first, purchase_count=1)
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 500)
        self.assertEqual(self.card.tier_id, self.silver, "the referrer is upgraded at once")
        self.assertEqual(second.tier_id, self.bronze)
        self.post(10, card=second, purchase_count=1)
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 600)

    def test_a_cancelled_first_purchase_no_longer_counts(self):
        friend = self._referred("Friend")
        earned = self.post(10, card=friend, purchase_count=1, amount=100)
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 100)
        self.Posting._post_reversal(friend, 10, "test:cancel", earned, purchase_count=-1, amount=-100)
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 0)

    def test_referrals_follow_the_window_and_the_evaluation(self):
        self.club.write({"tier_window": "rolling", "tier_window_months": 12})
        with freeze_time("2025-01-10"):
            friend = self._referred("Old friend")
            self.post(10, card=friend, purchase_count=1)
            self.assertEqual(self.card._tier_metric_values()[self.card.id], 100)
        with freeze_time("2026-03-01"):
            self.assertEqual(self.card._tier_metric_values()[self.card.id], 0, "issued before the window")
            self.silver.threshold = 100
            recent = self._referred("New friend")
            self.post(10, card=recent, purchase_count=1)
            self.card._cron_evaluate_tiers()
            self.assertEqual(self.card.tier_id, self.silver)

    def test_other_metrics_ignore_referrals(self):
        self.club.tier_metric = "points"
        friend = self._referred("Friend")
        self.post(10, card=friend, purchase_count=1)
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 0)

    def test_weight_cannot_be_negative(self):
        with self.assertRaises(ValidationError):
            self.club.tier_weight_referrals = -1
