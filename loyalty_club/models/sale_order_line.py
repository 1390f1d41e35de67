from odoo import api, fields, models


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

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

    loyalty_tier_discount_line = fields.Boolean(readonly=True, copy=False)

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
        """Amount of this line that earns points in ``club`` (0 when the line earns nothing).

        A separate tier discount line lowers the base, so a sale earns the same points whichever
        way the club shows the tier discount.
        """
        self.ensure_one()
        if self.loyalty_tier_discount_line:
            return self.price_total if club.earn_on_tax_included else self.price_subtotal
        if not self._loyalty_club_eligible(club):
            return 0.0
        return self.price_total if club.earn_on_tax_included else self.price_subtotal

    @api.depends("product_id", "product_uom", "product_uom_qty", "order_id.loyalty_card_id.tier_id")
    def _compute_discount(self):
        """Add the member's tier discount (club mode 'line') on eligible lines."""
        result = super()._compute_discount()
        for line in self:
            tier_discount, club = line.order_id._loyalty_tier_discount()
            if (
                tier_discount
                and club.tier_discount_mode == "line"
                and line.discount < tier_discount
                and line._loyalty_club_eligible(club)
            ):
                line.discount = tier_discount
        return result
