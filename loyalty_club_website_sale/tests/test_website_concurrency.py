from odoo import Command
from odoo.tests import TransactionCase, tagged

from odoo.addons.loyalty_club.tests.common import CommittedClubMixin


@tagged("post_install", "-at_install")
class TestWebsitePaymentConcurrency(CommittedClubMixin, TransactionCase):
    """Two browser sessions pay two carts with the same points, or the same gift card, at the same
    moment, in separate transactions: one payment starts, the other is refused; the ledgers stay true."""

    def test_two_sessions_cannot_spend_the_same_points(self):
        ids = self.make_committed_card(balance=200, tag="web")
        with self.committed_env() as env:
            card = env["loyalty.club.card"].browse(ids["card"])
            reward = env["loyalty.club.reward"].create(
                {
                    "name": "Half off",
                    "club_id": ids["club"],
                    "reward_type": "discount",
                    "points_cost": 150,
                    "discount_percent": 50,
                }
            )
            product = env["product.product"].create({"name": "Web concurrency lamp", "list_price": 100.0})
            orders = env["sale.order"]
            for _session in range(2):
                order = env["sale.order"].create(
                    {
                        "partner_id": ids["partner"],
                        "company_id": ids["company"],
                        "order_line": [Command.create({"product_id": product.id, "tax_id": False})],
                    }
                )
                # each cart reserves the points on its own (the other cart's lines came later)
                order._loyalty_add_reward(card, reward, 200)
                orders |= order
            order_ids, product_id, reward_id = orders.ids, product.id, reward.id
        self.addCleanup(self._cleanup_orders, order_ids, product_id, reward_id)

        self._pay_at_once(order_ids, ids["partner"])
        balance, kinds, mismatches = self._card_state(ids["card"])
        self.assertEqual(balance, 50)
        self.assertEqual(sorted(kinds), ["earn", "redeem"])
        self.assertFalse(mismatches)
        with self.committed_env() as env:
            paid = env["sale.order"].browse(order_ids).filtered("transaction_ids")
            self.assertEqual(len(paid), 1, "only the payment that spent the points exists")

    def test_a_gift_card_cannot_be_overdrawn_by_two_checkouts(self):
        ids = self.make_committed_card(tag="webgift")
        with self.committed_env() as env:
            club = env["loyalty.club"].browse(ids["club"])
            gift_card = env["loyalty.club.gift.card"].create({"club_id": club.id, "currency_id": club.currency_id.id})
            env["loyalty.club.posting"]._post_gift_card(gift_card, 100.0, "load", f"committed:{gift_card.id}:load")
            product = env["product.product"].create({"name": "Web gift concurrency lamp", "list_price": 150.0})
            orders = env["sale.order"].create(
                [
                    {
                        "partner_id": ids["partner"],
                        "company_id": ids["company"],
                        "order_line": [Command.create({"product_id": product.id, "tax_id": False})],
                        "loyalty_gift_card_id": gift_card.id,
                    }
                    for _session in range(2)
                ]
            )
            order_ids, product_id, gift_card_id = orders.ids, product.id, gift_card.id
        self.addCleanup(self._cleanup_orders, order_ids, product_id, None, gift_card_id)

        self._pay_at_once(order_ids, ids["partner"])
        with self.committed_env() as env:
            gift_card = env["loyalty.club.gift.card"].browse(gift_card_id)
            self.assertEqual(gift_card.balance, 0.0)
            entries = env["loyalty.club.gift.card.entry"].search([("gift_card_id", "=", gift_card_id)])
            self.assertEqual(sorted(entries.mapped("kind")), ["load", "redeem"])
            paid = env["sale.order"].browse(order_ids).filtered("transaction_ids")
            self.assertEqual(len(paid), 1)
            self.assertAlmostEqual(paid.transaction_ids.amount, 50.0, msg="the provider pays what the card left")

    def _pay_at_once(self, order_ids, partner_id):
        """Start paying each order (demo provider) in its own transaction, all at the same moment:
        exactly one payment starts, the others are refused, nothing else goes wrong."""
        provider = self.env["payment.provider"].search([("code", "=", "demo")], limit=1)
        provider_id, method_id = provider.id, provider.payment_method_ids[:1].id  # read here, not in the threads

        def pay(env, index):
            order = env["sale.order"].browse(order_ids[index])
            env["payment.transaction"].create(
                {
                    "provider_id": provider_id,
                    "payment_method_id": method_id,
                    "reference": f"WEB-CONCURRENCY-{order.id}",
                    "amount": order.amount_total,
                    "currency_id": order.currency_id.id,
                    "partner_id": partner_id,
                    "operation": "online_direct",
                    "sale_order_ids": [Command.set([order.id])],
                }
            )

        with self._error_log_lines() as errors:
            outcomes = self._run_threads(len(order_ids), pay)
        failures = [outcome for outcome in outcomes if outcome not in ("ok", "refused")]
        self.assertEqual(sorted(outcomes), ["ok"] + ["refused"] * (len(order_ids) - 1), "\n".join(failures))
        self.assertFalse(errors)

    def _cleanup_orders(self, order_ids, product_id, reward_id, gift_card_id=None):
        with self.committed_env() as env:
            cr = env.cr
            cr.execute("SET LOCAL session_replication_role = replica")
            cr.execute(
                """DELETE FROM payment_transaction WHERE id IN
                   (SELECT transaction_id FROM sale_order_transaction_rel WHERE sale_order_id = ANY(%s))""",
                [order_ids],
            )
            cr.execute("DELETE FROM sale_order_line WHERE order_id = ANY(%s)", [order_ids])
            cr.execute("DELETE FROM sale_order WHERE id = ANY(%s)", [order_ids])
            cr.execute("DELETE FROM loyalty_club_reward WHERE id = %s", [reward_id])
            if gift_card_id:
                cr.execute("DELETE FROM loyalty_club_gift_card_entry WHERE gift_card_id = %s", [gift_card_id])
                cr.execute("DELETE FROM loyalty_club_gift_card WHERE id = %s", [gift_card_id])
            cr.execute(
                "DELETE FROM product_template WHERE id IN (SELECT product_tmpl_id FROM product_product WHERE id = %s)",
                [product_id],
            )
