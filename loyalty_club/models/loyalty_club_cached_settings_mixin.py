from odoo import api, models


class LoyaltyClubCachedSettingsMixin(models.AbstractModel):
    """Club settings that orders and tills read through registry caches (``tools.ormcache``):
    creating, changing or deleting one clears those caches, in every worker."""

    _name = "loyalty.club.cached.settings.mixin"
    _description = "Club Settings Read Through Caches"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
