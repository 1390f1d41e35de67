from decimal import ROUND_HALF_UP, Decimal

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools import posting_keys


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "loyalty.club.protected.mixin"]
    _loyalty_protected_fields = frozenset({"loyalty_confirmations", "loyalty_shortfall", "commercial_partner_id"})

    loyalty_card_id = fields.Many2one(
        "loyalty.club.card",
        "Club card",
        compute="_compute_loyalty_card_id",
        store=True,
        precompute=True,
        readonly=False,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        domain="[('partner_id', 'in', [partner_id, commercial_partner_id]), ('state', '=', 'active')]",
        help="Card that earns the points of this order: the customer's active card by default.",
    )
    commercial_partner_id = fields.Many2one(related="partner_id.commercial_partner_id")
    loyalty_tier_id = fields.Many2one(related="loyalty_card_id.tier_id", groups="loyalty_club.group_loyalty_club_user")
    loyalty_balance = fields.Integer(related="loyalty_card_id.balance", groups="loyalty_club.group_loyalty_club_user")
    loyalty_points_estimate = fields.Integer(
        "Points to earn",
        compute="_compute_loyalty_points_estimate",
        groups="loyalty_club.group_loyalty_club_user",
        help="Points the order earns when confirmed (the server recomputes them at confirmation).",
    )
    loyalty_points_net = fields.Integer(
        "Points earned",
        compute="_compute_loyalty_points_net",
        groups="loyalty_club.group_loyalty_club_user",
        help="Points this order earned, less what cancellations and credit notes took back.",
    )
    loyalty_confirmations = fields.Integer(
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="How many times the order was confirmed: keeps the postings of each confirmation apart.",
    )
    loyalty_points_reserved = fields.Integer(
        "Points used",
        compute="_compute_loyalty_points_reserved",
        groups="loyalty_club.group_loyalty_club_user",
        help="Points the reward lines of this order cost.",
    )
    loyalty_shortfall = fields.Integer(
        "Points not taken back",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="Points a reversal could not take back because the member had already spent them "
        "(club policy: reverse only what is left).",
    )

    loyalty_points_kept = fields.Boolean(
        "Club points kept at cancellation",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="The order was cancelled after it was invoiced: its points, the points it spent and the gift "
        "cards it sold follow its invoices and credit notes, and confirming it again books nothing new.",
    )

    loyalty_has_discount = fields.Boolean(
        "Has discounted lines",
        compute="_compute_loyalty_has_discount",
        help="A line of the order carries a discount (the member's tier or a discount window, among "
        "others): the order shows the discount column even to users who do not set discounts on lines, "
        "as its printed quotation does.",
    )
    loyalty_tier_discount_note = fields.Char(
        "Member discount",
        compute="_compute_loyalty_tier_discount_note",
        groups="loyalty_club.group_loyalty_club_user",
    )

    @api.depends("partner_id", "company_id")
    def _compute_loyalty_card_id(self):
        for order in self:
            if order.state not in ("draft", "sent"):
                continue
            if order.loyalty_card_id and order.loyalty_card_id.partner_id in (
                order.partner_id | order.partner_id.commercial_partner_id
            ):
                continue
            club = order.company_id._loyalty_club_get() if order.company_id else None
            order.loyalty_card_id = self.env["loyalty.club.card"]._active_card_of(club, order.partner_id)

    @api.constrains("loyalty_card_id", "partner_id", "order_line")
    def _check_loyalty_card(self):
        """The order's card is a card of its customer, and reward lines are paid by the card whose
        PIN was checked for them (a card cannot be swapped under reward lines)."""
        for order in self.sudo():
            card = order.loyalty_card_id
            if card and card.partner_id.commercial_partner_id != order.partner_id.commercial_partner_id:
                raise ValidationError(self.env._("The club card of order %s must belong to its customer.", order.name))
            if order.state in ("draft", "sent") and any(
                line.loyalty_reward_points and line.loyalty_reward_card_id != card for line in order.order_line
            ):
                raise ValidationError(
                    self.env._(
                        "Order %s has reward lines paid with another club card: remove them before changing "
                        "the customer or the card.",
                        order.name,
                    )
                )

    @api.depends(
        "loyalty_card_id.tier_id.earn_multiplier",
        "loyalty_card_id.club_id.earn_on_points_paid",
        "order_line.price_subtotal",
        "order_line.price_total",
        "order_line.product_id",
        "order_line.discount",
        "order_line.loyalty_reward_id",
        "order_line.loyalty_reward_points",
        "order_line.loyalty_tier_discount_line",
    )
    def _compute_loyalty_points_estimate(self):
        """What confirming posts (:meth:`_loyalty_points_for_lines`, the server's one earning base):
        reward lines paid with points lower it, unless the club earns on the part paid with points."""
        for order in self:
            order.loyalty_points_estimate = order._loyalty_points_for_lines()[0] if order.loyalty_card_id else 0

    @api.depends("order_line.loyalty_reward_points")
    def _compute_loyalty_points_reserved(self):
        for order in self:
            order.loyalty_points_reserved = sum(order.order_line.mapped("loyalty_reward_points"))

    @api.depends("order_line.discount")
    def _compute_loyalty_has_discount(self):
        for order in self:
            order.loyalty_has_discount = any(order.order_line.mapped("discount"))

    @api.depends("loyalty_card_id.tier_id", "order_line.loyalty_discount_window_id")
    def _compute_loyalty_tier_discount_note(self):
        for order in self:
            percent, _club = order._loyalty_tier_discount()
            notes = []
            if percent:
                notes.append(
                    self.env._(
                        "%(tier)s members: %(percent)s %% off eligible lines",
                        tier=order.loyalty_card_id.tier_id.name,
                        percent=percent,
                    )
                )
            for window in order.order_line.sudo().loyalty_discount_window_id:
                notes.append(
                    self.env._("%(window)s: %(percent)s %% off", window=window.name, percent=window.discount_percent)
                )
            order.loyalty_tier_discount_note = "; ".join(notes) or False

    def _get_update_prices_lines(self):
        """Reward lines and member discount lines keep their price when prices are recomputed (the
        *Update prices* button, a pricelist change, the web shop's checkout): their price is what
        the points paid for or the member's discount, not a pricelist's. The member discount of
        the other lines is given again by :meth:`sale.order.line._compute_discount`."""
        return (
            super()
            ._get_update_prices_lines()
            .filtered(lambda line: not line.loyalty_reward_id and not line.loyalty_tier_discount_line)
        )

    def _get_copiable_order_lines(self):
        """Reward lines and member discount lines are not copied: a copy spends no points of its
        own until points are used on it, and gets the member discounts of its own day."""
        return (
            super()
            ._get_copiable_order_lines()
            .filtered(lambda line: not line.loyalty_tier_discount_line and not line.sudo().loyalty_reward_id)
        )

    @api.model_create_multi
    def create(self, vals_list):
        orders = super().create(vals_list)
        orders._loyalty_refresh_tier_discount_line()
        return orders

    def write(self, vals):
        result = super().write(vals)
        if not self.env.context.get("loyalty_club_refreshing") and {
            "order_line",
            "partner_id",
            "loyalty_card_id",
        } & set(vals):
            self._loyalty_refresh_tier_discount_line()
        return result

    def action_confirm(self):
        # the server re-validates the member discounts at the confirmation time, on the card
        # that carries the member's points now
        self._loyalty_follow_replaced_cards()
        self._loyalty_refresh_tier_discount_line(when=fields.Datetime.now())
        return super().action_confirm()

    def _loyalty_follow_replaced_cards(self):
        """Quotations of a lost card that was replaced since move to its active successor."""
        for order in self.sudo().filtered(lambda o: o.state in ("draft", "sent") and o.loyalty_card_id.replaced_by_id):
            old = order.loyalty_card_id
            successor = old._active_successor()
            if successor.state != "active":
                continue
            order.loyalty_card_id = successor
            order.message_post(
                body=self.env._(
                    "Club card %(old)s was replaced by %(new)s: the order uses the new card.",
                    old=old._masked_number(),
                    new=successor._masked_number(),
                )
            )

    def _compute_loyalty_points_net(self):
        for order in self:
            lines = order.order_line
            order.loyalty_points_net = sum(lines.mapped("loyalty_points")) - sum(
                lines.mapped("loyalty_points_reversed")
            )

    def _loyalty_points_for_lines(self):
        """``(points, spend in the club currency, {line: base}, {line: points})`` this order earns
        now with its card: each line's base computed once, the points split over the lines once."""
        self.ensure_one()
        card = self.loyalty_card_id
        club = card.club_id
        bases = {line: line._loyalty_club_base(club) for line in self.order_line}
        points, spend, allocation = club._points_for_bases(
            bases, self.currency_id, self.company_id, self.date_order, card.tier_id.earn_multiplier
        )
        return points, spend, bases, allocation

    def action_loyalty_use_points(self):
        """Open the wizard that spends the member's points on this quotation."""
        self.ensure_one()
        self._loyalty_follow_replaced_cards()
        if not self.loyalty_card_id:
            raise UserError(self.env._("The customer has no active club card."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Use points"),
            "res_model": "loyalty.club.redeem.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_order_id": self.id, "default_card_id": self.loyalty_card_id.id},
        }

    def _loyalty_add_reward(self, card, reward, available_points):
        """Add the reward lines of ``reward`` paid by ``card`` to this quotation, after the club's
        checks (reward open to the member's tier, minimum balance, ``available_points`` covering
        its cost, something to apply it to); nothing is written on refusal. The caller checked
        the order, the card and, where the club asks for it, the PIN."""
        self.ensure_one()
        club = card.club_id
        if reward not in reward._available_for(card):
            raise UserError(self.env._("The reward %s is not available to this member's tier.", reward.name))
        if card.balance < club.redeem_min_points:
            raise UserError(
                self.env._(
                    "Members can use points from %(minimum)s points on; this card has %(balance)s.",
                    minimum=club._format_points(club.redeem_min_points),
                    balance=club._format_points(card.balance),
                )
            )
        if available_points < reward.points_cost:
            raise UserError(
                self.env._(
                    "Not enough points: %(reward)s costs %(cost)s points, %(available)s are available "
                    "(balance less points reserved on open quotations and held at tills).",
                    reward=reward.name,
                    cost=club._format_points(reward.points_cost),
                    available=club._format_points(available_points),
                )
            )
        lines = self._loyalty_reward_line_values(reward)
        if not lines:
            raise UserError(self.env._("This order has nothing the reward could apply to."))
        lines[0]["loyalty_reward_points"] = reward.points_cost
        for values in lines:
            values["loyalty_reward_card_id"] = card.id
        self.sudo().write({"order_line": [Command.create(values) for values in lines]})

    def _loyalty_reward_line_values(self, reward):
        """Values of the order lines that give ``reward``: for discounts and credits, one line per
        tax combination of the eligible lines, so each line carries the taxes of what it discounts.
        A credit in the club's currency is converted to the order's at the order's date rate."""
        self.ensure_one()
        common = {"loyalty_reward_id": reward.id}
        if reward.reward_type == "product":
            return [
                {
                    **common,
                    "product_id": reward.product_id.id,
                    "product_uom_qty": 1.0,
                    "discount": 100.0,
                    "sequence": 9999,
                }
            ]
        # the lines that earn points and get member discounts: never gift cards or excluded categories
        totals_by_taxes = self._loyalty_eligible_totals_by_taxes(self.loyalty_card_id.sudo().club_id)
        order_total = sum(totals_by_taxes.values())
        if not order_total:
            return []
        if reward.reward_type == "discount":
            shares = {taxes: total * reward.discount_percent / 100.0 for taxes, total in totals_by_taxes.items()}
        else:
            # the credit is worth its amount in the club's currency, at the order's date rate
            club = self.loyalty_card_id.sudo().club_id
            value = club._from_club_currency(reward.credit_amount, self.currency_id, self.company_id, self.date_order)
            credit = min(value, order_total)
            shares = {taxes: credit * total / order_total for taxes, total in totals_by_taxes.items()}
        label = self.env._(
            "%(reward)s (%(points)s points)",
            reward=reward.name,
            points=self.env["loyalty.club"]._format_points(reward.points_cost),
        )
        return self._loyalty_discount_line_values(shares, label, common)

    # ------------------------------------------------------------------
    # Earning and reversal
    # ------------------------------------------------------------------
    def _action_confirm(self):
        self._loyalty_follow_replaced_cards()
        result = super()._action_confirm()
        orders = self.sudo()
        # an order cancelled after it was invoiced kept its points: confirming it again books nothing new
        kept = orders.filtered("loyalty_points_kept")
        kept.loyalty_points_kept = False
        fresh = orders - kept
        for order in fresh.filtered("loyalty_card_id"):
            order.loyalty_confirmations += 1
        fresh._loyalty_post_redemptions()
        fresh._loyalty_post_earnings()
        orders._loyalty_gift_card_load_sold_cards()
        return result

    def _loyalty_posted_invoices(self):
        """Posted customer invoices of the order."""
        self.ensure_one()
        return self.invoice_ids.filtered(lambda move: move.move_type == "out_invoice" and move.state == "posted")

    def _action_cancel(self):
        result = super()._action_cancel()
        for order in self.sudo():
            if order._loyalty_posted_invoices():
                # the invoice stands: points and gift cards follow it and its credit notes
                if order.loyalty_confirmations or order.order_line.filtered("loyalty_is_gift_card"):
                    order.loyalty_points_kept = True
                    order.message_post(body=order._loyalty_kept_message())
                continue
            for line in order.order_line.filtered("loyalty_is_gift_card"):
                line._loyalty_gift_card_unload(None, order)
            order._loyalty_return_redemption()
            order._loyalty_apply_reversal_targets(
                {line: line.loyalty_points for line in order.order_line},
                posting_keys.sale_order(order, order._loyalty_cycle(), "reverse"),
                origin=order,
            )
        return result

    def _loyalty_kept_message(self):
        """What cancelling an invoiced order does to its club points and gift cards."""
        return self.env._(
            "This order has a posted invoice: cancelling it does not take back the club points it earned "
            "or spent, nor the money of the gift cards it sold. They follow the invoice: issue a credit "
            "note to take them back."
        )

    def _loyalty_earn_entries(self):
        self.ensure_one()
        return self.env["loyalty.club.entry"].search(
            [("origin_model", "=", "sale.order"), ("origin_id", "=", self.id), ("kind", "=", "earn")], order="id"
        )

    def _loyalty_cycle(self):
        """Number of the current confirmation (keys each confirmation's postings apart)."""
        return self.loyalty_confirmations

    def _loyalty_open_reservations(self, card, exclude=None):
        """Points reserved on the card by reward lines of quotations (other than ``exclude``)."""
        domain = [
            ("order_id.loyalty_card_id", "=", card.id),
            ("order_id.state", "in", ("draft", "sent")),
            ("loyalty_reward_points", ">", 0),
        ]
        if exclude:
            domain.append(("order_id", "not in", exclude.ids))
        lines = self.env["sale.order.line"].sudo().search(domain)
        return sum(lines.mapped("loyalty_reward_points"))

    def _loyalty_post_redemptions(self):
        """Spend the points of the reward lines; refuses (and so blocks the confirmation) if the
        balance no longer covers them."""
        Posting = self.env["loyalty.club.posting"]
        for order in self:
            points = order.loyalty_points_reserved
            if not points:
                continue
            card = order.loyalty_card_id
            if not card:
                raise UserError(self.env._("Order %s uses club points but has no club card.", order.name))
            Posting._post(
                card,
                -points,
                "redeem",
                posting_keys.sale_order(order, order._loyalty_cycle(), "redeem"),
                origin=order,
                branch=order.company_id,
                reason=order.name,
            )

    def _loyalty_return_redemption(self):
        """Give back the points spent by the current confirmation (order cancelled), to the card
        that carries the member's points now (the active successor of a replaced card)."""
        self.ensure_one()
        cycle = self._loyalty_cycle()
        redeemed = self.env["loyalty.club.entry"].search(
            [("posting_key", "=", posting_keys.sale_order(self, cycle, "redeem"))], limit=1
        )
        if redeemed:
            self._loyalty_give_back_redemption(redeemed, posting_keys.sale_order(self, cycle, "unredeem"))

    def _loyalty_give_back_redemption(self, redeemed, posting_key):
        """Give back the points of this order's redemption entry ``redeemed``, once per
        ``posting_key``, to the card that carries the member's points now (the active successor of
        a replaced card)."""
        self.ensure_one()
        return self.env["loyalty.club.posting"]._post(
            redeemed.card_id._active_successor(),
            -redeemed.points,
            "reverse",
            posting_key,
            origin=self,
            branch=self.company_id,
            reversed_entry=redeemed,
            reason=self.name,
        )

    def _loyalty_post_earnings(self):
        """Post the points of confirmed orders once per confirmation, allocated to their lines;
        each line keeps its earning base (what credit notes are measured against)."""
        Posting = self.env["loyalty.club.posting"]
        for order in self.filtered(lambda o: o.loyalty_card_id.state == "active"):
            card = order.loyalty_card_id
            points, spend, bases, allocation = order._loyalty_points_for_lines()
            for line in order.order_line:
                line.sudo().write(
                    {
                        "loyalty_points": allocation.get(line, 0),
                        "loyalty_points_reversed": 0,
                        "loyalty_earning_base": bases.get(line, 0.0),
                    }
                )
            if not points:
                continue
            Posting._post(
                card,
                points,
                "earn",
                posting_keys.sale_order(order, order._loyalty_cycle(), "earn"),
                origin=order,
                branch=order.company_id,
                amount=spend,
                purchase_count=1,
                reason=order.name,
            )

    def _loyalty_reversed_spend(self, earned, reversed_points):
        """Qualifying spend to take back so that ``reversed_points`` of the ``earned`` entry's
        points have their share of its spend reversed in all (half up, like the points): the
        difference with what earlier reversals and restorations of the entry booked."""
        currency = earned.company_id.currency_id
        target = Decimal(repr(earned.amount)) * reversed_points / earned.points
        target = float(target.quantize(Decimal(repr(currency.rounding)), rounding=ROUND_HALF_UP))
        booked = -sum(
            self.env["loyalty.club.entry"].sudo().search([("reversed_entry_id", "=", earned.id)]).mapped("amount")
        )
        return currency.round(target - booked)

    def _loyalty_apply_reversal_targets(self, targets, posting_key, origin, restore_key=None):
        """Bring the points taken back from each line to ``targets[line]`` (the club's one reversal
        rule, :meth:`loyalty.club._points_to_reverse`, decides them): take back the increase, or
        give back the decrease (a credit note reset to draft or cancelled, ``restore_key``).

        Goes through the posting service on the card that carries the member's points now (the
        active successor of a replaced card), consuming the order's earned lot first and applying
        the club's negative-balance policy; restorations never give back more than was taken.
        The purchase counts for tiers follow whether the order is wholly taken back.
        """
        self.ensure_one()
        earned = self._loyalty_earn_entries()[-1:]
        if not earned:
            return self.env["loyalty.club.entry"]
        lines = self.order_line
        was_whole = all(line.loyalty_points_reversed >= line.loyalty_points for line in lines)
        delta = 0
        for line, wanted in targets.items():
            target = max(0, min(int(wanted), line.loyalty_points))
            if target != line.loyalty_points_reversed:
                delta += target - line.loyalty_points_reversed
                line.sudo().loyalty_points_reversed = target
        if not delta:
            return self.env["loyalty.club.entry"]
        is_whole = all(line.loyalty_points_reversed >= line.loyalty_points for line in lines)
        purchase_count = -1 if is_whole and not was_whole else (1 if was_whole and not is_whole else 0)
        reversed_points = sum(lines.mapped("loyalty_points_reversed"))
        common = {
            "origin": origin,
            "branch": self.company_id,
            "amount": -self._loyalty_reversed_spend(earned, reversed_points),
            "purchase_count": purchase_count,
            "reason": self.name,
        }
        Posting = self.env["loyalty.club.posting"]
        if delta < 0:
            entry, given = Posting._post_document_restoration(earned, -delta, restore_key, **common)
            forgiven = -delta - given
            if forgiven and self.loyalty_shortfall:
                # points the member never gave back (club policy) are not given back either
                self.sudo().loyalty_shortfall = max(0, self.loyalty_shortfall - forgiven)
            return entry
        entry, shortfall = Posting._post_document_reversal(earned, delta, posting_key, **common)
        if shortfall:
            self.sudo().loyalty_shortfall += shortfall
            self.message_post(
                body=self.env._(
                    "%(shortfall)s points could not be taken back from card %(card)s: the member "
                    "had already spent them.",
                    shortfall=self.env["loyalty.club"]._format_points(shortfall),
                    card=earned.card_id._active_successor().number,
                )
            )
        return entry
