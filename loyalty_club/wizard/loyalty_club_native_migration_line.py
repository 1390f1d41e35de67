from odoo import fields, models


class LoyaltyClubNativeMigrationLine(models.TransientModel):
    """What happened to one card of Odoo's Loyalty app in a migration: moved, already moved
    by an earlier run, or skipped (and why)."""

    _name = "loyalty.club.native.migration.line"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Migrated Odoo Loyalty Card"
    _order = "id"

    wizard_id = fields.Many2one("loyalty.club.native.migration.wizard", required=True, index=True, ondelete="cascade")
    native_card_id = fields.Integer("Odoo card ID", readonly=True)
    native_code = fields.Char("Odoo card", readonly=True)
    native_program = fields.Char("Odoo program", readonly=True)
    program_type = fields.Selection(
        [("loyalty", "Loyalty card"), ("ewallet", "eWallet"), ("gift_card", "Gift card")], "Kind", readonly=True
    )
    partner_id = fields.Many2one("res.partner", "Customer", readonly=True)
    native_balance = fields.Float("Odoo balance", readonly=True, digits=(16, 2))
    card_id = fields.Many2one("loyalty.club.card", "Member card", readonly=True)
    gift_card_id = fields.Many2one("loyalty.club.gift.card", "Gift card", readonly=True)
    points = fields.Integer("Club points", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    amount = fields.Monetary("Gift card balance", readonly=True)
    result = fields.Selection(
        [("moved", "Moved"), ("already", "Already moved"), ("skipped", "Skipped")], required=True, readonly=True
    )
    reason = fields.Char(readonly=True)
