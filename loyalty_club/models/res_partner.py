from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    loyalty_card_ids = fields.One2many("loyalty.club.card", "partner_id", "Club cards")
    loyalty_card_count = fields.Integer(
        "Club cards count", compute="_compute_loyalty_card_count", groups="loyalty_club.group_loyalty_club_user"
    )
    loyalty_balance = fields.Integer(
        "Club points", compute="_compute_loyalty_card_count", groups="loyalty_club.group_loyalty_club_user"
    )

    @api.depends("loyalty_card_ids.balance", "loyalty_card_ids.state")
    def _compute_loyalty_card_count(self):
        groups = self.env["loyalty.club.card"]._read_group(
            [("partner_id", "in", self.ids)], ["partner_id", "state"], ["__count", "balance:sum"]
        )
        counts, balances = {}, {}
        for partner, state, count, balance in groups:
            counts[partner] = counts.get(partner, 0) + count
            if state == "active":
                balances[partner] = balances.get(partner, 0) + balance
        for partner in self:
            partner.loyalty_card_count = counts.get(partner, 0)
            partner.loyalty_balance = balances.get(partner, 0)

    def action_view_loyalty_cards(self):
        """Open the club cards of this member."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_card_action")
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
