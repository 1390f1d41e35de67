from odoo import api, fields, models
from odoo.exceptions import ValidationError


class LoyaltyClubReward(models.Model):
    """What members can get for their points: a % discount, a fixed credit or a free product."""

    _name = "loyalty.club.reward"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Reward"
    _order = "club_id, sequence, points_cost, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    club_id = fields.Many2one(
        "loyalty.club",
        required=True,
        ondelete="cascade",
        index=True,
        default=lambda self: self.env.company.root_id._loyalty_club_get(),
    )
    company_id = fields.Many2one(related="club_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="club_id.currency_id")
    reward_type = fields.Selection(
        [
            ("discount", "Discount on the order (%)"),
            ("credit", "Fixed credit"),
            ("product", "Free product"),
        ],
        required=True,
        default="discount",
    )
    points_cost = fields.Integer("Points", required=True, help="Points the member spends for this reward.")
    discount_percent = fields.Float("Discount (%)", digits=(5, 2))
    credit_amount = fields.Monetary("Credit")
    product_id = fields.Many2one("product.product", "Free product", check_company=True)
    tier_ids = fields.Many2many(
        "loyalty.club.tier",
        string="Only for tiers",
        domain="[('club_id', '=', club_id)]",
        help="Leave empty to offer the reward to every member.",
    )

    _sql_constraints = [
        ("points_positive", "CHECK(points_cost > 0)", "A reward costs at least one point."),
        (
            "discount_range",
            "CHECK(discount_percent >= 0 AND discount_percent <= 100)",
            "The discount must be between 0 and 100 %.",
        ),
        ("credit_positive", "CHECK(credit_amount >= 0)", "The credit cannot be negative."),
    ]

    @api.constrains("reward_type", "discount_percent", "credit_amount", "product_id")
    def _check_reward_values(self):
        for reward in self:
            if reward.reward_type == "discount" and not reward.discount_percent:
                raise ValidationError(self.env._("A discount reward needs a percentage."))
            if reward.reward_type == "credit" and not reward.credit_amount:
                raise ValidationError(self.env._("A credit reward needs an amount."))
            if reward.reward_type == "product" and not reward.product_id:
                raise ValidationError(self.env._("A free product reward needs a product."))

    def _available_for(self, card):
        """Rewards of the card's club that its tier may use."""
        return self.filtered(
            lambda reward: reward.club_id == card.club_id and (not reward.tier_ids or card.tier_id in reward.tier_ids)
        )
