from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from .common_sale_money import SaleMoneyCase


@tagged("post_install", "-at_install")
class TestSaleCopy(SaleMoneyCase):
    """A copy of a quotation carries no reward lines nor member discounts of the original (item 5)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.redeem_pin_required = False
        cls.seven = cls.env["loyalty.club.reward"].create(
            {"name": "7 % off", "club_id": cls.club.id, "points_cost": 150, "discount_percent": 7}
        )
        cls.env["loyalty.club.posting"]._post(cls.card, 400, "adjust", "copy-seed")

    def test_copy_of_a_quotation_with_points_used_spends_nothing(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": self.seven.id}
        ).action_apply()
        self.assertEqual(order.amount_total, 465.0)
        copy = order.copy()
        self.assertFalse(copy.order_line.filtered(lambda line: line.price_unit < 0), "no free 7 % off")
        self.assertEqual((copy.amount_total, copy.loyalty_points_reserved), (500.0, 0))
        self.assertEqual(order.loyalty_points_reserved, 150)

    def test_copy_in_separate_line_mode_has_one_discount_line(self):
        self.silver.discount_percent = 10
        self.card.sudo()._change_tier(self.silver, "upgrade")
        self.club.tier_discount_mode = "separate"
        order = self._priced_order([(self.untaxed, 2, 100.0, 0)])
        copy = order.copy()
        self.assertEqual(len(copy.order_line.filtered("loyalty_tier_discount_line")), 1)
        self.assertEqual(len(copy.order_line), 2)
        self.assertEqual(copy.amount_total, order.amount_total)

    def test_copy_drops_the_discount_of_a_closed_window(self):
        self.env.company.partner_id.tz = "UTC"
        window = self.env["loyalty.club.discount.window"].create(
            {
                "name": "Happy hours",
                "club_id": self.club.id,
                "discount_percent": 20,
                "date_from": "2026-01-01 00:00:00",
                "date_to": "2027-01-01 00:00:00",
                "hour_from": 10,
                "hour_to": 13,
            }
        )
        with freeze_time("2026-03-02 11:00:00"):
            order = self._priced_order([(self.untaxed, 2, 100.0, 0)])
        self.assertEqual((order.order_line.discount, order.order_line.loyalty_discount_window_id), (20.0, window))
        with freeze_time("2026-03-02 14:00:00"):
            copy = order.copy()
        self.assertEqual(copy.order_line.discount, 0.0, "the window has closed: the copy pays full price")
        self.assertFalse(copy.order_line.loyalty_discount_window_id)
        with freeze_time("2026-03-02 12:00:00"):
            again = order.copy()
        self.assertEqual(again.order_line.discount, 20.0, "a window still open gives the copy its discount")
        with freeze_time("2026-03-02 14:00:00"):
            manual = self._priced_order([(self.untaxed, 1, 100.0, 15.0)])
            self.assertEqual(manual.copy().order_line.discount, 15.0, "a manual discount is copied")


@tagged("post_install", "-at_install")
class TestSaleEarnOnPointsPaid(SaleMoneyCase):
    """Club setting: earn points on the part paid with club points (default off)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.redeem_pin_required = False
        Reward = cls.env["loyalty.club.reward"]
        cls.seven = Reward.create(
            {"name": "7 % off", "club_id": cls.club.id, "points_cost": 150, "discount_percent": 7}
        )
        cls.credit = Reward.create(
            {
                "name": "Credit 100",
                "club_id": cls.club.id,
                "reward_type": "credit",
                "points_cost": 200,
                "credit_amount": 100,
            }
        )
        cls.free = Reward.create(
            {
                "name": "Free carpet",
                "club_id": cls.club.id,
                "reward_type": "product",
                "points_cost": 300,
                "product_id": cls.untaxed.id,
            }
        )
        cls.env["loyalty.club.posting"]._post(cls.card, 1000, "adjust", "points-paid-seed")

    def _earned_with(self, reward):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": reward.id}
        ).action_apply()
        order.action_confirm()
        return order._loyalty_earn_entries().points or 0

    def test_off_points_are_earned_on_what_the_member_pays_in_money(self):
        self.assertFalse(self.club.earn_on_points_paid, "off by default")
        self.assertEqual(self._earned_with(self.seven), 46, "500 less 35 paid with points")
        self.assertEqual(self._earned_with(self.credit), 40, "500 less 100 paid with points")
        self.assertEqual(self._earned_with(self.free), 50, "the free carpet earns nothing")

    def test_on_the_part_paid_with_points_earns_too(self):
        self.club.earn_on_points_paid = True
        self.assertEqual(self._earned_with(self.seven), 50)
        self.assertEqual(self._earned_with(self.credit), 50)
        self.assertEqual(self._earned_with(self.free), 60, "the free carpet earns its value")

    def test_credit_note_of_an_order_paid_partly_with_points(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": self.credit.id}
        ).action_apply()
        order.action_confirm()
        self.assertEqual(order.loyalty_points_net, 40)
        self._refund(self._invoice(order))
        self.assertLedgerMatches(order, 0)

    def test_hook_for_tenders_paid_with_points(self):
        """The hook the POS calls: bases lowered in proportion to what points paid."""
        bases = {"a": 300.0, "b": 100.0, "gift": 0.0}
        self.assertEqual(
            self.club._earning_bases_paid_in_money(bases, 115.0, 460.0, self.env.company.currency_id),
            {"a": 225.0, "b": 75.0, "gift": 0.0},
        )
        self.assertEqual(self.club._earning_bases_paid_in_money(bases, 0.0, 460.0, self.env.company.currency_id), bases)
        self.club.earn_on_points_paid = True
        self.assertEqual(
            self.club._earning_bases_paid_in_money(bases, 115.0, 460.0, self.env.company.currency_id), bases
        )


