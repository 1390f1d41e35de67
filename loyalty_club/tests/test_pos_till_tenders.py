from decimal import Decimal

from odoo.tests import tagged

from .common_pos import GIFT_PIN, PIN
from .common_till import TillCase


@tagged("post_install", "-at_install")
class TestTillRefundTenders(TillCase):
    """What was paid with points or gift cards goes back as points and to the gift cards, never
    as cash."""

    def test_points_share_paid_out_in_cash_is_flagged_and_not_given_back(self):
        self.seed_points(200)
        sale = self.sync(self.till_order([(self.shirt, 1)], card=self.card, points=100))
        # 100 points paid 50.00: the 50.00 paid in cash earned 5 points
        self.assertEqual((sale.loyalty_points_redeemed, self.card.balance), (100, 200 - 100 + 5))
        refund = self.sync(self.refund_data(sale, {self.shirt: 1}, [(self.cash_method, -100.0)]))
        self.assertFlagged(refund, "pays out 100.0 in money while only 50.0", booked=True)
        self.assertEqual((refund.loyalty_points_returned, refund.loyalty_points_reversed), (0, 5))
        self.assertEqual(self.card.balance, 200 - 100)

    def test_points_share_given_back_as_points_is_not_flagged(self):
        self.seed_points(200)
        sale = self.sync(self.till_order([(self.shirt, 1)], card=self.card, points=100))
        refund = self.sync(
            self.refund_data(sale, {self.shirt: 1}, [(self.points_method, -50.0), (self.cash_method, -50.0)])
        )
        self.assertFalse(refund.loyalty_review_state)
        self.assertEqual((refund.loyalty_points_returned, refund.loyalty_points_reversed), (100, 5))
        self.assertEqual(self.card.balance, 200)

    def test_gift_card_share_paid_out_in_cash_is_flagged(self):
        gift = self.new_gift_card(100.0)
        sale = self.sync(self.till_order([(self.shirt, 1)], gift=(gift, 50.0)))
        refund = self.sync(self.refund_data(sale, {self.shirt: 1}, [(self.cash_method, -100.0)]))
        self.assertFlagged(refund, "pays out 100.0 in money", booked=True)
        self.assertEqual(gift.balance, 50.0)
        refund_ok = self.sync(
            self.refund_data(sale, {self.shirt: 1}, [(self.gift_method, -50.0), (self.cash_method, -50.0)])
        )
        # the shirt was refunded already: this second refund is refused as a whole and flagged
        self.assertFlagged(refund_ok, "already refunded")

    def test_gift_card_share_given_back_to_the_card(self):
        gift = self.new_gift_card(100.0)
        sale = self.sync(self.till_order([(self.shirt, 1)], gift=(gift, 50.0)))
        refund = self.sync(
            self.refund_data(sale, {self.shirt: 1}, [(self.gift_method, -50.0), (self.cash_method, -50.0)])
        )
        self.assertFalse(refund.loyalty_review_state)
        self.assertEqual(gift.balance, 100.0)


