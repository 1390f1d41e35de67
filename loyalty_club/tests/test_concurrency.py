from odoo import Command
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import CommittedClubMixin


@tagged("post_install", "-at_install")
class TestConcurrentPostings(CommittedClubMixin, TransactionCase):
    """Acceptance 3 and 4 with real concurrency: one thread and one database cursor per caller.

    Each thread runs its posting the way Odoo runs an RPC request: inside
    ``odoo.service.model.retrying``, which rolls back and retries the whole transaction on a
    serialization failure. The callers see either success or a clean ``UserError``.

    Why the row lock matters: the balance check reads the card in the transaction's snapshot.
    Without ``SELECT ... FOR UPDATE`` on the card first, two transactions that start together
    would both read the same balance, both pass the check and both insert their redeem entries
    (inserts never conflict), overdrawing the card. With the lock, the second transaction
    waits for the first; when the first commits, PostgreSQL refuses the second's stale
    snapshot (serialization failure), and the retry re-reads the lowered balance and is refused.
    """

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def _check_concurrent_redemptions(self, threads):
        balance, amount = 100, 30
        ids = self.make_committed_card(balance=balance, tag=f"redeem{threads}")

        def redeem(env, index):
            card = env["loyalty.club.card"].browse(ids["card"])
            env["loyalty.club.posting"]._post(card, -amount, "redeem", f"redeem:{ids['card']}:{index}")

        outcomes = self._run_threads(threads, redeem)
        unexpected = [outcome for outcome in outcomes if outcome not in ("ok", "refused")]
        self.assertFalse(unexpected, "no traceback may reach a caller:\n" + "\n".join(map(str, unexpected)))
        successes = outcomes.count("ok")
        self.assertEqual(successes, min(threads, balance // amount))
        final_balance, kinds, mismatches = self._card_state(ids["card"])
        self.assertEqual(final_balance, balance - successes * amount)
        self.assertGreaterEqual(final_balance, 0)
        self.assertEqual(kinds.count("redeem"), successes)
        self.assertFalse(mismatches)

    def test_two_threads_redeem_one_card(self):
        self._check_concurrent_redemptions(2)

    def test_eight_threads_redeem_one_card(self):
        self._check_concurrent_redemptions(8)

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_concurrent_duplicates_post_once(self):
        """The same posting key sent by 4 callers at once (retried POS sync, double click)."""
        ids = self.make_committed_card(tag="dup")

        def earn(env, index):
            card = env["loyalty.club.card"].browse(ids["card"])
            env["loyalty.club.posting"]._post(card, 25, "earn", f"pos.order:{ids['card']}:0:earn")

        outcomes = self._run_threads(4, earn)
        self.assertEqual(outcomes, ["ok"] * 4)
        final_balance, kinds, mismatches = self._card_state(ids["card"])
        self.assertEqual(kinds, ["earn"])
        self.assertEqual(final_balance, 25)
        self.assertFalse(mismatches)

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_two_orders_redeeming_most_of_the_balance_confirm_at_once(self):
        """Issue 3, acceptance 7: each quotation reserved 80 of 100 points (two cashiers raced
        past the reservation check); confirming both at the same time spends them once."""
        ids = self.make_committed_card(balance=100, tag="orders")
        with self.committed_env() as env:
            card = env["loyalty.club.card"].browse(ids["card"])
            club = card.club_id
            reward = env["loyalty.club.reward"].create(
                {
                    "name": "Big credit",
                    "club_id": club.id,
                    "reward_type": "credit",
                    "points_cost": 80,
                    "credit_amount": 5,
                }
            )
            product = env["product.product"].create({"name": "Lamp", "list_price": 50.0})
            order_ids = []
            for _index in range(2):
                order = (
                    env["sale.order"]
                    .with_company(club.company_id)
                    .create(
                        {
                            "partner_id": card.partner_id.id,
                            "company_id": club.company_id.id,
                            "order_line": [
                                Command.create({"product_id": product.id, "product_uom_qty": 1}),
                                Command.create(
                                    {
                                        "product_id": club._get_reward_product().id,
                                        "price_unit": -5,
                                        "loyalty_reward_id": reward.id,
                                        "loyalty_reward_points": 80,
                                        "loyalty_reward_card_id": card.id,
                                    }
                                ),
                            ],
                        }
                    )
                )
                self.assertEqual(order.loyalty_card_id, card)
                order_ids.append(order.id)

        def confirm(env, index):
            env["sale.order"].browse(order_ids[index]).action_confirm()

        outcomes = self._run_threads(2, confirm)
        self.assertEqual(sorted(outcomes), ["ok", "refused"], outcomes)
        final_balance, kinds, mismatches = self._card_state(ids["card"])
        self.assertEqual(kinds.count("redeem"), 1)
        # the confirmed order spent 80 and earned 45 (1 point per 1 paid in money: the lamp's 50
        # less the credit of 5 paid with points, the club's default)
        self.assertEqual(final_balance, 100 - 80 + 45)
        self.assertEqual(kinds.count("earn"), 2, "the seeded balance and the confirmed order")
        self.assertFalse(mismatches)
        with self.committed_env() as env:
            states = sorted(env["sale.order"].browse(order_ids).mapped("state"))
        self.assertEqual(states, ["draft", "sale"], "the refused confirmation is rolled back whole")
