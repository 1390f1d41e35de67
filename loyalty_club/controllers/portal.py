import logging

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

_logger = logging.getLogger(__name__)


class LoyaltyClubPortal(CustomerPortal):
    """Customer portal of the club: cards, history, PIN change and joining."""

    _loyalty_history_step = 20
    _loyalty_expiring_days = 30

    # ------------------------------------------------------------------
    # Access: every card and entry shown comes from these two methods
    # ------------------------------------------------------------------
    def _loyalty_partner(self):
        return request.env.user.commercial_partner_id

    def _loyalty_cards(self, card_id=None):
        """The current user's cards (sudo), strictly filtered by their commercial partner.

        With ``card_id``: that card if it is the user's, else an empty recordset, so a card
        of another customer and a card that does not exist are indistinguishable.
        """
        domain = [("partner_id", "child_of", [self._loyalty_partner().id])]
        if card_id is not None:
            domain.append(("id", "=", card_id))
        return request.env["loyalty.club.card"].sudo().search(domain, order="state, id desc")

    def _loyalty_entry_domain(self, card):
        return [("card_id", "=", card.id), ("partner_id", "child_of", [self._loyalty_partner().id])]

    def _loyalty_member_cards(self, club):
        """The user's active or blocked cards of ``club``: such a member cannot join again."""
        return self._loyalty_cards().filtered(lambda c: c.club_id == club and c.state in ("active", "blocked"))

    def _loyalty_not_found(self):
        """The one answer for unknown cards and other customers' cards."""
        raise NotFound()

    # ------------------------------------------------------------------
    # /my home tile
    # ------------------------------------------------------------------
    def _prepare_portal_layout_values(self):
        values = super()._prepare_portal_layout_values()
        club = request.env.company._loyalty_club_get().sudo()
        lang = request.env.lang
        # Dates the customer reads: Solar Hijri in Persian, the language's format otherwise.
        values["club_date"] = lambda value: club._customer_date(value, lang)
        # Points with the language's signs: a negative number keeps its minus on the left in RTL.
        values["club_points"] = lambda value, plus=False: club._customer_points(value, lang, plus=plus)
        return values

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "loyalty_card_count" in counters:
            values["loyalty_card_count"] = len(self._loyalty_cards())
        if not counters:  # the /my page itself (the counters route only returns counters)
            values["loyalty_club_tile"] = bool(request.env.company._loyalty_club_get() or self._loyalty_cards())
        return values

    # ------------------------------------------------------------------
    # Club page
    # ------------------------------------------------------------------
    def _loyalty_messages(self):
        env = request.env
        return {
            "pin_changed": env._("Your PIN was changed."),
            "pin_mail_sent": env._(
                "We sent you an e-mail with a link to set a new PIN. The link is valid for one hour."
            ),
            "joined": env._("Welcome to the club! Your card is ready."),
            "already_member": env._("You already have a club card."),
            "phone_changed": env._("Your mobile number was changed."),
        }

    def _loyalty_club_values(self, **kwargs):
        cards = self._loyalty_cards()
        club = request.env.company._loyalty_club_get().sudo()
        can_join = bool(club) and not self._loyalty_member_cards(club)
        partner = self._loyalty_partner()
        Verification = request.env["loyalty.club.phone.verification"]
        join_verification = Verification._pending("join") if can_join and not kwargs.get("new_number") else False
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "loyalty_club",
                "cards": cards,
                "expiring": {card.id: card._expiring_points(self._loyalty_expiring_days) for card in cards},
                "expiring_title": request.env._(
                    "Points expiring in the next %(days)s days", days=self._loyalty_expiring_days
                ),
                "progress_labels": {card.id: card._tier_progress_label() for card in cards if card.state == "active"},
                "join_club": club if can_join else False,
                "join_benefits": club._join_benefits(request.env.lang) if can_join else [],
                "join_pin_help": request.env._(
                    "%(length)s digits, for paying with your points at the till. Keep it to yourself.",
                    length=club.pin_length,
                )
                if can_join
                else "",
                "gift_cards": request.env["loyalty.club.gift.card"]._portal_gift_cards(partner).sudo(),
                "join_phone": kwargs.get("phone", partner.mobile or partner.phone or ""),
                "join_error": kwargs.get("join_error"),
                "join_verification": join_verification,
                "join_verification_phone": join_verification.phone if join_verification else "",
                "message": self._loyalty_messages().get(kwargs.get("message")),
            }
        )
        return values

    @http.route("/my/club", type="http", auth="user", website=True)
    def portal_my_club(self, message=None, new_number=None, **kwargs):
        """The user's club cards: QR code, state, tier, balance, progress, expiring points."""
        values = self._loyalty_club_values(message=message, new_number=new_number)
        return request.render("loyalty_club.portal_my_club", values)

    # ------------------------------------------------------------------
    # History
    # ------------------------------------------------------------------
    def _loyalty_history_filters(self):
        env = request.env
        return {
            "all": {"label": env._("All"), "domain": []},
            "earned": {"label": env._("Earned"), "domain": [("kind", "in", ("earn", "bonus"))]},
            "redeemed": {"label": env._("Redeemed"), "domain": [("kind", "=", "redeem")]},
            "expired": {"label": env._("Expired"), "domain": [("kind", "=", "expire")]},
        }

    def _loyalty_history_sortings(self):
        env = request.env
        return {
            "newest": {"label": env._("Newest"), "order": "date desc, id desc"},
            "oldest": {"label": env._("Oldest"), "order": "date asc, id asc"},
            "points": {"label": env._("Most points"), "order": "points desc, date desc, id desc"},
        }

    def _loyalty_origin_link(self, entry):
        """(portal URL, name) of the entry's origin (order, invoice) if the user may see it, else None.

        Checked as the user, not sudo: the order's own access rules decide.
        """
        model = entry.origin_model
        if not model or not entry.origin_id or model not in request.env:
            return None
        record = request.env[model].browse(entry.origin_id).exists()
        if not record or "access_url" not in record._fields or not record.has_access("read"):
            return None
        return record.get_portal_url(), record.display_name

    @http.route(
        ["/my/club/card/<int:card_id>/history", "/my/club/card/<int:card_id>/history/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_club_history(self, card_id, page=1, filterby="all", sortby="newest", **kwargs):
        """Ledger of one of the user's cards, paginated, filtered and sorted."""
        card = self._loyalty_cards(card_id)
        if not card:
            self._loyalty_not_found()
        filters = self._loyalty_history_filters()
        sortings = self._loyalty_history_sortings()
        filterby = filterby if filterby in filters else "all"
        sortby = sortby if sortby in sortings else "newest"
        Entry = request.env["loyalty.club.entry"].sudo()
        domain = self._loyalty_entry_domain(card) + filters[filterby]["domain"]
        url = f"/my/club/card/{card.id}/history"
        pager = portal_pager(
            url=url,
            total=Entry.search_count(domain),
            page=page,
            step=self._loyalty_history_step,
            url_args={"filterby": filterby, "sortby": sortby},
        )
        entries = Entry.search(
            domain, order=sortings[sortby]["order"], limit=self._loyalty_history_step, offset=pager["offset"]
        )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "loyalty_club_history",
                "card": card,
                "entries": entries,
                "origins": {entry.id: self._loyalty_origin_link(entry) for entry in entries},
                "kinds": dict(Entry._fields["kind"]._description_selection(request.env)),
                "pager": pager,
                "default_url": url,
                "searchbar_filters": filters,
                "filterby": filterby,
                "searchbar_sortings": sortings,
                "sortby": sortby,
            }
        )
        return request.render("loyalty_club.portal_my_club_history", values)

    # ------------------------------------------------------------------
    # PIN
    # ------------------------------------------------------------------
    def _loyalty_check_new_pin(self, card, new_pin, new_pin_confirm):
        """Error message for a refused new PIN, or None."""
        if (new_pin or "") != (new_pin_confirm or ""):
            return request.env._("The two new PINs are different.")
        try:
            card._check_pin_format(new_pin or "")
        except ValidationError as error:
            return error.args[0]
        return None

    def _loyalty_render_pin(self, card, error=None, token=None):
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "loyalty_club_pin",
                "card": card,
                "error": error,
                "token": token,
                "pin_length": card.club_id.pin_length,
            }
        )
        return request.render("loyalty_club.portal_my_club_pin", values)

    @http.route("/my/club/card/<int:card_id>/pin", type="http", auth="user", website=True, methods=["GET"])
    def portal_my_club_pin(self, card_id, **kwargs):
        """Form to change the PIN of one of the user's cards."""
        card = self._loyalty_cards(card_id)
        if not card:
            self._loyalty_not_found()
        return self._loyalty_render_pin(card)

    @http.route("/my/club/card/<int:card_id>/pin", type="http", auth="user", website=True, methods=["POST"])
    def portal_my_club_pin_change(self, card_id, current_pin="", new_pin="", new_pin_confirm="", **kwargs):
        """Change the PIN with the current one; wrong PINs count towards the card's lock."""
        card = self._loyalty_cards(card_id)
        if not card:
            self._loyalty_not_found()
        error = self._loyalty_check_new_pin(card, new_pin, new_pin_confirm)
        if error:
            return self._loyalty_render_pin(card, error=error)
        # Not raised: the request must commit so the failure count is kept.
        if not card._verify_pin(current_pin):
            return self._loyalty_render_pin(card, error=card._uniform_auth_error().args[0])
        card._set_pin(new_pin)
        return request.redirect("/my/club?message=pin_changed")

    @http.route("/my/club/card/<int:card_id>/pin/email", type="http", auth="user", website=True, methods=["POST"])
    def portal_my_club_pin_email(self, card_id, **kwargs):
        """Mail the card holder a signed link to set a new PIN without the current one."""
        card = self._loyalty_cards(card_id)
        if not card:
            self._loyalty_not_found()
        partner = card.partner_id
        if card.state != "active":
            return self._loyalty_render_pin(card, error=card._uniform_auth_error().args[0])
        if not partner.email:
            return self._loyalty_render_pin(
                card, error=request.env._("There is no e-mail address for this card; please ask us in a store.")
            )
        token = card._pin_reset_token(request.env.user)
        base_url = card.get_base_url()
        lang = partner.lang or request.env.user.lang
        env = request.env(context=dict(request.env.context, lang=lang))
        body = env["ir.qweb"]._render(
            "loyalty_club.portal_pin_reset_mail",
            {"card": card.with_env(env).sudo(), "url": f"{base_url}/my/club/pin/reset?token={token}"},
        )
        env["loyalty.club"]._mail_secret(
            card.company_id, partner, env._("Set a new PIN for your club card"), body
        ).send()
        return request.redirect("/my/club?message=pin_mail_sent")

    @http.route("/my/club/pin/reset", type="http", auth="user", website=True, methods=["GET", "POST"])
    def portal_my_club_pin_reset(self, token="", new_pin="", new_pin_confirm="", **kwargs):
        """Set a new PIN from the link of the PIN e-mail (signed, expiring, single use)."""
        Card = request.env["loyalty.club.card"].sudo()
        card = Card._card_from_pin_reset_token(token, request.env.user)
        card = card and self._loyalty_cards(card.id)
        if not card or card.state != "active":
            values = self._prepare_portal_layout_values()
            values["page_name"] = "loyalty_club_pin"
            return request.render("loyalty_club.portal_my_club_pin_link_invalid", values)
        if request.httprequest.method != "POST":
            return self._loyalty_render_pin(card, token=token)
        error = self._loyalty_check_new_pin(card, new_pin, new_pin_confirm)
        if error:
            return self._loyalty_render_pin(card, error=error, token=token)
        card._set_pin(new_pin)
        return request.redirect("/my/club?message=pin_changed")

    # ------------------------------------------------------------------
    # Join
    # ------------------------------------------------------------------
    def _loyalty_phone_taken(self, club, normalized, partner, email=True):
        """Whether a card of another customer of ``club`` has the phone (or ``partner``'s e-mail)."""
        return club._phone_or_email_taken(normalized, partner, email=email)

    @http.route("/my/club/join", type="http", auth="user", website=True, methods=["POST"])
    def portal_my_club_join(self, phone="", **kwargs):
        """First step of joining: check the mobile number and send a code to it by SMS. Nothing is
        written on the customer until the code comes back (:meth:`portal_my_club_join_confirm`).

        Refused when another member's card has the same phone number or e-mail address.
        """
        env = request.env
        club = env.company._loyalty_club_get().sudo()
        partner = self._loyalty_partner().sudo()
        if not club:
            self._loyalty_not_found()

        def refuse(message):
            values = self._loyalty_club_values(phone=phone, join_error=message, new_number=True)
            return request.render("loyalty_club.portal_my_club", values)

        if self._loyalty_member_cards(club):
            return request.redirect("/my/club?message=already_member")
        try:
            normalized = env["loyalty.club.card"].sudo()._normalize_phone(phone, club.company_id)
        except ValidationError as error:
            return refuse(error.args[0])
        if self._loyalty_phone_taken(club, normalized, partner):
            return refuse(
                env._(
                    "A club card already exists for this phone number or e-mail address. "
                    "Please contact us so we can link it to your account."
                )
            )
        try:
            env["loyalty.club.phone.verification"]._send(partner, normalized, "join")
        except UserError as error:
            return refuse(error.args[0])
        return request.redirect("/my/club")

    @http.route("/my/club/join/confirm", type="http", auth="user", website=True, methods=["POST"])
    def portal_my_club_join_confirm(self, code="", pin="", pin_confirm="", **kwargs):
        """Second step: the code from the SMS and the chosen PIN. Issues a card of the company's club
        to the user's commercial partner with the verified mobile number.

        Idempotent: a member who already has an active card is sent back to it.
        """
        env = request.env
        club = env.company._loyalty_club_get().sudo()
        partner = self._loyalty_partner().sudo()
        if not club:
            self._loyalty_not_found()

        def refuse(message):
            values = self._loyalty_club_values(join_error=message)
            return request.render("loyalty_club.portal_my_club", values)

        Card = env["loyalty.club.card"].sudo()
        if self._loyalty_member_cards(club):
            return request.redirect("/my/club?message=already_member")
        Verification = env["loyalty.club.phone.verification"]
        if not Verification._pending("join"):
            return request.redirect("/my/club?new_number=1")
        try:
            Card.new({"club_id": club.id})._check_pin_format(pin or "")
        except ValidationError as error:
            return refuse(error.args[0])
        if (pin or "") != (pin_confirm or ""):
            return refuse(env._("The two PINs are different."))
        # Not raised: the request must commit so the try is counted.
        verification = Verification._check("join", code)
        if not verification:
            return refuse(env._("This code is wrong or has expired. Ask for a new code."))
        if self._loyalty_phone_taken(club, verification.phone, partner):
            return refuse(
                env._(
                    "A club card already exists for this phone number or e-mail address. "
                    "Please contact us so we can link it to your account."
                )
            )
        # The mobile number is what the card is found by at the till (it comes first in the
        # partner's sanitized phone); it is written only now that the customer proved it is theirs.
        # Writing the partner also serialises two submissions of the same member: the second waits
        # for the first, then fails to serialise and is retried by Odoo, finding the first's card.
        verification._apply()
        partner.flush_recordset()
        if self._loyalty_member_cards(club):
            return request.redirect("/my/club?message=already_member")
        try:
            with env.cr.savepoint():
                card = Card.create({"partner_id": partner.id, "club_id": club.id})
                card._set_pin(pin)
        except (UserError, ValidationError) as error:
            return refuse(error.args[0])
        _logger.info("loyalty_club: card id %s issued from the portal to partner id %s", card.id, partner.id)
        return request.redirect("/my/club?message=joined")

    # ------------------------------------------------------------------
    # Mobile number
    # ------------------------------------------------------------------
    def _loyalty_is_member(self):
        return bool(self._loyalty_cards())

    def _loyalty_render_phone(self, phone="", error=None, new_number=False):
        Verification = request.env["loyalty.club.phone.verification"]
        verification = False if new_number else Verification._pending("phone")
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "loyalty_club_phone",
                "phone": phone,
                "error": error,
                "verification": verification,
                "verification_phone": verification.phone if verification else "",
            }
        )
        return request.render("loyalty_club.portal_my_club_phone", values)

    def _loyalty_send_phone_code(self, partner, phone, target_field):
        """Check ``phone`` and send it a code to write it on ``partner``'s ``target_field``; returns
        an error message or None."""
        env = request.env
        club = env.company._loyalty_club_get().sudo() or self._loyalty_cards()[:1].club_id
        try:
            normalized = env["loyalty.club.card"].sudo()._normalize_phone(phone, club.company_id or env.company)
        except ValidationError as error:
            return error.args[0]
        if club and self._loyalty_phone_taken(club, normalized, self._loyalty_partner(), email=False):
            return env._("This number belongs to another member's card. Please contact us.")
        try:
            env["loyalty.club.phone.verification"]._send(partner, normalized, "phone", target_field)
        except UserError as error:
            return error.args[0]
        return None

    @http.route("/my/club/phone", type="http", auth="user", website=True, methods=["GET", "POST"])
    def portal_my_club_phone(self, phone="", new_number=None, **kwargs):
        """A member changes the mobile number of their card: a code is sent to the new number."""
        if not self._loyalty_is_member():
            self._loyalty_not_found()
        if request.httprequest.method != "POST":
            return self._loyalty_render_phone(phone=phone, new_number=new_number)
        error = self._loyalty_send_phone_code(self._loyalty_partner().sudo(), phone, "mobile")
        if error:
            return self._loyalty_render_phone(phone=phone, error=error, new_number=True)
        return request.redirect("/my/club/phone")

    @http.route("/my/club/phone/confirm", type="http", auth="user", website=True, methods=["POST"])
    def portal_my_club_phone_confirm(self, code="", **kwargs):
        """The code from the SMS: the new number is recorded."""
        if not self._loyalty_is_member():
            self._loyalty_not_found()
        # Not raised: the request must commit so the try is counted.
        verification = request.env["loyalty.club.phone.verification"]._check("phone", code)
        if not verification:
            return self._loyalty_render_phone(
                error=request.env._("This code is wrong or has expired. Ask for a new code.")
            )
        verification._apply()
        return request.redirect("/my/club?message=phone_changed")

    def _loyalty_same_phone(self, first, second):
        """Whether two typed phone numbers are the same number (E.164 when they read as one)."""
        Card = request.env["loyalty.club.card"].sudo()

        def read(text):
            try:
                return Card._normalize_phone(text, request.env.company)
            except ValidationError:
                return text.strip()

        return read(first) == read(second)

    def on_account_update(self, values, partner):
        """A member's phone changed on *My account* is not written: a code goes to the new number,
        which is recorded once it is typed back (see :meth:`account`)."""
        result = super().on_account_update(values, partner)
        if "phone" not in values or not self._loyalty_is_member():
            return result
        new_phone = values.get("phone") or ""
        if self._loyalty_same_phone(new_phone, partner.sudo().phone or ""):
            return result
        values.pop("phone")
        error = self._loyalty_send_phone_code(partner.sudo(), new_phone, "phone")
        request.update_context(loyalty_club_phone_pending=error or True)
        return result

    @http.route()
    def account(self, redirect=None, **post):
        response = super().account(redirect=redirect, **post)
        pending = request.env.context.get("loyalty_club_phone_pending")
        if pending is True:
            return request.redirect("/my/club/phone")
        if pending:
            return self._loyalty_render_phone(phone=post.get("phone", ""), error=pending, new_number=True)
        return response
