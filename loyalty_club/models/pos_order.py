from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from uuid import uuid4

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_compare, float_is_zero

PAID_STATES = ("paid", "done", "invoiced")
# Values the POS sends with an order for the club; they are not fields of the order.
CLIENT_CARD_KEY = "loyalty_club_card_id"
CLIENT_PIN_TOKEN_KEY = "loyalty_club_pin_token"
CLIENT_LINE_DISCOUNT_KEY = "loyalty_club_member_discount"
CLIENT_LINE_WINDOW_KEY = "loyalty_club_window_id"
# Gift card values the till sends: on a payment line the card and its PIN token, on a
# gift card line the code of a pre-printed card to load.
CLIENT_GIFT_CARD_KEY = "loyalty_gift_card_id"
CLIENT_GIFT_TOKEN_KEY = "loyalty_gift_card_token"
CLIENT_GIFT_CODE_KEY = "loyalty_gift_card_code"
# Discount percentages the till may round differently from the server.
DISCOUNT_TOLERANCE = 0.01


class PosOrder(models.Model):
    _name = "pos.order"
    _inherit = ["pos.order", "loyalty.club.protected.mixin"]
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

    # ------------------------------------------------------------------
    # Synchronisation from the POS
    # ------------------------------------------------------------------
    @api.model
    def _process_order(self, order, existing_order):
        gift_client = self._loyalty_gift_card_pop_client_values(order)
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
        self.browse(order_id)._loyalty_gift_card_process(gift_client)
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
        # the posting service keeps the card's balance and tier in the ORM cache up to date
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

    # ------------------------------------------------------------------
    # Gift cards (sold as a product, redeemed as a tender, refunded to the card)
    # ------------------------------------------------------------------
    @api.model
    def _loyalty_gift_card_pop_client_values(self, order):
        """Take the till's gift card values off the order before anything is created:
        ``{"payments": {payment uuid: (card id, PIN token)}, "lines": {line uuid: code}}``."""
        result = {"payments": {}, "lines": {}}
        for command in order.get("payment_ids") or []:
            if command[0] in (0, 1) and isinstance(command[2], dict):
                values = command[2]
                card_id = values.pop(CLIENT_GIFT_CARD_KEY, False)
                token = values.pop(CLIENT_GIFT_TOKEN_KEY, False)
                if card_id:
                    values.setdefault("uuid", str(uuid4()))
                    result["payments"][values["uuid"]] = (card_id, token)
        for command in order.get("lines") or []:
            if command[0] in (0, 1) and isinstance(command[2], dict):
                values = command[2]
                code = values.pop(CLIENT_GIFT_CODE_KEY, False)
                if code:
                    values.setdefault("uuid", str(uuid4()))
                    result["lines"][values["uuid"]] = code
        return result

    def _loyalty_gift_card_process(self, client):
        """Once the order is paid, book its gift card movements exactly once (keys of the order's
        POS uuid): money spent from cards, given back to them by a refund, loaded by sold cards."""
        self.ensure_one()
        order = self.sudo()
        if order.state not in PAID_STATES:
            return
        order._loyalty_gift_card_book_payments(client["payments"])
        order._loyalty_gift_card_load_sold_cards(client["lines"])

    def _loyalty_gift_card_book_payments(self, client_payments):
        payments = self.payment_ids.filtered("payment_method_id.loyalty_gift_card")
        if not payments:
            return
        config = self.config_id
        currency = self.currency_id
        Card = self.env["loyalty.club.gift.card"].sudo()
        Posting = self.env["loyalty.club.posting"]
        spent = payments.filtered(lambda p: currency.compare_amounts(p.amount, 0) > 0)
        given_back = payments - spent
        by_card = defaultdict(lambda: self.env["pos.payment"])
        for payment in spent:
            card_id, token = client_payments.get(payment.uuid, (False, False))
            card = config._loyalty_gift_card(card_id)
            if not card or not config._loyalty_club_check_pin_token(card, token):
                raise UserError(self.env._("Scan the gift card and check its PIN at the till before paying with it."))
            card._check_spendable(self.company_id, currency)
            by_card[card] |= payment
        # Lock every card first (id order), then check and spend: two tills cannot overdraw.
        Posting._lock_rows(Card.browse([card.id for card in by_card]))
        for card, card_payments in by_card.items():
            amount = currency.round(sum(card_payments.mapped("amount")))
            Posting._post_gift_card(
                card,
                -amount,
                "redeem",
                self._loyalty_club_key(f"gift_redeem:{card.id}"),
                origin=self,
                branch=self.company_id,
                pos_config=config,
                reason=self.name,
            )
            card_payments.write({"loyalty_gift_card_id": card.id, "loyalty_gift_card_balance": card.balance})
        if given_back:
            self._loyalty_gift_card_refund_payments(given_back)

    def _loyalty_gift_card_refund_payments(self, payments):
        """A refund paid out with the 'Gift card' method credits the cards that paid the refunded
        order (at most what they paid, less earlier refunds), or a new card for the rest."""
        currency = self.currency_id
        Posting = self.env["loyalty.club.posting"]
        refunded = self.lines.refunded_orderline_id.order_id
        to_give = currency.round(-sum(payments.mapped("amount")))
        for original in refunded.payment_ids.filtered("loyalty_gift_card_id"):
            if not currency.compare_amounts(to_give, 0) > 0:
                break
            card = original.loyalty_gift_card_id
            redeemed = -sum(
                self.env["loyalty.club.gift.card.entry"]
                .sudo()
                .search(
                    [
                        ("gift_card_id", "=", card.id),
                        ("origin_model", "=", "pos.order"),
                        ("origin_id", "=", original.pos_order_id.id),
                        ("kind", "=", "redeem"),
                    ]
                )
                .mapped("amount")
            )
            already = sum(
                self.env["loyalty.club.gift.card.entry"]
                .sudo()
                .search(
                    [
                        ("gift_card_id", "=", card.id),
                        ("kind", "=", "refund"),
                        ("reversed_entry_id.origin_id", "=", original.pos_order_id.id),
                        ("reversed_entry_id.origin_model", "=", "pos.order"),
                    ]
                )
                .mapped("amount")
            )
            room = currency.round(redeemed - already)
            amount = min(room, to_give)
            if currency.compare_amounts(amount, 0) <= 0:
                continue
            redeem_entry = self.env["loyalty.club.gift.card.entry"].search(
                [("posting_key", "=", original.pos_order_id._loyalty_club_key(f"gift_redeem:{card.id}"))], limit=1
            )
            card = card.sudo()
            if card.state not in ("active", "used") or (
                card.date_expiry and card.date_expiry < fields.Date.context_today(self)
            ):
                continue  # an expired or blocked card gets nothing back: a new card takes it
            Posting._post_gift_card(
                card,
                amount,
                "refund",
                self._loyalty_club_key(f"gift_refund:{card.id}"),
                origin=self,
                branch=self.company_id,
                pos_config=self.config_id,
                reversed_entry=redeem_entry,
                reason=self.name,
            )
            payments[:1].write({"loyalty_gift_card_id": card.id, "loyalty_gift_card_balance": card.balance})
            to_give = currency.round(to_give - amount)
        if currency.compare_amounts(to_give, 0) > 0:
            key = self._loyalty_club_key("gift_refund_new")
            card = self._loyalty_gift_card_new_card(key)
            Posting._post_gift_card(
                card,
                to_give,
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
                    "loyalty_gift_card_balance": card.balance,
                    "loyalty_gift_card_new_code": card.code_display,
                }
            )

    def _loyalty_gift_card_new_card(self, posting_key):
        """A new gift card of the shop's club in the order's currency for ``posting_key`` (no PIN
        yet: the service desk gives it one with *New PIN*); the card of that key if it was posted."""
        existing = self.env["loyalty.club.gift.card.entry"].sudo().search([("posting_key", "=", posting_key)], limit=1)
        if existing:
            return existing.gift_card_id
        club = self.company_id._loyalty_club_get()
        if not club:
            raise UserError(self.env._("This shop's company has no customer club: it cannot issue gift cards."))
        return (
            self.env["loyalty.club.gift.card"]
            .sudo()
            ._issue(club, currency=self.currency_id, partner=self.partner_id or None, with_pin=False)[0]
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
            amount = currency.round(line.price_subtotal_incl / units) if units else 0.0
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
                    if card.currency_id != currency:
                        raise UserError(self.env._("Gift card %s holds another currency.", card._masked()))
                else:
                    card = self._loyalty_gift_card_new_card(key)
                Posting._post_gift_card(
                    card,
                    amount,
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
