import copy
import threading
import time
import uuid

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.modules.registry import DummyRLock, Registry
from odoo.service.model import retrying
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
            gift_method = club._setup_gift_cards()
            config = env["pos.config"].create(
                {
                    "name": "Race shop",
                    "company_id": company.id,
                    "payment_method_ids": [(6, 0, (cash | points | gift_method).ids)],
                }
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
            card._set_pin("1357")
            env.ref("base.user_admin").write({"company_ids": [(4, company.id)]})
            self.pos = {
                "config": config.id,
                "session": config.current_session_id.id,
                "pricelist": config.pricelist_id.id,
                "cash": cash.id,
                "points": points.id,
                "product": product.id,
                "gift_method": gift_method.id,
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
            cr.execute("DELETE FROM loyalty_club_hold WHERE pos_config_id = %s", [self.pos["config"]])
            cr.execute("DELETE FROM loyalty_club_till_token WHERE pos_config_id = %s", [self.pos["config"]])
            cr.execute(
                """DELETE FROM loyalty_club_gift_card_entry
                    WHERE gift_card_id IN (SELECT id FROM loyalty_club_gift_card WHERE club_id = %s)""",
                [self.ids["club"]],
            )
            cr.execute("DELETE FROM loyalty_club_gift_card WHERE club_id = %s", [self.ids["club"]])
            # Leave no open till behind for other tests.
            cr.execute("UPDATE pos_session SET state = 'closed' WHERE id = %s", [self.pos["session"]])
            cr.execute("UPDATE pos_config SET active = FALSE WHERE id = %s", [self.pos["config"]])
            cr.execute(
                "DELETE FROM res_company_users_rel WHERE cid = %s AND user_id = %s",
                [self.ids["company"], env.ref("base.user_admin").id],
            )

    def _order(self, order_uuid, points_amount=0.0, payment_uuid=None, card=True):
        payments = [(0, 0, {"payment_method_id": self.pos["cash"], "amount": 100.0 - points_amount})]
        if points_amount:
            payments.append(
                (0, 0, {"payment_method_id": self.pos["points"], "amount": points_amount, "uuid": payment_uuid})
            )
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
            "loyalty_club_card_id": self.ids["card"] if card else False,
        }

    def _hold(self, env, order_uuid, payment_uuid, points):
        """What the till does when the cashier adds a points payment: PIN check, then the hold."""
        cashier = env(user=env.ref("base.user_admin").id, context={"allowed_company_ids": [self.ids["company"]]})
        config = cashier["pos.config"].browse(self.pos["config"])
        token = config.loyalty_club_verify_pin(self.ids["card"], "1357", order_uuid)["token"]
        return config.loyalty_club_hold_points(self.ids["card"], points, order_uuid, payment_uuid, token)

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

        def hold_and_sync(env, index):
            # 30.00 = 60 points each; the card holds 100: the second hold is refused at the till
            payment_uuid = str(uuid.uuid4())
            self._hold(env, uuids[index], payment_uuid, 60)
            env["pos.order"].sync_from_ui([self._order(uuids[index], points_amount=30.0, payment_uuid=payment_uuid)])

        outcomes = self._run_threads(2, hold_and_sync)
        self.assertEqual(sorted(outcomes), ["ok", "refused"], outcomes)
        balance, kinds, mismatches = self._card_state(self.ids["card"])
        self.assertEqual(kinds.count("redeem"), 1)
        self.assertEqual(balance, 100 - 60 + 7, "7 earned on the 70.00 paid in money")
        self.assertFalse(mismatches)
        self.assertEqual(sorted(self._orders_with_uuid(u) for u in uuids), [0, 1], "the refused till sent nothing")

    @mute_logger("odoo.service.model", "odoo.sql_db", "odoo.addons.point_of_sale.models.pos_order")
    def test_resent_order_without_member_is_saved_once(self):
        """Eight copies of one order sent at once (a till re-sending after a timeout), no member:
        one order (Odoo 18 alone saves it several times), every sender answered normally."""
        order_uuid = str(uuid.uuid4())

        def sync(env, index):
            env["pos.order"].sync_from_ui([self._order(order_uuid, card=False)])

        outcomes = self._run_threads(8, sync)
        self.assertEqual(outcomes, ["ok"] * 8, outcomes)
        self.assertEqual(self._orders_with_uuid(order_uuid), 1)

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_order_replayed_after_a_serialization_failure_keeps_its_card(self):
        """Another transaction holds the card row and changes it while the sync waits for it: the
        sync's first attempt fails to serialize and Odoo's ``retrying`` replays it with the very
        same order dict, which still names the card: the order is booked on its card, once."""
        self.patch(Registry, "_lock", DummyRLock())
        order_uuid = str(uuid.uuid4())
        data = self._order(order_uuid)
        sent = copy.deepcopy(data)
        attempts, errors = [], []

        def till():
            try:
                with self.env.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})

                    def sync():
                        attempts.append(1)
                        env["pos.order"].sync_from_ui([data])

                    retrying(sync, env)
            except Exception as error:
                errors.append(error)

        thread = threading.Thread(target=till, name="club-test-replay")
        thread.dbname = self.env.cr.dbname
        with self.committed_env() as other:
            other.cr.execute("SELECT id FROM loyalty_club_card WHERE id = %s FOR UPDATE", [self.ids["card"]])
            thread.start()
            deadline = time.time() + 30
            while not self._waiting_for_a_lock(other.cr.dbname) and time.time() < deadline:
                time.sleep(0.05)
            other.cr.execute("UPDATE loyalty_club_card SET write_date = now() WHERE id = %s", [self.ids["card"]])
        thread.join(timeout=60)
        self.assertFalse(errors, errors)
        self.assertEqual(len(attempts), 2, "the first attempt failed to serialize and was replayed")
        self.assertEqual(data, sent, "the till's order is never changed in place")
        with self.committed_env() as env:
            order = env["pos.order"].search([("uuid", "=", order_uuid)])
            self.assertEqual(order.loyalty_card_id.id, self.ids["card"])
            self.assertEqual(order.loyalty_points_earned, 10)
        balance, kinds, mismatches = self._card_state(self.ids["card"])
        self.assertEqual(kinds, ["earn", "earn"], "the seed and one earning for the order")
        self.assertEqual(balance, 110)
        self.assertFalse(mismatches)

    def _waiting_for_a_lock(self, dbname):
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [dbname]
            )
            return cr.fetchone()[0] > 0

    @mute_logger("odoo.service.model", "odoo.sql_db", "odoo.addons.point_of_sale.models.pos_order")
    def test_holds_of_many_tills_never_exceed_the_balance(self):
        """Eight tills hold points of one card and eight hold money of one gift card, at once:
        what is held never exceeds the balance, a Sales redemption sees it as spent, a released
        hold frees it, and every captured hold books once."""
        with self.committed_env() as root_env:
            env = root_env(context={"allowed_company_ids": [self.ids["company"]]})
            club = env["loyalty.club"].browse(self.ids["club"])
            gift = env["loyalty.club.gift.card"].create({"club_id": club.id, "currency_id": club.currency_id.id})
            gift._set_pin("246810")
            env["loyalty.club.posting"]._post_gift_card(gift, 100.0, "load", f"race:{gift.id}:seed")
            self.pos["gift"] = gift.id
        orders = [(str(uuid.uuid4()), str(uuid.uuid4())) for _index in range(16)]

        def hold(env, index):
            order_uuid, payment_uuid = orders[index]
            cashier = env(user=env.ref("base.user_admin").id, context={"allowed_company_ids": [self.ids["company"]]})
            config = cashier["pos.config"].browse(self.pos["config"])
            if index < 8:
                self._hold(env, order_uuid, payment_uuid, 30)
            else:
                token = config.loyalty_gift_card_verify_pin(self.pos["gift"], "246810", order_uuid)["token"]
                config.loyalty_gift_card_hold(self.pos["gift"], 30.0, order_uuid, payment_uuid, token)

        outcomes = self._run_threads(16, hold)
        self.assertFalse([o for o in outcomes if o not in ("ok", "refused")], outcomes)
        self.assertEqual((outcomes[:8].count("ok"), outcomes[8:].count("ok")), (3, 3), outcomes)
        held = [index for index, outcome in enumerate(outcomes) if outcome == "ok"]
        with self.committed_env() as env:
            card = env["loyalty.club.card"].browse(self.ids["card"])
            gift = env["loyalty.club.gift.card"].browse(self.pos["gift"])
            self.assertEqual((card.points_held, card.points_available), (90, 10))
            self.assertEqual((gift.amount_held, gift.balance_available), (90.0, 10.0))
            with self.assertRaisesRegex(UserError, "90 held"):
                env["loyalty.club.posting"]._post(card, -20, "redeem", f"race:{card.id}:sales")
        released = held[0]
        with self.committed_env() as env:
            env["pos.config"].browse(self.pos["config"]).loyalty_club_release_holds([orders[released][1]])
        with self.committed_env() as env:
            self.assertEqual(env["loyalty.club.card"].browse(self.ids["card"]).points_available, 40)
            batch = []
            for index in held[1:]:
                order_uuid, payment_uuid = orders[index]
                if index < 8:
                    batch.append(self._order(order_uuid, points_amount=15.0, payment_uuid=payment_uuid))
                else:
                    data = self._order(order_uuid, card=False)
                    data["payment_ids"] = [
                        (0, 0, {"payment_method_id": self.pos["cash"], "amount": 70.0}),
                        (
                            0,
                            0,
                            {"payment_method_id": self.pos["gift_method"], "amount": 30.0, "uuid": payment_uuid},
                        ),
                    ]
                    batch.append(data)
            env["pos.order"].sync_from_ui(batch)
            env["pos.order"].sync_from_ui(copy.deepcopy(batch))
            holds = env["loyalty.club.hold"].search([("pos_config_id", "=", self.pos["config"])])
            self.assertEqual(sorted(holds.mapped("state")), ["captured"] * 5 + ["released"])
            gift = env["loyalty.club.gift.card"].browse(self.pos["gift"])
            self.assertEqual(gift.balance, 10.0)
            self.assertFalse(env["loyalty.club.posting"]._audit_gift_cards(gift))
        balance, kinds, mismatches = self._card_state(self.ids["card"])
        self.assertEqual(kinds.count("redeem"), 2, "each captured hold books once")
        # two orders of 100.00 paying 15.00 with points: each earns 8 on the 85.00 paid in money
        self.assertEqual(balance, 100 - 60 + 8 + 8)
        self.assertFalse(mismatches)
