from odoo import http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request


class WebsiteSaleLoyaltyClub(http.Controller):
    """The web shop's club routes: use points on a reward, remove it, join the club with the order,
    pay with a gift card. They act on the visitor's own cart only (the session's, never an id sent
    by the browser); a refusal is shown on the cart or payment page."""

    def _change_cart(self, change, redirect="/shop/cart"):
        """Apply ``change`` to the session's cart; a refusal is shown on the page ``redirect``."""
        order = request.website.sale_get_order()
        if order:
            try:
                change(order)
            except (UserError, ValidationError) as error:
                order.shop_warning = error.args[0]
        return request.redirect(redirect)

    @http.route("/shop/club/reward", type="http", auth="public", website=True, methods=["POST"], sitemap=False)
    def shop_club_reward_apply(self, reward_id=None, pin="", **kwargs):
        return self._change_cart(lambda order: order._loyalty_website_apply_reward(reward_id, pin))

    @http.route("/shop/club/reward/remove", type="http", auth="public", website=True, methods=["POST"], sitemap=False)
    def shop_club_reward_remove(self, line_id=None, **kwargs):
        return self._change_cart(lambda order: order._loyalty_website_remove_rewards(line_id))

    @http.route("/shop/club/join", type="http", auth="public", website=True, methods=["POST"], sitemap=False)
    def shop_club_join(self, join=None, **kwargs):
        return self._change_cart(lambda order: order._loyalty_website_set_join(bool(join)))

    @http.route("/shop/club/gift_card", type="http", auth="public", website=True, methods=["POST"], sitemap=False)
    def shop_club_gift_card_apply(self, code="", pin="", **kwargs):
        return self._change_cart(
            lambda order: order._loyalty_website_apply_gift_card(code, pin), redirect="/shop/payment"
        )

    @http.route(
        "/shop/club/gift_card/remove", type="http", auth="public", website=True, methods=["POST"], sitemap=False
    )
    def shop_club_gift_card_remove(self, **kwargs):
        return self._change_cart(lambda order: order._loyalty_website_remove_gift_card(), redirect="/shop/payment")

    @http.route(
        "/shop/club/gift_card/confirm", type="http", auth="public", website=True, methods=["POST"], sitemap=False
    )
    def shop_club_gift_card_confirm(self, **kwargs):
        """Confirm a cart its gift card pays in full (no payment provider involved)."""
        order = request.website.sale_get_order()
        if not order:
            return request.redirect("/shop")
        try:
            order._loyalty_website_confirm_paid_by_gift_card()
        except (UserError, ValidationError) as error:
            order.shop_warning = error.args[0]
            return request.redirect("/shop/payment")
        request.session["sale_last_order_id"] = order.id
        request.website.sale_reset()
        return request.redirect("/shop/confirmation")
