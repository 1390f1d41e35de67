from unittest.mock import patch

import psycopg2

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestLedgerPosting(LoyaltyClubCase):
    """Acceptance 1: balance = sum of entries after every operation; no overdraft."""

    def test_balance_follows_every_operation(self):
        self.post(100)
        self.assertEqual(self.card.balance, 100)
        self.assertBalanceIsLedgerSum()
        self.post(-30, "redeem")
        self.assertBalanceIsLedgerSum()
        self.post(25, "adjust")
        self.assertBalanceIsLedgerSum()
        self.post(-5, "adjust")
        self.assertBalanceIsLedgerSum()
        self.post(40, "bonus")
        self.assertBalanceIsLedgerSum()
        self.assertEqual(self.card.balance, 130)

    def test_redemption_beyond_balance_refused_and_nothing_written(self):
        self.post(50)
        before = self.ledger_count()
        with self.assertRaisesRegex(UserError, "Not enough points"):
            self.post(-51, "redeem")
        self.assertEqual(self.ledger_count(), before)
        self.assertEqual(self.card.balance, 50)
        self.assertBalanceIsLedgerSum()

    def test_redeem_consumes_oldest_lot_first(self):
        first = self.post(100)
        second = self.post(100)
        self.post(-150, "redeem")
        self.assertEqual(first.points_remaining, 0)
        self.assertEqual(second.points_remaining, 50)
        self.assertBalanceIsLedgerSum()

    def test_reversal_may_go_negative_and_later_earnings_repay_it(self):
        earned = self.post(100)
        self.post(-80, "redeem")
        self.post(-100, "reverse", reversed_entry=earned, allow_negative=True)
        self.assertEqual(self.card.balance, -80)
        self.assertBalanceIsLedgerSum()
        with self.assertRaises(UserError):
            self.post(-1, "redeem")
        repaid = self.post(100)
        self.assertEqual(repaid.points_remaining, 20, "the debt is repaid before points become spendable")
        self.assertBalanceIsLedgerSum()

    def test_post_reversal_follows_the_negative_balance_policy(self):
        earned = self.post(100)
        self.post(-70, "redeem")
        entry, shortfall = self.Posting._post_reversal(self.card, 100, "refund:1", earned)
        self.assertEqual((entry.points, shortfall, self.card.balance), (-100, 0, -70))
        again, shortfall = self.Posting._post_reversal(self.card, 100, "refund:1", earned)
        self.assertEqual((again, shortfall, self.card.balance), (entry, 0, -70), "the same key posts once")

        self.club.negative_balance_policy = "partial"
        other = self.post(
            50, card=self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        )
        card = other.card_id
        self.post(-40, "redeem", card=card)
        entry, shortfall = self.Posting._post_reversal(card, 50, "refund:2", other)
        self.assertEqual((entry.points, shortfall, card.balance), (-10, 40, 0))
        entry, shortfall = self.Posting._post_reversal(card, 5, "refund:3", other)
        self.assertEqual((bool(entry), shortfall, card.balance), (False, 5, 0))
        self.assertBalanceIsLedgerSum(card)

    def test_inactive_card_cannot_earn_or_redeem(self):
        self.post(10)
        self.card.action_block()
        with self.assertRaisesRegex(UserError, "not active"):
            self.post(-5, "redeem")
        with self.assertRaisesRegex(UserError, "not active"):
            self.post(5)
        self.assertEqual(self.card.balance, 10)

    def test_points_from_amount_use_decimal_rounding(self):
        club = self.club
        club.earn_amount = 0.01
        self.assertEqual(club._compute_points_for_amount(0.29), 29, "0.29 / 0.01 must not become 28.999")
        club.earn_amount = 10
        self.assertEqual(club._compute_points_for_amount(99.99), 9)
        club.earn_rounding = "half_up"
        self.assertEqual(club._compute_points_for_amount(95), 10)
        club.earn_rounding = "up"
        self.assertEqual(club._compute_points_for_amount(90.01), 10)
        self.assertEqual(club._compute_points_for_amount(100, multiplier=1.25), 13)
        self.assertEqual(club._compute_points_for_amount(-50), 0)

    def test_audit_of_all_cards_works_in_ranges_of_card_ids(self):
        """The audit of the whole club reads the ledger range by range of card ids (flat memory at
        millions of cards) and still finds every card whose stored balance drifted."""
        second = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        self.post(120)
        self.post(30, card=second)
        self.assertFalse(self.Posting._audit_balances(batch_size=1))
        self.env.cr.execute("UPDATE loyalty_club_card SET balance = balance + 7 WHERE id = %s", [second.id])
        self.env.invalidate_all()
        for batch_size in (1, 2, 100_000):
            self.assertEqual(self.Posting._audit_balances(batch_size=batch_size), {second.id: (37, 30)})
        self.assertEqual(self.Posting._audit_balances(second), {second.id: (37, 30)})
        self.assertFalse(self.Posting._audit_balances(self.card))


