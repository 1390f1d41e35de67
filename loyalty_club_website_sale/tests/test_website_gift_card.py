import re

from odoo.tests import tagged

from .common import GIFT_CODE, GIFT_PIN, WebsiteClubCase


@tagged("post_install", "-at_install")
class TestWebsiteGiftCard(WebsiteClubCase):
    """Paying a web order with a gift card: code + PIN, part or all of the order, taken once when
    the payment starts, given back when it fails, booked against the liability on the invoice."""

    def use_gift_card(self, code=GIFT_CODE, pin=GIFT_PIN):
        return self.post_form("/shop/club/gift_card", code=code, pin=pin)

    def gift_entries(self):
        return self.env["loyalty.club.gift.card.entry"].search([("gift_card_id", "=", self.gift_card.id)], order="id")

    def test_gift_card_pays_part_and_the_provider_the_rest(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.use_gift_card()
        self.assertEqual(order.loyalty_gift_card_id, self.gift_card)
        self.assertEqual(self.gift_card.balance, 100.0, "nothing is taken before the payment starts")
        body = self.url_open("/shop/payment").text
        self.assertIn("o_loyalty_club_left_to_pay", body)
        self.assertNotIn(GIFT_CODE, body, "the code is shown masked")
        error, tx = self.pay(order)
        self.assertIsNone(error)
        self.assertAlmostEqual(tx.amount, 100.0, msg="the provider is asked for what the card leaves to pay")
        self.assertEqual(order.state, "sale")
        self.assertEqual(self.gift_card.balance, 0.0)
        self.assertEqual(
            [(entry.kind, entry.amount) for entry in self.gift_entries()], [("load", 100.0), ("redeem", -100.0)]
        )
        # the invoice keeps the whole revenue; the card's part settles it against the liability
        invoice = order._create_invoices()
        invoice.action_post()
        income = invoice.invoice_line_ids
        self.assertAlmostEqual(sum(income.mapped("price_subtotal")), 200.0)
        payment = order.loyalty_gift_card_payment_id
        self.assertTrue(payment)
        liability = payment.move_id.line_ids.filtered(lambda line: line.account_id == self.club.gift_card_account_id)
        self.assertAlmostEqual(sum(liability.mapped("debit")), 100.0)
        # the provider's payment settles the rest
        self.assertAlmostEqual(invoice.amount_residual, 0.0)
        self.assertAlmostEqual(tx.payment_id.amount, 100.0)
        # posting it again (reset to draft, post) does not register the card twice
        invoice.button_draft()
        invoice.action_post()
        self.assertEqual(order.loyalty_gift_card_payment_id, payment)

    def test_back_to_the_payment_page_while_a_payment_is_under_way(self):
        """The customer leaves a started payment (back button, a provider's page closed) and pays
        again from the payment page: the page asks for the order's total as before, the card is not
        taken twice and the new payment asks the provider for what it leaves."""
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.use_gift_card()
        error, first = self.pay(order, state=None)
        self.assertIsNone(error)
        self.assertEqual(self.gift_card.balance, 0.0)
        self.url_open("/shop/payment")
        error, second = self.pay(order)
        self.assertIsNone(error)
        self.assertNotEqual(first, second)
        self.assertAlmostEqual(second.amount, 100.0)
        self.assertEqual(order.state, "sale")
        self.assertEqual([entry.kind for entry in self.gift_entries()], ["load", "redeem"])

    def test_a_failed_payment_gives_the_money_back(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.use_gift_card()
        error, tx = self.pay(order, state="error")
        self.assertIsNone(error)
        self.assertEqual(tx.state, "error")
        self.assertEqual(self.gift_card.balance, 100.0)
        self.assertEqual([entry.kind for entry in self.gift_entries()], ["load", "redeem", "refund"])
        self.assertEqual(order.state, "draft")
        # the next try takes it again, once
        self.pay(order)
        self.assertEqual(order.state, "sale")
        self.assertEqual(self.gift_card.balance, 0.0)

    def test_points_and_gift_card_together(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.post_form("/shop/club/reward", reward_id=self.reward.id)
        self.use_gift_card()
        error, tx = self.pay(order)
        self.assertIsNone(error)
        self.assertAlmostEqual(tx.amount, 86.0)  # 200 - 7 % - 100 of the card
        self.assertEqual(order.state, "sale")
        self.assertEqual((self.card.balance, self.gift_card.balance), (400 - 150 + 18, 0.0))

    def test_a_card_that_pays_everything_confirms_the_order(self):
        self.env["loyalty.club.posting"]._post_gift_card(self.gift_card, 150.0, "load", "test:web:gift:more")
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.use_gift_card()
        body = self.url_open("/shop/payment").text
        self.assertIn("o_loyalty_club_gift_card_confirm", body)
        self.assertNotIn('id="payment_method"', body, "no payment provider for a cart the card pays")
        response = self.post_form("/shop/club/gift_card/confirm")
        self.assertIn("/shop/confirmation", response.headers["Location"])
        self.assertEqual(order.state, "sale")
        self.assertFalse(order.transaction_ids)
        self.assertEqual(self.gift_card.balance, 50.0)
        # cancelling the order (not invoiced) puts the money back, once
        order._action_cancel()
        order._action_cancel()
        self.assertEqual(self.gift_card.balance, 250.0)

    def test_confirm_refused_when_the_card_does_not_pay_everything(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.use_gift_card()
        self.post_form("/shop/club/gift_card/confirm")
        self.assertEqual(order.state, "draft")
        self.assertEqual(self.gift_card.balance, 100.0)

    def test_wrong_pin_and_unknown_code_get_one_answer_and_count(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()

        def attempts():
            self.env.cr.execute("SELECT count(*) FROM loyalty_club_attempt")
            return self.env.cr.fetchone()[0]

        before = attempts()
        answers = []
        for code, pin in ((GIFT_CODE, "000000"), ("AAAA-BBBB-CCCC-DDDD", GIFT_PIN), ("nonsense", "1")):
            self.use_gift_card(code, pin)
            warning = order.sudo().shop_warning
            answers.append(warning)
            self.url_open("/shop/payment")  # shows and clears the warning
        self.assertEqual(len(set(answers)), 1, answers)
        self.assertTrue(answers[0])
        self.assertEqual(attempts() - before, 3, "each failure counts towards the limits")
        self.assertFalse(order.loyalty_gift_card_id)

    def test_removing_the_card(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.use_gift_card()
        self.post_form("/shop/club/gift_card/remove")
        self.assertFalse(order.loyalty_gift_card_id)
        error, tx = self.pay(order)
        self.assertIsNone(error)
        self.assertAlmostEqual(tx.amount, 200.0)
        self.assertEqual(self.gift_card.balance, 100.0)

    def test_gift_cards_bought_online_are_mailed_with_their_pins(self):
        product = self.club.gift_card_product_id
        product.write({"is_published": True, "website_id": self.website.id})
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart(product, quantity=2)
        self.pay(order)
        self.assertEqual(order.state, "sale")
        cards = order.order_line.loyalty_gift_card_ids
        self.assertEqual(len(cards), 2)
        self.assertEqual(cards.mapped("balance"), [50.0, 50.0])
        mail = self.env["mail.mail"].search([("email_to", "ilike", "mina@example.com")], order="id desc", limit=1)
        self.assertTrue(mail.auto_delete, "the codes and PINs are not kept once sent")
        rows = re.findall(r'dir="ltr">([0-9A-Z-]{19})</td>\s*<td[^>]*dir="ltr">(\d+)</td>', mail.body_html)
        self.assertEqual(len(rows), 2, mail.body_html)
        GiftCard = self.env["loyalty.club.gift.card"]
        self.assertEqual(
            sorted(GiftCard._authenticate(code, pin, club=self.club).id for code, pin in rows), sorted(cards.ids)
        )
        # nothing of the PINs in the order's chatter
        for _code, pin in rows:
            self.assertNotIn(pin, " ".join(order.message_ids.mapped("body")))
        # confirming again (after a cancellation) mails nothing new
        order._action_cancel()
        order.action_draft()
        order.action_confirm()
        self.assertEqual(
            self.env["mail.mail"].search_count([("email_to", "ilike", "mina@example.com"), ("id", ">", mail.id)]), 0
        )
