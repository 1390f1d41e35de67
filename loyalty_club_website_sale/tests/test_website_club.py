import re

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import PIN, WebsiteClubCase


@tagged("post_install", "-at_install")
class TestWebsiteClubPages(WebsiteClubCase):
    """What the shop shows of the club: points and member discounts to members, a join hint to others."""

    def product_page(self):
        return self.url_open(self.product.product_tmpl_id.website_url).text

    def test_member_sees_the_points_a_product_earns(self):
        self.authenticate("club_web_member", "club_web_member")
        page = self.product_page()
        # 200 at 1 point per 10 spent
        self.assertIn("Earn 20 club points", page)
        self.assertNotIn("o_loyalty_club_join_hint", page)

    def test_points_follow_the_tier_multiplier_and_excluded_categories(self):
        self.tier.earn_multiplier = 1.5
        self.authenticate("club_web_member", "club_web_member")
        self.assertIn("Earn 30 club points", self.product_page())
        self.club.earn_excluded_categ_ids = self.product.categ_id
        self.assertNotIn("club points", self.product_page())

    def test_member_discount_shown_as_a_pricelist_discount(self):
        self.tier.discount_percent = 10
        self.authenticate("club_web_member", "club_web_member")
        offer = self.product.product_tmpl_id.with_user(self.member_user)._get_combination_info(
            product_id=self.product.id
        )
        self.assertTrue(offer["has_discounted_price"])
        self.assertAlmostEqual(offer["list_price"], 200.0)
        self.assertAlmostEqual(offer["price"], 180.0)
        # the points are earned on what the member pays: 180 -> 18 points
        self.assertEqual(offer["loyalty_club"]["points"], 18)
        # the cart line gets the same discount
        order = self.add_to_cart()
        self.assertEqual(order.order_line.discount, 10.0)
        self.assertAlmostEqual(order.amount_total, 180.0)

    def test_discount_window_of_the_website_team_only(self):
        """An open discount window for the website's sales team shows on the product page and
        applies in the cart; a window of another team does neither."""
        Window = self.env["loyalty.club.discount.window"]
        other_team = self.env["crm.team"].create({"name": "Phone sales"})
        window = Window.create(
            {
                "name": "Web week",
                "club_id": self.club.id,
                "discount_percent": 15.0,
                "use_in_pos": False,
                "team_ids": [Command.set(other_team.ids)],
            }
        )
        self.authenticate("club_web_member", "club_web_member")
        self.assertNotIn("Earn 17 club points", self.product_page())
        self.assertEqual(self.add_to_cart().order_line.discount, 0.0)
        window.team_ids = self.website.salesteam_id or self.env["crm.team"].create({"name": "Web"})
        self.website.salesteam_id = window.team_ids[:1]
        # 200 less 15 % = 170 -> 17 points
        self.assertIn("Earn 17 club points", self.product_page())
        self.authenticate("club_web_member", "club_web_member")
        self.assertEqual(self.add_to_cart().order_line.discount, 15.0)

    def test_visitor_and_non_member_see_a_join_hint(self):
        for login in (None, "club_web_customer"):
            self.authenticate(login, login)
            page = self.product_page()
            self.assertIn("o_loyalty_club_join_hint", page)
            self.assertNotIn("club points", page)
            cart = self.add_to_cart()
            self.assertTrue(cart)
            body = self.url_open("/shop/cart").text
            self.assertIn("loyalty_club_join", body)
            self.assertNotIn("o_loyalty_club_cart", body)

    def test_cart_shows_card_balance_points_to_earn_and_affordable_rewards(self):
        self.env["loyalty.club.reward"].create(
            {
                "name": "Too dear",
                "club_id": self.club.id,
                "reward_type": "discount",
                "points_cost": 900,
                "discount_percent": 50,
            }
        )
        self.authenticate("club_web_member", "club_web_member")
        self.add_to_cart(quantity=2)
        body = self.url_open("/shop/cart").text
        self.assertIn(self.card._masked_number(), body)
        self.assertRegex(body, r'o_loyalty_club_balance">400<')
        self.assertRegex(body, r'o_loyalty_club_order_earn text-success">40<')
        self.assertIn("7% off your order (150)", body)
        self.assertNotIn("Too dear", body)
        # the owner of the card is signed in: no PIN asked by default
        self.assertNotIn('name="pin"', body)
        self.assertNotIn(PIN, body)


