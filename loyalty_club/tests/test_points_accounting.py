from datetime import datetime, time, timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import CommittedClubMixin, LoyaltyClubCase


class PointsAccountingCase(LoyaltyClubCase):
    """A club that books its points from ``start`` (30 days ago), with history before it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Batch = cls.env["loyalty.club.accounting.batch"]
        cls.Report = cls.env["loyalty.club.liability.report"].sudo()
        cls.start = fields.Date.today() - timedelta(days=30)
        cls.card2 = cls.env["loyalty.club.card"].create({"partner_id": cls.member2.id, "club_id": cls.club.id})
        # movements happen in the club's company (as at its tills), expiries of lots on a debit too
        cls.Posting = cls.env["loyalty.club.posting"].sudo().with_company(cls.company)

    def enable(self, club=None, start=None, **values):
        club = club or self.club
        club.action_setup_points_accounting()
        club.sudo().write({"points_accounting_start": start or self.start, **values})
        return club

    def at(self, day, hour=10):
        return datetime.combine(day, time(hour))

    def post_on(self, day, points, kind="earn", card=None, **kwargs):
        return self.post(points, kind, card=card, date=self.at(day), branch=self.company, **kwargs)

    def book(self, day, club=None):
        """Run the booking job as it runs the night after ``day``."""
        return self.Batch._book_club_points(club or self.club, datetime.combine(day + timedelta(days=1), time.min))

    def liability(self, day):
        rows = self.Report._liability_as_of(day, self.company)
        return sum(row["value"] for row in rows if row["source"] == "points")

    def account_balance(self, day, club=None):
        club = club or self.club
        return self.Report._account_credit_balance(
            club.points_liability_account_id, self.company.id, day, self.company.currency_id
        )


@tagged("post_install", "-at_install")
class TestPointsAccounting(PointsAccountingCase):
    def test_a_month_of_movements_reconciles_every_day(self):
        """Earnings, redemptions, a bonus, an adjustment, reversals, a give-back and an expiry, each
        day booked the night after: the liability account equals *Liability as of* every evening."""
        # earned 340 days before the start: the lot expires during the month (12 months of validity)
        old_lot = self.post_on(self.start - timedelta(days=340), 1000)
        self.post_on(self.start - timedelta(days=10), 300, "bonus", card=self.card2)
        self.post_on(self.start - timedelta(days=5), -200, "redeem")
        self.enable()
        opening = self.book(self.start - timedelta(days=1))
        self.assertEqual(opening.mapped("kind"), ["opening"])
        self.assertEqual((opening.points, opening.amount, opening.entry_count), (1100, 550.0, 3))
        self.assertEqual(opening.move_id.state, "posted")
        self.assertEqual(opening.move_id.journal_id, self.club.points_journal_id)
        opening_line = opening.move_id.line_ids.filtered(
            lambda line: line.account_id == self.club.points_opening_account_id
        )
        self.assertEqual(opening_line.debit, 550.0)
        redemption = None
        for offset in range(30):
            day = self.start + timedelta(days=offset)
            earned = self.post_on(day, 101 + offset, amount=1010 + 10 * offset, purchase_count=1)
            if offset % 3 == 0:
                redemption = self.post_on(day, -50, "redeem")
            if offset % 7 == 3:
                self.Posting._post_reversal(
                    self.card, 21, f"test:reverse:{offset}", earned, date=self.at(day, 15), branch=self.company
                )
            if offset == 10:
                self.post_on(day, 15, "adjust", card=self.card2, reason="goodwill")
            if offset == 12:
                self.post_on(day, -40, "adjust", card=self.card2, reason="correction")
            if offset == 20:
                self.post_on(day, 50, "reverse", reversed_entry=redemption)
            if offset == 28:
                self.Posting._expire_card_lots(self.card, self.at(day, 23))
            batches = self.book(day)
            self.assertEqual(len(batches), 1, "one journal entry per day and branch")
            self.assertEqual(self.account_balance(day), self.liability(day), f"day {offset}")
        self.assertTrue(self.env["loyalty.club.entry"].search([("kind", "=", "expire"), ("lot_id", "=", old_lot.id)]))
        kinds = set(self.env["loyalty.club.entry"].search([("club_id", "=", self.club.id)]).mapped("kind"))
        self.assertEqual(kinds, {"earn", "bonus", "redeem", "reverse", "adjust", "expire"})
        # every ledger row is covered by exactly one batch
        entries = self.env["loyalty.club.entry"].search([("club_id", "=", self.club.id)])
        self.assertEqual(sum(self.Batch.search([("club_id", "=", self.club.id)]).mapped("entry_count")), len(entries))
        self.assertFalse(entries.filtered(lambda entry: len(entry.accounting_batch_ids) != 1))
        # the reconciliation of the back office agrees
        wizard = self.env["loyalty.club.liability.wizard"].create(
            {"date": self.start + timedelta(days=29), "company_ids": [(6, 0, self.company.ids)]}
        )
        wizard.action_compute()
        points_line = wizard.line_ids.filtered(lambda line: line.source == "points")
        self.assertTrue(points_line.booked)
        self.assertEqual(points_line.account_balance, points_line.value)
        self.assertEqual(points_line.difference, 0.0)

    def test_sides_of_the_books(self):
        """Earnings defer revenue, redemptions credit the redemption account, bonuses are an
        expense, expiries and reversals of earnings come back to revenue."""
        self.enable()
        self.book(self.start - timedelta(days=1))
        earned = self.post_on(self.start, 1000)
        self.post_on(self.start, 100, "bonus")
        self.post_on(self.start, -300, "redeem")
        self.Posting._post_reversal(
            self.card, 200, "test:sides:reverse", earned, date=self.at(self.start), branch=self.company
        )
        move = self.book(self.start).move_id
        club = self.club

        def net(account):
            lines = move.line_ids.filtered(lambda line: line.account_id == account)
            return sum(lines.mapped("debit")) - sum(lines.mapped("credit"))

        self.assertEqual(net(club.points_revenue_account_id), 400.0)  # (1000 - 200) x 0.5 deferred
        self.assertEqual(net(club.points_expense_account_id), 50.0)
        self.assertEqual(net(club.points_redemption_account_id), -150.0)
        self.assertEqual(net(club.points_liability_account_id), -300.0)  # 600 points outstanding

    def test_breakage_lowers_the_liability_and_a_change_is_booked_as_an_estimate(self):
        self.enable(points_breakage=20.0)
        self.post_on(self.start, 1000)
        batch = self.book(self.start)
        self.assertEqual(batch.amount, 400.0, "1000 points x 0.5 x (1 - 20 %)")
        self.assertEqual(self.account_balance(self.start), 400.0)
        # the manager lowers the breakage: the next entry books the change in estimate
        self.club.points_breakage = 10.0
        day = self.start + timedelta(days=1)
        self.post_on(day, 100)
        batch = self.book(day)
        self.assertEqual(self.account_balance(day), 495.0, "1100 x 0.5 x 0.9")
        estimate = batch.move_id.line_ids.filtered(lambda line: "estimate" in line.name)
        self.assertEqual(estimate.debit, 50.0, "1000 x 0.5 x 10 % more deferred revenue")
        # the reconciliation expects the liability at the breakage of the branch's last entry
        rows = self.Report._add_booked_as_of(day, self.Report._liability_as_of(day, self.company))
        points = next(row for row in rows if row["source"] == "points")
        self.assertEqual((points["value"], points["expected"], points["difference"]), (550.0, 495.0, 0.0))

    def test_breakage_computed_from_history(self):
        self.post(1000)
        self.post(-300, "redeem")
        self.post(-100, "expire")
        self.club.action_compute_breakage()
        self.assertEqual(self.club.points_breakage, 25.0, "100 expired out of 400 that left the cards")
        other = self.env["loyalty.club"].create({"name": "Empty club", "company_id": self.other_company.id})
        with self.assertRaises(UserError):
            other.action_compute_breakage()

    def test_running_again_books_nothing_twice(self):
        self.enable()
        self.post_on(self.start, 100)
        first = self.book(self.start)
        self.assertEqual(len(first), 1)
        self.assertFalse(self.book(self.start), "nothing new: no batch")
        self.Batch._cron_book_points()
        self.assertEqual(self.Batch.search_count([("club_id", "=", self.club.id)]), 1)
        self.assertEqual(
            self.env["account.move"].search_count([("journal_id", "=", self.club.points_journal_id.id)]), 1
        )
        # a till's order synced late (dated yesterday) is booked the next night, once
        self.post_on(self.start, 10)
        late = self.Batch._book_club_points(self.club, datetime.combine(self.start + timedelta(days=3), time.min))
        self.assertEqual((late.date, late.points, late.outstanding_points), (self.start, 10, 110))
        self.assertEqual(self.account_balance(self.start), self.liability(self.start))

    def test_a_locked_period_is_booked_on_its_first_open_day(self):
        self.enable()
        self.post_on(self.start, 100)
        self.company.sudo().fiscalyear_lock_date = self.start + timedelta(days=5)
        batch = self.book(self.start)
        self.assertEqual(batch.date, self.start, "the batch keeps the day of its ledger entries")
        self.assertEqual(batch.move_id.date, self.start + timedelta(days=6))
        self.assertEqual(batch.move_id.state, "posted")

    def test_the_job_books_a_limited_number_of_entries_per_call(self):
        """A club booking per order may have thousands of journal entries a night: each call of
        the job books at most its limit and tells Odoo how many are left; the next call goes on."""
        self.enable(points_accounting_grouping="order")
        orders = self.env["sale.order"].create([{"partner_id": self.member.id} for _index in range(3)])
        for order in orders:
            self.post_on(self.start, 10, origin=order)
        until = datetime.combine(self.start + timedelta(days=1), time.min)
        first, left = self.Batch._book_club_groups(self.club, until, limit=2)
        self.assertEqual((len(first), left), (2, 1))
        self.assertFalse(self.club.points_booked_until, "not everything is booked yet")
        progress = self.env["ir.cron.progress"].create(
            {"cron_id": self.env.ref("loyalty_club.ir_cron_loyalty_club_book_points").id, "remaining": 0, "done": 0}
        )
        self.Batch.with_context(ir_cron_progress_id=progress.id)._cron_book_points(limit=2)
        batches = self.Batch.search([("club_id", "=", self.club.id)])
        self.assertEqual(sorted(batches.mapped("origin_id")), sorted(orders.ids))
        self.assertEqual((progress.done, progress.remaining), (1, 0))
        self.assertEqual(self.club.points_booked_until, datetime.combine(fields.Date.today(), time.min))
        self.assertEqual(self.account_balance(self.start), self.liability(self.start))

    def test_a_club_without_accounting_books_nothing(self):
        self.post_on(self.start, 100)
        self.post(-30, "redeem")
        self.Batch._cron_book_points()
        self.assertFalse(self.Batch._book_club_points(self.club, datetime.now()))
        self.assertFalse(self.Batch.search([("club_id", "=", self.club.id)]))
        self.assertFalse(self.club.points_accounting_start)

    def test_one_entry_per_order(self):
        self.enable(points_accounting_grouping="order")
        orders = self.env["sale.order"].create([{"partner_id": self.member.id}, {"partner_id": self.member.id}])
        self.post_on(self.start, 100, origin=orders[0])
        self.post_on(self.start, 40, origin=orders[1])
        self.post_on(self.start, 5, "bonus")
        batches = self.book(self.start)
        self.assertEqual(sorted(batches.mapped("kind")), ["day", "order", "order"])
        order_batch = batches.filtered(lambda batch: batch.origin_id == orders[1].id)
        self.assertEqual((order_batch.origin_model, order_batch.points, order_batch.amount), ("sale.order", 40, 20.0))
        self.assertIn(orders[1].name, order_batch.move_id.ref)
        self.assertEqual(self.account_balance(self.start), self.liability(self.start))

    def test_settings_are_checked(self):
        with self.assertRaises(ValidationError):
            self.club.points_accounting = True  # no accounts yet
        with self.assertRaises(ValidationError), self.cr.savepoint():
            self.club.points_breakage = 100.0
        with self.assertRaises(ValidationError), self.cr.savepoint():
            self.club.points_breakage = -1.0
        self.enable()
        self.assertEqual(self.club.points_accounting_value, 0.5, "follows the club's value of a point")
        self.assertEqual(self.club.points_journal_id.type, "general")
        self.assertEqual(self.club.points_liability_account_id.account_type, "liability_current")
        # the till's 'Club points' payment method books on the same redemption account
        method = self.club._get_pos_points_payment_method()
        self.assertEqual(method.outstanding_account_id, self.club.points_redemption_account_id)

    def test_batches_are_the_jobs_alone(self):
        self.enable()
        self.post_on(self.start, 100)
        batch = self.book(self.start)
        with self.assertRaises(UserError):
            batch.with_user(self.club_manager).write({"points": 1})
        with self.assertRaises(UserError):
            batch.unlink()
        with self.assertRaises(AccessError):
            self.Batch.with_user(self.club_manager).create({"club_id": self.club.id})
        with self.assertRaises(AccessError), self.cr.savepoint():
            self.club.with_user(self.club_manager).write({"points_accounting_start": fields.Date.today()})
        self.assertEqual(batch.with_user(self.club_user).read(["amount"])[0]["amount"], 50.0)
        self.assertFalse(batch.with_user(self.other_manager).search([("id", "=", batch.id)]))

    def test_a_booked_journal_entry_is_not_undone(self):
        """Reset to draft, cancelled, its state written over RPC or reversed by an accountant: the
        entry booking the ledger stays posted and the account keeps matching the ledger."""
        self.enable()
        self.post_on(self.start, 100)
        move = self.book(self.start).move_id
        accountant = new_test_user(
            self.env, "points_accountant", groups="account.group_account_manager", company_id=self.company.id
        )
        undos = {
            "reset": lambda move: move.button_draft(),
            "cancel": lambda move: move.button_cancel(),
            "write": lambda move: move.write({"state": "cancel"}),
            "reverse": lambda move: move._reverse_moves(cancel=True),
        }
        for name, undo in undos.items():
            with self.subTest(name), self.assertRaisesRegex(UserError, "books the club's points ledger"):
                with self.cr.savepoint():
                    undo(move.with_user(accountant))
        self.assertEqual(move.state, "posted")
        self.assertFalse(self.env["account.move"].search([("reversed_entry_id", "=", move.id)]))
        self.assertEqual(self.account_balance(self.start), self.liability(self.start))
        # other journal entries are reset as before
        other = move.copy({"date": self.start, "ref": "manual"})
        other.action_post()
        other.with_user(accountant).button_draft()
        self.assertEqual(other.state, "draft")


@tagged("post_install", "-at_install")
class TestPointsAccountingConcurrency(CommittedClubMixin, TransactionCase):
    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_two_runs_at_once_book_once(self):
        """The second run waits for the first, fails to serialize, is retried and books nothing."""
        ids = self.make_committed_card(balance=500, tag="books")
        with self.committed_env() as env:
            club = env["loyalty.club"].browse(ids["club"])
            club.point_value = 2.0
            club.action_setup_points_accounting()
            club.sudo().points_accounting_start = fields.Date.today() - timedelta(days=2)
        self.addCleanup(self._drop_batches, ids)
        until = datetime.combine(fields.Date.today() + timedelta(days=1), time.min)

        def run(env, _index):
            env["loyalty.club.accounting.batch"]._book_club_points(env["loyalty.club"].browse(ids["club"]), until)

        self.assertEqual(self._run_threads(2, run), ["ok", "ok"])
        with self.committed_env() as env:
            batches = env["loyalty.club.accounting.batch"].search([("club_id", "=", ids["club"])])
            self.assertEqual(sum(batches.mapped("entry_count")), 1)
            self.assertEqual(sum(batches.mapped("amount")), 500 * env["loyalty.club"].browse(ids["club"]).point_value)

    def _drop_batches(self, ids):
        with self.committed_env() as env:
            cr = env.cr
            cr.execute("SET LOCAL session_replication_role = replica")
            cr.execute(
                "SELECT move_id FROM loyalty_club_accounting_batch WHERE club_id = %s AND move_id IS NOT NULL",
                [ids["club"]],
            )
            move_ids = [row[0] for row in cr.fetchall()]
            cr.execute(
                """DELETE FROM loyalty_club_accounting_batch_entry_rel
                    WHERE batch_id IN (SELECT id FROM loyalty_club_accounting_batch WHERE club_id = %s)""",
                [ids["club"]],
            )
            cr.execute("DELETE FROM loyalty_club_accounting_batch WHERE club_id = %s", [ids["club"]])
            cr.execute("DELETE FROM account_move_line WHERE move_id = ANY(%s)", [move_ids])
            cr.execute("DELETE FROM account_move WHERE id = ANY(%s)", [move_ids])
