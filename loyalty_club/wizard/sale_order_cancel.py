from odoo import api, fields, models


class SaleOrderCancel(models.TransientModel):
    _name = "sale.order.cancel"
    _inherit = ["sale.order.cancel", "loyalty.club.protected.mixin"]

    loyalty_points_kept_alert = fields.Boolean(
        "Club points stay with the invoice",
        compute="_compute_loyalty_points_kept_alert",
        help="The order has a posted invoice: cancelling it does not take back its club points nor the "
        "money of the gift cards it sold.",
    )

    @api.depends("order_id")
    def _compute_loyalty_points_kept_alert(self):
        for wizard in self:
            order = wizard.order_id.sudo()
            wizard.loyalty_points_kept_alert = bool(
                order
                and order._loyalty_posted_invoices()
                and (order.loyalty_confirmations or order.order_line.filtered("loyalty_is_gift_card"))
            )
