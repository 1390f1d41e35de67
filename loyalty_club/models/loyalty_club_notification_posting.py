from odoo import api, models


class LoyaltyClubPosting(models.AbstractModel):
    """Messages that follow purchases: the points-earned message, cancelled when the purchase is."""

    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _after_purchase(self, card, entry):
        result = super()._after_purchase(card, entry)
        self.env["loyalty.club.notification"]._notify(card, "earned", f"earned:{entry.id}", entry, entry=entry)
        return result

    @api.model
    def _after_purchase_undone(self, earn_entry):
        result = super()._after_purchase_undone(earn_entry)
        self.env["loyalty.club.notification"]._cancel_for_entry(earn_entry)
        return result
