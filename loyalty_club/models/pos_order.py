import logging
from uuid import uuid4

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from .loyalty_club_posting import _failures_not_logged

_logger = logging.getLogger(__name__)

PAID_STATES = ("paid", "done", "invoiced")
# Values the POS sends with an order for the club; they are not fields of the order. They are
# claims: the server checks each of them (the card, the member discount of a line, the gift card
# of a payment, the code of a pre-printed card sold on a line).
CLIENT_CARD_KEY = "loyalty_club_card_id"
CLIENT_LINE_DISCOUNT_KEY = "loyalty_club_member_discount"
CLIENT_GIFT_CARD_KEY = "loyalty_gift_card_id"
CLIENT_GIFT_CODE_KEY = "loyalty_gift_card_code"
# Discount percentages the till may round differently from the server.
DISCOUNT_TOLERANCE = 0.01
# One order per POS uuid: a re-sent order is saved once (Odoo 18 has no such constraint).
UUID_INDEX = "pos_order_loyalty_club_uuid_unique"


class _OrderSavedMeanwhile(pg_errors.LockNotAvailable):
    """Another request saved the same order (same POS uuid) while this one was running.

    Raised instead of the unique violation so that Odoo's ``retrying`` runs the call again on a
    fresh snapshot, where the saved order is found and answered as it is (never doubled).
    """

    pgcode = "55P03"  # LOCK_NOT_AVAILABLE: one of the errors Odoo retries


