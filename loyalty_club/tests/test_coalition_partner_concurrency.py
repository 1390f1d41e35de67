import uuid
from datetime import date, timedelta

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import CommittedClubMixin


@tagged("post_install", "-at_install")
class TestCoalitionPartnerConcurrency(CommittedClubMixin, TransactionCase):
    """A till and a partner spending one card at once, one thread and one database cursor each,
    inside ``retrying`` as Odoo runs a request: the card is never overspent."""

    def setUp(self):
        super().setUp()
        self.ids = self.make_committed_card(balance=100, tag="partner")
        with self.committed_env() as env:
            company = env["res.company"].browse(self.ids["company"])
            # a settlement bills in the company's books (before the till: its journals come from the chart)
            env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
            business = env["res.partner"].create({"name": f"Race restaurant {self._testMethodName}"})
            coalition = env["loyalty.club.coalition.partner"].create(
                {"club_id": self.ids["club"], "partner_id": business.id, "point_rate": 1.0}
            )
            config = (
                env["pos.config"]
                .with_company(company)
                .create({"name": "Race till", "company_id": company.id, "payment_method_ids": [(5, 0, 0)]})
            )
            self.race = {"coalition": coalition.id, "business": business.id, "config": config.id}
        self.addCleanup(self._cleanup_race)

    def _cleanup_race(self):
        with self.committed_env() as env:
            cr = env.cr
            cr.execute("SET LOCAL session_replication_role = replica")
            cr.execute(
                "DELETE FROM loyalty_club_coalition_transaction WHERE coalition_partner_id = %s",
                [self.race["coalition"]],
            )
            cr.execute(
                """DELETE FROM account_move WHERE id IN (SELECT move_id FROM loyalty_club_coalition_settlement
                                                           WHERE coalition_partner_id = %s)""",
                [self.race["coalition"]],
            )
            cr.execute(
                "DELETE FROM loyalty_club_coalition_settlement WHERE coalition_partner_id = %s",
                [self.race["coalition"]],
            )
            cr.execute("DELETE FROM loyalty_club_hold WHERE pos_config_id = %s", [self.race["config"]])
            cr.execute("DELETE FROM loyalty_club_coalition_partner WHERE id = %s", [self.race["coalition"]])
            cr.execute("UPDATE pos_config SET active = FALSE WHERE id = %s", [self.race["config"]])
            # the journals' e-mail aliases follow the company's name: free them for a later run
            cr.execute(
                """UPDATE mail_alias SET alias_name = alias_name || '-' || id
                    WHERE id IN (SELECT alias_id FROM account_journal WHERE company_id = %s)""",
                [self.ids["company"]],
            )

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_a_till_and_a_partner_never_overspend_one_card(self):
        """Four tills hold and four partner pages redeem 30 of the card's 100 points at once: at most
        three of them get their points, the others a clear refusal, and the balance less what the
        tills hold never goes below zero."""

        def spend(env, index):
            card = env["loyalty.club.card"].browse(self.ids["card"])
            if index % 2:
                config = env["pos.config"].browse(self.race["config"])
                order_uuid = f"race-order-{index}-{uuid.uuid4()}"
                env["loyalty.club.hold"]._make(config, card, order_uuid, f"{order_uuid}-pay", points=30)
            else:
                coalition = env["loyalty.club.coalition.partner"].browse(self.race["coalition"])
                env["loyalty.club.coalition.transaction"]._book(
                    coalition, card, "redeem", 30, 30.0, f"race-{index}-{uuid.uuid4()}"
                )

        with self._error_log_lines() as errors:
            outcomes = self._run_threads(8, spend)
        self.assertFalse([o for o in outcomes if o not in ("ok", "refused")], outcomes)
        self.assertEqual(outcomes.count("ok"), 3, outcomes)
        self.assertFalse(errors, "no ERROR log line")
        balance, kinds, mismatches = self._card_state(self.ids["card"])
        self.assertFalse(mismatches)
        with self.committed_env() as env:
            held = env["loyalty.club.hold"]._held("card_id", [self.ids["card"]]).get(self.ids["card"], 0)
            redeemed = env["loyalty.club.coalition.transaction"].search_count(
                [("coalition_partner_id", "=", self.race["coalition"])]
            )
        self.assertEqual(kinds.count("redeem"), redeemed)
        self.assertEqual(balance, 100 - 30 * redeemed)
        self.assertEqual(balance - held, 10, "three spends of 30 out of 100, never a fourth")

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_undoing_a_transaction_while_its_month_is_settled(self):
        """A manager undoes last month's redemption while the month is settled: either it is undone
        (points back, not settled) or settled (and the undo refused), never both nor neither."""
        with self.committed_env() as env:
            coalition = env["loyalty.club.coalition.partner"].browse(self.race["coalition"])
            card = env["loyalty.club.card"].browse(self.ids["card"])
            transaction = env["loyalty.club.coalition.transaction"]._book(
                coalition, card, "redeem", 30, 30.0, f"race-undo-{uuid.uuid4()}"
            )
            last_month = date.today().replace(day=1) - timedelta(days=1)
            env.cr.execute(
                "UPDATE loyalty_club_coalition_transaction SET date = %s WHERE id = %s", [last_month, transaction.id]
            )
            transaction_id = transaction.id

        def race(env, index):
            if index:
                env["loyalty.club.coalition.transaction"].browse(transaction_id)._cancel()
            else:
                coalition = env["loyalty.club.coalition.partner"].browse(self.race["coalition"])
                env["loyalty.club.coalition.settlement"]._settle(coalition, last_month)

        with self._error_log_lines() as errors:
            outcomes = self._run_threads(2, race)
        self.assertFalse(errors, "no ERROR log line")
        balance, _kinds, mismatches = self._card_state(self.ids["card"])
        self.assertFalse(mismatches)
        with self.committed_env() as env:
            transaction = env["loyalty.club.coalition.transaction"].browse(transaction_id)
            state, settled = transaction.state, bool(transaction.settlement_id)
        if state == "cancelled":
            self.assertEqual((outcomes, settled, balance), (["ok", "ok"], False, 100), "undone first")
        else:
            self.assertEqual((outcomes, settled, balance), (["ok", "refused"], True, 70), "settled first")
