from odoo import api, models


class LoyaltyClubPosting(models.AbstractModel):
    """Bonus rules that follow purchases: given once per purchase, taken back when it is undone."""

    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _after_purchase(self, card, entry):
        result = super()._after_purchase(card, entry)
        self.env["loyalty.club.bonus.rule"]._on_purchase(card, entry)
        return result

    @api.model
    def _after_purchase_undone(self, earn_entry):
        result = super()._after_purchase_undone(earn_entry)
        self.env["loyalty.club.bonus.rule"]._on_purchase_undone(earn_entry)
        return result
