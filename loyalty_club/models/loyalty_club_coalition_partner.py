from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError


class LoyaltyClubCoalitionPartner(models.Model):
    """A partner business of the club (a gym's restaurant, say) where members spend club points,
    and optionally earn them, on the partner's page of the portal.

    The partner is a contact; its portal users listed here look up members, check their PIN and
    redeem points (``loyalty.club.coalition.transaction``). Each redeemed point is worth
    ``point_rate`` to the partner (the club owes it), each point earned there costs the partner
    the same rate; a monthly settlement (``loyalty.club.coalition.settlement``) books the balance
    as a draft vendor bill or customer invoice.
    """

    _name = "loyalty.club.coalition.partner"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Coalition Partner"
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(related="partner_id.name", store=True, readonly=True)
    active = fields.Boolean(default=True)
    club_id = fields.Many2one("loyalty.club", required=True, index=True, ondelete="restrict")
    company_id = fields.Many2one(related="club_id.company_id", store=True, index=True, readonly=True)
    currency_id = fields.Many2one(related="club_id.currency_id", readonly=True)
    partner_id = fields.Many2one(
        "res.partner",
        "Partner business",
        required=True,
        index=True,
        ondelete="restrict",
        help="The contact of the partner business: bills and invoices of the settlements are made out to it.",
    )
    point_rate = fields.Monetary(
        "Value of a point",
        required=True,
        help="What one club point is worth at this partner, in the club's currency: the club owes the "
        "partner this much per point redeemed there, and the partner owes it per point earned there.",
    )
    allow_earning = fields.Boolean(
        "Members earn points here", help="The partner's users may report purchases that earn club points."
    )
    earn_amount = fields.Monetary(
        "Spend", help="Members earn the points below for every such amount spent at the partner."
    )
    earn_points = fields.Integer("Points earned", help="Points earned per spend (rounded as the club rounds).")
    user_ids = fields.Many2many(
        "res.users",
        "loyalty_club_coalition_partner_users_rel",
        "coalition_partner_id",
        "user_id",
        string="Portal users",
        help="Portal users of the partner business who may look up members and redeem their points on the "
        "partner page of the portal (/my/club/partner).",
    )
    account_id = fields.Many2one(
        "account.account",
        "Settlement account",
        check_company=True,
        help="Account of the settlement lines; empty: the club's redemption account when the club books its "
        "points in accounting, else the journal's default account.",
    )
    transaction_ids = fields.One2many(
        "loyalty.club.coalition.transaction", "coalition_partner_id", "Transactions", readonly=True
    )
    transaction_count = fields.Integer(compute="_compute_counts")
    settlement_ids = fields.One2many(
        "loyalty.club.coalition.settlement", "coalition_partner_id", "Settlements", readonly=True
    )
    settlement_count = fields.Integer(compute="_compute_counts")

    _sql_constraints = [
        ("partner_unique", "unique(club_id, partner_id)", "This business is already a partner of the club."),
        ("point_rate_positive", "CHECK(point_rate > 0)", "The value of a point at a partner must be positive."),
        (
            "earning_rule",
            "CHECK(allow_earning IS NOT TRUE OR (COALESCE(earn_amount, 0) > 0 AND COALESCE(earn_points, 0) > 0))",
            "A partner where members earn points needs a positive spend and number of points.",
        ),
    ]

    @api.constrains("user_ids", "partner_id")
    def _check_users(self):
        for coalition in self:
            business = coalition.partner_id.commercial_partner_id
            for user in coalition.user_ids:
                if not user.share or user.partner_id.commercial_partner_id != business:
                    raise ValidationError(
                        self.env._(
                            "%(user)s cannot serve partner %(partner)s: only portal users of that business can.",
                            user=user.name,
                            partner=coalition.partner_id.display_name,
                        )
                    )

    @api.constrains("club_id", "point_rate", "allow_earning", "earn_amount", "earn_points")
    def _check_rate(self):
        for coalition in self:
            if coalition.currency_id.compare_amounts(coalition.point_rate, 0) <= 0:
                raise ValidationError(self.env._("The value of a point at a partner must be positive."))
            if coalition.allow_earning and (coalition.earn_amount <= 0 or coalition.earn_points <= 0):
                raise ValidationError(
                    self.env._("A partner where members earn points needs a positive spend and number of points.")
                )

    def write(self, vals):
        if "club_id" in vals and self.sudo().transaction_ids.filtered(lambda t: t.club_id.id != vals["club_id"]):
            raise UserError(self.env._("A partner with transactions stays with its club."))
        return super().write(vals)

    def _compute_counts(self):
        transactions = dict(
            self.env["loyalty.club.coalition.transaction"]._read_group(
                [("coalition_partner_id", "in", self.ids)], ["coalition_partner_id"], ["__count"]
            )
        )
        settlements = dict(
            self.env["loyalty.club.coalition.settlement"]._read_group(
                [("coalition_partner_id", "in", self.ids)], ["coalition_partner_id"], ["__count"]
            )
        )
        for coalition in self:
            coalition.transaction_count = transactions.get(coalition, 0)
            coalition.settlement_count = settlements.get(coalition, 0)

    # ------------------------------------------------------------------
    # Rules
    # ------------------------------------------------------------------
    def _value_of(self, points):
        """Money value of ``points`` at this partner's rate, in the club's currency, rounded."""
        self.ensure_one()
        return self.currency_id.round(float(Decimal(int(points)) * Decimal(repr(self.point_rate))))

    def _points_worth(self, amount):
        """Whole number of points whose value at this partner's rate is at most ``amount``."""
        self.ensure_one()
        raw = Decimal(repr(self.currency_id.round(amount))) / Decimal(repr(self.point_rate))
        return int(raw.quantize(Decimal(1), rounding=ROUND_DOWN))

    def _points_for_purchase(self, amount):
        """Points a purchase of ``amount`` (club currency) earns at this partner, rounded as the club
        rounds its own earnings; 0 when the partner does not let members earn."""
        self.ensure_one()
        if not self.allow_earning or not amount or amount <= 0 or self.earn_amount <= 0:
            return 0
        currency = self.currency_id
        raw = (
            Decimal(repr(currency.round(amount)))
            / Decimal(repr(currency.round(self.earn_amount)))
            * Decimal(self.earn_points)
        )
        rounding = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP, "up": ROUND_UP}[self.club_id.earn_rounding]
        return int(raw.quantize(Decimal(1), rounding=rounding))

    @api.model
    def _of_user(self, user=None):
        """The active coalition partners ``user`` (default: the current one) serves (sudo)."""
        user = user or self.env.user
        return self.sudo().search([("user_ids", "in", user.ids), ("active", "=", True)])

    # ------------------------------------------------------------------
    # Partner page (the portal controller calls these for a user of the partner)
    # ------------------------------------------------------------------
    def _check_partner_user(self):
        """Refuse anyone but a portal user listed on this active partner."""
        self.ensure_one()
        if self.env.user not in self.sudo().user_ids or not self.sudo().active:
            raise AccessError(self.env._("Only the partner's own users can use its page."))

    def _attempt_scope(self, code):
        """Count a lookup or PIN check of the current partner user (per user, IP and code) before
        it is made; raises the uniform "too many failures" error when the caller is limited."""
        Attempt = self.env["loyalty.club.attempt"].sudo()
        scope = Attempt._scope("partner", code=code, user=self.env.user)
        Attempt._check_limit(scope)
        return scope

    def _lookup(self, query):
        """Active cards of the club a typed card number or phone names, for the partner's user:
        the till's lookup, counted and limited the same way. Nothing found, a blocked card and a
        card of another club give the one uniform error.

        :raises UserError: nothing found, too many failures
        """
        self._check_partner_user()
        coalition = self.sudo()
        Card = self.env["loyalty.club.card"].sudo().with_company(coalition.company_id)
        scope = self._attempt_scope(Card._lookup_key(query, coalition.company_id))
        Attempt = self.env["loyalty.club.attempt"].sudo()
        cards = Card.browse()
        if isinstance(query, str) and query.strip():
            cards = Card._lookup_cards(query, coalition.company_id).filtered(
                lambda card: card.club_id == coalition.club_id
            )
        if not cards:
            Attempt._record_failure(scope)
            raise Card._uniform_auth_error()
        Attempt._record_success(scope)
        return cards

    def _check_pin(self, card_id, pin):
        """Check the PIN of the active card ``card_id`` of the club for the partner's user, counted
        and limited like a lookup; on success the check is recorded for this partner and user
        (``loyalty.club.pin.check``, a few minutes) and the card returned.

        :raises UserError: the one uniform error (unknown card, wrong or locked PIN, blocked card)
        """
        self._check_partner_user()
        self._forget_pin_checks()
        coalition = self.sudo()
        Card = self.env["loyalty.club.card"].sudo()
        Attempt = self.env["loyalty.club.attempt"].sudo()
        card_id = int(card_id) if isinstance(card_id, str) and card_id.isdigit() else card_id
        valid_id = isinstance(card_id, int) and not isinstance(card_id, bool) and card_id > 0
        scope = self._attempt_scope(f"loyalty.club.card:{card_id if valid_id else 0}")
        card = (
            Card.search([("id", "=", card_id), ("club_id", "=", coalition.club_id.id), ("state", "=", "active")])
            if valid_id
            else Card
        )
        if not card:
            Card._pin_dummy_verify()
            Attempt._record_failure(scope)
            raise Card._uniform_auth_error()
        if not card._verify_pin(pin):
            Attempt._record_failure(scope)
            raise Card._uniform_auth_error()
        Attempt._record_success(scope)
        self.env["loyalty.club.pin.check"]._record(card, coalition)
        return card

    def _verified_card(self):
        """The active card whose PIN the current user checked for this partner in the last minutes
        (see :meth:`_check_pin`), else an empty recordset."""
        self.ensure_one()
        card = self.env["loyalty.club.pin.check"]._verified_card(self.sudo(), "loyalty.club.card").sudo()
        return card.filtered(lambda c: c.club_id == self.sudo().club_id and c.state == "active")

    def _forget_pin_checks(self):
        """Spend the current user's PIN checks for this partner (after a booking, or a new check)."""
        self.ensure_one()
        self.env["loyalty.club.pin.check"].sudo().search(
            [("res_model", "=", self._name), ("res_id", "=", self.id), ("user_id", "=", self.env.uid)]
        ).unlink()

    def _book(self, card_id, kind, points, purchase_amount, request_uuid):
        """Redeem (or earn) points of the member whose PIN the current user just checked for this
        partner, once per form submission ``request_uuid``; a submission seen before returns its
        transaction without a PIN. The PIN check is spent by the booking.

        :returns: the ``loyalty.club.coalition.transaction`` (sudo)
        :raises UserError: PIN not checked for that card, or what the booking refuses
        """
        self._check_partner_user()
        Transaction = self.env["loyalty.club.coalition.transaction"]
        request_uuid = Transaction._check_request_uuid(request_uuid)
        existing = Transaction._submitted(self.sudo(), request_uuid)
        if existing:
            return existing
        card = self._verified_card()
        card_id = int(card_id) if isinstance(card_id, str) and card_id.isdigit() else card_id
        if not card or card.id != card_id:
            raise UserError(self.env._("Check the member's PIN again."))
        transaction = Transaction._book(self, card, kind, points, purchase_amount, request_uuid)
        self._forget_pin_checks()
        return transaction

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_view_transactions(self):
        """The partner's transactions."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_coalition_transaction_action")
        action["domain"] = [("coalition_partner_id", "=", self.id)]
        return action

    def action_view_settlements(self):
        """The partner's settlements."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_coalition_settlement_action")
        action["domain"] = [("coalition_partner_id", "=", self.id)]
        return action

    def action_settle_last_month(self):
        """Settle last month with these partners now (club managers): what the monthly job does."""
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise AccessError(self.env._("Only club managers can settle with partners."))
        self.check_access("write")
        month = date.today().replace(day=1) - relativedelta(months=1)
        settlements = self.env["loyalty.club.coalition.settlement"].sudo()._settle(self, month)
        if not settlements:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "info",
                    "message": self.env._("Nothing to settle for last month."),
                },
            }
        action = self.action_view_settlements() if len(self) == 1 else {}
        if len(self) != 1:
            action = self.env["ir.actions.act_window"]._for_xml_id(
                "loyalty_club.loyalty_club_coalition_settlement_action"
            )
        action["domain"] = [("id", "in", settlements.ids)]
        return action