@tagged("post_install", "-at_install")
class TestPostingStatements(LoyaltyClubCase):
    """The posting service's round trips: what an order pays for booking its points."""

    def statements(self, call):
        """(result, SQL statements run by ``call()``), the card's values out of the cache (the
        club's settings in it, as an order has read them before booking its points)."""
        self.env.flush_all()
        self.card.invalidate_recordset()
        before = self.env.cr.sql_log_count
        result = call()
        self.env.flush_all()
        return result, self.env.cr.sql_log_count - before

    def test_an_earning_costs_three_statements(self):
        """Lock and read the card (one SELECT ... FOR UPDATE), insert the entry and update the
        balance (one statement, the key checked by the insert), qualify for a tier (one query)."""
        self.post(5)  # warm the caches of the club and its tiers
        self.post(5)
        entry, count = self.statements(lambda: self.post(7, amount=70))
        self.assertEqual(count, 3)
        self.assertEqual(self.card.balance, 17, "the new balance is in the cache, without a query")
        self.assertEqual((entry.points, entry.points_remaining, entry.kind), (7, 7, "earn"))
        self.env.invalidate_all()
        self.assertBalanceIsLedgerSum()
        again, count = self.statements(lambda: self.post(7, amount=70, key=entry.posting_key))
        self.assertEqual(again, entry)
        self.assertEqual(self.card.balance, 17)

    def test_lock_reads_the_current_row_in_the_same_statement(self):
        self.post(10)
        self.env.flush_all()
        self.env.cr.execute("UPDATE loyalty_club_card SET state = 'blocked' WHERE id = %s", [self.card.id])
        self.assertEqual(self.card.state, "active", "stale cache before the lock")
        _result, count = self.statements(lambda: self.Posting._lock_rows(self.card))
        self.assertEqual(count, 1)
        before = self.env.cr.sql_log_count
        self.assertEqual((self.card.state, self.card.balance, self.card.number[:4]), ("blocked", 10, "7700"))
        self.assertEqual(self.env.cr.sql_log_count, before, "the lock filled the cache")

    def test_redemption_reads_only_the_lots_it_needs(self):
        for index in range(200):
            self.post(1, key=f"lot:{index}")
        earned = self.post(5, key="big-lot")
        self.env.flush_all()
        returned = []
        cursor_class = type(self.env.cr)
        execute = cursor_class.execute

        def spy(cr, query, params=None, log_exceptions=True):
            result = execute(cr, query, params, log_exceptions)
            if "points_remaining, 0 AS rank" in str(getattr(query, "code", query)):
                returned.append(cr.rowcount)
            return result

        with patch.object(cursor_class, "execute", spy):
            self.post(-3, "redeem")
            self.post(-2, "reverse", reversed_entry=earned, lot=earned)
        self.assertEqual(returned, [3, 3], "one lot per point at most (a reversal: its own lot, then as many)")
        lots = self.env["loyalty.club.entry"].search([("card_id", "=", self.card.id), ("kind", "=", "earn")])
        self.assertEqual(sum(lots.mapped("points_remaining")), 200 - 3 + 5 - 2)
        self.assertEqual(earned.points_remaining, 3)
        self.assertBalanceIsLedgerSum()


@tagged("post_install", "-at_install")
class TestLedgerAppendOnly(LoyaltyClubCase):
    """Acceptance 2: entries cannot be written or deleted, not even by sudo or raw SQL."""

    def setUp(self):
        super().setUp()
        self.entry = self.post(100)

    def test_orm_write_and_unlink_refused_even_with_sudo(self):
        for env in (self.env, self.env(user=self.club_manager), self.env(su=True)):
            entry = env["loyalty.club.entry"].browse(self.entry.id)
            with self.assertRaises(UserError):
                entry.sudo().write({"points": 1000})
            with self.assertRaises(UserError):
                entry.sudo().unlink()
        self.entry.invalidate_recordset()
        self.assertEqual(self.entry.points, 100)

    def test_orm_create_outside_the_service_refused(self):
        with self.assertRaises(UserError):
            self.env["loyalty.club.entry"].sudo().create(self.forged_entry_values("forged"))

    @mute_logger("odoo.sql_db")
    def test_raw_sql_update_refused(self):
        for statement in (
            "UPDATE loyalty_club_entry SET points = 1000 WHERE id = %s",
            "UPDATE loyalty_club_entry SET kind = 'bonus' WHERE id = %s",
            "UPDATE loyalty_club_entry SET card_id = card_id + 0, posting_key = 'x' WHERE id = %s",
        ):
            with self.subTest(statement=statement), self.assertRaises(psycopg2.Error), self.env.cr.savepoint():
                self.env.cr.execute(statement, [self.entry.id])

    @mute_logger("odoo.sql_db")
    def test_raw_sql_delete_and_truncate_refused(self):
        with self.assertRaises(psycopg2.Error), self.env.cr.savepoint():
            self.env.cr.execute("DELETE FROM loyalty_club_entry WHERE id = %s", [self.entry.id])
        with self.assertRaises(psycopg2.Error), self.env.cr.savepoint():
            self.env.cr.execute("TRUNCATE loyalty_club_entry CASCADE")
        self.env.cr.execute("SELECT points FROM loyalty_club_entry WHERE id = %s", [self.entry.id])
        self.assertEqual(self.env.cr.fetchone()[0], 100)

    @mute_logger("odoo.sql_db")
    def test_remaining_cannot_leave_its_range(self):
        with self.assertRaises(psycopg2.Error), self.env.cr.savepoint():
            self.env.cr.execute("UPDATE loyalty_club_entry SET points_remaining = 101 WHERE id = %s", [self.entry.id])

    def test_balance_cannot_be_written_directly(self):
        with self.assertRaises(UserError):
            self.card.write({"balance": 10_000})
        with self.assertRaises(UserError):
            self.card.sudo().write({"balance": 10_000})
        self.assertEqual(self.card.balance, 100)


