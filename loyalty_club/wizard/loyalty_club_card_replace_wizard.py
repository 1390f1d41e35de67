from odoo import fields, models
from odoo.exceptions import UserError


class LoyaltyClubCardReplaceWizard(models.TransientModel):
    """Issue a new card for a lost or damaged one and move its balance."""

    _name = "loyalty.club.card.replace.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _loyalty_create_only_fields = frozenset({"card_id"})
    _description = "Replace Club Card"

    card_id = fields.Many2one("loyalty.club.card", "Card to replace", required=True, ondelete="cascade")
    partner_id = fields.Many2one(related="card_id.partner_id")
    balance = fields.Integer(related="card_id.balance")
    new_number = fields.Char("New card number", help="Number of a pre-printed card; leave empty to generate one.")

    def action_replace(self):
        """Create the new card, move balance and tier, mark the old card lost. Returns the new card."""
        self.ensure_one()
        old = self.card_id
        old.check_access("write")  # a card of the user's companies only
        if old.state not in ("active", "blocked", "lost"):
            raise UserError(self.env._("Card %s cannot be replaced in its state.", old.number))
        if old.replaced_by_id:
            raise UserError(
                self.env._(
                    "Card %(old)s was already replaced by %(new)s.", old=old.number, new=old.replaced_by_id.number
                )
            )
        values = {"partner_id": old.partner_id.id, "club_id": old.club_id.id}
        if self.new_number:
            values["number"] = self.new_number
        new = self.env["loyalty.club.card"].create(values)
        new.sudo().write({"replaces_id": old.id})
        if old.tier_id and new.tier_id != old.tier_id:
            new._change_tier(old.tier_id, "replacement", self.env._("Replaces card %s", old.number))
        self.env["loyalty.club.posting"]._transfer_balance(old, new, origin=self)
        old.sudo().write({"state": "lost", "replaced_by_id": new.id})
        old.message_post(body=self.env._("Replaced by card %s.", new.number))
        return {
            "type": "ir.actions.act_window",
            "res_model": "loyalty.club.card",
            "res_id": new.id,
            "view_mode": "form",
        }
