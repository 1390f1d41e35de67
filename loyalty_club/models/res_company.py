from odoo import api, models, tools


class ResCompany(models.Model):
    _inherit = "res.company"

    def _loyalty_club_get(self):
        """The active club of this company, shared by all branches of its root company.

        Every card lookup, order and POS sync asks for it, so the club id is cached per root
        company; clubs clear the cache when one is created, moved, archived or deleted.
        """
        self.ensure_one()
        club_id = self._loyalty_club_id_of_root(self.root_id.id)
        return self.env["loyalty.club"].sudo().browse(club_id).sudo(self.env.su)

    @api.model
    @tools.ormcache("root_id")
    def _loyalty_club_id_of_root(self, root_id):
        club = (
            self.env["loyalty.club"]
            .sudo()
            .with_context(active_test=True)
            .search([("company_id", "=", root_id)], limit=1)
        )
        return club.id or False
