from odoo import fields, models
from odoo.exceptions import ValidationError


class LoyaltyClubPinWizard(models.TransientModel):
    """Staff sets or resets a member's PIN (typed by the member).

    The PIN fields are not stored: their inverse hashes the PIN onto the card when the
    wizard is saved, so the clear PIN never reaches the database.
    """

    _name = "loyalty.club.pin.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _loyalty_create_only_fields = frozenset({"card_id"})
    _description = "Set Club Card PIN"

    card_id = fields.Many2one("loyalty.club.card", required=True, ondelete="cascade")
    pin_length = fields.Integer(related="card_id.club_id.pin_length")
    pin = fields.Char("New PIN", compute="_compute_pin", inverse="_inverse_pin")
    pin_confirm = fields.Char("Repeat the PIN", compute="_compute_pin", inverse="_inverse_pin")
    pin_done = fields.Boolean(readonly=True)

    def _compute_pin(self):
        for wizard in self:
            wizard.pin = False
            wizard.pin_confirm = False

    def _inverse_pin(self):
        for wizard in self:
            if not wizard.pin and not wizard.pin_confirm:
                continue
            if wizard.pin != wizard.pin_confirm:
                raise ValidationError(self.env._("The two PINs differ."))
            wizard.card_id._set_pin(wizard.pin)
            wizard.sudo().pin_done = True

    def action_set_pin(self):
        """Close the wizard once the PIN was stored (it is stored when the wizard is saved)."""
        self.ensure_one()
        if not self.pin_done:
            raise ValidationError(self.env._("Type the new PIN twice."))
        return {"type": "ir.actions.act_window_close"}
