from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from uuid import uuid4

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, float_is_zero

PAID_STATES = ("paid", "done", "invoiced")
# Values the POS sends with an order for the club; they are not fields of the order.
CLIENT_CARD_KEY = "loyalty_club_card_id"
CLIENT_PIN_TOKEN_KEY = "loyalty_club_pin_token"
CLIENT_LINE_DISCOUNT_KEY = "loyalty_club_member_discount"
CLIENT_LINE_WINDOW_KEY = "loyalty_club_window_id"
# Discount percentages the till may round differently from the server.
DISCOUNT_TOLERANCE = 0.01


class PosOrder(models.Model):
    _inherit = "pos.order"

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

    # ------------------------------------------------------------------
    # Synchronisation from the POS
    # ------------------------------------------------------------------
    @api.model
    def _process_order(self, order, existing_order):
        card_id = order.pop(CLIENT_CARD_KEY, False)
        pin_token = order.pop(CLIENT_PIN_TOKEN_KEY, False)
        # What the club books is decided here, never taken from the client.
        for name in list(order):
            if name.startswith("loyalty_"):
                order.pop(name)
        claims = {}
        for command in order.get("lines") or []:
            if command[0] in (0, 1) and isinstance(command[2], dict):
                values = command[2]
                claimed = values.pop(CLIENT_LINE_DISCOUNT_KEY, 0.0) or 0.0
                values.pop(CLIENT_LINE_WINDOW_KEY, None)
                for name in [key for key in values if key.startswith("loyalty_")]:
                    values.pop(name)
                if claimed:
                    values.setdefault("uuid", str(uuid4()))
                    claims[values["uuid"]] = claimed
        order_id = super()._process_order(order, existing_order)
        self.browse(order_id)._loyalty_club_process(card_id, pin_token, claims)
        return order_id

    def _loyalty_club_process(self, card_id, pin_token, claims=None):
        """Attach the member's card, then, once the order is paid, book its points exactly once:
        points paid, points given back and taken back by a refund, points earned."""
        self.ensure_one()
        order = self.sudo()
        refunded = order.lines.refunded_orderline_id.order_id
        card = order._loyalty_club_resolve_card(card_id, refunded)
        if not card:
            if order._loyalty_club_points_payments():
                raise UserError(self.env._("Identify the member's club card before paying with points."))
            if claims:
                raise UserError(self.env._("Member discounts need the member's club card on the order."))
            return
        if order.loyalty_card_id != card:
            order.loyalty_card_id = card
        if not order.partner_id:
            order.partner_id = card.partner_id
        if order.state not in PAID_STATES:
            return
        order._loyalty_club_check_member_discounts(card, claims or {})
        values = {"loyalty_card_display": card._masked_number(), "loyalty_tier_name": card.tier_id.name or False}
        if refunded:
            order._loyalty_club_check_refund_quantities()
        values.update(order._loyalty_club_book_points_payments(card, refunded, pin_token))
        if refunded:
            values.update(order._loyalty_club_reverse_refunded_lines(refunded))
        values["loyalty_points_earned"] = order._loyalty_club_post_earnings(card)
        card.invalidate_recordset(["balance", "tier_id"])
        values["loyalty_balance_after"] = card.balance
        values["loyalty_tier_name"] = card.tier_id.name or False
        order.write(values)

    def _loyalty_club_check_member_discounts(self, card, claims):
        """Re-validate the member discounts the till applied (tier and discount windows) at the
        time the order was paid: a window that closed in between, or another branch's window,
        is refused. Records which window gave each line its discount."""
        lines = self.lines.filtered(lambda line: line.uuid in claims)
        if not lines:
            return
        paid_at = min(self.date_order or fields.Datetime.now(), fields.Datetime.now())
        allowed = self.env["loyalty.club.discount.window"]._compute_member_discounts(
            card,
            self.company_id,
            [(line, line.product_id, line._loyalty_club_gross()) for line in lines],
            when=paid_at,
            pos_config=self.config_id,
            currency=self.currency_id,
        )
        for line in lines:
            claimed = claims[line.uuid]
            granted = allowed.get(line, {})
            if (
                claimed > granted.get("percent", 0.0) + DISCOUNT_TOLERANCE
                or line.discount + DISCOUNT_TOLERANCE < claimed
            ):
                raise UserError(
                    self.env._(
                        "The member discount of %(percent)s %% on %(product)s is not valid at this time "
                        "(a discount window may have closed). Identify the card again and validate.",
                        percent=claimed,
                        product=line.full_product_name or line.product_id.display_name,
                    )
                )
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

    def _loyalty_club_resolve_card(self, card_id, refunded):
        """The card of the order: a refund belongs to the card of the refunded order; a sale to
        the card the till identified, if it is an active card of this shop's club."""
        self.ensure_one()
        if refunded.loyalty_card_id:
            return refunded.loyalty_card_id
        if self.loyalty_card_id and not card_id:
            return self.loyalty_card_id
        if not card_id:
            return self.env["loyalty.club.card"]
        card = self.config_id._loyalty_club_card(card_id)
        if not card:
            raise UserError(
                self.env._("This club card cannot be used in this shop (unknown, not active or of another club).")
            )
        return card

    def _loyalty_club_points_payments(self):
        return self.payment_ids.filtered("payment_method_id.loyalty_club_points")

    def _loyalty_club_key(self, kind):
        """Posting key of the order: its POS uuid, so a retried or concurrent sync of the same
        order can never post twice, whatever database id it got."""
        return f"pos.order:{self.uuid or self.id}:{kind}"

    def _loyalty_club_points_for_amount(self, club, amount):
        """Whole points worth ``amount`` of money at the club's point value (exact, or an error)."""
        if club.point_value <= 0:
            raise UserError(self.env._("Points of club %s have no money value: they cannot pay.", club.name))
        currency = self.currency_id
        points = int(
            (Decimal(repr(currency.round(abs(amount)))) / Decimal(repr(club.point_value))).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
        )
        if not currency.is_zero(points * club.point_value - abs(amount)):
            raise UserError(
                self.env._(
                    "%(amount)s is not a whole number of points (one point is worth %(value)s).",
                    amount=currency.round(abs(amount)),
                    value=club.point_value,
                )
            )
        return points

    def _loyalty_club_book_points_payments(self, card, refunded, pin_token):
        """Spend the points paid with (PIN checked, balance checked under the card lock) or give
        back, on a refund, the points paid on the refunded order in proportion to the refund."""
        payments = self._loyalty_club_points_payments()
        if not payments:
            return {}
        club = card.club_id
        Posting = self.env["loyalty.club.posting"]
        amount = sum(payments.mapped("amount"))
        if self.currency_id.compare_amounts(amount, 0) > 0:
            points = self._loyalty_club_points_for_amount(club, amount)
            if not self.config_id._loyalty_club_check_pin_token(card, pin_token):
                raise UserError(self.env._("The member's PIN must be checked at the till before paying with points."))
            Posting._lock_cards(card)
            if card.balance < club.redeem_min_points:
                raise UserError(
                    self.env._(
                        "Card %(card)s needs at least %(minimum)s points before they can be used.",
                        card=card._masked_number(),
                        minimum=club.redeem_min_points,
                    )
                )
            Posting._post(
                card,
                -points,
                "redeem",
                self._loyalty_club_key("redeem"),
                origin=self,
                branch=self.company_id,
                pos_config=self.config_id,
                reason=self.name,
            )
            return {"loyalty_points_redeemed": points}
        if self.currency_id.is_zero(amount):
            return {}
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
        Posting._post(
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

    def _loyalty_club_returnable_points(self, refund_amount, exclude=None):
        """Points paid on this order that a refund of ``refund_amount`` may give back: the same
        share of the points as of the order's total, less what earlier refunds gave back."""
        self.ensure_one()
        if not self.loyalty_points_redeemed or not self.amount_total:
            return 0
        share = min(Decimal(1), Decimal(repr(refund_amount)) / Decimal(repr(abs(self.amount_total))))
        proportional = int((share * self.loyalty_points_redeemed).quantize(Decimal(1), rounding=ROUND_HALF_UP))
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

    def _loyalty_club_reverse_refunded_lines(self, refunded):
        """Take back the points the refunded lines earned, in proportion to the refunded quantity."""
        earned = self.env["loyalty.club.entry"].search(
            [("posting_key", "=", refunded._loyalty_club_key("earn"))], limit=1
        )
        if not earned:
            return {}
        points, spend = 0, Decimal(0)
        for original in self.lines.refunded_orderline_id:
            if not original.loyalty_points or float_is_zero(original.qty, precision_digits=6):
                continue
            refunds = original.refund_orderline_ids.filtered(
                lambda line: line.order_id.state in PAID_STATES or line.order_id == self
            )
            share = min(
                Decimal(1), Decimal(repr(sum(abs(q) for q in refunds.mapped("qty")))) / Decimal(repr(abs(original.qty)))
            )
            target = int((share * original.loyalty_points).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            delta = target - original.loyalty_points_reversed
            if delta <= 0:
                continue
            points += delta
            spend += Decimal(repr(earned.amount)) * delta / earned.points
            original.loyalty_points_reversed = target
        if not points:
            return {}
        fully_refunded = all(line.loyalty_points_reversed >= line.loyalty_points for line in refunded.lines)
        entry, shortfall = self.env["loyalty.club.posting"]._post_reversal(
            earned.card_id,
            points,
            self._loyalty_club_key("reverse"),
            earned,
            origin=self,
            branch=self.company_id,
            pos_config=self.config_id,
            amount=-float(spend.quantize(Decimal("0.01"))),
            purchase_count=-1 if fully_refunded else 0,
            reason=self.name,
        )
        return {"loyalty_points_reversed": -entry.points if entry else 0, "loyalty_shortfall": shortfall}

    def _loyalty_club_post_earnings(self, card):
        """Points earned by the sold (not refunded) lines, computed here from the synced lines
        by the club's earning rule, posted once and allocated to the lines."""
        club = card.club_id
        bases = {line: line._loyalty_club_base(club) for line in self.lines}
        points, spend, allocation = club._points_for_bases(
            bases, self.currency_id, self.company_id, self.date_order, card.tier_id.earn_multiplier
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
        )
        return points
