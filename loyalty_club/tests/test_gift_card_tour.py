from odoo.tests import tagged

from odoo.addons.point_of_sale.tests.test_frontend import TestPointOfSaleHttpCommon

CODE = "K7QM-3XPA-9TRW-B2H1"
PIN = "864213"


@tagged("post_install", "-at_install")
class TestGiftCardPosTour(TestPointOfSaleHttpCommon):
    """Acceptance 2, clicked through in headless Chromium: sell a pre-printed gift card, then pay
    another order partly with it (wrong PIN first); the receipt shows the remaining balance."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        env.user.groups_id += env.ref("loyalty_club.group_loyalty_club_manager")
        company = cls.main_pos_config.company_id
        cls.club = env["loyalty.club"].create(
            {"name": "Tour Club", "company_id": company.id, "pin_max_attempts": 3, "card_prefix": "7712"}
        )
        cls.gift_method = cls.club._setup_gift_cards()
        cls.main_pos_config.payment_method_ids |= cls.gift_method
        cls.club.gift_card_product_id.write({"lst_price": 50.0, "pos_categ_ids": [(5, 0, 0)]})
        cls.card = env["loyalty.club.gift.card"].create(
            {"club_id": cls.club.id, "code": CODE, "currency_id": company.currency_id.id}
        )
        cls.card._set_pin(PIN)
        env["product.product"].create(
            {"name": "Club Shirt", "type": "service", "available_in_pos": True, "lst_price": 100.0, "taxes_id": False}
        )

    def test_sell_then_pay_partly_with_a_gift_card(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("LoyaltyGiftCardPosTour")
        self.assertEqual((self.card.state, self.card.balance), ("active", 20.0))
        entries = self.env["loyalty.club.gift.card.entry"].search([("gift_card_id", "=", self.card.id)], order="id")
        self.assertEqual([(e.kind, e.amount) for e in entries], [("load", 50.0), ("redeem", -30.0)])
        self.assertEqual(self.card.pin_failed_attempts, 0, "the right PIN clears the failed attempt")
