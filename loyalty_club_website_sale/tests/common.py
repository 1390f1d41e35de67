import json

from odoo import Command, http
from odoo.tests import HttpCase, new_test_user

PIN = "2468"
# a well-formed gift card code (check symbol) and its PIN
GIFT_CODE = "K7QM-3XPA-9TRW-B2H1"
GIFT_PIN = "864213"


class WebsiteClubCase(HttpCase):
    """The current website's company with a club of its own (any club the database had there is
    moved away: nothing comes from demo data), a published product at 200, a 150-point reward, a
    portal member with 400 points, a portal customer without a card, a gift card holding 100; the
    demo payment provider."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        cls.website = env["website"].get_current_website()
        cls.company = cls.website.company_id
        # a club the database may already have there (demo data) moves to a company of its own
        existing = env["loyalty.club"].with_context(active_test=False).search([("company_id", "=", cls.company.id)])
        if existing:
            # with the books it keeps in this company (the demo club books its points)
            books = dict.fromkeys(
                [
                    "points_accounting",
                    "points_journal_id",
                    "points_liability_account_id",
                    "points_revenue_account_id",
                    "points_redemption_account_id",
                    "points_expense_account_id",
                    "points_opening_account_id",
                ],
                False,
            )
            existing.write({"company_id": env["res.company"].create({"name": "Former club company"}).id, **books})
            existing.flush_recordset()
        cls.club = env["loyalty.club"].create(
            {
                "name": "Web Club",
                "company_id": cls.company.id,
                "earn_amount": 10,
                "earn_points": 1,
                "point_value": 0.5,
                "pin_length": 4,
                "pin_max_attempts": 5,
                "expiry_months": 0,
            }
        )
        cls.tier = env["loyalty.club.tier"].create({"name": "Member", "club_id": cls.club.id, "threshold": 0})
        cls.product = env["product.product"].create(
            {
                "name": "Club Lamp",
                "type": "service",
                "list_price": 200.0,
                "taxes_id": [Command.clear()],
                "is_published": True,
                "website_id": cls.website.id,
            }
        )
        cls.reward = env["loyalty.club.reward"].create(
            {
                "name": "7% off your order",
                "club_id": cls.club.id,
                "reward_type": "discount",
                "points_cost": 150,
                "discount_percent": 7,
            }
        )
        cls.member_user = new_test_user(
            env, "club_web_member", groups="base.group_portal", name="Mina Member", email="mina@example.com"
        )
        cls.member = cls.member_user.partner_id
        cls.member.write(
            {
                "street": "1 Club Street",
                "city": "Tehran",
                "zip": "1234567890",
                "phone": "+98 912 111 2233",
                "country_id": env.ref("base.ir").id,
            }
        )
        cls.card = env["loyalty.club.card"].create({"partner_id": cls.member.id, "club_id": cls.club.id})
        cls.card._set_pin(PIN)
        env["loyalty.club.posting"]._post(cls.card, 400, "earn", "test:web:seed")
        cls.customer_user = new_test_user(
            env, "club_web_customer", groups="base.group_portal", name="Cyrus Customer", email="cyrus@example.com"
        )
        cls.club._setup_gift_cards()
        cls.gift_card = env["loyalty.club.gift.card"].create(
            {"club_id": cls.club.id, "code": GIFT_CODE, "currency_id": cls.company.currency_id.id}
        )
        cls.gift_card._set_pin(GIFT_PIN)
        env["loyalty.club.posting"]._post_gift_card(cls.gift_card, 100.0, "load", "test:web:gift:load")
        cls.provider = env["payment.provider"].search([("code", "=", "demo")], limit=1)
        cls.provider.write({"state": "test", "is_published": True, "company_id": cls.company.id})
        cls.provider.payment_method_ids.active = True
        cls.payment_method = cls.provider.payment_method_ids[:1]

    def csrf(self):
        return http.Request.csrf_token(self)

    def post_form(self, url, **data):
        return self.url_open(url, data={"csrf_token": self.csrf(), **data}, allow_redirects=False)

    def add_to_cart(self, product=None, quantity=1):
        """Put ``product`` in the session's cart (the shop's own route) and return the cart."""
        self.post_form("/shop/cart/update", product_id=(product or self.product).id, add_qty=quantity)
        return self.env["sale.order"].search(
            [("website_id", "=", self.website.id), ("state", "=", "draft")], order="id desc", limit=1
        )

    def entries(self, card=None):
        return self.env["loyalty.club.entry"].search([("card_id", "=", (card or self.card).id)], order="id")

    def pay(self, order, state="done"):
        """Start paying ``order`` through the shop's transaction route with the demo provider and
        let the provider answer ``state`` (None: no answer yet); returns the route's error message
        (None when the payment started) and the transaction."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "access_token": order._portal_ensure_token(),
                "provider_id": self.provider.id,
                "payment_method_id": self.payment_method.id,
                "token_id": None,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": "/shop/payment/validate",
                "is_validation": False,
                # what the payment page's form sends (sale's portal payment values)
                "amount": order.amount_total - order.amount_paid,
            },
        }
        answer = self.url_open(
            f"/shop/payment/transaction/{order.id}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        ).json()
        if "error" in answer:
            return answer["error"]["data"]["message"], order.transaction_ids.browse()
        tx = order.transaction_ids.sorted("id")[-1:]
        if state:
            tx._handle_notification_data(
                "demo", {"reference": tx.reference, "payment_details": "4242", "simulated_state": state}
            )
            tx._post_process()
        return None, tx
