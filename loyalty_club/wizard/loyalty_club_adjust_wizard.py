from odoo import fields, models
from odoo.exceptions import AccessError, ValidationError

from ..tools import posting_keys


class LoyaltyClubAdjustWizard(models.TransientModel):
    """Manual correction of a card's points by a club manager, with a reason."""

    _name = "loyalty.club.adjust.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _loyalty_create_only_fields = frozenset({"card_id"})
    _description = "Adjust Club Points"

    card_id = fields.Many2one("loyalty.club.card", required=True, ondelete="cascade")
    balance = fields.Integer(related="card_id.balance", string="Current balance")
    delta = fields.Integer("Points to add (negative to remove)", required=True)
    reason = fields.Char(required=True)
    new_balance = fields.Integer(compute="_compute_new_balance")

    def _compute_new_balance(self):
        for wizard in self:
            wizard.new_balance = wizard.card_id.balance + wizard.delta

    def action_apply(self):
        """Post the adjustment through the posting service."""
        self.ensure_one()
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise AccessError(self.env._("Only club managers can adjust points."))
        # a card of the user's companies only (the posting service works in sudo)
        self.card_id.check_access("write")
        if not self.delta:
            raise ValidationError(self.env._("Enter a number of points other than zero."))
        if not (self.reason or "").strip():
            raise ValidationError(self.env._("A reason is required for a manual adjustment."))
        self.env["loyalty.club.posting"]._post(
            self.card_id,
            self.delta,
            "adjust",
            posting_keys.record(self, "adjust"),
            origin=self,
            reason=self.reason.strip(),
        )
        return {"type": "ir.actions.act_window_close"}
