from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestTiers(LoyaltyClubCase):
    """Acceptance 7: upgrade on qualification for each metric, downgrade after grace, history."""

    def _history(self, card=None):
        return (card or self.card).tier_history_ids.sorted("id")

    def test_new_card_starts_in_the_base_tier(self):
        self.assertEqual(self.card.tier_id, self.bronze)
        self.assertEqual(self._history().mapped("reason"), ["initial"])

    def test_upgrade_by_points_at_once(self):
        self.post(499)
        self.assertEqual(self.card.tier_id, self.bronze)
        self.post(1)
        self.assertEqual(self.card.tier_id, self.silver)
        self.post(1600)
        self.assertEqual(self.card.tier_id, self.gold)
        history = self._history()
        self.assertEqual(history.mapped("reason"), ["initial", "upgrade", "upgrade"])
        self.assertEqual(history[-1].old_tier_id, self.silver)
        self.assertEqual(history[-1].new_tier_id, self.gold)

    def test_redeeming_does_not_lower_the_qualification(self):
        self.post(600)
        self.post(-600, "redeem")
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 600)
        self.card._cron_evaluate_tiers()
        self.assertEqual(self.card.tier_id, self.silver)

    def test_upgrade_by_amount_spent(self):
        self.club.tier_metric = "amount"
        self.post(10, amount=499.99)
        self.assertEqual(self.card.tier_id, self.bronze)
        self.post(10, amount=0.01)
        self.assertEqual(self.card.tier_id, self.silver)

    def test_upgrade_by_number_of_purchases(self):
        self.club.tier_metric = "purchases"
        self.silver.threshold = 3
        self.gold.threshold = 5
        for _purchase in range(3):
            self.post(1, purchase_count=1)
        self.assertEqual(self.card.tier_id, self.silver)

    def test_upgrade_by_weighted_mix(self):
        self.club.write(
            {
                "tier_metric": "weighted",
                "tier_weight_points": 1,
                "tier_weight_amount": 0.5,
                "tier_weight_purchases": 100,
            }
        )
        self.post(100, amount=400, purchase_count=1)  # 100 + 200 + 100 = 400
        self.assertEqual(self.card.tier_id, self.bronze)
        self.post(50, amount=0, purchase_count=1)  # + 50 + 100 = 550
        self.assertEqual(self.card.tier_id, self.silver)

    def test_metric_counts_every_card_of_the_member(self):
        self.post(300)
        second = self.env["loyalty.club.card"].create({"partner_id": self.member.id, "club_id": self.club.id})
        self.post(250, card=second)
        self.assertEqual(second.tier_id, self.silver)
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 550)

    def test_downgrade_only_after_the_grace_period(self):
        self.club.write({"tier_window": "rolling", "tier_window_months": 12, "tier_grace_days": 30})
        with freeze_time("2025-01-15 10:00:00"):
            self.post(600)
            self.assertEqual(self.card.tier_id, self.silver)
        with freeze_time("2025-12-01 10:00:00"):
            self.card._cron_evaluate_tiers()
            self.assertEqual(self.card.tier_id, self.silver, "still qualifies inside the window")
            self.assertFalse(self.card.tier_grace_until)
        with freeze_time("2026-01-20 10:00:00"):
            self.card._cron_evaluate_tiers()
            self.assertEqual(self.card.tier_id, self.silver, "no longer qualifies: grace starts, no downgrade")
            self.assertEqual(str(self.card.tier_grace_until), "2026-02-19")
        with freeze_time("2026-02-18 10:00:00"):
            self.card._cron_evaluate_tiers()
            self.assertEqual(self.card.tier_id, self.silver, "still inside the grace period")
        with freeze_time("2026-02-19 10:00:00"):
            self.card._cron_evaluate_tiers()
            self.assertEqual(self.card.tier_id, self.bronze)
            self.assertFalse(self.card.tier_grace_until)
        self.assertEqual(self._history().mapped("reason"), ["initial", "upgrade", "downgrade"])

    def test_requalifying_during_grace_cancels_the_downgrade(self):
        self.club.write({"tier_window": "rolling", "tier_window_months": 12, "tier_grace_days": 30})
        with freeze_time("2025-01-15"):
            self.post(600)
        with freeze_time("2026-01-20"):
            self.card._cron_evaluate_tiers()
            self.assertTrue(self.card.tier_grace_until)
            self.post(500)
            self.assertFalse(self.card.tier_grace_until)
        with freeze_time("2026-03-01"):
            self.card._cron_evaluate_tiers()
            self.assertEqual(self.card.tier_id, self.silver)

    def test_calendar_year_window(self):
        self.club.write({"tier_window": "calendar_year", "tier_grace_days": 0})
        with freeze_time("2025-11-15"):
            self.post(600)
            self.assertEqual(self.card.tier_id, self.silver)
        with freeze_time("2026-01-02"):
            self.card._cron_evaluate_tiers()
            self.assertEqual(self.card.tier_id, self.bronze)

    def test_reversal_of_earned_points_lowers_the_metric(self):
        earned = self.post(600)
        self.post(-200, "reverse", reversed_entry=earned)
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 400)

    def test_progress_to_next_tier(self):
        self.post(380)
        self.assertEqual(self.card.next_tier_id, self.silver)
        self.assertEqual(self.card.next_tier_missing, 120)
        self.assertAlmostEqual(self.card.tier_progress, 76.0)

    def test_tier_cannot_be_written_by_users(self):
        with self.assertRaises(AccessError):
            self.card.with_user(self.club_manager).write({"tier_id": self.gold.id})

    def test_evaluation_is_set_based_and_commits_each_batch(self):
        """The daily evaluation works in batches of card ids, each committed by the scheduler, with a
        fixed number of queries per batch however many cards change (no per-card loop)."""
        self.club.write({"tier_window": "calendar_year", "tier_grace_days": 0})
        partners = self.env["res.partner"].create([{"name": f"Tier member {index}"} for index in range(6)])
        Card = self.env["loyalty.club.card"]
        cards = Card.create([{"partner_id": partner.id, "club_id": self.club.id} for partner in partners])
        with freeze_time("2025-11-15"):
            for card in cards:
                self.post(600, card=card)
        self.assertEqual(set(cards.mapped("tier_id")), {self.silver})
        active = Card.search_count([("state", "=", "active"), ("club_id.tier_ids", "!=", False)])
        with freeze_time("2026-01-02"), patch.object(self.env.cr, "commit") as commit:
            summary = Card._cron_evaluate_tiers(batch_size=2, auto_commit=True)
        self.assertEqual(summary["batches"], commit.call_count)
        self.assertGreaterEqual(summary["batches"], -(-active // 2))
        self.assertEqual(summary["downgrade"], 6)
        self.assertEqual(set(cards.mapped("tier_id")), {self.bronze})
        self.assertEqual(set(cards.tier_history_ids.mapped("reason")), {"initial", "upgrade", "downgrade"})

        # one batch: the same queries for 6 changing cards as for 1
        def queries(changing):
            with freeze_time("2025-11-15"):
                for card in changing:
                    self.post(600, card=card, key=f"again-{len(changing)}-{card.id}")
            self.env.flush_all()
            with freeze_time("2026-01-02"):
                before = self.env.cr.sql_log_count
                summary = Card._cron_evaluate_tiers(batch_size=10_000, auto_commit=False)
                count = self.env.cr.sql_log_count - before
            self.assertEqual(summary["downgrade"], len(changing))
            return count

        self.assertEqual(queries(cards[:1]), queries(cards))
