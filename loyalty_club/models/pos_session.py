from odoo import api, models


class PosSession(models.Model):
    _inherit = "pos.session"

    @api.model
    def _load_pos_data_models(self, config_id):
        # Only the club's settings and tiers: cards and members are fetched on demand by RPC,
        # so opening a till costs the same with ten members or four million.
        return [*super()._load_pos_data_models(config_id), "loyalty.club", "loyalty.club.tier"]
