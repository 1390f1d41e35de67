import copy
import random

from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import DummyRLock, Registry
from odoo.service.model import retrying
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import CommittedClubMixin
from .common_pos import PosClubCase
from .test_sale import SaleClubCase


class InjectedSerializationFailure(pg_errors.SerializationFailure):
    """What PostgreSQL raises when two transactions collide (SQLSTATE 40001)."""

    pgcode = "40001"


class InjectedFault(Exception):
    """A failure right after the points were booked (crash, bug in a later step)."""


@tagged("post_install", "-at_install")
class TestFaultInjectionPos(PosClubCase):
    """A failure after posting inside a POS sync leaves nothing behind; replays book once."""

    def _fail_after_posting(self):
        original = type(self.env["loyalty.club.posting"])._post

        def post_then_fail(posting, *args, **kwargs):
            original(posting, *args, **kwargs)
            raise InjectedFault()

        return post_then_fail

    def test_failure_after_posting_in_sync_leaves_no_entry(self):
        self.seed_points(100)
        count = len(self.entries())
        data = self.order_data(
            [(self.shirt, 1)],
            payments=[(self.points_method, 20.0), (self.cash_method, 80.0)],
        )
        self.patch(type(self.env["loyalty.club.posting"]), "_post", self._fail_after_posting())
        with self.assertRaises(InjectedFault), self.env.cr.savepoint():
            self.sync(copy.deepcopy(data))
        self.env.invalidate_all()
        self.assertEqual(len(self.entries()), count, "the whole sync rolled back, postings included")
        self.assertFalse(self.env["pos.order"].search([("uuid", "=", data["uuid"])]))
        self.assertEqual(self.card.balance, 100)

    def test_offline_replay_in_random_order_books_once(self):
        """100 orders (redemptions and refunds among them) synced once, then the till replays
        them three times in random order, as after dropped responses: nothing more is booked."""
        rng = random.Random(20261122)
        self.seed_points(1000)
        sales = []
        for index in range(80):
            quantity = 1 + index % 3
            payments = None
            if index % 4 == 0:
                payments = [(self.points_method, 10.0), (self.cash_method, 100.0 * quantity - 10.0)]
            sales.append(self.order_data([(self.shirt, quantity)], payments=payments))
        synced = [self.sync(copy.deepcopy(data)) for data in sales]
        refunds = []
        for order in rng.sample(synced, 20):
            paid_with_points = order.loyalty_points_redeemed
            total = order.amount_total
            payments = [(self.cash_method, -total)]
            if paid_with_points:
                payments = [(self.points_method, -10.0), (self.cash_method, -(total - 10.0))]
            refunds.append(self.refund_data(order, {self.shirt: order.lines.qty}, payments))
        for data in refunds:
            self.sync(copy.deepcopy(data))
        everything = sales + refunds
        self.assertEqual(len(everything), 100)
        balance, entries, orders = self.card.balance, len(self.entries()), self.env["pos.order"].search_count([])
        self.assertBalanceIsLedgerSum()
        for _replay in range(3):
            for data in rng.sample(everything, len(everything)):
                self.sync(copy.deepcopy(data))
        self.env.invalidate_all()
        self.assertEqual(self.card.balance, balance)
        self.assertEqual(len(self.entries()), entries)
        self.assertEqual(self.env["pos.order"].search_count([]), orders)
        self.assertBalanceIsLedgerSum()

    def assertBalanceIsLedgerSum(self):
        self.card.invalidate_recordset(["balance"])
        self.assertEqual(self.card.balance, sum(self.entries().mapped("points")))
        self.assertFalse(self.Posting._audit_balances(self.card))


@tagged("post_install", "-at_install")
class TestRetriesNeverDuplicate(CommittedClubMixin, TransactionCase):
    """Odoo's request retry (serialization failures) re-runs a whole transaction: the posting
    of the failed attempt is rolled back and the retry books it once."""

    @mute_logger("odoo.service.model")
    def test_serialization_failure_after_posting_is_retried_once(self):
        self.patch(Registry, "_lock", DummyRLock())
        ids = self.make_committed_card(balance=50, tag="retry")
        attempts = []
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})

            def redeem_then_conflict():
                card = env["loyalty.club.card"].browse(ids["card"])
                env["loyalty.club.posting"]._post(card, -20, "redeem", f"retry:{ids['card']}:redeem")
                attempts.append(1)
                if len(attempts) == 1:
                    raise InjectedSerializationFailure("injected: could not serialize access")

            retrying(redeem_then_conflict, env)
        self.assertEqual(len(attempts), 2, "the first attempt failed and was retried")
        balance, kinds, mismatches = self._card_state(ids["card"])
        self.assertEqual(sorted(kinds), ["earn", "redeem"], "one redemption, not two")
        self.assertEqual(balance, 30)
        self.assertFalse(mismatches)


@tagged("post_install", "-at_install")
class TestConcurrencyAtScale(CommittedClubMixin, TransactionCase):
    """32 tills spending one card at once: no overdraft, every loser gets a business error."""

    @mute_logger("odoo.service.model")
    def test_thirty_two_threads_on_one_card(self):
        ids = self.make_committed_card(balance=100, tag="32")

        def redeem(env, index):
            card = env["loyalty.club.card"].browse(ids["card"])
            env["loyalty.club.posting"]._post(card, -7, "redeem", f"scale:{ids['card']}:{index}")

        with self._error_log_lines() as errors:
            outcomes = self._run_threads(32, redeem)
        self.assertFalse(errors, "no ERROR log line:\n" + "\n".join(errors))
        unexpected = [outcome for outcome in outcomes if outcome not in ("ok", "refused")]
        self.assertFalse(unexpected, "no traceback may reach a caller:\n" + "\n".join(map(str, unexpected)))
        self.assertEqual(outcomes.count("ok"), 100 // 7)
        balance, kinds, mismatches = self._card_state(ids["card"])
        self.assertEqual(balance, 100 - 7 * (100 // 7))
        self.assertEqual(kinds.count("redeem"), 100 // 7)
        self.assertFalse(mismatches)


@tagged("post_install", "-at_install")
class TestFaultInjectionSale(SaleClubCase):
    def test_failure_after_posting_in_confirmation_leaves_no_entry(self):
        order = self._order()
        original = type(self.env["loyalty.club.posting"])._post

        def post_then_fail(posting, *args, **kwargs):
            original(posting, *args, **kwargs)
            raise InjectedFault()

        self.patch(type(self.env["loyalty.club.posting"]), "_post", post_then_fail)
        with self.assertRaises(InjectedFault):
            order.action_confirm()
        self.env.invalidate_all()
        self.assertFalse(self._entries(), "the confirmation rolled back, its posting included")
        self.assertEqual(order.state, "draft")
        self.assertEqual(self.card.balance, 0)
