import logging
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from uuid import uuid4

from psycopg2 import errors as pg_errors

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, float_compare, float_is_zero

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
        values["loyalty_points_earned"] = self._loyalty_club_post_earnings(card, tier, when)
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

    # ------------------------------------------------------------------
    # Checks of what the till sent
    # ------------------------------------------------------------------
    def _loyalty_club_check_line_totals(self, all_lines=True):
        """Notes for lines whose totals sent by the till differ from the server's (unit price,
        quantity, discount, taxes); the club books only what the server computes anyway."""
        currency = self.currency_id
        notes = []
        for line in self.lines:
            if not all_lines and not line.product_id.loyalty_gift_card:
                continue
            computed = dict(
                zip(("price_subtotal", "price_subtotal_incl"), line._loyalty_club_server_totals(), strict=True)
            )
            for name in ("price_subtotal", "price_subtotal_incl"):
                sent, server = line[name], computed[name]
                if abs(sent - server) > max(2 * currency.rounding, abs(server) * 1e-6):
                    notes.append(
                        self.env._(
                            "The till sent %(sent)s for %(product)s, the server computes %(server)s: the club "
                            "booked the server's amount.",
                            sent=sent,
                            server=currency.round(server),
                            product=line.full_product_name or line.product_id.display_name,
                        )
                    )
                    break
        return notes

    def _loyalty_club_check_member_discounts(self, card, tier, claims, when):
        """Check the member discounts the till applied (tier and discount windows) as they were
        when the order was paid, with the tier the member had then, and record which window gave
        each line its discount. Returns notes for claims the server does not grant (the order
        stands: the customer paid it; the discount is not recorded as the club's)."""
        lines = self.lines.filtered(lambda line: line.uuid in claims)
        if not lines:
            return []
        notes = []
        allowed = self.env["loyalty.club.discount.window"]._compute_member_discounts(
            card,
            self.company_id,
            [(line, line.product_id, line._loyalty_club_gross()) for line in lines],
            when=when,
            pos_config=self.config_id,
            currency=self.currency_id,
            tier=tier,
        )
        for line in lines:
            claimed = claims[line.uuid]
            granted = allowed.get(line, {})
            if (
                claimed > granted.get("percent", 0.0) + DISCOUNT_TOLERANCE
                or line.discount + DISCOUNT_TOLERANCE < claimed
            ):
                notes.append(
                    self.env._(
                        "The member discount of %(percent)s %% on %(product)s was not valid when the order was paid.",
                        percent=claimed,
                        product=line.full_product_name or line.product_id.display_name,
                    )
                )
                continue
            window = granted.get("window") or self.env["loyalty.club.discount.window"]
            window_percent = granted.get("window_percent", 0.0) if window else 0.0
            line.write(
                {
                    "loyalty_member_discount": claimed,
                    "loyalty_discount_window_id": window.id,
                    "loyalty_window_discount_amount": self.currency_id.round(
                        line._loyalty_club_gross() * window_percent / 100
                    ),
                }
            )
        return notes

    def _loyalty_club_resolve_card(self, card_id, refunded, when):
        """The card that books the order: a refund books on the card of the refunded order, a sale
        on the card the till identified, if it is a card of this shop's club that was usable when
        the order was paid. A replaced card books on its active successor.

        :raises UserError: the card is unknown, of another club, or was not usable then
        """
        self.ensure_one()
        Card = self.env["loyalty.club.card"].sudo()
        if refunded.loyalty_card_id:
            return refunded.loyalty_card_id._active_successor()
        if not card_id and self.loyalty_card_id:
            return self.loyalty_card_id._active_successor()
        if not card_id and self._loyalty_club_points_payments():
            # the till lost the card (reloaded offline) but the points it held name it
            hold = (
                self.env["loyalty.club.hold"]
                .sudo()
                .search([("order_uuid", "=", self.uuid), ("card_id", "!=", False)], limit=1)
            )
            return hold.card_id._active_successor() if hold else Card
        if not card_id:
            return Card
        card = self.config_id._loyalty_club_card(card_id, active_only=False)
        if not card:
            raise UserError(self.env._("The club card the till sent is unknown or of another club."))
        successor = card._active_successor()
        if successor != card and successor.state == "active":
            return successor
        if not card._active_at(when):
            raise UserError(
                self.env._(
                    "Club card %s was not usable when the order was paid (blocked or expired).", card._masked_number()
                )
            )
        return card

    def _loyalty_club_points_payments(self):
        return self.payment_ids.filtered("payment_method_id.loyalty_club_points")

    def _loyalty_club_key(self, kind):
        """Posting key of the order: its POS uuid, so a retried or concurrent sync of the same
        order can never post twice, whatever database id it got."""
        return f"pos.order:{self.uuid or self.id}:{kind}"

    def _loyalty_club_points_for_amount(self, club, amount):
        """Whole points worth ``amount`` of money in the order's currency at the club's point
        value (converted at the order's date rate; exact, or an error)."""
        if club.point_value <= 0:
            raise UserError(self.env._("Points of club %s have no money value: they cannot pay.", club.name))
        currency = self.currency_id
        point_value = club._point_value_in(currency, self.company_id, self.date_order)
        points = int(
            (Decimal(repr(currency.round(abs(amount)))) / Decimal(repr(point_value))).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
        )
        if not currency.is_zero(currency.round(points * point_value) - currency.round(abs(amount))):
            raise UserError(
                self.env._(
                    "%(amount)s is not a whole number of points (one point is worth %(value)s).",
                    amount=currency.round(abs(amount)),
                    value=point_value,
                )
            )
        return points

    def _loyalty_club_book_points_payments(self, card, refunded, when, reviewed=False):
        """Capture the holds of the points paid with, or give back, on a refund, the points paid
        on the refunded order in proportion to the refund."""
        payments = self._loyalty_club_points_payments()
        if not payments:
            return {}
        amount = sum(payments.mapped("amount"))
        if self.currency_id.compare_amounts(amount, 0) > 0:
            return self._loyalty_club_capture_points(card, payments, when, reviewed)
        if self.currency_id.is_zero(amount):
            return {}
        club = card.club_id
        points = self._loyalty_club_points_for_amount(club, amount)
        redeemed_entry = self.env["loyalty.club.entry"].search(
            [("posting_key", "=", refunded._loyalty_club_key("redeem"))], limit=1
        )
        if not refunded or not redeemed_entry:
            raise UserError(self.env._("Points can only go back to a card on a refund of an order paid with points."))
        returnable = refunded._loyalty_club_returnable_points(abs(self.amount_total), exclude=self)
        if points > returnable:
            raise UserError(
                self.env._(
                    "At most %(points)s points can go back to the card for this refund.",
                    points=returnable,
                )
            )
        self.env["loyalty.club.posting"]._post(
            card,
            points,
            "reverse",
            self._loyalty_club_key("unredeem"),
            origin=self,
            branch=self.company_id,
            pos_config=self.config_id,
            reversed_entry=redeemed_entry,
            reason=self.name,
        )
        return {"loyalty_points_returned": points}

    def _loyalty_club_capture_points(self, card, payments, when, reviewed=False):
        """Spend the points of the order's points payments by capturing the holds the till made
        for them (one per payment line, same amount, same order, same member). After a review
        (``reviewed``), a payment without a hold spends what the card has available."""
        Hold = self.env["loyalty.club.hold"].sudo()
        holds = Hold.search([("payment_uuid", "in", [p.uuid for p in payments if p.uuid])])
        by_payment = {hold.payment_uuid: hold for hold in holds}
        unheld = 0
        for payment in payments:
            hold = by_payment.get(payment.uuid)
            if reviewed and not hold:
                unheld += self._loyalty_club_points_for_amount(card.club_id, payment.amount)
                continue
            if not hold or not hold.card_id:
                raise UserError(
                    self.env._(
                        "A points payment of %s has no hold: the member's PIN was not checked at the till.",
                        self.currency_id.round(payment.amount),
                    )
                )
            if hold.order_uuid != self.uuid or hold.card_id._active_successor() != card:
                raise UserError(self.env._("A points payment uses a hold made for another order or card."))
            if hold.state == "captured" and hold.pos_order_id != self:
                raise UserError(
                    self.env._("A points payment uses a hold already captured by order %s.", hold.pos_order_id.name)
                )
            if self.currency_id.compare_amounts(payment.amount, hold.amount):
                raise UserError(
                    self.env._(
                        "A points payment of %(paid)s differs from the %(held)s held for it.",
                        paid=self.currency_id.round(payment.amount),
                        held=hold.amount,
                    )
                )
        points = sum(holds.mapped("points")) + unheld
        if unheld:
            # booked after a review with some payments unheld: what is still held is part of
            # what the card has available for this order
            holds._close("captured", self)
        self.env["loyalty.club.posting"]._post(
            card,
            -points,
            "redeem",
            self._loyalty_club_key("redeem"),
            origin=self,
            branch=self.company_id,
            pos_config=self.config_id,
            reason=self.name,
            holds=holds.filtered(lambda hold: hold.state == "held"),
            valid_at=when,
        )
        holds._close("captured", self)
        return {"loyalty_points_redeemed": points}

    def _loyalty_club_returnable_points(self, refund_amount, exclude=None):
        """Points paid on this order that a refund of ``refund_amount`` may give back: the same
        share of the points as of the order's total, less what earlier refunds gave back."""
        self.ensure_one()
        if not self.loyalty_points_redeemed or not self.amount_total:
            return 0
        share = Decimal(repr(refund_amount)) / Decimal(repr(abs(self.amount_total)))
        proportional = self.env["loyalty.club"]._points_to_reverse(self.loyalty_points_redeemed, 0, share)
        refunds = self.lines.refund_orderline_ids.order_id - (exclude or self.browse())
        already = sum(refunds.filtered(lambda o: o.state in PAID_STATES).mapped("loyalty_points_returned"))
        return max(0, min(proportional, self.loyalty_points_redeemed - already))

    def _loyalty_club_check_refund_quantities(self):
        """A line can be refunded at most once in full, across all refunds."""
        for original in self.lines.refunded_orderline_id:
            refunds = original.refund_orderline_ids.filtered(
                lambda line: line.order_id.state in PAID_STATES or line.order_id == self
            )
            refunded_qty = sum(abs(qty) for qty in refunds.mapped("qty"))
            rounding = original.product_uom_id.rounding or 0.0001
            if float_compare(refunded_qty, abs(original.qty), precision_rounding=rounding) > 0:
                raise UserError(
                    self.env._(
                        "%(product)s of order %(order)s was already refunded: %(sold)s sold, %(refunded)s refunded.",
                        product=original.full_product_name or original.product_id.display_name,
                        order=original.order_id.name,
                        sold=abs(original.qty),
                        refunded=refunded_qty,
                    )
                )

    def _loyalty_club_money_payments(self):
        """Payments in money (cash, bank, card terminals): not club points, not gift cards."""
        return self.payment_ids.filtered(
            lambda p: not p.payment_method_id.loyalty_club_points and not p.payment_method_id.loyalty_gift_card
        )

    def _loyalty_club_check_refund_tenders(self, refunded):
        """Notes when this refund, with the earlier ones, pays out in money more than the share of
        the refunded order that was paid in money: the points and gift card shares go back as
        points and to the gift cards, never as cash."""
        currency = self.currency_id
        total = abs(refunded.amount_total)
        club_paid = currency.round(
            sum((refunded.payment_ids - refunded._loyalty_club_money_payments()).mapped("amount"))
        )
        if currency.is_zero(total) or currency.compare_amounts(club_paid, 0) <= 0:
            return []
        money_paid = currency.round(sum(refunded._loyalty_club_money_payments().mapped("amount")))
        refunds = (
            refunded.lines.refund_orderline_ids.order_id.filtered(
                lambda order: order.state in PAID_STATES or order == self
            )
            | self
        )
        share = min(Decimal(1), Decimal(repr(sum(abs(order.amount_total) for order in refunds))) / Decimal(repr(total)))
        allowed = currency.round(float(Decimal(repr(money_paid)) * share))
        paid_out = currency.round(-sum(refunds._loyalty_club_money_payments().mapped("amount")))
        if currency.compare_amounts(paid_out, allowed) <= 0:
            return []
        return [
            self.env._(
                "This refund pays out %(paid)s in money while only %(allowed)s of the refunded order %(order)s "
                "was paid in money (the rest with club points or gift cards): the points and gift card "
                "shares paid out in money were not given back.",
                paid=paid_out,
                allowed=allowed,
                order=refunded.name,
            )
        ]

    def _loyalty_club_reverse_refunded_lines(self, refunded, card):
        """Take back the points the refunded lines earned, in proportion to the refunded quantity
        (the one reversal rule, :meth:`loyalty.club._points_to_reverse`), from the card that now
        carries them."""
        earned = self.env["loyalty.club.entry"].search(
            [("posting_key", "=", refunded._loyalty_club_key("earn"))], limit=1
        )
        if not earned:
            return {}
        Club = self.env["loyalty.club"]
        points, spend = 0, Decimal(0)
        for original in self.lines.refunded_orderline_id:
            if not original.loyalty_points or float_is_zero(original.qty, precision_digits=6):
                continue
            refunds = original.refund_orderline_ids.filtered(
                lambda line: line.order_id.state in PAID_STATES or line.order_id == self
            )
            share = Decimal(repr(sum(abs(q) for q in refunds.mapped("qty")))) / Decimal(repr(abs(original.qty)))
            delta = Club._points_to_reverse(original.loyalty_points, original.loyalty_points_reversed, share)
            if not delta:
                continue
            points += delta
            spend += Decimal(repr(earned.amount)) * delta / earned.points
            original.loyalty_points_reversed += delta
        if not points:
            return {}
        fully_refunded = all(line.loyalty_points_reversed >= line.loyalty_points for line in refunded.lines)
        entry, shortfall = self.env["loyalty.club.posting"]._post_reversal(
            card,
            points,
            self._loyalty_club_key("reverse"),
            earned,
            origin=self,
            branch=self.company_id,
            pos_config=self.config_id,
            amount=-float(spend.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
            purchase_count=-1 if fully_refunded else 0,
            reason=self.name,
        )
        return {"loyalty_points_reversed": -entry.points if entry else 0, "loyalty_shortfall": shortfall}

    def _loyalty_club_post_earnings(self, card, tier, when):
        """Points earned by the sold (not refunded) lines, computed here from the synced lines
        by the club's earning rule (:meth:`loyalty.club._earning_base`, negative lines included,
        the part paid with club points left out unless the club's *earn points on the part paid
        with club points* is on, the tier the member had when the order was paid), posted once and
        allocated to the lines."""
        club = card.club_id
        bases = {line: line._loyalty_club_base(club) for line in self.lines}
        # the part paid with club points earns only when the club says so (gift cards are money)
        points_paid = sum(self._loyalty_club_points_payments().filtered(lambda p: p.amount > 0).mapped("amount"))
        bases = club._earning_bases_paid_in_money(bases, points_paid, self.amount_total, self.currency_id)
        points, spend, allocation = club._points_for_bases(
            bases, self.currency_id, self.company_id, self.date_order, tier.earn_multiplier
        )
        if not points:
            return 0
        lines_by_points = defaultdict(lambda: self.env["pos.order.line"])
        for line, line_points in allocation.items():
            if line_points:
                lines_by_points[line_points] |= line
        for line_points, lines in lines_by_points.items():
            lines.write({"loyalty_points": line_points})
        self.env["loyalty.club.posting"]._post(
            card,
            points,
            "earn",
            self._loyalty_club_key("earn"),
            origin=self,
            branch=self.company_id,
            pos_config=self.config_id,
            amount=spend,
            purchase_count=1,
            reason=self.name,
            valid_at=when,
        )
        return points

    # ------------------------------------------------------------------
    # Gift cards (sold as a product, redeemed as a tender, refunded to the card)
    # ------------------------------------------------------------------
    def _loyalty_gift_card_process(self, client, when, reviewed=False):
        """Book the paid order's gift card movements exactly once (keys of the order's POS uuid):
        money spent from cards (their holds captured), given back to them by a refund, loaded by
        sold cards."""
        self.ensure_one()
        self._loyalty_gift_card_book_payments(client.get("gift_payments") or {}, when, reviewed)
        self._loyalty_gift_card_load_sold_cards(client.get("codes") or {})

    def _loyalty_gift_card_book_payments(self, client_payments, when, reviewed=False):
        payments = self.payment_ids.filtered("payment_method_id.loyalty_gift_card")
        if not payments:
            return
        config = self.config_id
        currency = self.currency_id
        Card = self.env["loyalty.club.gift.card"].sudo()
        Posting = self.env["loyalty.club.posting"]
        spent = payments.filtered(lambda p: currency.compare_amounts(p.amount, 0) > 0)
        given_back = payments - spent
        holds = self.env["loyalty.club.hold"].sudo().search([("payment_uuid", "in", [p.uuid for p in spent if p.uuid])])
        by_payment = {hold.payment_uuid: hold for hold in holds}
        by_card = defaultdict(lambda: self.env["pos.payment"])
        # what each card gives, in its own currency (a card of another currency than the till's
        # gives what its holds converted at the day's rate)
        card_amounts = defaultdict(float)
        for payment in spent:
            hold = by_payment.get(payment.uuid)
            card = hold.gift_card_id if hold else Card
            claimed = client_payments.get(payment.uuid)
            if reviewed and not hold:
                card = config._loyalty_gift_card(claimed)
                if not card:
                    raise UserError(self.env._("A gift card payment names no active gift card of this shop's club."))
                card._check_spendable(self.company_id, currency)
                by_card[card] |= payment
                card_amounts[card] += card.club_id._convert_amount(
                    payment.amount, currency, card.currency_id, self.company_id, self.date_order
                )
                continue
            if not card or (claimed and claimed != card.id):
                raise UserError(
                    self.env._("A gift card payment has no hold: the card's PIN was not checked at the till.")
                )
            if hold.order_uuid != self.uuid or card.club_id != config.company_id._loyalty_club_get():
                raise UserError(self.env._("A gift card payment uses a hold made for another order or shop."))
            if hold.state == "captured" and hold.pos_order_id != self:
                raise UserError(
                    self.env._("A gift card payment uses a hold already captured by order %s.", hold.pos_order_id.name)
                )
            held_currency, held = hold._payment_value()
            if held_currency != currency or currency.compare_amounts(payment.amount, held):
                raise UserError(
                    self.env._(
                        "A gift card payment of %(paid)s differs from the %(held)s held for it.",
                        paid=currency.round(payment.amount),
                        held=held,
                    )
                )
            by_card[card] |= payment
            card_amounts[card] += hold.amount
        # Lock every card first (id order), then check and spend: two tills cannot overdraw.
        Posting._lock_rows(Card.browse([card.id for card in by_card]))
        for card, card_payments in by_card.items():
            amount = card.currency_id.round(card_amounts[card])
            card_holds = holds.filtered(lambda hold, card=card: hold.gift_card_id == card)
            Posting._post_gift_card(
                card,
                -amount,
                "redeem",
                self._loyalty_club_key(f"gift_redeem:{card.id}"),
                origin=self,
                branch=self.company_id,
                pos_config=config,
                reason=self.name,
                holds=card_holds.filtered(lambda hold: hold.state == "held"),
                valid_at=when,
            )
            card_holds._close("captured", self)
            card_payments.write(
                {
                    "loyalty_gift_card_id": card.id,
                    "loyalty_gift_card_balance": card._available_in(currency, self.company_id, held=0.0),
                }
            )
        if given_back:
            self._loyalty_gift_card_refund_payments(given_back)

    def _loyalty_gift_card_refund_payments(self, payments):
        """A refund paid out with the 'Gift card' method credits the cards that paid the refunded
        order (at most what they paid, less earlier refunds), or a new card for the rest. A card
        of another currency than the till's gets back its own money in the proportion the
        refund takes of what it paid (the rate of the sale, not today's)."""
        currency = self.currency_id
        Posting = self.env["loyalty.club.posting"]
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        refunded = self.lines.refunded_orderline_id.order_id
        to_give = currency.round(-sum(payments.mapped("amount")))
        paid_by = defaultdict(lambda: self.env["pos.payment"])
        for original in refunded.payment_ids.filtered("loyalty_gift_card_id"):
            paid_by[original.pos_order_id, original.loyalty_gift_card_id] |= original
        for (order, paying_card), originals in paid_by.items():
            if not currency.compare_amounts(to_give, 0) > 0:
                break
            card = paying_card.sudo()
            card_currency = card.currency_id
            redeem_entry = Entry.search(
                [("posting_key", "=", order._loyalty_club_key(f"gift_redeem:{card.id}"))], limit=1
            )
            redeemed = -redeem_entry.amount
            already = sum(
                Entry.search(
                    [
                        ("gift_card_id", "=", card.id),
                        ("kind", "=", "refund"),
                        ("reversed_entry_id", "=", redeem_entry.id),
                    ]
                ).mapped("amount")
            )
            room = card_currency.round(redeemed - already)
            if not redeem_entry or card_currency.compare_amounts(room, 0) <= 0:
                continue
            if card.state not in ("active", "used") or (
                card.date_expiry and card.date_expiry < fields.Date.context_today(self)
            ):
                continue  # an expired or blocked card gets nothing back: a new card takes it
            paid = sum(originals.mapped("amount"))
            if order.currency_id == currency and paid > 0:
                room_here = currency.round(room * paid / redeemed)
            else:
                room_here = card.club_id._convert_amount(room, card_currency, currency, self.company_id)
            amount_here = min(room_here, to_give)
            if currency.compare_amounts(amount_here, 0) <= 0:
                continue
            if currency.compare_amounts(amount_here, room_here) == 0:
                amount = room
            else:
                amount = card_currency.round(room * amount_here / room_here)
            Posting._post_gift_card(
                card,
                amount,
                "refund",
                # one refund order refunds lines of one sale only (Odoo refuses mixing orders)
                self._loyalty_club_key(f"gift_refund:{card.id}"),
                origin=self,
                branch=self.company_id,
                pos_config=self.config_id,
                reversed_entry=redeem_entry,
                reason=self.name,
            )
            payments[:1].write(
                {
                    "loyalty_gift_card_id": card.id,
                    "loyalty_gift_card_balance": card._available_in(currency, self.company_id, held=0.0),
                }
            )
            to_give = currency.round(to_give - amount_here)
        if currency.compare_amounts(to_give, 0) > 0:
            key = self._loyalty_club_key("gift_refund_new")
            card = self._loyalty_gift_card_new_card(key)
            Posting._post_gift_card(
                card,
                card.club_id._convert_amount(to_give, currency, card.currency_id, self.company_id, self.date_order),
                "load",
                key,
                origin=self,
                branch=self.company_id,
                pos_config=self.config_id,
                reason=self.name,
            )
            payments[-1:].write(
                {
                    "loyalty_gift_card_id": card.id,
                    "loyalty_gift_card_balance": card._available_in(currency, self.company_id, held=0.0),
                    "loyalty_gift_card_new_code": card.code_display,
                }
            )

    def _loyalty_gift_card_new_card(self, posting_key):
        """A new gift card of the shop's club for ``posting_key``, holding the club's currency like
        the cards Sales issues (a till in another currency loads it converted at the order's rate;
        no PIN yet: the service desk gives it one with *New PIN*); the card of that key if it was
        posted."""
        existing = self.env["loyalty.club.gift.card.entry"].sudo().search([("posting_key", "=", posting_key)], limit=1)
        if existing:
            return existing.gift_card_id
        club = self.company_id._loyalty_club_get()
        if not club:
            raise UserError(self.env._("This shop's company has no customer club: it cannot issue gift cards."))
        return (
            self.env["loyalty.club.gift.card"].sudo()._issue(club, partner=self.partner_id or None, with_pin=False)[0]
        )

    def _loyalty_gift_card_load_sold_cards(self, client_codes):
        """Each paid gift card line loads its card: the pre-printed card scanned on the line, or
        a new card per unit. Keys: order uuid + line uuid + unit, so it happens once."""
        lines = self.lines.filtered(lambda line: line.product_id.loyalty_gift_card)
        if not lines:
            return
        currency = self.currency_id
        config = self.config_id
        Card = self.env["loyalty.club.gift.card"].sudo()
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        Posting = self.env["loyalty.club.posting"]
        club = self.company_id._loyalty_club_get()
        for line in lines:
            if line.qty < 0 or line.refunded_orderline_id:
                raise UserError(
                    self.env._("Sold gift cards cannot be refunded at the till; block the card in the back office.")
                )
            if line.qty != int(line.qty):
                raise UserError(self.env._("Gift cards are sold by the unit."))
            units = int(line.qty)
            # what the server computes from the unit price, never the total the till sent
            total = line._loyalty_club_server_totals()[1]
            amount = currency.round(total / units) if units else 0.0
            if currency.compare_amounts(amount, 0) <= 0:
                raise UserError(self.env._("A gift card must be sold for a positive amount."))
            code = client_codes.get(line.uuid)
            if code and units != 1:
                raise UserError(self.env._("A scanned gift card is sold one per line."))
            cards = Card.browse()
            for unit in range(units):
                key = self._loyalty_club_key(f"gift_load:{line.uuid or line.id}:{unit}")
                existing = Entry.search([("posting_key", "=", key)], limit=1)
                if existing:
                    card = existing.gift_card_id
                elif code:
                    try:
                        card = Card.with_company(self.company_id)._find_by_code(code)
                    except ValidationError:
                        card = Card.browse()
                    if not card or card.club_id != club:
                        raise UserError(self.env._("Gift card %s is not a card of this shop's club.", code))
                else:
                    card = self._loyalty_gift_card_new_card(key)
                Posting._post_gift_card(
                    card,
                    # a pre-printed card of another currency is loaded with the price at the order's rate
                    club._convert_amount(amount, currency, card.currency_id, self.company_id, self.date_order),
                    "load",
                    key,
                    origin=self,
                    branch=self.company_id,
                    pos_config=config,
                    reason=self.name,
                )
                cards |= card
            line.write(
                {
                    "loyalty_gift_card_ids": [Command.set(cards.ids)],
                    "loyalty_gift_card_codes": ", ".join(cards.mapped("code_display")),
                }
            )