@tagged("post_install", "-at_install")
class TestWebsiteClubRewards(WebsiteClubCase):
    """Using points in the cart: reward lines reserve, paying spends once, failures give back."""

    def apply(self, reward=None, **data):
        return self.post_form("/shop/club/reward", reward_id=(reward or self.reward).id, **data)

    def test_apply_and_remove_a_reward(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.assertEqual(self.apply().status_code, 303)
        self.assertEqual(order.loyalty_points_reserved, 150)
        self.assertAlmostEqual(order.amount_total, 186.0)  # 7 % of 200 off
        self.assertEqual(self.card.balance, 400, "a reward line reserves the points, it does not spend them")
        # the points paid with points earn nothing: 186 -> 18 points
        self.assertEqual(order.loyalty_points_estimate, 18)
        body = self.url_open("/shop/cart").text
        self.assertIn("o_loyalty_club_applied", body)
        self.assertIn('o_loyalty_club_available">250<', body)
        line = order.order_line.filtered("loyalty_reward_id")
        self.post_form("/shop/club/reward/remove", line_id=line.id)
        self.assertFalse(order.order_line.filtered("loyalty_reward_id"))
        self.assertEqual(order.loyalty_points_reserved, 0)

    def test_refusals_change_nothing(self):
        other_club_reward = self.env["loyalty.club.reward"].create(
            {
                "name": "Elsewhere",
                "club_id": self.env["loyalty.club"]
                .create({"name": "Other", "company_id": self.env["res.company"].create({"name": "Other Co"}).id})
                .id,
                "reward_type": "discount",
                "points_cost": 10,
                "discount_percent": 50,
            }
        )
        # a visitor has no card to spend
        self.authenticate(None, None)
        order = self.add_to_cart()
        self.apply()
        self.assertFalse(order.order_line.filtered("loyalty_reward_id"))
        self.assertIn("Sign in with the account of a club member", self.url_open("/shop/cart").text)
        # a member: another club's reward, a reward beyond the points
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.apply(other_club_reward)
        self.assertIn("This reward is not available.", self.url_open("/shop/cart").text)
        self.reward.points_cost = 500
        self.apply()
        self.assertIn("Not enough points", self.url_open("/shop/cart").text)
        self.assertFalse(order.order_line.filtered("loyalty_reward_id"))
        self.assertEqual(self.card.balance, 400)

    def test_other_customers_cart_lines_are_out_of_reach(self):
        self.authenticate("club_web_member", "club_web_member")
        mine = self.add_to_cart()
        self.apply()
        my_line = mine.order_line.filtered("loyalty_reward_id")
        self.authenticate("club_web_customer", "club_web_customer")
        self.add_to_cart()
        self.post_form("/shop/club/reward/remove", line_id=my_line.id)
        self.assertTrue(my_line.exists(), "a cart only removes its own reward lines")

    def test_pin_asked_when_the_club_says_always(self):
        self.club.website_pin_policy = "always"
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.assertIn('name="pin"', self.url_open("/shop/cart").text)
        self.apply(pin="0000")
        self.assertIn("Wrong PIN.", self.url_open("/shop/cart").text)
        self.assertFalse(order.order_line.filtered("loyalty_reward_id"))
        self.env.cr.execute("SELECT pin_failed_attempts FROM loyalty_club_card WHERE id = %s", [self.card.id])
        self.assertEqual(self.env.cr.fetchone()[0], 1, "a wrong PIN counts towards the card's lock")
        self.apply()  # no PIN at all: the same answer
        self.assertIn("Wrong PIN.", self.url_open("/shop/cart").text)
        self.apply(pin=PIN)
        self.assertEqual(order.loyalty_points_reserved, 150)

    def test_paying_spends_the_points_once_and_earns_on_the_rest(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.apply()
        error, tx = self.pay(order, state=None)
        self.assertIsNone(error)
        # spent as the payment starts: another session cannot spend them meanwhile
        self.assertEqual(self.card.balance, 250)
        self.assertEqual(order.loyalty_payment_entry_id.points, -150)
        self.assertAlmostEqual(tx.amount, 186.0)
        tx._handle_notification_data(
            "demo", {"reference": tx.reference, "payment_details": "4242", "simulated_state": "done"}
        )
        tx._post_process()
        self.assertEqual(order.state, "sale")
        kinds = self.entries().mapped(lambda e: (e.kind, e.points))
        self.assertEqual(kinds, [("earn", 400), ("redeem", -150), ("earn", 18)])
        self.assertEqual(self.card.balance, 268)
        # cancelling the order gives the points back and takes its earning back, once
        order._action_cancel()
        order._action_cancel()
        self.card.invalidate_recordset(["balance"])
        self.assertEqual(self.card.balance, 400)
        self.assertEqual(len(self.entries()), 5)

    def test_a_failed_payment_gives_the_points_back(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.apply()
        _answer, tx = self.pay(order, state="error")
        self.assertEqual(tx.state, "error")
        self.assertEqual(self.card.balance, 400)
        self.assertFalse(order.loyalty_payment_entry_id)
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.loyalty_points_reserved, 150, "the reward stays in the cart for the next try")
        # the next try spends them again, and pays
        _answer, tx = self.pay(order, state="done")
        self.assertEqual(order.state, "sale")
        redeemed = self.entries().filtered(lambda e: e.kind == "redeem")
        self.assertEqual(
            redeemed.mapped("posting_key"),
            [
                f"sale.order:{order.id}:payment:1:redeem",
                f"sale.order:{order.id}:payment:2:redeem",
            ],
        )
        self.card.invalidate_recordset(["balance"])
        self.assertEqual(self.card.balance, 400 - 150 + 18)

    def test_a_second_payment_attempt_does_not_spend_twice(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.apply()
        self.pay(order, state=None)
        self.pay(order, state=None)
        self.assertEqual(self.card.balance, 250)
        self.assertEqual(len(self.entries().filtered(lambda e: e.kind == "redeem")), 1)

    def test_payment_refused_when_the_points_are_gone(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.apply()
        # the member spends 300 of the 400 points at a till meanwhile
        self.env["loyalty.club.posting"]._post(self.card, -300, "redeem", "test:web:till")
        error, _tx = self.pay(order, state=None)
        self.assertIn("Not enough points", error)
        self.assertFalse(order.transaction_ids, "the refusal stops the payment before any money moves")
        self.assertEqual(self.card.balance, 100)

    def test_the_balance_page_scope_limits_pin_guessing(self):
        self.club.website_pin_policy = "always"
        self.env["ir.config_parameter"].sudo().set_param("loyalty_club.attempt_limit_code", 2)
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        for _attempt in range(2):
            self.apply(pin="0000")
        self.apply(pin=PIN)
        body = self.url_open("/shop/cart").text
        self.assertFalse(order.order_line.filtered("loyalty_reward_id"), "a limited caller is refused, PIN or not")
        self.assertTrue(re.search(r"alert-warning", body))


@tagged("post_install", "-at_install")
class TestWebsiteClubJoin(WebsiteClubCase):
    """Joining the club with a web order: the card is issued at confirmation and earns at once."""

    def checkout_as(self, order, name, email, phone):
        """What the checkout's address step does for a visitor: a customer of their own."""
        partner = self.env["res.partner"].create({"name": name, "email": email, "phone": phone})
        order.partner_id = partner
        return partner

    def test_visitor_joins_and_the_first_order_earns(self):
        self.authenticate(None, None)
        order = self.add_to_cart()
        self.post_form("/shop/club/join", join="1")
        self.assertTrue(order.loyalty_join_club)
        self.assertIn('id="loyalty_club_join"', self.url_open("/shop/cart").text)
        partner = self.checkout_as(order, "Vida Visitor", "vida@example.com", "+32 470 12 34 56")
        error, _tx = self.pay(order)
        self.assertIsNone(error)
        self.assertEqual(order.state, "sale")
        card = self.env["loyalty.club.card"].search([("partner_id", "=", partner.id)])
        self.assertEqual((card.club_id, card.state, card.balance), (self.club, "active", 20))
        self.assertEqual(order.loyalty_card_id, card)

    def test_unticking_and_not_joining_issue_nothing(self):
        self.authenticate(None, None)
        order = self.add_to_cart()
        self.post_form("/shop/club/join", join="1")
        self.post_form("/shop/club/join")
        self.assertFalse(order.loyalty_join_club)
        partner = self.checkout_as(order, "Nima Nojoin", "nima@example.com", "+32 470 99 88 77")
        self.pay(order)
        self.assertEqual(order.state, "sale")
        self.assertFalse(self.env["loyalty.club.card"].search([("partner_id", "=", partner.id)]))

    def test_phone_of_another_member_is_refused_but_the_order_goes_through(self):
        self.authenticate(None, None)
        order = self.add_to_cart()
        self.post_form("/shop/club/join", join="1")
        partner = self.checkout_as(order, "Imposter", "imposter@example.com", self.member.phone)
        self.pay(order)
        self.assertEqual(order.state, "sale")
        self.assertFalse(self.env["loyalty.club.card"].search([("partner_id", "=", partner.id)]))
        self.assertIn("A club card already exists", order.message_ids[:5].mapped("body").__str__())
        self.assertEqual(self.card.balance, 400, "the member's card earns nothing from another's order")

    def test_a_member_cannot_join_again(self):
        self.authenticate("club_web_member", "club_web_member")
        order = self.add_to_cart()
        self.post_form("/shop/club/join", join="1")
        self.assertFalse(order.loyalty_join_club)
        self.assertIn("You are a member of the club already.", self.url_open("/shop/cart").text)


@tagged("post_install", "-at_install")
class TestWebsiteClubServerDecides(WebsiteClubCase):
    """What the web shop records on an order (the gift card paying, what it paid, the entries taken
    at payment, joining) is written by the server only: an RPC write of any role is refused."""

    def test_clients_cannot_set_the_web_shop_fields(self):
        salesman = new_test_user(
            self.env,
            "web_club_salesman",
            groups="sales_team.group_sale_salesman_all_leads,loyalty_club.group_loyalty_club_manager",
        )
        order = self.env["sale.order"].create({"partner_id": self.member.id})
        forged = [
            {"loyalty_gift_card_id": self.gift_card.id},
            {"loyalty_gift_card_amount": 1000.0},
            {"loyalty_join_club": True},
            {"loyalty_payment_attempts": 7},
            {"loyalty_payment_entry_id": self.env["loyalty.club.entry"].search([], limit=1).id},
        ]
        for values in forged:
            with self.subTest(values=values), self.assertRaises(AccessError):
                order.with_user(salesman).write(values)
        self.assertFalse(order.loyalty_gift_card_id or order.loyalty_join_club or order.loyalty_gift_card_amount)
