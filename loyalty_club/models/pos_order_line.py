from odoo import fields, models


class PosOrderLine(models.Model):
    _inherit = "pos.order.line"

    loyalty_points = fields.Integer(
        "Club points earned",
        readonly=True,
        copy=False,
        help="Share of the order's earned points allocated to this line when the order was paid.",
    )
    loyalty_points_reversed = fields.Integer(
        "Club points reversed",
        readonly=True,
        copy=False,
        help="Part of this line's points taken back by refunds.",
    )

    def _loyalty_club_base(self, club):
        """Amount of this line that earns points in ``club``: sold (not refunded) lines of
        products that earn, without tips; 0 otherwise."""
        self.ensure_one()
        order = self.order_id
        if (
            self.qty <= 0
            or self.refunded_orderline_id
            or (order.config_id.tip_product_id and self.product_id == order.config_id.tip_product_id)
            or not club._product_earns(self.product_id)
        ):
            return 0.0
        amount = self.price_subtotal_incl if club.earn_on_tax_included else self.price_subtotal
        return max(amount, 0.0)
