from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from odoo.addons.point_of_sale.tests.test_frontend import TestPointOfSaleHttpCommon

PIN = "2468"
CARD_NUMBER = "7711000000000013"


@tagged("post_install", "-at_install")
class TestPosTours(TestPointOfSaleHttpCommon):
    """The cashier's flows clicked through in headless Chromium."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        env.user.groups_id += env.ref("loyalty_club.group_loyalty_club_manager")
        company = cls.main_pos_config.company_id
        company.country_id = env.ref("base.ir")
        cls.club = env["loyalty.club"].create(
            {
                "name": "Tour Club",
                "company_id": company.id,
                "earn_amount": 10,
                "earn_points": 1,
                "point_value": 0.5,
                "expiry_months": 0,
                "pin_length": 4,
                "pin_max_attempts": 3,
                "card_prefix": "7711",
            }
        )
        cls.member = env["res.partner"].create({"name": "Nima Member", "phone": "+98 912 111 2233"})
        cls.card = env["loyalty.club.card"].create(
            {"partner_id": cls.member.id, "club_id": cls.club.id, "number": CARD_NUMBER}
        )
        cls.card._set_pin(PIN)
        env["loyalty.club.posting"]._post(cls.card, 100, "earn", "tour:seed")
        journal = env["account.journal"].create(
            {"name": "Club points", "type": "bank", "code": "CLBP", "company_id": company.id}
        )
        cls.points_method = env["pos.payment.method"].create(
            {"name": "Club points", "journal_id": journal.id, "loyalty_club_points": True}
        )
        cls.main_pos_config.payment_method_ids |= cls.points_method
        cls.shirt = env["product.product"].create(
            {"name": "Club Shirt", "type": "service", "available_in_pos": True, "lst_price": 100.0, "taxes_id": False}
        )

    def test_identify_pin_pay_with_points_receipt(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("LoyaltyClubPosTour")
        order = self.env["pos.order"].search([("loyalty_card_id", "=", self.card.id)])
        # 40 points paid 20.00: the 80.00 paid in cash earn 8 points
        self.assertEqual((order.loyalty_points_redeemed, order.loyalty_points_earned), (40, 8))
        self.assertEqual(self.card.balance, 68)
        self.assertTrue(self.card.pin_failed_attempts == 0, "the right PIN clears the failed attempt")
        hold = self.env["loyalty.club.hold"].search([("card_id", "=", self.card.id)])
        self.assertEqual((hold.points, hold.state, hold.pos_order_id), (40, "captured", order))
        self.assertFalse(order.loyalty_review_state)

    def test_points_held_online_then_synced_after_going_offline(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("LoyaltyClubPosOfflineHoldTour")
        order = self.env["pos.order"].search([("loyalty_card_id", "=", self.card.id)])
        self.assertEqual(order.state, "paid")
        # 60 points paid 30.00: the 70.00 paid in cash earn 7 points
        self.assertEqual((order.loyalty_points_redeemed, order.loyalty_points_earned), (60, 7))
        hold = self.env["loyalty.club.hold"].search([("card_id", "=", self.card.id)])
        self.assertEqual((hold.state, hold.pos_order_id), ("captured", order))
        self.assertEqual(self.card.balance, 100 - 60 + 7)

    def test_the_back_office_shows_what_a_till_holds(self):
        self.main_pos_config.open_ui()
        token = self.main_pos_config.loyalty_club_verify_pin(self.card.id, PIN, "tour-held-order")["token"]
        self.main_pos_config.loyalty_club_hold_points(self.card.id, 40, "tour-held-order", "tour-held-payment", token)
        company = self.main_pos_config.company_id
        self.env.ref("base.user_admin").company_ids |= company
        self.start_tour(
            f"/odoo/action-loyalty_club.loyalty_club_card_action/{self.card.id}",
            "LoyaltyClubCardHeldTour",
            login="admin",
            cookies={"cids": str(company.id)},
        )

    def test_scan_a_legacy_card_number(self):
        """A number kept from another system is found by scanning, products still scan, and a
        barcode that is neither shows Odoo's notice."""
        legacy = self.env["loyalty.club.card"].create(
            {
                "partner_id": self.env["res.partner"].create({"name": "Leyla Legacy"}).id,
                "club_id": self.club.id,
                "number": "55501234",
                "legacy_number": True,
            }
        )
        self.env["loyalty.club.posting"]._post(legacy, 30, "earn", "tour:legacy")
        self.env["product.product"].create(
            {
                "name": "Club Mug",
                "type": "consu",
                "available_in_pos": True,
                "lst_price": 8.0,
                "taxes_id": False,
                "barcode": "6260000000012",
            }
        )
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("LoyaltyClubPosLegacyScanTour")
        order = self.env["pos.order"].search([("loyalty_card_id", "=", legacy.id)])
        self.assertEqual(order.lines.product_id.mapped("name"), ["Club Shirt", "Club Mug"])
        self.assertEqual(order.loyalty_points_earned, 10)
        self.assertEqual(legacy.balance, 40)

    def test_refund_gives_back_points(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        session = self.main_pos_config.current_session_id
        cash = self.main_pos_config.payment_method_ids.filtered("is_cash_count")[:1]
        token = self.main_pos_config.loyalty_club_verify_pin(self.card.id, PIN, "club-refund-tour")["token"]
        self.main_pos_config.loyalty_club_hold_points(self.card.id, 40, "club-refund-tour", "club-refund-pay", token)
        sold = self.env["pos.order"].sync_from_ui(
            [
                {
                    "name": "Order club-refund-tour",
                    "uuid": "club-refund-tour",
                    "session_id": session.id,
                    "partner_id": self.member.id,
                    "pricelist_id": self.main_pos_config.pricelist_id.id,
                    "user_id": self.pos_user.id,
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
                                "product_id": self.shirt.id,
                                "qty": 1,
                                "price_unit": 100.0,
                                "price_subtotal": 100.0,
                                "price_subtotal_incl": 100.0,
                                "tax_ids": [],
                            },
                        )
                    ],
                    "payment_ids": [
                        (
                            0,
                            0,
                            {"payment_method_id": self.points_method.id, "amount": 20.0, "uuid": "club-refund-pay"},
                        ),
                        (0, 0, {"payment_method_id": cash.id, "amount": 80.0}),
                    ],
                    "loyalty_club_card_id": self.card.id,
                }
            ]
        )
        sold = self.env["pos.order"].browse(sold["pos.order"][0]["id"])
        self.assertEqual(self.card.balance, 68, "40 points paid, 8 earned on the 80.00 paid in cash")
        self.start_pos_tour("LoyaltyClubPosRefundTour")
        refund = sold.refund_orders_count and sold.lines.refund_orderline_ids.order_id
        self.assertEqual((refund.loyalty_points_returned, refund.loyalty_points_reversed), (40, 8))
        self.assertEqual(self.card.balance, 100)

    def test_gold_member_gets_the_window_discount(self):
        gold = self.env["loyalty.club.tier"].create({"name": "Gold", "club_id": self.club.id, "threshold": 0})
        self.card._change_tier(gold, "upgrade")
        now = fields.Datetime.now()
        window = self.env["loyalty.club.discount.window"].create(
            {
                "name": "Happy hours",
                "club_id": self.club.id,
                "discount_percent": 10,
                "date_from": now - timedelta(hours=1),
                "date_to": now + timedelta(hours=2),
                "tier_ids": [(6, 0, gold.ids)],
            }
        )
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("LoyaltyClubPosWindowTour")
        line = self.env["pos.order"].search([("loyalty_card_id", "=", self.card.id)]).lines
        self.assertEqual((line.discount, line.loyalty_discount_window_id), (10, window))

    def test_pay_with_points_entered_in_points(self):
        """Points are typed in points (their money value beside), changed in points, and the
        payment screen shows the member's available points and tier; the server books exactly
        the money it books for that number of points."""
        silver = self.env["loyalty.club.tier"].create({"name": "Silver", "club_id": self.club.id, "threshold": 0})
        self.card._change_tier(silver, "upgrade")
        self.club.point_value = 0.07  # 45 * 0.07 is 3.1500000000000004 in binary floats
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("LoyaltyClubPosPointsTour")
        order = self.env["pos.order"].search([("loyalty_card_id", "=", self.card.id)])
        self.assertEqual(order.loyalty_points_redeemed, 45)
        payment = order.payment_ids.filtered(lambda p: p.payment_method_id == self.points_method)
        self.assertEqual(payment.amount, 3.15)
        self.assertEqual(order.currency_id.compare_amounts(payment.amount, order.currency_id.round(45 * 0.07)), 0)
        entry = self.env["loyalty.club.entry"].search([("posting_key", "=", order._loyalty_club_key("redeem"))])
        self.assertEqual((entry.kind, entry.points, entry.card_id), ("redeem", -45, self.card))
        holds = self.env["loyalty.club.hold"].search([("card_id", "=", self.card.id)], order="id")
        # the 60 points first held were freed when the cashier changed the line to 45
        self.assertEqual([(hold.points, hold.state) for hold in holds], [(60, "released"), (45, "captured")])
        self.assertEqual(self.card.balance, 100 - 45 + order.loyalty_points_earned)

    def _check_club_card_button_at(self, width, height, touch):
        """The cashier finds the Club card button at this screen width and identifies the member
        with it (then pays with points)."""
        self.browser_size = f"{width}x{height}"
        self.touch_enabled = touch
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_tour(
            f"/pos/ui?config_id={self.main_pos_config.id}&loyalty_width={width}",
            "LoyaltyClubPosCardButtonTour",
            login="pos_user",
        )
        order = self.env["pos.order"].search([("loyalty_card_id", "=", self.card.id)])
        self.assertEqual(order.partner_id, self.member)
        self.assertEqual(order.loyalty_points_redeemed, 40)

    def test_club_card_button_on_a_phone(self):
        self._check_club_card_button_at(390, 844, touch=True)

    def test_club_card_button_on_a_tablet(self):
        self._check_club_card_button_at(800, 1280, touch=True)

    def test_club_card_button_on_a_desktop(self):
        self._check_club_card_button_at(1280, 800, touch=False)
