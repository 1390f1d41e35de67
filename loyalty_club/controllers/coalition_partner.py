import uuid

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal


class LoyaltyClubPartnerPortal(CustomerPortal):
    """The page of a coalition partner's users: look a member up by card or phone, check the PIN,
    redeem points for a purchase (or report a purchase that earns them), once per form submission.

    Only the portal users listed on a partner reach its page: everyone else, and any other
    partner's id, gets the one "not found". The page shows the partner's own transactions and
    settlements only, a member's name and points only after their PIN, and never PIN data.
    """

    _loyalty_partner_recent = 20

    # ------------------------------------------------------------------
    # Access: every partner shown comes from these two methods
    # ------------------------------------------------------------------
    def _loyalty_coalitions(self):
        """The active coalition partners the current user serves (sudo)."""
        return request.env["loyalty.club.coalition.partner"]._of_user()

    def _loyalty_coalition(self, coalition_id):
        """The partner ``coalition_id`` if the current user serves it, else "not found"."""
        coalition = self._loyalty_coalitions().filtered(lambda c: c.id == coalition_id)
        if not coalition:
            raise NotFound()
        return coalition

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if not counters:  # the /my page itself
            values["loyalty_partner_tile"] = bool(self._loyalty_coalitions())
        return values

    # ------------------------------------------------------------------
    # Pages
    # ------------------------------------------------------------------
    def _loyalty_partner_render(self, coalition, **values):
        """The partner page: the lookup form, or the cards found, or the member whose PIN was
        checked with the redemption (and earning) forms, then the partner's own history."""
        env = request.env
        card = values["card"] if "card" in values else coalition.with_user(env.user)._verified_card()
        available = card.points_available if card else 0
        transactions = (
            env["loyalty.club.coalition.transaction"]
            .sudo()
            .search([("coalition_partner_id", "=", coalition.id)], limit=self._loyalty_partner_recent)
        )
        settlements = (
            env["loyalty.club.coalition.settlement"]
            .sudo()
            .search([("coalition_partner_id", "=", coalition.id)], limit=12)
        )
        page = self._prepare_portal_layout_values()
        page.update(
            {
                "page_name": "loyalty_club_partner",
                "coalition": coalition,
                "currency": coalition.currency_id,
                "cards": values.get("cards") or env["loyalty.club.card"],
                "card": card,
                "available": available,
                "available_value": coalition._value_of(max(available, 0)),
                "request_uuid": str(uuid.uuid4()),
                "earn_uuid": str(uuid.uuid4()),
                "error": values.get("error"),
                "done": values.get("done"),
                "query": values.get("query", ""),
                "transactions": transactions,
                "settlements": settlements,
                "kinds": dict(env["loyalty.club.coalition.transaction"]._fields["kind"]._description_selection(env)),
            }
        )
        return request.render("loyalty_club.portal_coalition_partner", page)

    @http.route("/my/club/partner", type="http", auth="user", website=True, methods=["GET"])
    def portal_club_partners(self, **kwargs):
        """The partner businesses the user serves: straight to the page of the only one."""
        coalitions = self._loyalty_coalitions()
        if not coalitions:
            raise NotFound()
        if len(coalitions) == 1:
            return request.redirect(f"/my/club/partner/{coalitions.id}")
        values = self._prepare_portal_layout_values()
        values.update({"page_name": "loyalty_club_partners", "coalitions": coalitions})
        return request.render("loyalty_club.portal_coalition_partners", values)

    @http.route("/my/club/partner/<int:coalition_id>", type="http", auth="user", website=True, methods=["GET"])
    def portal_club_partner(self, coalition_id, done=None, **kwargs):
        """The partner page; ``done``: the form submission whose booking to confirm."""
        coalition = self._loyalty_coalition(coalition_id)
        transaction = request.env["loyalty.club.coalition.transaction"].sudo()
        if isinstance(done, str) and done:
            transaction = transaction.search(
                [("request_uuid", "=", done), ("coalition_partner_id", "=", coalition.id)], limit=1
            )
        return self._loyalty_partner_render(coalition, done=transaction)

    @http.route("/my/club/partner/<int:coalition_id>/lookup", type="http", auth="user", website=True, methods=["POST"])
    def portal_club_partner_lookup(self, coalition_id, query="", **kwargs):
        """Find the member's card by number or phone (uniform error, counted and limited)."""
        coalition = self._loyalty_coalition(coalition_id)
        partner_env = coalition.with_user(request.env.user)
        partner_env._forget_pin_checks()
        # Not raised: the request must commit so the failure is counted.
        try:
            cards = partner_env._lookup(query)
        except UserError as error:
            return self._loyalty_partner_render(
                coalition, error=error.args[0], query=query, card=request.env["loyalty.club.card"]
            )
        return self._loyalty_partner_render(coalition, cards=cards, query=query, card=request.env["loyalty.club.card"])

    @http.route("/my/club/partner/<int:coalition_id>/pin", type="http", auth="user", website=True, methods=["POST"])
    def portal_club_partner_pin(self, coalition_id, card_id="", pin="", **kwargs):
        """Check the member's PIN (uniform error, counted and limited); then the member is shown."""
        coalition = self._loyalty_coalition(coalition_id)
        try:
            card = coalition.with_user(request.env.user)._check_pin(card_id, pin)
        except UserError as error:
            return self._loyalty_partner_render(coalition, error=error.args[0], card=request.env["loyalty.club.card"])
        return self._loyalty_partner_render(coalition, card=card)

    def _loyalty_partner_book(self, coalition_id, kind, card_id, points, amount, request_uuid):
        coalition = self._loyalty_coalition(coalition_id)
        try:
            with request.env.cr.savepoint():
                transaction = coalition.with_user(request.env.user)._book(card_id, kind, points, amount, request_uuid)
        except (UserError, ValidationError) as error:
            return self._loyalty_partner_render(coalition, error=error.args[0])
        return request.redirect(f"/my/club/partner/{coalition.id}?done={transaction.request_uuid}")

    @http.route("/my/club/partner/<int:coalition_id>/redeem", type="http", auth="user", website=True, methods=["POST"])
    def portal_club_partner_redeem(self, coalition_id, card_id="", points="", amount="", request_uuid="", **kwargs):
        """Redeem points of the member whose PIN was checked, for a purchase, once per form."""
        return self._loyalty_partner_book(coalition_id, "redeem", card_id, points, amount, request_uuid)

    @http.route("/my/club/partner/<int:coalition_id>/earn", type="http", auth="user", website=True, methods=["POST"])
    def portal_club_partner_earn(self, coalition_id, card_id="", amount="", request_uuid="", **kwargs):
        """Report a purchase of the member whose PIN was checked that earns points, once per form."""
        return self._loyalty_partner_book(coalition_id, "earn", card_id, 0, amount, request_uuid)
