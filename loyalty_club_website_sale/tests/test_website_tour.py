from odoo.tests import tagged

from .common import WebsiteClubCase


@tagged("post_install", "-at_install")
class TestWebsiteClubTours(WebsiteClubCase):
    """The shop in Chromium: a member earns, spends 150 points and pays the rest with the demo
    provider; a visitor is invited to join, joins at checkout and earns on the first order; a gift
    card pays part of an order and the demo provider the rest; a failed payment gives the points and
    the gift card money back."""

    def test_member_spends_points_and_pays_the_rest(self):
        self.start_tour("/shop", "loyalty_club_website_points_checkout", login="club_web_member")
        order = self.env["sale.order"].search([("partner_id", "=", self.member.id)], order="id desc", limit=1)
        self.assertEqual(order.state, "sale")
        entries = self.env["loyalty.club.entry"].search([("card_id", "=", self.card.id)], order="id")
        self.assertEqual(
            [(entry.kind, entry.points) for entry in entries], [("earn", 400), ("redeem", -150), ("earn", 18)]
        )
        self.assertEqual(self.card.balance, 268)

    def test_visitor_joins_at_checkout_and_earns_on_the_first_order(self):
        self.start_tour("/shop", "loyalty_club_website_join_at_checkout")
        order = self.env["sale.order"].search([("partner_id.email", "=", "vida@example.com")])
        self.assertEqual(order.state, "sale")
        card = self.env["loyalty.club.card"].search([("partner_id", "=", order.partner_id.id)])
        self.assertEqual(card.club_id, self.club)
        self.assertEqual(order.loyalty_card_id, card)
        entries = self.env["loyalty.club.entry"].search([("card_id", "=", card.id)])
        self.assertEqual([(entry.kind, entry.points) for entry in entries], [("earn", 20)])

    def test_gift_card_pays_part_and_the_demo_provider_the_rest(self):
        self.start_tour("/shop", "loyalty_club_website_gift_card_and_provider", login="club_web_member")
        order = self.env["sale.order"].search([("partner_id", "=", self.member.id)], order="id desc", limit=1)
        self.assertEqual(order.state, "sale")
        self.assertEqual(self.gift_card.balance, 0.0)
        self.assertEqual(order.transaction_ids.mapped("amount"), [100.0])

    def test_a_failed_payment_gives_points_and_gift_card_money_back(self):
        self.start_tour("/shop", "loyalty_club_website_failed_payment", login="club_web_member")
        order = self.env["sale.order"].search([("partner_id", "=", self.member.id)], order="id desc", limit=1)
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.transaction_ids.state, "error")
        self.assertEqual((self.card.balance, self.gift_card.balance), (400, 100.0))
        entries = self.env["loyalty.club.entry"].search([("card_id", "=", self.card.id)], order="id")
        self.assertEqual([entry.kind for entry in entries], ["earn", "redeem", "reverse"])
