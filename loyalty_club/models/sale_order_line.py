from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

from ..tools import posting_keys


class SaleOrderLine(models.Model):
    _name = "sale.order.line"
    _inherit = ["sale.order.line", "loyalty.club.protected.mixin"]
    # What the club computed (points, rewards paid with points, member discounts, cards loaded):
    # only the server writes them (see loyalty.club.protected.mixin).
    _loyalty_protected_fields = frozenset(
        {
            "loyalty_gift_card_ids",
            "loyalty_points",
            "loyalty_points_reversed",
            "loyalty_reward_id",
            "loyalty_reward_points",
            "loyalty_reward_card_id",
            "loyalty_tier_discount_line",
            "loyalty_member_discount",
            "loyalty_discount_window_id",
            "loyalty_window_percent",
            "loyalty_window_discount_amount",
        }
    )

    loyalty_gift_card_code = fields.Char(
        "Gift card code",
        copy=False,
        help="Code of a pre-printed gift card to load; leave empty to issue new cards.",
    )
    loyalty_gift_card_ids = fields.Many2many(
        "loyalty.club.gift.card", string="Gift cards loaded", readonly=True, copy=False
    )
    loyalty_is_gift_card = fields.Boolean(related="product_id.loyalty_gift_card", string="Is a gift card")

    loyalty_points = fields.Integer(
        "Club points earned",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="Share of the order's earned points allocated to this line at confirmation.",
    )
    loyalty_points_reversed = fields.Integer(
        "Club points reversed",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="Part of this line's points taken back by credit notes or cancellation.",
    )
    loyalty_earning_base = fields.Monetary(
        "Club earning base",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="Amount of the line that earned points at confirmation, in the order's currency: credit "
        "notes take back the line's points in proportion to the part of it they credit.",
    )

    loyalty_reward_id = fields.Many2one(
        "loyalty.club.reward",
        "Club reward",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups="loyalty_club.group_loyalty_club_user",
    )
    loyalty_reward_points = fields.Integer(
        "Club points used",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="Points this reward line costs; reserved while the order is a quotation, spent when it is confirmed.",
    )
    loyalty_reward_card_id = fields.Many2one(
        "loyalty.club.card",
        "Club card of the reward",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="Card whose points pay this reward line (the card whose PIN was checked).",
    )

    loyalty_tier_discount_line = fields.Boolean(readonly=True, copy=False)
    loyalty_member_discount = fields.Float(
        "Member discount (%)",
        digits="Discount",
        readonly=True,
        copy=False,
        help="Discount the club put on this line (tier and discount window); a larger manual or "
        "pricelist discount is kept instead.",
    )
    loyalty_discount_window_id = fields.Many2one(
        "loyalty.club.discount.window",
        "Discount window",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups="loyalty_club.group_loyalty_club_user",
        help="Club discount window that gave (part of) this line's member discount.",
    )
    loyalty_window_percent = fields.Float(
        "Window discount (%)",
        digits="Discount",
        readonly=True,
        copy=False,
        help="Part of the line's member discount given by the discount window.",
    )
    loyalty_window_discount_amount = fields.Monetary(
        "Window discount",
        readonly=True,
        copy=False,
        help="What the discount window saves the customer on this line, taxes included.",
    )

    def _loyalty_club_eligible(self, club):
        """Whether this line earns points and gets member discounts in ``club``.

        Sections, notes, down payments, delivery, reward and discount lines, products that earn
        nothing and excluded categories are not eligible.
        """
        self.ensure_one()
        return not (
            self.display_type
            or self.is_downpayment
            or self.loyalty_reward_id
            or self.loyalty_tier_discount_line
            or self._is_delivery()
            or self._is_not_sellable_line()
            or not club._product_earns(self.product_id)
        )

    def _loyalty_club_base(self, club):
        """Amount of this line that earns points in ``club`` (0 when the line earns nothing), in
        the order's currency, through the club's one earning base (:meth:`_loyalty_club_base_of`)."""
        self.ensure_one()
        return self._loyalty_club_base_of(
            club, self.price_unit, self.product_uom_qty, self.discount, self.tax_id, self.order_id.currency_id
        )

    def _loyalty_club_base_of(self, club, price_unit, quantity, discount, taxes, currency):
        """Earning base in ``club`` of ``quantity`` of this line at ``price_unit`` less ``discount`` %
        with ``taxes``, in ``currency``: of the line itself (the order earns) or of a credit note
        line that credits it (the part of its points to take back), by the same rule.

        A separate member discount line lowers the base, so a sale earns the same points whichever
        way the club shows the tier discount. Reward lines paid with points lower it too, unless
        the club earns points on the part paid with points; then a free product earns its value.
        """
        self.ensure_one()
        partner = self.order_id.partner_id
        if self.display_type:
            return 0.0
        if self.loyalty_tier_discount_line:
            return club._earning_base(
                self.product_id, price_unit, quantity, discount, taxes, currency, partner, force=True
            )
        reward = self.sudo().loyalty_reward_id
        if reward:
            if reward.reward_type == "product":
                if not club.earn_on_points_paid:
                    return 0.0
                return club._earning_base(self.product_id, price_unit, quantity, 0.0, taxes, currency, partner)
            if club.earn_on_points_paid:
                return 0.0
            return club._earning_base(
                self.product_id, price_unit, quantity, discount, taxes, currency, partner, force=True
            )
        if not self._loyalty_club_eligible(club):
            return 0.0
        return club._earning_base(self.product_id, price_unit, quantity, discount, taxes, currency, partner)

    def copy_data(self, default=None):
        # A discount the club gave (tier, discount window) is the member's of that day: the copy
        # gets its pricelist discount and the member discount of its own day instead.
        vals_list = super().copy_data(default=default)
        digits = self.env["decimal.precision"].precision_get("Discount")
        for line, vals in zip(self, vals_list, strict=True):
            owned = line.loyalty_member_discount and not float_compare(
                line.discount, line.loyalty_member_discount, precision_digits=digits
            )
            if owned and "discount" in vals and "discount" not in (default or {}):
                del vals["discount"]
        return vals_list

    def _loyalty_gross_total(self):
        """Total of the line before any discount, taxes included."""
        self.ensure_one()
        return self.tax_id.compute_all(
            self.price_unit, self.currency_id, self.product_uom_qty, self.product_id, self.order_id.partner_id
        )["total_included"]

    def _loyalty_window_amount(self):
        """What the line's discount window saves the customer, taxes included."""
        self.ensure_one()
        if not self.loyalty_discount_window_id:
            return 0.0
        if self.loyalty_tier_discount_line:
            return -self.price_total
        return self.currency_id.round(self._loyalty_gross_total() * self.loyalty_window_percent / 100)

    @api.depends("product_id", "product_uom", "product_uom_qty", "order_id.loyalty_card_id.tier_id", "order_id.team_id")
    def _compute_discount(self):
        """Add the member discount (tier and discount windows, club mode 'line') on eligible lines."""
        result = super()._compute_discount()
        if self.env.context.get("loyalty_club_no_member_discount"):
            return result
        for order, lines in self.grouped("order_id").items():
            if not order:
                continue  # lines without an order yet (e.g. the combo configurator's new lines)
            discounts, club = order._loyalty_member_discounts(lines)
            if club.tier_discount_mode != "line":
                continue
            for line, values in discounts.items():
                if line.discount < values["percent"]:
                    line.discount = values["percent"]
        return result

    # ------------------------------------------------------------------
    # Gift cards sold on the line
    # ------------------------------------------------------------------
    def _loyalty_gift_card_load_key(self, unit):
        """Key of the load of ``unit`` (0-based) of this gift card line that is in force: the
        first load, or the reload after each cancellation that took the money back."""
        self.ensure_one()
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        key = posting_keys.sale_gift_load(self, unit)
        reload_count = 0
        while True:
            load = Entry.search([("posting_key", "=", key)], limit=1)
            if not load or not Entry.search_count([("reversed_entry_id", "=", load.id)], limit=1):
                return key, load
            reload_count += 1
            key = posting_keys.sale_gift_load(self, unit, reload_count)

    def _loyalty_gift_card_loads_in_force(self):
        """Load entries of the line's cards whose money has not been taken back, by unit."""
        self.ensure_one()
        if not self.loyalty_is_gift_card:
            return self.env["loyalty.club.gift.card.entry"]
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        loads = Entry.search(
            [("posting_key", "=like", posting_keys.sale_gift_load_like(self)), ("kind", "=", "load")], order="id"
        )
        reversed_loads = Entry.search([("reversed_entry_id", "in", loads.ids)]).reversed_entry_id
        return loads - reversed_loads

    def _loyalty_gift_card_unload(self, units, origin):
        """Take back the money loaded on ``units`` cards sold by this line (all when None), once
        per load, under each card's row lock. A card whose money was already spent cannot be
        taken back: the whole operation is refused.

        :returns: the adjustment entries posted
        """
        self.ensure_one()
        loads = self._loyalty_gift_card_loads_in_force()
        if units is not None:
            # unused cards first: a partly credited line takes back the cards still full
            unused = loads.filtered(lambda load: load.gift_card_id.balance >= load.amount)
            loads = (unused + (loads - unused))[: max(units, 0)]
        Posting = self.env["loyalty.club.posting"]
        entries = self.env["loyalty.club.gift.card.entry"].sudo()
        for load in loads:
            card = load.gift_card_id
            Posting._lock_rows(card)
            card.invalidate_recordset(["balance"])
            if card.currency_id.compare_amounts(card.balance, load.amount) < 0:
                raise UserError(
                    self.env._(
                        "Gift card %(card)s sold by %(order)s was already used (balance %(balance)s of "
                        "%(loaded)s): its sale cannot be cancelled or credited. Block the card instead.",
                        card=card._masked(),
                        order=self.order_id.name,
                        balance=card.balance,
                        loaded=load.amount,
                    )
                )
            entries |= Posting._post_gift_card(
                card,
                -load.amount,
                "adjust",
                posting_keys.unload_of(load),
                origin=origin,
                branch=load.branch_id,
                reason=self.env._("Sale cancelled or credited: %s", origin.display_name),
                reversed_entry=load,
            )
        return entries

    def _loyalty_gift_card_reload(self, units, origin):
        """Load again up to ``units`` cards of this line whose money ``origin`` took back (a credit
        note reset to draft or cancelled): the same cards, the same amounts, once per load (the
        key of the unit's next load).

        :returns: the load entries posted
        """
        self.ensure_one()
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        Posting = self.env["loyalty.club.posting"]
        unloads = Entry.search(
            [
                ("origin_model", "=", origin._name),
                ("origin_id", "=", origin.id),
                ("kind", "=", "adjust"),
                ("reversed_entry_id.posting_key", "=like", posting_keys.sale_gift_load_like(self)),
            ],
            order="id desc",
        )
        entries = Entry.browse()
        for unload in unloads:
            if len(entries) >= units:
                break
            load = unload.reversed_entry_id
            unit = posting_keys.sale_gift_load_unit(load.posting_key)
            key, existing = self._loyalty_gift_card_load_key(unit)
            if existing:
                continue
            entries |= Posting._post_gift_card(
                load.gift_card_id,
                load.amount,
                "load",
                key,
                origin=origin,
                branch=load.branch_id,
                reason=self.env._("Credit note undone: %s", origin.display_name),
            )
        return entries
