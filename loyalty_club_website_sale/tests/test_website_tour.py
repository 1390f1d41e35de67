from odoo.tests import tagged

from .common import WebsiteClubCase


@tagged("post_install", "-at_install")
class TestWebsiteClubTours(WebsiteClubCase):
    """The shop in Chromium: a member earns, spends 150 points and pays the rest with the demo
    provider; a visitor is invited to join, joins at checkout and earns on the first order."""

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
