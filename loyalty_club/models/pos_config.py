from odoo import models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

PHONE_MATCHES_SHOWN = 10


class PosConfig(models.Model):
    _inherit = "pos.config"

    # ------------------------------------------------------------------
    # RPCs of the POS (cashier)
    # ------------------------------------------------------------------
    def loyalty_club_find_card(self, query):
        """Cards of this shop's club matching ``query``: a card number (typed or scanned) or a
        member's phone (any local or international form). Only active cards are returned.
        Failures are counted per IP address, user and POS session; beyond the limit nothing is
        looked up (see ``loyalty.club.attempt``).

        :returns: list of card summaries (see :meth:`_loyalty_club_card_summary`)
        :raises UserError: nothing found (one message for unknown, blocked and other clubs' cards),
            too many failures
        """
        self._loyalty_club_check_cashier()
        Card = self.env["loyalty.club.card"].sudo().with_company(self.company_id)
        scope = self._loyalty_club_check_attempts(code=Card._lookup_key(query, self.company_id))
        club = self.company_id._loyalty_club_get()
        if not club:
            raise UserError(self.env._("This shop's company has no customer club."))
        if not isinstance(query, str) or not query.strip():
            raise UserError(self.env._("Scan a card or type a card number or phone number."))
        cards = Card._lookup_cards(query, self.company_id, limit=PHONE_MATCHES_SHOWN)
        if not cards:
            raise self._loyalty_club_failed(
                scope, UserError(self.env._("No active club card found for this number or phone."))
            )
        self.env["loyalty.club.attempt"].sudo()._record_success(scope)
        return [self._loyalty_club_card_summary(card) for card in cards]

    def loyalty_club_verify_pin(self, card_id, pin, order_uuid=None):
        """Check the member's PIN on the server for the order ``order_uuid``. Returns a token the
        till spends once to hold points for that order (:meth:`loyalty_club_hold_points`), and
        the card with its available balance; the PIN itself never stays in the POS.

        Wrong PIN, locked PIN, unknown card and a card of another club give one message, and
        count as failures of the till (see :meth:`loyalty_club_find_card`).
        """
        card = self._loyalty_club_pin_checked_card("loyalty.club.card", card_id, pin, self._loyalty_club_card)
        return {
            "token": self._loyalty_club_pin_token(card, order_uuid),
            "card": self._loyalty_club_card_summary(card),
            "point_value": card.club_id._point_value_in(self.currency_id, self.company_id),
        }

    def loyalty_club_hold_points(self, card_id, points, order_uuid, payment_uuid, token):
        """Hold ``points`` of the member's card for the payment ``payment_uuid`` of the order
        ``order_uuid``: spends the token of the PIN check made for that order, refuses more than
        the available balance (balance less the other holds) and the club's minimum, and returns
        ``{"points", "amount": the payment's value in this till's currency, "card": summary}``.
        The points are captured when the paid order reaches the server (never refused then for
        lack of points), or released (:meth:`loyalty_club_release_holds`) or expired.

        :raises UserError: PIN not checked for this order (token missing, used, of another card,
            order or till, or issued before a PIN change), not enough available points
        """
        self._loyalty_club_check_cashier()
        card = self._loyalty_club_card(card_id)
        Hold = self.env["loyalty.club.hold"].sudo()
        if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
            raise UserError(self.env._("Enter a whole, positive number of points."))
        held = Hold.search([("payment_uuid", "=", payment_uuid)], limit=1) if isinstance(payment_uuid, str) else Hold
        if not (card and held and held.card_id == card) and not (
            card and self._loyalty_club_check_pin_token(card, token, order_uuid)
        ):
            raise UserError(self.env._("Check the member's PIN again before paying with points."))
        club = card.club_id
        if club.point_value <= 0:
            raise UserError(self.env._("Points of club %s have no money value: they cannot pay.", club.name))
        self.env["loyalty.club.posting"]._lock_rows(card)
        if not held and card.points_available < club.redeem_min_points:
            raise UserError(
                self.env._(
                    "Card %(card)s needs at least %(minimum)s points before they can be used.",
                    card=card._masked_number(),
                    minimum=club.redeem_min_points,
                )
            )
        currency = self.currency_id
        amount = currency.round(points * club._point_value_in(currency, self.company_id))
        hold = Hold._make(self, card, order_uuid, payment_uuid, points=points, amount=amount, currency=currency)
        card.invalidate_recordset(["points_held", "points_available"])
        return {"points": hold.points, "amount": hold.amount, "card": self._loyalty_club_card_summary(card)}

    def loyalty_gift_card_hold(self, card_id, amount, order_uuid, payment_uuid, token):
        """Hold ``amount`` (in the till's currency) of a gift card for the payment ``payment_uuid``
        of the order ``order_uuid`` (the token of the card's PIN check for that order is spent); a
        card in another currency gives it converted at today's rate. Returns ``{"amount", "card":
        summary with the available balance in the till's currency}``; captured when the paid
        order reaches the server, released or expired otherwise.

        :raises UserError: PIN not checked for this order, card not usable here, not enough money
        """
        self._loyalty_club_check_cashier()
        card = self._loyalty_gift_card(card_id)
        Hold = self.env["loyalty.club.hold"].sudo()
        held = Hold.search([("payment_uuid", "=", payment_uuid)], limit=1) if isinstance(payment_uuid, str) else Hold
        if not (card and held and held.gift_card_id == card) and not (
            card and self._loyalty_club_check_pin_token(card, token, order_uuid)
        ):
            raise UserError(self.env._("Scan the gift card and check its PIN again before paying with it."))
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise UserError(self.env._("Enter the amount to pay with the gift card."))
        self.env["loyalty.club.posting"]._lock_rows(card)
        card._check_spendable(self.company_id, self.currency_id)
        hold = Hold._make(self, card, order_uuid, payment_uuid, amount=amount, currency=self.currency_id)
        card.invalidate_recordset(["amount_held", "balance_available"])
        return {"amount": hold._payment_value()[1], "card": card._summary(self.currency_id, self.company_id)}

    def loyalty_club_release_holds(self, payment_uuids):
        """Release the live holds of these payments made at this till (the cashier removed the
        payment lines, or the order): their points and money are available again."""
        self._loyalty_club_check_cashier()
        if not isinstance(payment_uuids, list) or not all(isinstance(uuid, str) for uuid in payment_uuids):
            raise UserError(self.env._("The till sent no valid payment references."))
        holds = (
            self.env["loyalty.club.hold"]
            .sudo()
            .search([("payment_uuid", "in", payment_uuids), ("pos_config_id", "=", self.id), ("state", "=", "held")])
        )
        holds._close("released")
        return len(holds)

    def loyalty_club_discount_windows(self):
        """Discount windows of this shop's branch open now or later today (plain dicts)."""
        self._loyalty_club_check_cashier()
        return self.env["loyalty.club.discount.window"]._pos_windows_for_config(self)

    def loyalty_gift_card_find(self, code, for_sale=False):
        """The gift card of this shop's club with ``code`` (spaces, hyphens and lower case are
        fine). To pay with (default) it must be active; to sell or reload (``for_sale``) it may be
        inactive, active or used up. One uniform error otherwise, counted as a failure of the till
        (see :meth:`loyalty_club_find_card`).

        :returns: card summary (masked code, state, balance in the till's currency, validity; no PIN data)
        """
        self._loyalty_club_check_cashier()
        Card = self.env["loyalty.club.gift.card"].sudo()
        scope = self._loyalty_club_check_attempts(code=Card._code_key(code))
        try:
            card = Card._find_by_code(code)
        except ValidationError:
            card = Card.browse()
        allowed = ("inactive", "active", "used") if for_sale else ("active",)
        if not card or card.club_id != self.company_id._loyalty_club_get() or card.state not in allowed:
            raise self._loyalty_club_failed(scope, Card._uniform_auth_error())
        self.env["loyalty.club.attempt"].sudo()._record_success(scope)
        return card._summary(self.currency_id, self.company_id)

    def loyalty_gift_card_verify_pin(self, card_id, pin, order_uuid=None):
        """Check a gift card's PIN on the server for the order ``order_uuid``; returns a token the
        till spends once to hold money of the card (:meth:`loyalty_gift_card_hold`) and the card
        summary (with its available balance). Uniform error for anything wrong, counted as a
        failure of the till (see :meth:`loyalty_club_find_card`)."""
        card = self._loyalty_club_pin_checked_card("loyalty.club.gift.card", card_id, pin, self._loyalty_gift_card)
        return {
            "token": self._loyalty_club_pin_token(card, order_uuid),
            "card": card._summary(self.currency_id, self.company_id),
        }

    def _loyalty_club_pin_checked_card(self, model, card_id, pin, find):
        """The card ``card_id`` of ``model`` (member or gift card) that ``find`` gives, once its PIN
        is ``pin``: for a cashier, within the till's attempt limits; one uniform error otherwise,
        counted as a failure of the till (an unknown card costs a PIN check's time too)."""
        self._loyalty_club_check_cashier()
        scope = self._loyalty_club_check_attempts(code=f"{model}:{card_id}")
        card = find(card_id)
        Card = self.env[model]
        if not card:
            Card._pin_dummy_verify()
            raise self._loyalty_club_failed(scope, Card._uniform_auth_error())
        if not card._verify_pin(pin):
            raise self._loyalty_club_failed(scope, Card._uniform_auth_error())
        self.env["loyalty.club.attempt"].sudo()._record_success(scope)
        return card

    def _loyalty_gift_card(self, card_id):
        """The active gift card ``card_id`` of this shop's club, else an empty recordset."""
        return self._loyalty_club_shop_card("loyalty.club.gift.card", card_id)

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _loyalty_club_check_cashier(self):
        self.ensure_one()
        if not self.env.user.has_group("point_of_sale.group_pos_user"):
            raise AccessError(self.env._("Only Point of Sale users can look up club cards."))
        self.check_access("read")

    def _loyalty_club_check_attempts(self, code=None):
        """The limiter scope of this till (IP, user, open session, the code as its lookup reads it);
        raises the uniform "too many failures" error, before anything is looked up, when it is
        limited, and otherwise counts the attempt until ``_record_success`` takes it back."""
        Attempt = self.env["loyalty.club.attempt"].sudo()
        scope = Attempt._scope("pos", code=code, user=self.env.user, pos_session=self.sudo().current_session_id)
        Attempt._check_limit(scope)
        return scope

    def _loyalty_club_failed(self, scope, error):
        """Count a failed lookup or PIN check of this till; returns ``error`` to raise."""
        self.env["loyalty.club.attempt"].sudo()._record_failure(scope)
        return error

    def get_limited_partners_loading(self):
        """The customers a till preloads (point_of_sale: the 100 with most POS orders, then by
        name), without ranking every partner: a club with millions of members has millions of
        partners, and the standard query sorts them all at each session load. Same result: the
        partners with orders ranked among themselves, completed by name through its index."""
        limit = 100
        company = self.company_id.id
        return self.env.execute_query(
            SQL(
                """WITH pm AS (
                       SELECT partner_id, count(partner_id) AS order_count
                         FROM pos_order WHERE partner_id IS NOT NULL GROUP BY partner_id),
                   ranked AS (
                       SELECT partner.id, pm.order_count, partner.name
                         FROM pm JOIN res_partner partner ON partner.id = pm.partner_id
                        WHERE partner.company_id = %(company)s OR partner.company_id IS NULL
                     ORDER BY pm.order_count DESC, partner.name LIMIT %(limit)s),
                   others AS (
                       SELECT partner.id, 0 AS order_count, partner.name
                         FROM res_partner partner
                        WHERE (partner.company_id = %(company)s OR partner.company_id IS NULL)
                          AND NOT EXISTS (SELECT 1 FROM pm WHERE pm.partner_id = partner.id)
                     ORDER BY partner.name LIMIT %(limit)s)
                   SELECT id FROM (SELECT * FROM ranked UNION ALL SELECT * FROM others) partners
                 ORDER BY order_count DESC, name LIMIT %(limit)s""",
                company=company,
                limit=limit,
            )
        )

    def _loyalty_club_card(self, card_id, active_only=True):
        """The card ``card_id`` if it belongs to this shop's club (and is active, unless
        ``active_only`` is False), else an empty recordset."""
        return self._loyalty_club_shop_card("loyalty.club.card", card_id, active_only)

    def _loyalty_club_shop_card(self, model, card_id, active_only=True):
        """The card ``card_id`` of ``model`` (member or gift card) if it belongs to this shop's club
        (and is active, unless ``active_only`` is False), else an empty recordset."""
        self.ensure_one()
        Card = self.env[model].sudo()
        if not isinstance(card_id, int) or isinstance(card_id, bool) or card_id <= 0:
            return Card
        club = self.company_id._loyalty_club_get()
        if not club:
            return Card
        # one query: the card, if it is an active card of the club, with its fields in cache
        names = [name for name, field in Card._fields.items() if field.store and field.prefetch is True]
        domain = [("id", "=", card_id), ("club_id", "=", club.id)]
        if active_only:
            domain.append(("state", "=", "active"))
        return Card.search_fetch(domain, names, limit=1)

    def _loyalty_club_card_summary(self, card):
        """What the till may know of a card: no PIN data, the number masked."""
        return {
            "id": card.id,
            "number_masked": card._masked_number(),
            "partner_id": card.partner_id.id,
            "partner_name": card.partner_id.name,
            "tier_id": card.tier_id.id,
            "tier_name": card.tier_id.name or "",
            "balance": card.balance,
            "points_held": card.points_held,
            "points_available": card.points_available,
            "points_pending": card._loyalty_pending_points(),
            "pin_set": card.pin_set,
            "partner_category_ids": (
                card.partner_id.category_id | card.partner_id.commercial_partner_id.category_id
            ).ids,
        }

    def _loyalty_club_pin_token(self, card, order_uuid):
        """A single-use token proving ``card``'s PIN was just checked at this till by this cashier
        for the order ``order_uuid`` (none without an order: nothing to spend it on)."""
        self.ensure_one()
        if not isinstance(order_uuid, str) or not order_uuid:
            return False
        return self.env["loyalty.club.till.token"].sudo()._issue(self, card, order_uuid)

    def _loyalty_club_check_pin_token(self, card, token, order_uuid):
        """Spend ``token``: whether it proves ``card``'s current PIN was checked at this till by
        this cashier for the order ``order_uuid``, recently, and was never spent before."""
        self.ensure_one()
        return self.env["loyalty.club.till.token"].sudo()._consume(self, card, order_uuid, token)
