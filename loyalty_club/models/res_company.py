from odoo import models


class ResCompany(models.Model):
    _inherit = "res.company"

    def _loyalty_club_get(self):
        """The active club of this company, shared by all branches of its root company."""
        self.ensure_one()
        return self.env["loyalty.club"].sudo().search([("company_id", "=", self.root_id.id)], limit=1).sudo(self.env.su)
