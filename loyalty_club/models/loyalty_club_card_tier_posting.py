from odoo import api, models


class LoyaltyClubPosting(models.AbstractModel):
    """Tiers that follow purchases: a referred member's purchase may lift the referrer's tier."""

    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _after_purchase(self, card, entry):
        result = super()._after_purchase(card, entry)
        self._upgrade_referrer(card)
        return result

    @api.model
    def _upgrade_referrer(self, card):
        """A purchase of a referred member may qualify the member who referred them for a higher
        tier at once (clubs that weigh referrals in the tier metric)."""
        club = card.club_id
        referrer = card.referred_by_card_id
        if not referrer or club.tier_metric != "weighted" or not club.tier_weight_referrals:
            return
        self.env["loyalty.club.card"].sudo().search(
            [("partner_id", "=", referrer.partner_id.id), ("club_id", "=", club.id), ("state", "=", "active")]
        )._upgrade_tier_if_qualified()
