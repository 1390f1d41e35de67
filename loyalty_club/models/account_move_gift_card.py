from odoo import models
from odoo.exceptions import UserError


class AccountMove(models.Model):
    _inherit = "account.move"

    def action_loyalty_pay_with_gift_card(self):
        """Open the wizard paying this invoice with a gift card."""
        self.ensure_one()
        if self.move_type != "out_invoice" or self.state != "posted":
            raise UserError(self.env._("Only posted customer invoices can be paid with a gift card."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Pay with gift card"),
            "res_model": "loyalty.club.gift.card.payment.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_id": self.id},
        }
