import logging
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from odoo import models
from odoo.exceptions import UserError
from odoo.tools import float_compare, float_is_zero

from ..tools import posting_keys
from .pos_order import (
    DISCOUNT_TOLERANCE,
    PAID_STATES,
)

_logger = logging.getLogger(__name__)


class PosOrder(models.Model):
    """Point of Sale orders: the checks of what the till sent, points payments, refunds and earnings."""

    _inherit = "pos.order"  # pylint: disable=consider-merging-classes-inherited

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
        return posting_keys.pos_order(self, kind)

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

    def _loyalty_post_earnings(self, card, tier, when):
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
