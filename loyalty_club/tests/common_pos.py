from contextlib import contextmanager

from odoo.exceptions import UserError

from odoo.addons.point_of_sale.tests.common import TestPoSCommon

PIN = "2468"


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

    def pin_token(self, card=None):
        return self.config.loyalty_club_verify_pin((card or self.card).id, PIN)["token"]

    def order_data(self, lines, payments=None, card=None, token=False, **kwargs):
        data = self.create_ui_order_data(lines, customer=self.member, payments=payments, **kwargs)
        data["loyalty_club_card_id"] = (card or self.card).id if card is not False else False
        data["loyalty_club_pin_token"] = token
        return data

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
        data["loyalty_club_pin_token"] = False
        return data

    def entries(self, card=None):
        return self.env["loyalty.club.entry"].search([("card_id", "=", (card or self.card).id)], order="id")
