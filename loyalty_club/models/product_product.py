from odoo import api, models


class ProductProduct(models.Model):
    _inherit = "product.product"

    @api.model
    def _load_pos_data_fields(self, config_id):
        # The till estimates the points of an order, so it must know what earns nothing.
        return [*super()._load_pos_data_fields(config_id), "loyalty_club_no_earn", "loyalty_gift_card"]
