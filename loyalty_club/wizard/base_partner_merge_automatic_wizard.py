from odoo import api, models
from odoo.exceptions import UserError


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    @api.model
    def _update_foreign_keys(self, src_partners, dst_partner):
        """Move the club's cards, ledger and the rest to the surviving contact first, through the
        club's own path (the ledger refuses the generic rewrite of its member column)."""
        self._loyalty_check_coalition_partners(src_partners | dst_partner)
        self.env["loyalty.club.posting"].sudo()._merge_partners(src_partners, dst_partner)
        return super()._update_foreign_keys(src_partners, dst_partner)

    @api.model
    def _update_values(self, src_partners, dst_partner):
        """A merged contact's profile, completed with the merged contacts' phone, e-mail or
        birthday, earns no profile bonus (the member earned it once already, or never did)."""
        return super()._update_values(src_partners, dst_partner.with_context(loyalty_club_partner_merge=True))

    @api.model
    def _loyalty_check_coalition_partners(self, partners):
        """Refuse to merge businesses that are each a coalition partner of the same club: each has
        its own rate, transactions and settlements, which Odoo's generic rewrite cannot merge."""
        coalitions = (
            self.env["loyalty.club.coalition.partner"]
            .sudo()
            .with_context(active_test=False)
            .search([("partner_id", "in", partners.ids)])
        )
        for club in coalitions.club_id:
            both = coalitions.filtered(lambda coalition, club=club: coalition.club_id == club)
            if len(both) > 1:
                raise UserError(
                    self.env._(
                        "%(partners)s are both partners of the club %(club)s and cannot be merged: "
                        "each has its own rate, transactions and settlements with the club.",
                        partners=", ".join(both.partner_id.mapped("display_name")),
                        club=club.display_name,
                    )
                )