class PosOrder(models.Model):
    _name = "pos.order"
    _inherit = ["pos.order", "mail.activity.mixin", "loyalty.club.protected.mixin"]
    _loyalty_protected_fields = frozenset(
        {
            "loyalty_card_id",
            "loyalty_card_display",
            "loyalty_tier_name",
            "loyalty_points_earned",
            "loyalty_points_redeemed",
            "loyalty_points_returned",
            "loyalty_points_reversed",
            "loyalty_shortfall",
            "loyalty_balance_after",
            "loyalty_review_state",
            "loyalty_review_reason",
            "loyalty_review_booked",
            "loyalty_club_client_data",
        }
    )
    # the till sends back what it loaded: dropped, never written (the server computes them)
    _loyalty_protected_drop = True

    loyalty_card_id = fields.Many2one(
        "loyalty.club.card",
        "Club card",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Card of the member identified at the till; it earns the points of the order.",
    )
    loyalty_card_display = fields.Char("Club card number", readonly=True, copy=False)
    loyalty_tier_name = fields.Char("Member tier", readonly=True, copy=False)
    loyalty_points_earned = fields.Integer("Points earned", readonly=True, copy=False)
    loyalty_points_redeemed = fields.Integer(
        "Points paid", readonly=True, copy=False, help="Points the member paid this order with."
    )
    loyalty_points_returned = fields.Integer(
        "Points given back",
        readonly=True,
        copy=False,
        help="Points paid on the refunded order that this refund gave back to the card.",
    )
    loyalty_points_reversed = fields.Integer(
        "Points taken back",
        readonly=True,
        copy=False,
        help="Points earned by the refunded lines that this refund took back.",
    )
    loyalty_shortfall = fields.Integer(
        "Points not taken back",
        readonly=True,
        copy=False,
        help="Points this refund could not take back because the member had already spent them.",
    )
    loyalty_balance_after = fields.Integer(
        "Balance after the order", readonly=True, copy=False, help="Card balance once this order was booked."
    )
    loyalty_review_state = fields.Selection(
        [("to_review", "To review"), ("done", "Reviewed")],
        "Club review",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="A paid order whose club part (points, gift cards) the server could not book as the till "
        "sent it: the order is saved all the same, and a club manager books or dismisses its club part.",
    )
    loyalty_review_reason = fields.Text("Review reason", readonly=True, copy=False)
    loyalty_review_booked = fields.Boolean(
        "Club part booked",
        readonly=True,
        copy=False,
        help="Whether the club part of an order flagged for review was booked (with what the server "
        "computed) or is still waiting for a manager's decision.",
    )
    loyalty_club_client_data = fields.Json(
        "Club values sent by the till",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_manager",
        help="The card, member discounts and gift cards the till sent, kept to book the order after a review.",
    )

    def init(self):
        super().init()
        cr = self.env.cr
        cr.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [UUID_INDEX])
        if cr.fetchone():
            return
        cr.execute("SELECT uuid FROM pos_order WHERE uuid IS NOT NULL GROUP BY uuid HAVING count(*) > 1 LIMIT 5")
        duplicates = [row[0] for row in cr.fetchall()]
        if duplicates:
            _logger.warning(
                "loyalty_club: POS orders share a uuid (%s...): re-sent orders may be saved twice until "
                "the duplicates are resolved and the module is updated.",
                ", ".join(duplicates),
            )
            return
        cr.execute(SQL("CREATE UNIQUE INDEX %s ON pos_order (uuid) WHERE uuid IS NOT NULL", SQL.identifier(UUID_INDEX)))

    @api.model
    def _load_pos_data_fields(self, config_id):
        fields_list = super()._load_pos_data_fields(config_id)
        if fields_list:
            return fields_list
        # every field, as point_of_sale loads them, but the activities of the club review: a till
        # has no use for them and they would cost queries at each sync
        return [
            name
            for name, field in self._fields.items()
            if field.is_accessible(self.env) and not name.startswith(("activity_", "my_activity_"))
        ]

    # ------------------------------------------------------------------
    # Synchronisation from the POS
    # ------------------------------------------------------------------
    @api.model
    def _process_order(self, order, existing_order):
        """Save the order as Odoo does, then book its club part (see :meth:`_loyalty_club_book`).

        What the till sends for the club is read from ``order`` without changing it (Odoo's
        ``retrying`` calls again with the same dict after a serialization failure)."""
        values, client = self._loyalty_club_split_client_values(order)
        try:
            with _failures_not_logged(self.env.cr):
                order_id = super()._process_order(values, existing_order)
        except pg_errors.UniqueViolation as error:
            if error.diag.constraint_name != UUID_INDEX:
                raise
            raise _OrderSavedMeanwhile(str(error)) from error
        self.browse(order_id)._loyalty_club_book(client)
        return order_id

    @api.model
    def _loyalty_club_split_client_values(self, order):
        """``(values, client)``: a copy of the till's ``order`` without the club's keys, for Odoo
        to save, and what those keys claimed: ``{"card_id", "claims": {line uuid: discount %},
        "gift_payments": {payment uuid: gift card id}, "codes": {line uuid: code}}``."""
        client = {"card_id": order.get(CLIENT_CARD_KEY) or False, "claims": {}, "gift_payments": {}, "codes": {}}
        values = {key: value for key, value in order.items() if not key.startswith("loyalty_")}

        def clean(commands, read):
            result = []
            for command in commands or []:
                if isinstance(command, (list, tuple)) and len(command) > 2 and isinstance(command[2], dict):
                    line = {key: value for key, value in command[2].items() if not key.startswith("loyalty_")}
                    read(command[2], line)
                    result.append((command[0], command[1], line, *command[3:]))
                else:
                    result.append(command)
            return result

        def read_line(sent, line):
            claimed = sent.get(CLIENT_LINE_DISCOUNT_KEY) or 0.0
            code = sent.get(CLIENT_GIFT_CODE_KEY)
            if claimed or code:
                line.setdefault("uuid", str(uuid4()))
            if claimed:
                client["claims"][line["uuid"]] = claimed
            if code:
                client["codes"][line["uuid"]] = code

        def read_payment(sent, payment):
            card_id = sent.get(CLIENT_GIFT_CARD_KEY)
            if card_id:
                payment.setdefault("uuid", str(uuid4()))
                client["gift_payments"][payment["uuid"]] = card_id

        if "lines" in order:
            values["lines"] = clean(order["lines"], read_line)
        if "payment_ids" in order:
            values["payment_ids"] = clean(order["payment_ids"], read_payment)
        return values, client

    def _loyalty_club_concerns(self, client):
        """Whether the club has anything to do with this order (most orders of a shop: no)."""
        self.ensure_one()
        refunded = self.lines.refunded_orderline_id.order_id
        return bool(
            client.get("card_id")
            or client.get("claims")
            or self.loyalty_card_id
            or refunded.loyalty_card_id
            or (self.payment_ids | refunded.payment_ids).payment_method_id.filtered(
                lambda m: m.loyalty_club_points or m.loyalty_gift_card
            )
            or self.lines.product_id.filtered("loyalty_gift_card")
        )

    def _loyalty_club_book(self, client):
        """Book the club part of a paid order exactly once; never refuse the order itself.

        What cannot be booked (a hold gone and the balance with it, a tampered order, a card of
        another club...) leaves the order saved like any POS order, its club part unbooked, and
        the order flagged *Club review* with the reason; what was booked but looked wrong (line
        totals that differ from the server's) is flagged too. The other orders of the till's
        batch are saved and booked as usual.
        """
        self.ensure_one()
        order = self.sudo()
        if not order._loyalty_club_concerns(client):
            return
        if order.state not in PAID_STATES:
            order._loyalty_club_attach_draft_card(client)
            return
        try:
            with self.env.cr.savepoint():
                notes = order._loyalty_club_process(client)
        except (UserError, ValidationError) as error:
            order._loyalty_club_flag(client, error.args[0], booked=False)
            return
        if notes:
            order._loyalty_club_flag(client, "\n".join(notes), booked=True)

    def _loyalty_club_attach_draft_card(self, client):
        """A draft order keeps the card the till identified (checked when it is paid)."""
        card = self.config_id._loyalty_club_card(client.get("card_id"))
        if card and self.loyalty_card_id != card:
            self.loyalty_card_id = card
        if card and not self.partner_id:
            self.partner_id = card.partner_id

    def _loyalty_club_order_time(self):
        """When the order is judged: its order date, never later than now nor earlier than the
        opening of its session (a till's clock may be wrong)."""
        self.ensure_one()
        now = fields.Datetime.now()
        when = min(self.date_order or now, now)
        opened = self.session_id.start_at
        return max(when, opened) if opened and opened <= now else when

    def _loyalty_club_process(self, client, reviewed=False):
        """Book the order's club part (called in a savepoint by :meth:`_loyalty_club_book` and by
        a manager's *Book* after a review): the card, the points paid and given back, the points
        taken back by a refund, the points earned, the gift cards spent, refunded and loaded.

        ``reviewed``: a club manager books the order after a review: payments that have no hold
        (anymore) spend what the card has available now, as any other redemption.

        :returns: notes for a review of what was booked but looked wrong (empty: nothing to see)
        :raises UserError: the club part cannot be booked (nothing of it is)
        """
        self.ensure_one()
        notes = []
        refunded = self.lines.refunded_orderline_id.order_id
        when = self._loyalty_club_order_time()
        card = self._loyalty_club_resolve_card(client.get("card_id"), refunded, when)
        if card or self.lines.product_id.filtered("loyalty_gift_card"):
            notes += self._loyalty_club_check_line_totals(all_lines=bool(card))
        if refunded:
            self._loyalty_club_check_refund_quantities()
            notes += self._loyalty_club_check_refund_tenders(refunded)
        if not card:
            if self._loyalty_club_points_payments():
                raise UserError(self.env._("Points were paid without a member's club card on the order."))
            if client.get("claims"):
                notes.append(self.env._("The till gave member discounts without a member's club card."))
            self._loyalty_gift_card_process(client, when, reviewed)
            return notes
        if self.loyalty_card_id != card:
            self.loyalty_card_id = card
        if not self.partner_id:
            self.partner_id = card.partner_id
        tier = card._tier_at(when)
        notes += self._loyalty_club_check_member_discounts(card, tier, client.get("claims") or {}, when)
        values = {"loyalty_card_display": card._masked_number(), "loyalty_tier_name": tier.name or False}
        values.update(self._loyalty_club_book_points_payments(card, refunded, when, reviewed))
        if refunded:
            values.update(self._loyalty_club_reverse_refunded_lines(refunded, card))
        values["loyalty_points_earned"] = self._loyalty_post_earnings(card, tier, when)
        self._loyalty_gift_card_process(client, when, reviewed)
        # the posting service keeps the card's balance in the ORM cache up to date
        values["loyalty_balance_after"] = card.balance
        self.write(values)
        return notes

    # ------------------------------------------------------------------
    # Review of orders the server could not book as sent
    # ------------------------------------------------------------------
    def _loyalty_club_flag(self, client, reason, booked):
        """Flag the order *Club review* with ``reason``, keep what the till sent and ask the club
        managers to decide (an activity each, the reason in the chatter)."""
        self.ensure_one()
        self.write(
            {
                "loyalty_review_state": "to_review",
                "loyalty_review_reason": reason,
                "loyalty_review_booked": booked,
                "loyalty_club_client_data": client,
            }
        )
        if booked:
            body = self.env._(
                "Club points and gift cards were booked as the server computed them; please check: %s", reason
            )
        else:
            body = self.env._("The club part of this order (points, gift cards) was not booked: %s", reason)
        self.message_post(body=body)
        club = self.company_id._loyalty_club_get()
        for user in club._review_users() if club else []:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Club review of a till order"),
                note=reason,
                user_id=user.id,
            )

    def _loyalty_club_check_manager(self):
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise AccessError(self.env._("Only club managers can review the club part of till orders."))
        self.check_access("write")

    def action_loyalty_club_book(self):
        """Book the club part of orders flagged for review with the values the till sent, as the
        server judges them now (a hold that expired meanwhile needs the balance to be there)."""
        self._loyalty_club_check_manager()
        for order in self.sudo():
            if order.loyalty_review_state != "to_review" or order.loyalty_review_booked:
                raise UserError(self.env._("Order %s has no club part waiting to be booked.", order.name))
            client = order.loyalty_club_client_data or {}
            try:
                with self.env.cr.savepoint():
                    notes = order._loyalty_club_process(client, reviewed=True)
            except (UserError, ValidationError) as error:
                raise UserError(
                    self.env._(
                        "The club part of %(order)s still cannot be booked: %(reason)s",
                        order=order.name,
                        reason=error.args[0],
                    )
                ) from error
            order.write({"loyalty_review_state": "done", "loyalty_review_booked": True})
            message = self.env._("Club part booked after review by %s.", self.env.user.name)
            if notes:
                message = f"{message} {' '.join(notes)}"
            order.message_post(body=message)
            order.activity_unlink(["mail.mail_activity_data_todo"])
        return True

    def action_loyalty_club_dismiss(self):
        """Close the review of orders without booking (more of) their club part; logged."""
        self._loyalty_club_check_manager()
        for order in self.sudo().filtered(lambda o: o.loyalty_review_state == "to_review"):
            order.loyalty_review_state = "done"
            if order.loyalty_review_booked:
                order.message_post(body=self.env._("Club review closed by %s.", self.env.user.name))
            else:
                order.message_post(
                    body=self.env._("Club part dismissed after review by %s: nothing was booked.", self.env.user.name)
                )
            order.activity_unlink(["mail.mail_activity_data_todo"])
        return True

    def action_pos_order_cancel(self):
        # an order cancelled at the till frees what its payments held
        result = super().action_pos_order_cancel()
        cancelled = self.filtered(lambda order: order.state == "cancel" and order.uuid)
        if cancelled:
            holds = (
                self.env["loyalty.club.hold"]
                .sudo()
                .search([("order_uuid", "in", cancelled.mapped("uuid")), ("state", "=", "held")])
            )
            holds._close("released")
        return result
