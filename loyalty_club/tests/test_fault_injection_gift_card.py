import copy

from odoo.tests import tagged

from .common_pos import GIFT_PIN, PosClubCase
from .test_reliability import InjectedFault


@tagged("post_install", "-at_install")
class TestFaultInjectionGiftCard(PosClubCase):
    """A failure right after a gift card movement was booked, inside a POS sync or a sale
    confirmation, rolls the movement back with everything else."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gift_method = cls.club._setup_gift_cards()
        cls.config.payment_method_ids |= cls.gift_method
        cls.GiftCard = cls.env["loyalty.club.gift.card"]
        cls.card_50 = cls.GiftCard.create({"club_id": cls.club.id, "currency_id": cls.company.currency_id.id})
        cls.card_50._set_pin(GIFT_PIN)
        cls.Posting._post_gift_card(cls.card_50, 50.0, "load", "fault-gift:seed")

    def setUp(self):
        super().setUp()
        original = type(self.Posting)._post_gift_card

        def post_then_fail(posting, *args, **kwargs):
            original(posting, *args, **kwargs)
            raise InjectedFault()

        self.post_then_fail = post_then_fail

    def gift_entries(self):
        return self.env["loyalty.club.gift.card.entry"].search_count([])

    def test_failure_after_gift_card_redemption_in_sync_leaves_nothing(self):
        data = self.order_data(
            [(self.shirt, 1)], payments=[(self.gift_method, 20.0), (self.cash_method, 80.0)], card=False
        )
        data["payment_ids"][0][2]["loyalty_gift_card_id"] = self.card_50.id
        self.hold_gift_card(data["uuid"], data["payment_ids"][0][2]["uuid"], self.card_50, 20.0, GIFT_PIN)
        count = self.gift_entries()
        self.patch(type(self.Posting), "_post_gift_card", self.post_then_fail)
        with self.assertRaises(InjectedFault):
            self.sync(copy.deepcopy(data))
        self.env.invalidate_all()
        self.assertEqual(self.gift_entries(), count, "the whole sync rolled back, the redemption included")
        self.assertFalse(self.env["pos.order"].search([("uuid", "=", data["uuid"])]))
        self.assertEqual((self.card_50.balance, self.card_50.state), (50.0, "active"))

    def test_failure_after_gift_card_load_in_sale_confirmation_leaves_nothing(self):
        product = self.club.gift_card_product_id
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1, "price_unit": 40.0})],
            }
        )
        count, cards = self.gift_entries(), self.GiftCard.search_count([])
        self.patch(type(self.Posting), "_post_gift_card", self.post_then_fail)
        with self.assertRaises(InjectedFault):
            order.action_confirm()
        self.env.invalidate_all()
        self.assertEqual(self.gift_entries(), count, "the confirmation rolled back, the load included")
        self.assertEqual(self.GiftCard.search_count([]), cards, "and the card it issued")
        self.assertEqual(order.state, "draft")
