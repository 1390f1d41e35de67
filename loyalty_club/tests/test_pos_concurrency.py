import uuid

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import CommittedClubMixin


@tagged("post_install", "-at_install")
class TestPosConcurrentSync(CommittedClubMixin, TransactionCase):
    """POS syncs racing each other, one thread and one database cursor per till, each inside
    ``retrying`` as Odoo runs an RPC: the same order sent twice at once books once, and two
    orders paying with the same points cannot overdraw the card."""

    def setUp(self):
        super().setUp()
        self.ids = self.make_committed_card(balance=100, tag="pos")
        with self.committed_env() as root_env:
            company = root_env["res.company"].browse(self.ids["company"])
            root_env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
            env = root_env(context={"allowed_company_ids": [company.id]})
            club = env["loyalty.club"].browse(self.ids["club"])
            club.write({"earn_amount": 10, "earn_points": 1, "point_value": 0.5})
            cash_journal = env["account.journal"].search(
                [("type", "=", "cash"), ("company_id", "=", company.id)], limit=1
            )
            points_journal = env["account.journal"].create(
                {"name": "Club points", "type": "bank", "code": "CLBP", "company_id": company.id}
            )
            cash = env["pos.payment.method"].create(
                {"name": "Cash", "journal_id": cash_journal.id, "company_id": company.id}
            )
            points = env["pos.payment.method"].create(
                {
                    "name": "Club points",
                    "journal_id": points_journal.id,
                    "loyalty_club_points": True,
                    "company_id": company.id,
                }
            )
            config = env["pos.config"].create(
                {"name": "Race shop", "company_id": company.id, "payment_method_ids": [(6, 0, (cash | points).ids)]}
            )
            config.open_ui()
            product = env["product.product"].create(
                {
                    "name": "Race shirt",
                    "type": "service",
                    "lst_price": 100.0,
                    "taxes_id": False,
                    "company_id": company.id,
                }
            )
            card = env["loyalty.club.card"].browse(self.ids["card"])
            self.pos = {
                "config": config.id,
                "session": config.current_session_id.id,
                "pricelist": config.pricelist_id.id,
                "cash": cash.id,
                "points": points.id,
                "product": product.id,
                "token": config._loyalty_club_pin_token(card),
            }
        self.addCleanup(self._cleanup_pos)

    def _cleanup_pos(self):
        with self.committed_env() as env:
            cr = env.cr
            cr.execute("SET LOCAL session_replication_role = replica")
            cr.execute("SELECT id FROM pos_order WHERE session_id = %s", [self.pos["session"]])
            order_ids = [row[0] for row in cr.fetchall()] or [0]
            cr.execute("DELETE FROM pos_payment WHERE pos_order_id = ANY(%s)", [order_ids])
            cr.execute("DELETE FROM pos_order_line WHERE order_id = ANY(%s)", [order_ids])
            cr.execute("DELETE FROM pos_order WHERE id = ANY(%s)", [order_ids])
            # Leave no open till behind for other tests.
            cr.execute("UPDATE pos_session SET state = 'closed' WHERE id = %s", [self.pos["session"]])
            cr.execute("UPDATE pos_config SET active = FALSE WHERE id = %s", [self.pos["config"]])

    def _order(self, order_uuid, points_amount=0.0):
        payments = [(0, 0, {"payment_method_id": self.pos["cash"], "amount": 100.0 - points_amount})]
        if points_amount:
            payments.append((0, 0, {"payment_method_id": self.pos["points"], "amount": points_amount}))
        return {
            "name": f"Order {order_uuid}",
            "uuid": order_uuid,
            "session_id": self.pos["session"],
            "pricelist_id": self.pos["pricelist"],
            "sequence_number": 1,
            "amount_paid": 100.0,
            "amount_return": 0.0,
            "amount_tax": 0.0,
            "amount_total": 100.0,
            "lines": [
                (
                    0,
                    0,
                    {
                        "product_id": self.pos["product"],
                        "qty": 1,
                        "price_unit": 100.0,
                        "price_subtotal": 100.0,
                        "price_subtotal_incl": 100.0,
                        "tax_ids": [],
                    },
                )
            ],
            "payment_ids": payments,
            "loyalty_club_card_id": self.ids["card"],
            "loyalty_club_pin_token": self.pos["token"] if points_amount else False,
        }

    def _orders_with_uuid(self, order_uuid):
        with self.committed_env() as env:
            return env["pos.order"].search_count([("uuid", "=", order_uuid)])

    @mute_logger("odoo.service.model", "odoo.sql_db", "odoo.addons.point_of_sale.models.pos_order")
    def test_same_order_synced_by_two_threads_earns_once(self):
        order_uuid = str(uuid.uuid4())

        def sync(env, index):
            env["pos.order"].sync_from_ui([self._order(order_uuid)])

        outcomes = self._run_threads(2, sync)
        self.assertEqual(outcomes, ["ok", "ok"], "a duplicate sync is not an error for the till")
        balance, kinds, mismatches = self._card_state(self.ids["card"])
        self.assertEqual(kinds, ["earn", "earn"], "the seed and one earning for the order")
        self.assertEqual(balance, 110)
        self.assertFalse(mismatches)
        self.assertEqual(self._orders_with_uuid(order_uuid), 1)

    @mute_logger("odoo.service.model", "odoo.sql_db", "odoo.addons.point_of_sale.models.pos_order")
    def test_two_tills_paying_with_the_same_points_cannot_overdraw(self):
        uuids = [str(uuid.uuid4()), str(uuid.uuid4())]

        def sync(env, index):
            # 30.00 = 60 points each; the card holds 100.
            env["pos.order"].sync_from_ui([self._order(uuids[index], points_amount=30.0)])

        outcomes = self._run_threads(2, sync)
        self.assertEqual(sorted(outcomes), ["ok", "refused"], outcomes)
        balance, kinds, mismatches = self._card_state(self.ids["card"])
        self.assertEqual(kinds.count("redeem"), 1)
        self.assertEqual(balance, 100 - 60 + 10)
        self.assertFalse(mismatches)
        self.assertEqual(sorted(self._orders_with_uuid(u) for u in uuids), [0, 1], "the refused order is not saved")
