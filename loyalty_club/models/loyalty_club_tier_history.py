from odoo import fields, models


class LoyaltyClubTierHistory(models.Model):
    """One change of a card's tier, with why it happened."""

    _name = "loyalty.club.tier.history"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Tier Change"
    _order = "date desc, id desc"

    card_id = fields.Many2one("loyalty.club.card", required=True, index=True, ondelete="cascade", readonly=True)
    partner_id = fields.Many2one(related="card_id.partner_id", store=True)
    company_id = fields.Many2one(related="card_id.company_id", store=True, index=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, readonly=True)
    old_tier_id = fields.Many2one("loyalty.club.tier", "From tier", readonly=True)
    new_tier_id = fields.Many2one("loyalty.club.tier", "To tier", required=True, readonly=True)
    reason = fields.Selection(
        [
            ("initial", "Card issued"),
            ("upgrade", "Upgrade"),
            ("downgrade", "Downgrade"),
            ("replacement", "Card replacement"),
            ("import", "Import"),
            ("merge", "Contact merge"),
        ],
        required=True,
        readonly=True,
    )
    note = fields.Char(readonly=True)
    user_id = fields.Many2one("res.users", "By", default=lambda self: self.env.user, readonly=True)
