from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from ..tools.gift_card_code import CODE_LENGTH, GROUP, mask_code, normalize_code


class GiftCardBalance(http.Controller):
    """Public balance check: code + PIN show the balance. Failures are counted per IP and per
    code (``loyalty.club.attempt``, by default 10 a minute each); unknown code, wrong PIN, locked
    PIN and blocked card get the same answer, and so does a limited caller, whatever the code."""

    # ``website=True`` is the frontend flag of http_routing (not the website app): the page is in
    # the visitor's language (URL, cookie or browser), which the footer's language selector sets.
    @http.route("/giftcard/balance", type="http", auth="public", methods=["GET"], website=True, sitemap=False)
    def balance_form(self, **kwargs):
        return self._render({})

    @http.route("/giftcard/balance", type="http", auth="public", methods=["POST"], website=True, csrf=True)
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
                    # as the customer reads dates: Solar Hijri in Persian, the language's format otherwise
                    "date_expiry": card.club_id._customer_date(card.date_expiry, env.lang),
                }
            }
        )

    def _render(self, values, status=200):
        """The page with what does not depend on the code typed (the same for every answer)."""
        env = request.env
        example = "-".join(["X" * GROUP] * (CODE_LENGTH // GROUP))
        company = env.company.sudo()
        values = {
            "company": company,
            # the shop's own website when it has one (web addresses only), else this server's home
            "home_url": company.website if (company.website or "").startswith(("https://", "http://")) else "/",
            "code_example": example,
            "code_help": env._(
                "The %(length)s letters and digits printed on the card, like %(example)s. "
                "Capitals, spaces and dashes do not matter.",
                length=CODE_LENGTH,
                example=example,
            ),
            "pin_help": env._("%(length)s digits", length=env["loyalty.club.gift.card"]._pin_length()),
            **values,
        }
        return request.render("loyalty_club.gift_card_balance_page", values, status=status)
