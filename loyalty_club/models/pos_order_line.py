from odoo import api, fields, models


class PosOrderLine(models.Model):
    _name = "pos.order.line"
    _inherit = ["pos.order.line", "loyalty.club.protected.mixin"]
    _loyalty_protected_fields = frozenset(
        {
            "loyalty_points",
            "loyalty_points_reversed",
            "loyalty_member_discount",
            "loyalty_discount_window_id",
            "loyalty_window_discount_amount",
            "loyalty_gift_card_ids",
            "loyalty_gift_card_codes",
        }
    )
    # the till sends back what it loaded: dropped, never written (the server computes them)
    _loyalty_protected_drop = True

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

    loyalty_member_discount = fields.Float(
        "Member discount (%)",
        digits="Discount",
        readonly=True,
        copy=False,
        help="Part of the line's discount the member got from their tier and discount windows.",
    )
    loyalty_discount_window_id = fields.Many2one(
        "loyalty.club.discount.window",
        "Discount window",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Discount window that gave this line its member discount.",
    )
    loyalty_discount_window_name = fields.Char(related="loyalty_discount_window_id.name", string="Discount window name")
    loyalty_window_discount_amount = fields.Monetary(
        "Window discount",
        currency_field="currency_id",
        readonly=True,
        copy=False,
        help="What the discount window saved the member on this line, taxes included.",
    )

    loyalty_gift_card_ids = fields.Many2many(
        "loyalty.club.gift.card", string="Gift cards loaded", readonly=True, copy=False
    )
    loyalty_gift_card_codes = fields.Char(
        "Gift card codes", readonly=True, copy=False, help="Codes of the gift cards this line loaded, for the receipt."
    )

    @api.model
    def _load_pos_data_fields(self, config_id):
        # Receipts (also reprinted from the ticket screen) name the window the server granted.
        return [
            *super()._load_pos_data_fields(config_id),
            "loyalty_member_discount",
            "loyalty_discount_window_name",
            "loyalty_gift_card_codes",
        ]

    def _loyalty_club_gross(self):
        """Undiscounted amount of the line, taxes included (what member discounts apply to),
        computed from the unit price rather than from the subtotals the till sent."""
        self.ensure_one()
        order = self.order_id
        taxes = self.tax_ids_after_fiscal_position
        if not taxes:
            return order.currency_id.round(self.price_unit * self.qty)
        return taxes.compute_all(self.price_unit, order.currency_id, self.qty, self.product_id, order.partner_id)[
            "total_included"
        ]

    def _loyalty_club_server_totals(self):
        """``(untaxed, taxed)`` totals of the line as the server computes them from its unit
        price, quantity, discount and taxes (what Odoo's own ``_compute_amount_line_all`` does,
        without computing taxes for a line that has none)."""
        self.ensure_one()
        if not self.tax_ids:
            total = self.order_id.currency_id.round(self.price_unit * (1 - (self.discount or 0.0) / 100.0) * self.qty)
            return total, total
        totals = self._compute_amount_line_all()
        return totals["price_subtotal"], totals["price_subtotal_incl"]

    def _loyalty_club_base(self, club):
        """Amount of this line that earns points in ``club``, by the one earning rule of every
        channel (:meth:`loyalty.club._earning_base`: from the unit price, quantity, discount and
        taxes, never the totals the till sent; negative lines lower it). Refund lines (they
        reverse instead) and tips earn nothing."""
        self.ensure_one()
        order = self.order_id
        if self.refunded_orderline_id or (
            order.config_id.tip_product_id and self.product_id == order.config_id.tip_product_id
        ):
            return 0.0
        return club._earning_base(
            self.product_id,
            self.price_unit,
            self.qty,
            self.discount,
            self.tax_ids_after_fiscal_position,
            order.currency_id,
            order.partner_id,
        )
