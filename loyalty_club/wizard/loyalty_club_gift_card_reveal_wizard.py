from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..models.loyalty_club_gift_card import REVEAL_MINUTES
from ..tools.gift_card_code import format_code


class LoyaltyClubGiftCardRevealWizard(models.TransientModel):
    """A manager sees the whole code of an issued gift card, for a reason logged on the card. The
    code is never stored here: it is computed for the manager who revealed it, for a few minutes."""

    _name = "loyalty.club.gift.card.reveal.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Reveal a Gift Card Code"
    _loyalty_create_only_fields = frozenset({"gift_card_id"})

    gift_card_id = fields.Many2one("loyalty.club.gift.card", "Gift card", required=True, ondelete="cascade")
    reason = fields.Char(required=True, help="Why the code is needed; logged on the card.")
    revealed = fields.Boolean(readonly=True)
    code = fields.Char("Whole code", compute="_compute_code")

    @api.depends("revealed")
    @api.depends_context("uid")
    def _compute_code(self):
        limit = fields.Datetime.now() - timedelta(minutes=REVEAL_MINUTES)
        for wizard in self:
            shown = (
                wizard.revealed
                and wizard.create_uid == self.env.user
                and wizard.create_date
                and wizard.create_date > limit
            )
            wizard.code = format_code(wizard.gift_card_id.sudo().code) if shown else False

    def action_reveal(self):
        """Log the reason on the card, then show the code (managers only)."""
        self.ensure_one()
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise AccessError(self.env._("Only club managers can reveal a gift card code."))
        reason = (self.reason or "").strip()
        if len(reason) < 3:
            raise ValidationError(self.env._("Give the reason for revealing the code."))
        card = self.gift_card_id
        card.check_access("read")
        card.sudo().message_post(
            body=self.env._(
                "Code revealed to %(user)s. Reason: %(reason)s",
                user=self.env.user.name,
                reason=reason,
            )
        )
        self.sudo().revealed = True
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Gift card code"),
        }

    def action_print(self):
        """Print the card with its whole code (while it is revealed)."""
        self.ensure_one()
        return self.env.ref("loyalty_club.action_report_gift_card").report_action(self.gift_card_id)
