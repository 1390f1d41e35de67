from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from ..tools.gift_card_code import mask_code, normalize_code


class GiftCardBalance(http.Controller):
    """Public balance check: code + PIN show the balance. Failures are counted per IP and per
    code (``loyalty.club.attempt``, by default 10 a minute each); unknown code, wrong PIN, locked
    PIN and blocked card get the same answer, and so does a limited caller, whatever the code."""

    @http.route("/giftcard/balance", type="http", auth="public", methods=["GET"], website=False, sitemap=False)
    def balance_form(self, **kwargs):
        return self._render({})

    @http.route("/giftcard/balance", type="http", auth="public", methods=["POST"], website=False, csrf=True)
    def balance_check(self, code="", pin="", **kwargs):
        env = request.env
        Attempt = env["loyalty.club.attempt"].sudo()
        Card = env["loyalty.club.gift.card"].sudo()
        scope = Attempt._scope("balance_page", code=Card._code_key(code))
        try:
            Attempt._check_limit(scope)
        except UserError:
            return self._render({"error": "limited"}, status=429)
        try:
            card = Card._authenticate(code, pin)
        except UserError:
            Attempt._record_failure(scope)
            return self._render({"error": "invalid"})
        Attempt._record_success(scope)
        return self._render(
            {
                "card": {
                    "code": mask_code(normalize_code(code)),
                    "balance": card.balance,
                    "currency": card.currency_id,
                    "state": dict(card._fields["state"]._description_selection(env)).get(card.state),
                    "date_expiry": card.date_expiry,
                }
            }
        )

    def _render(self, values, status=200):
        return request.render("loyalty_club.gift_card_balance_page", values, status=status)
