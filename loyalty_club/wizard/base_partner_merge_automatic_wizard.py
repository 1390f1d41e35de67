from odoo import api, models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    @api.model
    def _update_foreign_keys(self, src_partners, dst_partner):
        """Move the club's cards, ledger and the rest to the surviving contact first, through the
        club's own path (the ledger refuses the generic rewrite of its member column)."""
        self.env["loyalty.club.posting"].sudo()._merge_partners(src_partners, dst_partner)
        return super()._update_foreign_keys(src_partners, dst_partner)

    @api.model
    def _update_values(self, src_partners, dst_partner):
        """A merged contact's profile, completed with the merged contacts' phone, e-mail or
        birthday, earns no profile bonus (the member earned it once already, or never did)."""
        return super()._update_values(src_partners, dst_partner.with_context(loyalty_club_partner_merge=True))
