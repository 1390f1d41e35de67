from unittest.mock import patch

from freezegun import freeze_time
from lxml import etree

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

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

    def test_card_form_shows_point_and_purchase_counts_without_decimals(self):
        """Points, purchases: '660', not '660.00'; money and a weighted mix keep their decimals."""
        arch = etree.fromstring(self.env["loyalty.club.card"].get_view(view_type="form")["arch"])
        for name in ("tier_metric_value", "next_tier_missing"):
            nodes = arch.findall(f".//field[@name='{name}']")
            whole = {node.get("invisible") for node in nodes if node.get("digits") == "[16, 0]"}
            decimals = {node.get("invisible") for node in nodes if not node.get("digits")}
            self.assertEqual(len(whole), 1, name)
            self.assertEqual(len(decimals), 1, name)
            for metric in ("points", "purchases", "amount", "weighted"):
                values = {"club_tier_metric": metric, "next_tier_id": self.silver.id}
                shown = [expr for expr in whole | decimals if not safe_eval(expr, values)]
                self.assertEqual(shown, list(whole if metric in ("points", "purchases") else decimals), metric)
        self.post(660)
        self.assertEqual((self.card.club_tier_metric, self.card.tier_metric_value), ("points", 660))


@tagged("post_install", "-at_install")
class TestQualifyingTotals(LoyaltyClubCase):
    """The tier metric reads per-card daily totals of the qualifying entries, kept by the database
    with the ledger: they must always equal the ledger, and the window edges must not move."""

    Total = property(lambda self: self.env["loyalty.club.qualifying.total"])

    def cards(self):
        """The member's cards (other tests of the database may have committed cards of their own)."""
        return self.env["loyalty.club.card"].search([("partner_id", "=", self.member.id)])

    def totals(self, card=None):
        self.env.flush_all()
        rows = self.Total.search([("card_id", "=", (card or self.card).id)], order="day")
        return [(str(row.day), row.points, row.amount, row.purchase_count) for row in rows]

    def ledger_metric(self, card, start=None):
        """The metric summed over the ledger itself, as it was computed before the totals."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT COALESCE(SUM(points), 0) FROM loyalty_club_entry
                WHERE partner_id = %s AND club_id = %s AND qualifying
                  AND (%s::date IS NULL OR date >= %s::date)""",
            [card.partner_id.id, card.club_id.id, start, start],
        )
        return self.env.cr.fetchone()[0]

    def test_one_row_per_card_and_day_whatever_the_number_of_entries(self):
        with freeze_time("2025-03-10 08:00:00"):
            for _index in range(5):
                self.post(10, amount=100, purchase_count=1)
        with freeze_time("2025-03-11 23:59:59"):
            self.post(7, amount=70)
        self.assertEqual(self.totals(), [("2025-03-10", 50, 500.0, 5), ("2025-03-11", 7, 70.0, 0)], "sums per UTC day")
        self.assertFalse(self.Total._check_against_ledger(self.cards()))

    def test_totals_follow_every_kind_of_posting(self):
        """Earnings, bonuses and reversals of earnings count; redemptions, expiries, adjustments,
        transfers and reversals of redemptions do not: exactly the entries flagged qualifying."""
        with freeze_time("2024-01-10 10:00:00"):
            old = self.post(40, amount=400, purchase_count=1)
        with freeze_time("2025-02-01 10:00:00"):
            self.Posting._cron_expire_points()  # set-based SQL insert of the expiry
            earned = self.post(600, amount=6000, purchase_count=1)
            self.post(25, "bonus")
            redeemed = self.post(-100, "redeem")
            self.post(-200, "reverse", reversed_entry=earned, amount=-2000, purchase_count=-1)
            self.post(100, "reverse", reversed_entry=redeemed)
            self.post(3, "adjust")
        self.assertEqual(old.points_remaining, 0, "the old lot expired")
        self.assertEqual(self.totals(), [("2024-01-10", 40, 400.0, 1), ("2025-02-01", 425, 4000.0, 0)])
        replacement = self.env["loyalty.club.card"].create({"partner_id": self.member.id, "club_id": self.club.id})
        with freeze_time("2025-02-02 10:00:00"):
            self.Posting._transfer_balance(self.card, replacement)
        self.assertEqual(self.totals(replacement), [], "a transfer is not a new qualification")
        self.assertFalse(self.Total._check_against_ledger(self.cards()))
        self.assertEqual(self.card._tier_metric_values()[self.card.id], self.ledger_metric(self.card))

    def test_entries_written_in_sql_are_counted_too(self):
        """The totals are kept by the database: a set-based insert (bulk load, cron) updates them."""
        self.post(5)
        self.env.flush_all()
        self.env.cr.execute(
            """INSERT INTO loyalty_club_entry (card_id, partner_id, club_id, company_id, kind, points,
                                               points_remaining, date, posting_key, amount, purchase_count,
                                               qualifying)
               SELECT %(card)s, %(partner)s, %(club)s, %(company)s, 'earn', 2, 2,
                      TIMESTAMP '2025-05-05 12:00:00' + make_interval(hours => i), 'sql:' || i, 20, 1, TRUE
                 FROM generate_series(1, 20) i""",
            {"card": self.card.id, "partner": self.member.id, "club": self.club.id, "company": self.company.id},
        )
        self.assertEqual(
            [row for row in self.totals() if row[0] < "2025-05-08"],
            [("2025-05-05", 22, 220.0, 11), ("2025-05-06", 18, 180.0, 9)],
        )
        self.assertFalse(self.Total._check_against_ledger(self.cards()))

    def test_rebuild_and_check_against_the_ledger(self):
        with freeze_time("2025-06-01 10:00:00"):
            self.post(600, amount=6000, purchase_count=1)
        self.post(10)
        before = self.totals()
        self.env.cr.execute(
            "UPDATE loyalty_club_qualifying_total SET points = points + 1 WHERE card_id = %s", [self.card.id]
        )
        self.env.cr.execute(
            "DELETE FROM loyalty_club_qualifying_total WHERE card_id = %s AND day = '2025-06-01'", [self.card.id]
        )
        self.Total.invalidate_model()
        drift = self.Total._check_against_ledger(self.cards())
        self.assertEqual(len(drift[self.card.id]), 2, "a changed and a missing day are both reported")
        self.Total._rebuild_from_ledger()
        self.assertFalse(self.Total._check_against_ledger(self.cards()))
        self.assertEqual(self.totals(), before)

    def test_totals_are_not_written_through_the_orm(self):
        self.post(10)
        with self.assertRaises(UserError):
            self.Total.sudo().create({"card_id": self.card.id, "day": "2025-01-01", "points": 5})
        with self.assertRaises(UserError):
            self.Total.sudo().search([("card_id", "=", self.card.id)]).write({"points": 1000})

    def test_rolling_window_edges(self):
        """Rolling 12 months: an entry of the window's first day counts from its first second,
        one of the day before does not, at any time of the evaluation day."""
        self.club.write({"tier_window": "rolling", "tier_window_months": 12, "tier_grace_days": 0})
        with freeze_time("2025-01-14 23:59:59"):
            self.post(300)
        with freeze_time("2025-01-15 00:00:00"):
            self.post(250)
        with freeze_time("2025-01-15 23:59:59"):
            self.post(50)
        for now, expected in (
            ("2026-01-14 12:00:00", 600),
            ("2026-01-15 00:00:00", 300),
            ("2026-01-15 23:59:59", 300),
            ("2026-01-16 00:00:01", 0),
        ):
            with self.subTest(now=now), freeze_time(now):
                start = self.club._tier_window_start()
                self.assertEqual(self.card._tier_metric_values()[self.card.id], expected)
                self.assertEqual(self.ledger_metric(self.card, start), expected, "same as over the ledger")

    def test_calendar_year_window_edges_and_the_cron_agree(self):
        self.club.write({"tier_window": "calendar_year", "tier_grace_days": 0})
        with freeze_time("2025-12-31 23:59:59"):
            self.post(600)
            self.assertEqual(self.card.tier_id, self.silver)
        with freeze_time("2026-01-01 00:00:00"):
            self.post(499)
            self.assertEqual(self.card._tier_metric_values()[self.card.id], 499)
            self.card._cron_evaluate_tiers()
            self.assertEqual(self.card.tier_id, self.bronze, "December's points left the window")
            self.post(1)
            self.assertEqual(self.card.tier_id, self.silver, "upgraded at once on the 500th point of the year")

    def test_metric_does_not_read_the_ledger(self):
        """Hundreds of entries on one day are one total: the metric query never reads the ledger."""
        for index in range(300):
            self.post(1, key=f"many:{index}")
        self.assertEqual(len(self.totals()), 1)

        def ledger_scans():
            self.env.cr.execute(
                """SELECT seq_scan + COALESCE(idx_scan, 0) FROM pg_stat_xact_user_tables
                    WHERE relid = 'loyalty_club_entry'::regclass"""
            )
            return self.env.cr.fetchone()[0]

        self.env.flush_all()
        before = ledger_scans()
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 300)
        self.assertEqual(ledger_scans(), before, "the metric scanned the ledger")