@tagged("post_install", "-at_install")
class TestTillEarningBase(TillCase):
    """The server computes what earns from unit price, quantity, discount and taxes; negative
    lines lower it as in Sales."""

    def test_a_global_discount_line_lowers_the_points(self):
        discount = self.env["product.product"].create(
            {"name": "Global discount", "type": "service", "available_in_pos": True, "taxes_id": False}
        )
        data = self.till_order([(self.shirt, 3), {"product": discount, "quantity": 1}], card=self.card)
        line = data["lines"][1][2]
        line["price_unit"] = line["price_subtotal"] = line["price_subtotal_incl"] = -100.0
        data["amount_total"] = data["amount_paid"] = 200.0
        data["payment_ids"][0][2]["amount"] = 200.0
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        self.assertEqual(order.loyalty_points_earned, 20, "300 of goods less a 100 discount earn on 200")

    def test_the_part_paid_with_points_earns_only_when_the_club_says_so(self):
        """Issue 22: by default points are earned on what the member pays in money (gift cards
        count as money); the club setting makes the part paid with points earn too."""
        self.seed_points(400)
        order = self.sync(self.till_order([(self.shirt, 3)], card=self.card, points=200))
        self.assertEqual(order.amount_total, 300.0)
        self.assertEqual(order.loyalty_points_earned, 20, "200 points paid 100.00: 200.00 paid in money earn")
        gift = self.new_gift_card(100.0)
        order = self.sync(self.till_order([(self.shirt, 3)], card=self.card, gift=(gift, 100.0)))
        self.assertEqual(order.loyalty_points_earned, 30, "a gift card is money")
        self.club.earn_on_points_paid = True
        order = self.sync(self.till_order([(self.shirt, 3)], card=self.card, points=200))
        self.assertEqual(order.loyalty_points_earned, 30)

    def test_pos_and_sales_earn_and_reverse_the_same_points(self):
        """Issue 27, item 6 (and issue 22): the same lines, a taxed line with a discount and a
        negative line included, earn the same points at the till and on a quotation, and a refund
        of one unit takes back the same points as a credit note of that unit."""
        tax = self.env["account.tax"].create(
            {"name": "VAT 9", "amount": 9, "amount_type": "percent", "company_id": self.company.id}
        )

        def product(name, price, taxes):
            return self.env["product.product"].create(
                {
                    "name": name,
                    "type": "service",
                    "available_in_pos": True,
                    "lst_price": price,
                    "taxes_id": [(6, 0, taxes.ids)],
                    "invoice_policy": "order",
                }
            )

        lamp, vase = product("Lamp", 99.99, tax), product("Vase", 45.5, tax.browse())
        coupon = product("Coupon", -50, tax.browse())
        lines = [(lamp, 3, 10.0), (vase, 1, 0.0), (coupon, 1, 0.0)]
        # the till
        data = self.order_data([{"product": p, "quantity": q, "discount": d} for p, q, d in lines])
        data["partner_id"] = self.member.id
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        pos_points = order.loyalty_points_earned
        self.assertEqual(pos_points, 26, "3 x 89.991 + 45.50 - 50 = 265.47 untaxed: 26 points")
        lamp_line = order.lines.filtered(lambda line: line.product_id == lamp)
        refund = self.order_data(
            [{"product": lamp, "quantity": -1, "discount": 10.0, "refunded_orderline_id": lamp_line.id}], card=False
        )
        refund["partner_id"] = self.member.id
        self.sync(refund)
        pos_taken = pos_points - self.card.balance
        # a quotation of another member, with the same lines, confirmed, invoiced, one lamp credited
        sales_card = self.new_member("Sales Member")
        sale = self.env["sale.order"].create(
            {
                "partner_id": sales_card.partner_id.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": p.id,
                            "product_uom_qty": q,
                            "price_unit": p.lst_price,
                            "discount": d,
                            "tax_id": [(6, 0, p.taxes_id.ids)],
                        },
                    )
                    for p, q, d in lines
                ],
            }
        )
        sale.action_confirm()
        self.assertEqual(sales_card.balance, pos_points, "Sales earn what the till earns")
        self.assertEqual(sale.order_line.mapped("loyalty_points"), order.lines.mapped("loyalty_points"))
        invoice = sale._create_invoices()
        invoice.action_post()
        credit_note = invoice._reverse_moves()
        credit_note.write(
            {
                "invoice_line_ids": [
                    (1, line.id, {"quantity": 1}) if line.product_id == lamp else (2, line.id)
                    for line in credit_note.invoice_line_ids
                    if line.display_type == "product"
                ]
            }
        )
        credit_note.action_post()
        self.assertEqual(pos_points - sales_card.balance, pos_taken, "a credit note takes back what a refund does")
        self.assertEqual(
            pos_taken,
            self.club._points_to_reverse(lamp_line.loyalty_points, 0, Decimal(1) / 3),
            "one of three lamps: a third of the lamps' points, half up",
        )
        self.assertLedgerTrue(self.card, sales_card)


@tagged("post_install", "-at_install")
class TestTillSecondCurrency(TillCase):
    """Issue 22, item 1: a till in another currency than the club's (Odoo's test shop in EUR at
    0.5 per unit of the company's currency) gets club values converted, and the server books
    them converted back."""

    def setUp(self):
        super().setUp()
        self.till = self.other_currency_config
        self.till.payment_method_ids |= self.points_method

    def test_points_pay_their_value_in_the_till_currency(self):
        self.seed_points(100)
        token = self.till.loyalty_club_verify_pin(self.card.id, PIN, "order-eur-00001")["token"]
        answer = self.till.loyalty_club_verify_pin(self.card.id, PIN, "order-eur-00002")
        self.assertEqual(answer["point_value"], 0.25, "a point worth 0.50 is worth 0.25 at this till")
        held = self.till.loyalty_club_hold_points(self.card.id, 40, "order-eur-00001", "pay-eur-00001", token)
        self.assertEqual((held["points"], held["amount"]), (40, 10.0), "40 points pay 10.00 EUR, not 20.00")

    def test_discount_window_cap_in_the_till_currency(self):
        window = self.open_window_capped_at(30.0)
        self.assertEqual(self.window_caps(self.till)[window.id], 15.0, "a cap of 30.00 is 15.00 EUR at this till")
        self.assertEqual(self.window_caps(self.config)[window.id], 30.0)


