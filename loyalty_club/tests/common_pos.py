from contextlib import contextmanager
from uuid import uuid4

from odoo import fields
from odoo.exceptions import UserError

from odoo.addons.point_of_sale.tests.common import TestPoSCommon

PIN = "2468"
GIFT_PIN = "246810"


class PosClubCase(TestPoSCommon):
    """A POS shop of the test company, its club, a member with a PIN and a "Club points"
    payment method. Nothing comes from demo data."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        cls.env.user.groups_id += cls.env.ref("loyalty_club.group_loyalty_club_manager")
        cls.company.country_id = cls.env.ref("base.ir")
        cls.club = cls.env["loyalty.club"].create(
            {
                "name": "POS Club",
                "company_id": cls.company.id,
                "earn_amount": 10,
                "earn_points": 1,
                "point_value": 0.5,
                "expiry_months": 0,
                "pin_length": 4,
                "pin_max_attempts": 3,
                "pin_lock_minutes": 15,
                "card_prefix": "7711",
            }
        )
        cls.member = cls.env["res.partner"].create({"name": "Nima Member", "phone": "+98 912 111 2233"})
        cls.card = cls.env["loyalty.club.card"].create({"partner_id": cls.member.id, "club_id": cls.club.id})
        cls.card._set_pin(PIN)
        club_journal = cls.env["account.journal"].create(
            {"name": "Club points", "type": "bank", "code": "CLBP", "company_id": cls.company.id}
        )
        cls.points_method = cls.env["pos.payment.method"].create(
            {
                "name": "Club points",
                "journal_id": club_journal.id,
                "loyalty_club_points": True,
                "company_id": cls.company.id,
            }
        )
        cls.config = cls.basic_config
        cls.cash_method = cls.config.payment_method_ids.filtered("is_cash_count")[:1]
        cls.config.payment_method_ids |= cls.points_method
        cls.shirt = cls.env["product.product"].create(
            {"name": "Club Shirt", "type": "service", "available_in_pos": True, "lst_price": 100.0, "taxes_id": False}
        )
        cls.cap = cls.env["product.product"].create(
            {"name": "Club Cap", "type": "service", "available_in_pos": True, "lst_price": 100.0, "taxes_id": False}
        )
        cls.Posting = cls.env["loyalty.club.posting"]

    def setUp(self):
        super().setUp()
        self.open_new_session()

    @contextmanager
    def assertRefused(self, pattern):
        """The block raises a UserError matching ``pattern``; what it wrote is rolled back."""
        with self.assertRaises(UserError) as caught:
            yield caught
        self.assertRegex(str(caught.exception), pattern)

    def seed_points(self, points, card=None, key="seed"):
        card = card or self.card
        return self.Posting._post(card, points, "earn", f"test:{card.id}:{key}")

    def order_data(self, lines, payments=None, card=None, hold=True, **kwargs):
        """UI data of an order of ``lines`` paid with ``payments`` ((method, amount) pairs). Line
        totals are what a correct till computes. A points payment of a positive amount is held
        at the till first (PIN checked for this order, then the hold), as the till does, unless
        ``hold`` is False."""
        data = self.create_ui_order_data(lines, customer=self.member, payments=payments, **kwargs)
        for command in data["lines"]:
            line = command[2]
            price = line["price_unit"] * (1 - (line.get("discount") or 0.0) / 100)
            taxes = self.env["account.tax"].browse(line["tax_ids"][0][2])
            totals = taxes.compute_all(price, self.currency, line["qty"])
            line["price_subtotal"], line["price_subtotal_incl"] = totals["total_excluded"], totals["total_included"]
        total = sum(command[2]["price_subtotal_incl"] for command in data["lines"])
        data["amount_tax"] = total - sum(command[2]["price_subtotal"] for command in data["lines"])
        if payments is None:
            data["payment_ids"][0][2]["amount"] = data["amount_paid"] = data["amount_total"] = total
        data["loyalty_club_card_id"] = (card or self.card).id if card is not False else False
        for command in data["payment_ids"]:
            payment = command[2]
            payment["uuid"] = str(uuid4())
            method = self.env["pos.payment.method"].browse(payment["payment_method_id"])
            if hold and method.loyalty_club_points and payment["amount"] > 0:
                points = round(payment["amount"] / self.club.point_value)
                self.hold_points(data["uuid"], payment["uuid"], points, card=card or self.card)
        return data

    def hold_points(self, order_uuid, payment_uuid, points, card=None):
        """Hold ``points`` for a payment at the till: the member's PIN checked for the order, then
        the hold. Returns the till's answer."""
        card = card or self.card
        token = self.config.loyalty_club_verify_pin(card.id, PIN, order_uuid)["token"]
        return self.config.loyalty_club_hold_points(card.id, points, order_uuid, payment_uuid, token)

    def hold_gift_card(self, order_uuid, payment_uuid, gift_card, amount, pin=None):
        """Hold ``amount`` of ``gift_card`` for a payment at the till (its PIN checked for the
        order, then the hold). Returns the till's answer."""
        token = self.config.loyalty_gift_card_verify_pin(gift_card.id, pin or GIFT_PIN, order_uuid)["token"]
        return self.config.loyalty_gift_card_hold(gift_card.id, amount, order_uuid, payment_uuid, token)

    def points_payment(self, data, points, card=None):
        """Add a held points payment of ``points`` to the order ``data`` (as the till does)."""
        payment_uuid = str(uuid4())
        held = self.hold_points(data["uuid"], payment_uuid, points, card=card)
        data["payment_ids"].append(
            (
                0,
                0,
                {
                    "amount": held["amount"],
                    "name": fields.Datetime.now(),
                    "payment_method_id": self.points_method.id,
                    "uuid": payment_uuid,
                },
            )
        )
        return held

    def sync(self, *orders):
        result = self.env["pos.order"].sync_from_ui(list(orders))
        return self.env["pos.order"].browse([order["id"] for order in result["pos.order"]])

    def refund_data(self, order, quantities, payments):
        """UI data of a refund of ``order``: {product: quantity to refund}."""
        lines = []
        for line in order.lines:
            qty = quantities.get(line.product_id)
            if qty:
                lines.append({"product": line.product_id, "quantity": -qty, "refunded_orderline_id": line.id})
        data = self.create_ui_order_data(lines, customer=order.partner_id, payments=payments)
        data["loyalty_club_card_id"] = False
        return data

    def holds(self, card=None):
        return self.env["loyalty.club.hold"].search([("card_id", "=", (card or self.card).id)], order="id")

    def assertFlagged(self, order, pattern, booked=False):
        """The paid order was saved and flagged for a club review with a reason matching ``pattern``."""
        self.assertTrue(order, "the paid order is saved")
        self.assertEqual(order.loyalty_review_state, "to_review")
        self.assertRegex(order.loyalty_review_reason, pattern)
        self.assertEqual(order.loyalty_review_booked, booked)

    def entries(self, card=None):
        return self.env["loyalty.club.entry"].search([("card_id", "=", (card or self.card).id)], order="id")