@tagged("post_install", "-at_install")
class TestSaleSecondCurrency(SaleMoneyCase):
    """A company in rials selling on a Toman pricelist (rate 0.1) and in a currency whose rate does
    not divide evenly (0.3): club values meet the order at its date's rate (item 1)."""

    @classmethod
    def setup_independent_company(cls, **kwargs):
        irr = cls.env.ref("base.IRR")
        irr.write({"active": True, "rounding": 1.0})
        return super().setup_independent_company(currency_id=irr.id, **kwargs)

    @classmethod
    def _currency(cls, name, rate):
        Currency = cls.env["res.currency"].with_context(active_test=False)
        currency = Currency.search([("name", "=", name)]) or Currency.create(
            {"name": name, "symbol": name, "rounding": 1.0}
        )
        currency.write(
            {
                "active": True,
                "rounding": 1.0,
                "rate_ids": [
                    Command.clear(),
                    Command.create({"name": "2000-01-01", "rate": rate, "company_id": cls.env.company.id}),
                ],
            }
        )
        return currency

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.irr = cls.env.company.currency_id
        cls.toman = cls._currency("IRT", 0.1)
        cls.odd = cls._currency("XTS", 0.3)
        cls.club.write({"earn_amount": 10000, "earn_points": 1, "redeem_pin_required": False})
        cls.carpet = cls._create_product(name="Kilim", lst_price=1_000_000, invoice_policy="order", taxes_id=False)
        Pricelist = cls.env["product.pricelist"]
        cls.toman_list = Pricelist.create({"name": "Toman", "currency_id": cls.toman.id})
        cls.odd_list = Pricelist.create({"name": "Odd", "currency_id": cls.odd.id})
        cls.credit = cls.env["loyalty.club.reward"].create(
            {
                "name": "Credit 500,000 rials",
                "club_id": cls.club.id,
                "reward_type": "credit",
                "points_cost": 200,
                "credit_amount": 500_000,
            }
        )
        cls.env["loyalty.club.posting"]._post(cls.card, 1000, "adjust", "toman-seed")

    def _sale(self, pricelist, qty=1, **values):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "pricelist_id": pricelist.id,
                "order_line": [Command.create({"product_id": self.carpet.id, "product_uom_qty": qty, **values})],
            }
        )
        self.assertEqual(order.currency_id, pricelist.currency_id)
        return order

    def test_toman_sale_earns_the_rial_value(self):
        order = self._sale(self.toman_list, 3)
        self.assertEqual(order.amount_total, 300_000, "the list price in Toman")
        order.action_confirm()
        earned = order._loyalty_earn_entries()
        self.assertEqual((earned.points, earned.amount), (300, 3_000_000))

    def test_fixed_credit_is_worth_its_rial_value(self):
        order = self._sale(self.toman_list, 3)
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": self.credit.id}
        ).action_apply()
        self.assertEqual(order.amount_total, 250_000, "500,000 rials are 50,000 Toman")
        order.action_confirm()
        self.assertEqual(order._loyalty_earn_entries().points, 250, "points on what was paid in money")
        odd = self._sale(self.odd_list, 1)
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": odd.id, "card_id": self.card.id, "reward_id": self.credit.id}
        ).action_apply()
        self.assertEqual(odd.amount_total, 300_000 - 150_000)

    def test_discount_window_cap_in_the_order_currency(self):
        self.env.company.partner_id.tz = "UTC"
        self.env["loyalty.club.discount.window"].create(
            {
                "name": "Capped",
                "club_id": self.club.id,
                "discount_percent": 20,
                "max_discount_amount": 100_000,
                "date_from": "2020-01-01 00:00:00",
            }
        )
        order = self._sale(self.toman_list, 1)
        self.assertEqual(order.order_line.discount, 10.0, "20 % capped at 100,000 rials = 10,000 Toman")
        self.assertEqual(order.amount_total, 90_000)

    def test_gift_cards_sold_and_paying_in_toman_hold_rials(self):
        self.club._setup_gift_cards()
        gift = self.club.gift_card_product_id
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "pricelist_id": self.toman_list.id,
                "order_line": [Command.create({"product_id": gift.id, "product_uom_qty": 1, "price_unit": 100_000})],
            }
        )
        order.action_confirm()
        card = order.order_line.loyalty_gift_card_ids
        self.assertEqual((card.currency_id, card.balance), (self.irr, 1_000_000))
        card._set_pin("135790")
        sale = self._sale(self.toman_list, 1)
        sale.action_confirm()
        invoice = self._invoice(sale)
        self.assertEqual(invoice.amount_residual, 100_000)
        self.env["loyalty.club.gift.card.payment.wizard"].create(
            {"move_id": invoice.id, "code": card.code, "pin": "135790", "amount": 40_000}
        ).action_pay()
        self.assertEqual(card.balance, 600_000, "40,000 Toman are 400,000 rials")
        self.assertEqual(invoice.amount_residual, 60_000)
        refund = self._refund(invoice)
        wizard = self.env["loyalty.club.gift.card.refund.wizard"].with_context(active_id=refund.id).create({})
        self.assertEqual((wizard.refundable, wizard.amount), (40_000, 40_000))
        wizard.action_refund()
        self.assertEqual(card.balance, 1_000_000)
        self.assertFalse(self.Posting._audit_gift_cards(card))

    def test_rate_that_does_not_divide_evenly(self):
        self.club._setup_gift_cards()
        gift = self.club.gift_card_product_id
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "pricelist_id": self.odd_list.id,
                "order_line": [Command.create({"product_id": gift.id, "product_uom_qty": 1, "price_unit": 1000})],
            }
        )
        order.action_confirm()
        card = order.order_line.loyalty_gift_card_ids
        self.assertEqual(card.balance, 3333, "1,000 at 0.3 per rial: 3,333.33 rials, rounded")
        card._set_pin("135790")
        sold = self._sale(self.odd_list, 1)
        sold.action_confirm()
        invoice = self._invoice(sold)
        Wizard = self.env["loyalty.club.gift.card.payment.wizard"]
        Wizard.create({"move_id": invoice.id, "code": card.code, "pin": "135790", "amount": 500}).action_pay()
        self.assertEqual(card.balance, 3333 - 1667)
        Wizard.create({"move_id": invoice.id, "code": card.code, "pin": "135790", "amount": 500}).action_pay()
        self.assertEqual(card.balance, 0, "the card pays what it was sold for: the last 500 take the 1,666 left")
        self.assertEqual(invoice.amount_residual, 299_000)
        refund = self._refund(invoice)
        Refund = self.env["loyalty.club.gift.card.refund.wizard"].with_context(active_id=refund.id)
        self.assertEqual(Refund.create({}).refundable, 1000)
        Refund.create({"amount": 500}).action_refund()
        self.assertEqual(Refund.create({}).refundable, 500)
        Refund.create({"amount": 500}).action_refund()
        self.assertEqual(card.balance, 3333, "all it paid comes back, not a rial more")
        self.assertFalse(self.Posting._audit_gift_cards(card))
        sale = self._sale(self.odd_list, 1)
        sale.action_confirm()
        self.assertEqual(sale.amount_total, 300_000)
        invoice = self._invoice(sale)
        self._refund(invoice, {0: {"quantity": 1, "price_unit": 100_000}})
        self.assertLedgerMatches(sale, 67)
