from odoo import fields, models


class ResPartner(models.Model):
    """A contact that is a coalition partner of a club (a business where members spend points)."""

    _inherit = "res.partner"

    loyalty_club_partner_count = fields.Integer(
        "Club partnerships",
        compute="_compute_loyalty_club_partner_count",
        groups="loyalty_club.group_loyalty_club_user",
    )

    def _compute_loyalty_club_partner_count(self):
        counts = dict(
            self.env["loyalty.club.coalition.partner"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.loyalty_club_partner_count = counts.get(partner, 0)

    def action_view_loyalty_club_partner(self):
        """Open the club partnership(s) of this business."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_coalition_partner_action")
        partnerships = self.env["loyalty.club.coalition.partner"].search([("partner_id", "=", self.id)])
        if len(partnerships) == 1:
            action.update({"view_mode": "form", "views": [(False, "form")], "res_id": partnerships.id})
        else:
            action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
