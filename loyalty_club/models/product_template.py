from odoo import fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    loyalty_club_no_earn = fields.Boolean(
        "Earns no club points",
        help="Selling this product earns no customer club points (gift cards, deposits, services...).",
    )
