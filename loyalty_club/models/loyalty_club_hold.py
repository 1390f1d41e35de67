from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

HOLD_STATES = [
    ("held", "Held"),
    ("captured", "Captured"),
    ("released", "Released"),
    ("expired", "Expired"),
]
# How long a hold waits for its order when the club sets no duration.
HOLD_HOURS_DEFAULT = 72


class LoyaltyClubHold(models.Model):
    """Points of a member card, or money of a gift card, set aside for one POS payment.

    A hold is made when the cashier adds a *Club points* or *Gift card* payment (the PIN checked
    just before), so the balance it takes can no longer be spent elsewhere: the card's
    *available* balance is its balance less its live holds, everywhere (till, back office,
    portal, Sales). When the paid order reaches the server the hold is captured exactly once
    (the order's redemption posting); removing the payment at the till releases it; a hold
    whose order never arrives expires (scheduled job). Holds are written by the server only.
    """

    _name = "loyalty.club.hold"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Payment Hold"
    _order = "id desc"
    _rec_name = "payment_uuid"

    card_id = fields.Many2one(
        "loyalty.club.card", "Member card", index="btree_not_null", ondelete="restrict", readonly=True
    )
    gift_card_id = fields.Many2one(
        "loyalty.club.gift.card", "Gift card", index="btree_not_null", ondelete="restrict", readonly=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    pos_config_id = fields.Many2one("pos.config", "Point of Sale", readonly=True, ondelete="restrict")
    pos_session_id = fields.Many2one("pos.session", "Session", index="btree_not_null", readonly=True)
    user_id = fields.Many2one("res.users", "Cashier", readonly=True)
    order_uuid = fields.Char("Order", required=True, index=True, readonly=True)
    payment_uuid = fields.Char("Payment", required=True, readonly=True)
    points = fields.Integer(readonly=True, help="Points held on the member card.")
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    amount = fields.Monetary(
        readonly=True,
        help="Money held: the points' value in the till's currency, or the gift card money in the card's currency.",
    )
    payment_currency_id = fields.Many2one("res.currency", "Till currency", readonly=True)
    payment_amount = fields.Monetary(
        "Payment amount",
        currency_field="payment_currency_id",
        readonly=True,
        help="What the till's payment line pays, in the till's currency (a gift card of another currency "
        "holds this amount converted at the day's rate).",
    )
    state = fields.Selection(HOLD_STATES, required=True, default="held", index=True, readonly=True)
    date_expiry = fields.Datetime("Held until", required=True, readonly=True)
    date_done = fields.Datetime("Closed on", readonly=True)
    pos_order_id = fields.Many2one("pos.order", "Captured by", index="btree_not_null", readonly=True)

    _sql_constraints = [
        ("payment_unique", "unique(payment_uuid)", "A payment line holds once."),
        (
            "one_card",
            "CHECK((card_id IS NULL) <> (gift_card_id IS NULL))",
            "A hold is on a member card or on a gift card.",
        ),
        ("positive", "CHECK(points >= 0 AND amount >= 0)", "A hold sets aside a positive value."),
    ]

    def init(self):
        # What the balance checks read: the live holds of one card.
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS loyalty_club_hold_card_held
                   ON loyalty_club_hold (card_id) WHERE state = 'held' AND card_id IS NOT NULL;
               CREATE INDEX IF NOT EXISTS loyalty_club_hold_gift_card_held
                   ON loyalty_club_hold (gift_card_id) WHERE state = 'held' AND gift_card_id IS NOT NULL"""
        )

    # ------------------------------------------------------------------
    # What is held
    # ------------------------------------------------------------------
    @api.model
    def _held(self, column, record_ids, exclude=None):
        """{card id: points or money held by live holds} of ``column`` (``card_id`` or
        ``gift_card_id``) for ``record_ids``, without the holds ``exclude``. One indexed query."""
        if not record_ids:
            return {}
        value = "points" if column == "card_id" else "amount"
        self.flush_model()
        rows = self.env.execute_query(
            SQL(
                """SELECT %(column)s, SUM(%(value)s) FROM loyalty_club_hold
                    WHERE %(column)s = ANY(%(ids)s) AND state = 'held' AND date_expiry > %(now)s
                      AND NOT (id = ANY(%(exclude)s))
                 GROUP BY %(column)s""",
                column=SQL.identifier(column),
                value=SQL.identifier(value),
                ids=list(record_ids),
                now=fields.Datetime.now(),
                exclude=list(exclude.ids) if exclude else [],
            )
        )
        return dict(rows)

    def _is_live(self):
        """Whether this hold still guarantees its value (held and not past its expiry)."""
        self.ensure_one()
        return self.state == "held" and self.date_expiry > fields.Datetime.now()

    # ------------------------------------------------------------------
    # Life cycle (server only)
    # ------------------------------------------------------------------
    @api.model
    def _make(self, config, card, order_uuid, payment_uuid, points=0, amount=0.0, currency=None):
        """Hold ``points`` of member card ``card`` (or ``amount`` of gift card ``card``) for the
        payment ``payment_uuid`` of the order ``order_uuid`` at till ``config``, under the card's
        row lock: refused when the available balance does not cover it. ``amount`` is in
        ``currency`` (the till's); a gift card of another currency holds it converted at today's
        rate, and the hold keeps both amounts (the payment line must pay exactly the till's). Asking again for the
        same payment returns its live hold (a till that did not get the answer asks again).

        :raises UserError: not enough available, bad order or payment reference
        """
        for reference in (order_uuid, payment_uuid):
            if not isinstance(reference, str) or not 8 <= len(reference) <= 64:
                raise ValidationError(self.env._("The till sent no valid order or payment reference."))
        Hold = self.sudo()
        is_gift = card._name == "loyalty.club.gift.card"
        column = "gift_card_id" if is_gift else "card_id"
        self.env["loyalty.club.posting"]._lock_rows(card)
        existing = Hold.search([("payment_uuid", "=", payment_uuid)], limit=1)
        if existing:
            return existing._check_asked_again(card, order_uuid, points, amount, currency)
        held = self._held(column, [card.id]).get(card.id, 0)
        payment_currency = currency or (card.currency_id if is_gift else config.currency_id)
        payment_amount = payment_currency.round(amount)
        if is_gift:
            currency = card.currency_id
            amount = self._check_gift_card_available(config, card, held, payment_currency, payment_amount)
        else:
            self._check_points_available(card, held, points)
        # A new row version of the card: a concurrent holder or spender that began before this
        # commits and then locks the card gets a serialization failure and retries on a fresh
        # snapshot, which sees this hold (a lock alone would let it read the holds of its old one).
        self.env.cr.execute(
            SQL("UPDATE %s SET write_date = write_date WHERE id = %s", SQL.identifier(card._table), card.id)
        )
        session = config.current_session_id
        self._invalidate_available()
        return Hold.create(
            {
                column: card.id,
                "company_id": card.company_id.id,
                "pos_config_id": config.id,
                "pos_session_id": session.id,
                "user_id": self.env.uid,
                "order_uuid": order_uuid,
                "payment_uuid": payment_uuid,
                "points": 0 if is_gift else points,
                "amount": amount,
                "currency_id": (currency or config.currency_id).id,
                "payment_amount": payment_amount,
                "payment_currency_id": payment_currency.id,
                "date_expiry": fields.Datetime.now()
                + timedelta(hours=card.club_id.pos_hold_hours or HOLD_HOURS_DEFAULT),
            }
        )

    def _check_asked_again(self, card, order_uuid, points, amount, currency):
        """This live hold, asked for again for the same payment; refused for another amount or card."""
        is_gift = card._name == "loyalty.club.gift.card"
        same = self[("gift_card_id" if is_gift else "card_id")] == card
        same = same and self.order_uuid == order_uuid and self._is_live()
        if is_gift:
            paid_currency, paid = self._payment_value()
            same = same and paid_currency == (currency or card.currency_id)
            same = same and paid_currency.compare_amounts(paid, amount) == 0
        else:
            same = same and self.points == points
        if not same:
            raise UserError(self.env._("This payment was already held for another amount or card."))
        return self

    @api.model
    def _check_gift_card_available(self, config, card, held, payment_currency, payment_amount):
        """The gift card ``card``'s money for ``payment_amount`` (the till pays in its currency; the
        card gives that amount in its own at today's rate), refused beyond what is not ``held``."""
        if payment_currency.compare_amounts(payment_amount, 0) <= 0:
            raise UserError(self.env._("A gift card payment must be positive."))
        currency = card.currency_id
        amount = card.club_id._convert_amount(payment_amount, payment_currency, currency, config.company_id)
        if currency.compare_amounts(amount, 0) <= 0:
            raise UserError(self.env._("This amount is worth nothing in the gift card's currency."))
        available = currency.round(card.balance - held)
        if currency.compare_amounts(amount, available) > 0:
            raise UserError(
                self.env._(
                    "Not enough money on gift card %(card)s: %(available)s %(currency)s can be spent.",
                    card=card._masked(),
                    available=max(card._available_in(payment_currency, config.company_id, held=held), 0.0),
                    currency=payment_currency.name,
                )
            )
        return amount

    @api.model
    def _check_points_available(self, card, held, points):
        """Refuse ``points`` that are not a whole positive number or exceed the spendable points not ``held``."""
        if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
            raise UserError(self.env._("Enter a whole, positive number of points."))
        available = card._loyalty_spendable_points() - held  # pending points cannot be held either
        if points > available:
            raise UserError(
                self.env._(
                    "Not enough points on card %(card)s: %(available)s can be spent.",
                    card=card._masked_number(),
                    available=self.env["loyalty.club"]._format_points(max(available, 0)),
                )
            )

    def _payment_value(self):
        """``(currency, amount)`` the hold's payment line pays at the till (holds made before the
        till currency was kept paid their ``amount`` in their ``currency``)."""
        self.ensure_one()
        if self.payment_currency_id:
            return self.payment_currency_id, self.payment_amount
        return self.currency_id, self.amount

    def _close(self, state, order=None):
        """Mark live holds ``captured`` (by ``order``), ``released`` or ``expired``."""
        self.sudo().filtered(lambda hold: hold.state == "held").write(
            {"state": state, "date_done": fields.Datetime.now(), "pos_order_id": order.id if order else False}
        )
        self._invalidate_available()

    @api.model
    def _invalidate_available(self):
        """Forget the cached held and available amounts of cards (holds changed)."""
        self.env["loyalty.club.card"].invalidate_model(["points_held", "points_available"])
        self.env["loyalty.club.gift.card"].invalidate_model(["amount_held", "balance_available"])

    @api.model
    def _cron_expire_holds(self, batch_size=10000):
        """Mark holds past their expiry as expired (set-based); their value is available again."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE loyalty_club_hold SET state = 'expired', date_done = %(now)s
                    WHERE id IN (SELECT id FROM loyalty_club_hold
                                  WHERE state = 'held' AND date_expiry <= %(now)s LIMIT %(limit)s)""",
                now=fields.Datetime.now(),
                limit=batch_size,
            )
        )
        done = self.env.cr.rowcount
        self.invalidate_model(["state", "date_done"])
        self._invalidate_available()
        self.env["loyalty.club.till.token"].sudo()._clean_old()
        return done
