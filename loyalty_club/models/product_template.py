from odoo import api, fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    loyalty_club_no_earn = fields.Boolean(
        "Earns no club points",
        help="Selling this product earns no customer club points (gift cards, deposits, services...).",
    )
    loyalty_gift_card = fields.Boolean(
        "Gift card",
        help="Selling this product activates or loads a gift card with the line's amount. It earns no club "
        "points and its income account should be the gift card liability account.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("loyalty_gift_card"):
                vals["loyalty_club_no_earn"] = True
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("loyalty_gift_card"):
            vals["loyalty_club_no_earn"] = True
        return super().write(vals)
