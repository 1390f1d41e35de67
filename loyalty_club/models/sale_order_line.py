from odoo import fields, models


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

    def _loyalty_club_base(self, club):
        """Amount of this line that earns points in ``club`` (0 when the line earns nothing)."""
        self.ensure_one()
        if (
            self.display_type
            or self.is_downpayment
            or self.loyalty_reward_id
            or self._is_delivery()
            or self._is_not_sellable_line()
            or not club._product_earns(self.product_id)
        ):
            return 0.0
        return self.price_total if club.earn_on_tax_included else self.price_subtotal