@tagged("post_install", "-at_install")
class TestTillGiftCardOtherCurrency(TillCase):
    """Issue 22, item 1 at the till: a gift card holding the club's currency pays at a till in
    another currency (Odoo's test shop in EUR, 0.5 per unit of the company's currency) with its
    money converted at the day's rate, the server re-checking what the till says; refunds give
    the card back its own money at the sale's rate; pre-printed cards sold there are loaded with
    the price converted."""

    def setUp(self):
        super().setUp()
        self.config = self.other_currency_config
        self.config.payment_method_ids |= self.gift_method | self.points_method
        self.cash_method = self.config.payment_method_ids.filtered("is_cash_count")[:1]
        self.open_new_session()
        self.euro = self.config.currency_id

    def set_rate(self, rate):
        self.other_currency.rate_ids.write({"rate": rate})
        self.env.invalidate_all()

    def paid_back_like_the_sale(self, order, quantities, payments):
        """UI data of a refund of ``order`` at the prices it was sold at (whatever today's rate)."""
        data = self.refund_data(order, quantities, payments)
        for command in data["lines"]:
            line = command[2]
            sold = self.env["pos.order.line"].browse(line["refunded_orderline_id"])
            line["price_unit"] = sold.price_unit
            line["price_subtotal"] = line["price_subtotal_incl"] = sold.price_unit * line["qty"]
        data["amount_total"] = data["amount_paid"] = sum(c[2]["price_subtotal_incl"] for c in data["lines"])
        return data

    def test_card_pays_its_value_in_the_till_currency(self):
        gift = self.new_gift_card(100.0)
        self.assertNotEqual(gift.currency_id, self.euro)
        answer = self.config.loyalty_gift_card_verify_pin(gift.id, GIFT_PIN, "order-eur-gift-01")
        card = answer["card"]
        self.assertEqual((card["balance_available"], card["currency_id"]), (50.0, self.euro.id))
        self.assertEqual((card["card_balance"], card["card_currency"]), (100.0, gift.currency_id.name))
        with self.assertRefused(r"Not enough money .*: 50\.0 EUR can be spent"):
            self.config.loyalty_gift_card_hold(gift.id, 50.5, "order-eur-gift-01", "pay-eur-gift-0001", answer["token"])
        self.assertFalse(self.Hold.search([("gift_card_id", "=", gift.id)]))

        data = self.till_order([(self.shirt, 1)], gift=(gift, 20.0))
        self.assertEqual(data["amount_total"], 50.0, "the shirt of 100.00 costs 50.00 EUR here")
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        self.assertEqual(gift.balance, 60.0, "20.00 EUR take 40.00 of the card, not 20.00")
        hold = self.Hold.search([("gift_card_id", "=", gift.id)])
        self.assertEqual((hold.state, hold.amount, hold.payment_amount), ("captured", 40.0, 20.0))
        self.assertEqual((hold.currency_id, hold.payment_currency_id), (gift.currency_id, self.euro))
        payment = order.payment_ids.filtered("payment_method_id.loyalty_gift_card")
        self.assertEqual(payment.loyalty_gift_card_balance, 30.0, "the receipt shows what is left in EUR")
        self.sync(data)
        self.assertEqual(self.gift_entries(gift).mapped("amount"), [100.0, -40.0], "booked once")

    def test_toman_till_points_caps_and_gift_cards(self):
        """A Toman till of a Rial company (0.1 per company unit): points, window caps and gift
        cards at a tenth of their value; the card gives ten times what the till takes."""
        self.set_rate(0.1)
        self.seed_points(100)
        gift = self.new_gift_card(100.0)
        window = self.open_window_capped_at(30.0)
        self.assertEqual(self.window_caps(self.config)[window.id], 3.0)
        answer = self.config.loyalty_club_verify_pin(self.card.id, PIN, "order-irt-check")
        self.assertEqual(answer["point_value"], 0.05)
        data = self.till_order([(self.shirt, 1)], card=self.card, points=20, gift=(gift, 9.0))
        self.assertEqual(data["amount_total"], 10.0, "the shirt of 100 rials is 10 Toman")
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        entries = self.entries().filtered(lambda entry: entry.origin_id == order.id)
        self.assertEqual(
            sorted(entries.mapped(lambda entry: (entry.kind, entry.points))),
            [("earn", 9), ("redeem", -20)],
            "20 points pay 1.0 Toman (10 rials), not 10 Toman; the 90 rials paid in money earn 9 points",
        )
        self.assertEqual(gift.balance, 10.0, "9 Toman take 90 rials of the card")
        payment = order.payment_ids.filtered("payment_method_id.loyalty_gift_card")
        self.assertEqual(payment.loyalty_gift_card_balance, 1.0)

    def test_server_recomputes_what_the_till_claims(self):
        gift = self.new_gift_card(100.0)
        data = self.till_order([(self.shirt, 1)], gift=(gift, 20.0))
        payments = [command[2] for command in data["payment_ids"]]
        gift_payment = next(p for p in payments if p["payment_method_id"] == self.gift_method.id)
        cash_payment = next(p for p in payments if p["payment_method_id"] == self.cash_method.id)
        # a till claiming 40.00 EUR from a hold of 20.00 EUR (the card's own amount)
        gift_payment["amount"], cash_payment["amount"] = 40.0, 10.0
        order = self.sync(data)
        self.assertFlagged(order, "differs from the 20.0 held")
        self.assertEqual(gift.balance, 100.0, "nothing taken from the card")

    def test_rate_that_does_not_divide_evenly(self):
        self.set_rate(0.37)
        self.assertEqual(self.euro.rounding, 0.001, "Odoo's test EUR has three decimals")
        gift = self.new_gift_card(100.0)
        first = self.sync(self.till_order([(self.shirt, 1)], gift=(gift, 10.0)))
        self.assertEqual(first.amount_total, 37.0)
        self.assertEqual(gift.balance, 72.97, "10.000 EUR at 0.37 are 27.027...: 27.03 of the card")
        token = self.config.loyalty_gift_card_verify_pin(gift.id, GIFT_PIN, "order-eur-gift-02")
        self.assertEqual(
            token["card"]["balance_available"], 26.998, "72.97 are 26.9989 EUR: rounded down, never more than the card"
        )
        # paying all of it takes the card to zero, never below
        self.sync(self.till_order([(self.shirt, 1)], gift=(gift, 26.998)))
        self.assertEqual((gift.balance, gift.state), (0.0, "used"))
        self.assertEqual(self.gift_entries(gift).mapped("amount"), [100.0, -27.03, -72.97])

    def test_refund_gives_back_the_card_money_at_the_sale_rate(self):
        gift = self.new_gift_card(100.0)
        sold = self.sync(self.till_order([(self.shirt, 2)], gift=(gift, 40.0)))
        self.assertEqual((sold.amount_total, gift.balance), (100.0, 20.0))
        self.set_rate(0.4)
        first = self.paid_back_like_the_sale(
            sold, {self.shirt: 1}, [(self.gift_method, -20.0), (self.cash_method, -30.0)]
        )
        self.sync(first)
        self.assertEqual(gift.balance, 60.0, "20.00 EUR paid back are the 40.00 they took, not 50.00 at today's rate")
        # the rest: what the card paid is given back once; the refund's excess goes to a new card
        # that holds the club's currency, loaded at the refund's rate (10.000 EUR at 0.4: 25.00)
        second = self.paid_back_like_the_sale(
            sold, {self.shirt: 1}, [(self.gift_method, -30.0), (self.cash_method, -20.0)]
        )
        refund = self.sync(second)
        self.assertEqual(gift.balance, 100.0, "never more than the card paid")
        new_card = refund.payment_ids.loyalty_gift_card_id - gift
        self.assertEqual((new_card.currency_id, new_card.balance), (self.club.currency_id, 25.0))
        self.assertEqual(refund.payment_ids.filtered("loyalty_gift_card_id").loyalty_gift_card_balance, 10.0)
        self.sync(second)
        self.assertEqual((gift.balance, new_card.balance), (100.0, 25.0), "the refund synced again gives nothing more")

    def test_preprinted_card_sold_here_is_loaded_with_the_price_converted(self):
        shelf = self.GiftCard.create({"club_id": self.club.id, "currency_id": self.company.currency_id.id})
        line = {"product": self.gift_product, "quantity": 1, "uuid": "eur-gift-line-1"}
        line["loyalty_gift_card_code"] = shelf.sudo().code
        data = self.order_data([line], card=False)
        price = data["amount_total"]
        self.assertEqual(price, self.gift_product.lst_price / 2, "the gift card product costs half in EUR")
        self.sync(data)
        self.assertEqual((shelf.state, shelf.balance), ("active", self.gift_product.lst_price))
        # a new card (nothing scanned) holds the club's currency too, like the cards Sales issues
        order = self.sync(self.order_data([{"product": self.gift_product, "quantity": 1}], card=False))
        new_card = order.lines.loyalty_gift_card_ids
        self.assertEqual((new_card.currency_id, new_card.balance), (self.club.currency_id, self.gift_product.lst_price))