@tagged("post_install", "-at_install")
class TestLedgerIdempotency(LoyaltyClubCase):
    """Acceptance 3 (single transaction): the same key twice yields one entry."""

    def test_same_key_twice_returns_the_existing_entry(self):
        first = self.post(70, key="sale.order:1:0:earn")
        count = self.ledger_count()
        second = self.post(70, key="sale.order:1:0:earn")
        self.assertEqual(first, second)
        self.assertEqual(self.ledger_count(), count)
        self.assertEqual(self.card.balance, 70)

    def test_key_reused_for_another_movement_is_refused(self):
        self.post(70, key="sale.order:7:0:earn")
        count = self.ledger_count()
        other = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        for points, card in ((71, self.card), (70, other)):
            with self.subTest(points=points, card=card.number), self.assertRaisesRegex(ValidationError, "already used"):
                self.post(points, key="sale.order:7:0:earn", card=card)
        self.assertEqual(self.ledger_count(), count)
        self.assertEqual(self.card.balance, 70)

    def test_retried_earning_on_a_card_blocked_since_returns_the_entry(self):
        """A credit checks its key with its insert; a card blocked after the first posting still
        answers a retry with the entry, and refuses a new earning."""
        first = self.post(40, key="pos.order:retry:earn")
        self.card.action_block()
        self.assertEqual(self.post(40, key="pos.order:retry:earn"), first)
        with self.assertRaisesRegex(UserError, "not active"):
            self.post(40, key="pos.order:new:earn")
        self.assertEqual(self.card.balance, 40)

    def test_key_is_unique_in_the_database(self):
        self.post(70, key="unique-key")
        with self.assertRaises(psycopg2.errors.UniqueViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env.cr.execute(
                """INSERT INTO loyalty_club_entry (card_id, partner_id, club_id, company_id, kind, points,
                                                   points_remaining, date, posting_key)
                   VALUES (%s, %s, %s, %s, 'earn', 5, 5, now(), 'unique-key')""",
                [self.card.id, self.member.id, self.club.id, self.company.id],
            )

    def test_make_key_names_origin_line_and_kind(self):
        key = self.Posting._make_key(self.member, "earn", line=3)
        self.assertEqual(key, f"res.partner:{self.member.id}:3:earn")

    def test_adjust_wizard_double_click_posts_once(self):
        wizard = (
            self.env["loyalty.club.adjust.wizard"]
            .with_user(self.club_manager)
            .create(
                {
                    "card_id": self.card.id,
                    "delta": 15,
                    "reason": "Goodwill",
                }
            )
        )
        wizard.action_apply()
        wizard.action_apply()
        self.assertEqual(self.card.balance, 15)
        self.assertEqual(self.env["loyalty.club.entry"].search_count([("card_id", "=", self.card.id)]), 1)

    def test_bad_points_are_refused(self):
        before = self.ledger_count()
        for points in (0, 1.5, float("nan"), float("inf"), 10**12, True, "10", None):
            with self.subTest(points=points), self.assertRaises(ValidationError):
                self.post(points)
        with self.assertRaises(ValidationError):
            self.post(-5, "earn")
        with self.assertRaises(ValidationError):
            self.post(5, "redeem")
        with self.assertRaises(ValidationError):
            self.post(5, "no-such-kind")
        with self.assertRaises(ValidationError):
            self.Posting._post(self.card, 5, "earn", "  ")
        self.assertEqual(self.ledger_count(), before)
        self.assertEqual(self.card.balance, 0)
