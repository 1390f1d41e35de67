"""Finding a member card (number, phone) and proving its holder (PIN, PIN reset links)."""

import hashlib
import hmac
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.phone_validation.tools import phone_validation

from ..tools.card_number import is_valid_card_number, normalize_digits


class LoyaltyClubCard(models.Model):
    """Lookups of member cards by number or phone, and the PIN checks of their holders."""

    _inherit = "loyalty.club.card"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------
    # Lookup
    # ------------------------------------------------------------------
    @api.model
    def _active_card_of(self, club, partner):
        """The newest active card of ``club`` held by ``partner`` or its company (commercial
        partner): the card an order of theirs earns on and spends from, in every channel."""
        if not club or not partner:
            return self.browse()
        return self.search(
            [
                ("club_id", "=", club.id),
                ("partner_id", "in", (partner | partner.commercial_partner_id).ids),
                ("state", "=", "active"),
            ],
            order="id desc",
            limit=1,
        )

    @api.model
    def _lookup_cards(self, query, company, limit=10):
        """Active cards of ``company``'s club that a typed or scanned ``query`` names: a card number
        (or a legacy number kept by an import), else a member's phone in any local or international
        form (at most ``limit`` cards, newest first). The one lookup of the till and of the coalition
        partners' page; an empty recordset when nothing matches (the caller gives its uniform error).
        """
        club = company._loyalty_club_get()
        if not club:
            return self.browse()
        text, compact = self._lookup_text(query)
        cards = self.browse()
        is_number = compact.isascii() and compact.isdigit()
        if is_number and (is_valid_card_number(compact) or club._has_legacy_numbers_of(club.id)):
            # a club number, or a legacy number kept by an import (any length); a phone typed in
            # a club without legacy numbers goes straight to the phone lookup
            try:
                cards = self._find_by_number(compact).filtered(lambda card: card.club_id == club)
            except ValidationError:
                cards = self.browse()
        if not cards and not (is_number and len(compact) == 16):
            try:
                cards = self._find_by_phone(text, company=company)[:limit]
            except ValidationError:
                cards = self.browse()
        return cards.filtered(lambda card: card.club_id == club and card.state == "active")

    @api.model
    def _find_by_number(self, number):
        """Card with this number (validated first), or an empty recordset.

        A number without a valid check digit finds only a card kept with that exact legacy
        number (see :meth:`_check_legacy_number_format`); otherwise it is refused as before.
        """
        try:
            return self.search([("number", "=", self._check_number_format(number))], limit=1)
        except ValidationError:
            stripped = normalize_digits(number).strip() if isinstance(number, str) else ""
            legacy = (
                self.search([("number", "=", stripped), ("legacy_number", "=", True)], limit=1)
                if stripped.isascii() and stripped.isdigit()
                else self.browse()
            )
            if not legacy:
                raise
            return legacy

    @api.model
    def _phone_readings(self, phone, company=None):
        """The valid E.164 forms of ``phone``: read in the club's phone country, then in the
        company's (``0912...`` -> ``+98912...`` in Iran, ``(202) 555-...`` -> ``+1202555...`` in
        the US); a number in international form reads the same everywhere. Raises when none."""
        if not isinstance(phone, str) or not phone.strip():
            raise ValidationError(self.env._("Enter a phone number."))
        company = (company or self.env.company).sudo()
        club = company._loyalty_club_get()
        countries = club.phone_country_id | company.country_id | company.root_id.country_id
        readings = []
        for country in countries or [None]:
            try:
                normalized = phone_validation.phone_format(
                    normalize_digits(phone).strip(),
                    country.code if country else None,
                    country.phone_code if country else None,
                    force_format="E164",
                    raise_exception=True,
                )
            except UserError:
                continue
            if normalized.startswith("+") and normalized not in readings:
                readings.append(normalized)
        if not readings:
            raise ValidationError(self.env._("%s is not a valid phone number.", phone))
        return readings

    @api.model
    def _normalize_phone(self, phone, company=None):
        """E.164 form of ``phone``: its first reading (see ``_phone_readings``)."""
        return self._phone_readings(phone, company)[0]

    @api.model
    def _lookup_text(self, query):
        """``(text, compact)`` of a typed or scanned card number or phone, as the lookups read it:
        Persian and Arabic-Indic digits made ASCII, every run of whitespace (spaces, tabs,
        non-breaking spaces) one space, none at the ends; ``compact`` without any."""
        text = " ".join(normalize_digits(query).split()) if isinstance(query, str) else ""
        return text, text.replace(" ", "")

    @api.model
    def _lookup_key(self, query, company=None):
        """What a card lookup of ``query`` finds a card by: the phone in E.164 (read in the
        company's country) when it reads as one, else the compact number. Every spelling of one
        code gives one key, so the limiter counts them as one (see ``loyalty.club.attempt``)."""
        text, compact = self._lookup_text(query)
        try:
            phone = self._normalize_phone(text, (company or self.env.company).sudo()) if text else None
        except ValidationError:
            phone = None
        return f"phone:{phone}" if phone else f"number:{compact}"

    @api.model
    def _find_by_phone(self, phone, company=None):
        """Active cards of the company's club whose member's phone is ``phone`` (any local form of
        the club's phone country or the company's, or the international form)."""
        company = company or self.env.company
        readings = self._phone_readings(phone, company)
        return self.search(
            [
                ("club_id", "=", company._loyalty_club_get().id),
                ("partner_phone_sanitized", "in", readings),
                ("state", "=", "active"),
            ],
            order="id desc",
        )

    # ------------------------------------------------------------------
    # PIN (hashing, lockout and unlock live in loyalty.club.pin.mixin)
    # ------------------------------------------------------------------
    @api.model
    def _authenticate(self, number, pin):
        """Card for ``number`` whose PIN is ``pin``, else one uniform error.

        Unknown card, malformed number, wrong PIN, locked PIN and a card that is not active
        all give the same message, so a caller learns nothing about which it was.
        """
        try:
            card = self._find_by_number(number)
        except ValidationError:
            card = self.browse()
        if not card:
            self._pin_dummy_verify()
            raise self._uniform_auth_error()
        if not card._verify_pin(pin):
            raise self._uniform_auth_error()
        return card

    # ------------------------------------------------------------------
    # PIN reset links
    # ------------------------------------------------------------------
    def _pin_reset_signature(self, user, expiry):
        """Signature of a PIN reset link for ``user`` valid until ``expiry`` (a POSIX time).

        It covers the current PIN hash, so the link stops working once a new PIN is set.
        """
        self.ensure_one()
        self.env.cr.execute("SELECT pin_hash FROM loyalty_club_card WHERE id = %s", [self.id])
        row = self.env.cr.fetchone()
        message = f"loyalty_club.pin_reset:{self.id}:{user.id}:{int(expiry)}:{(row and row[0]) or ''}"
        return hmac.new(self._pin_secret(), message.encode(), hashlib.sha256).hexdigest()

    def _pin_reset_token(self, user, hours=1):
        """Signed token letting ``user`` set a new PIN on this card without the old one."""
        self.ensure_one()
        expiry = int((fields.Datetime.now() + timedelta(hours=hours)).timestamp())
        return f"{self.id}-{expiry}-{self._pin_reset_signature(user, expiry)}"

    @api.model
    def _card_from_pin_reset_token(self, token, user):
        """The card of a valid, unexpired, unused PIN reset ``token`` issued to ``user``, else empty."""
        parts = token.split("-") if isinstance(token, str) else []
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return self.browse()
        card = self.browse(int(parts[0])).exists()
        expiry = int(parts[1])
        if not card or expiry < fields.Datetime.now().timestamp():
            return self.browse()
        if not hmac.compare_digest(card._pin_reset_signature(user, expiry), parts[2]):
            return self.browse()
        return card
