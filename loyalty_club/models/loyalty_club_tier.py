from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_amount, formatLang


class LoyaltyClubTier(models.Model):
    """A membership level reached by qualifying over the club's evaluation window."""

    _name = "loyalty.club.tier"
    _inherit = ["loyalty.club.protected.mixin", "pos.load.mixin"]
    _description = "Club Tier"
    _order = "club_id, threshold, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    color = fields.Integer()
    active = fields.Boolean(default=True)
    club_id = fields.Many2one("loyalty.club", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="club_id.company_id", store=True, index=True)
    threshold = fields.Float(
        "Qualifies from",
        digits=(16, 2),
        required=True,
        default=0.0,
        help="Minimum value of the club's qualification metric (points, spend, purchases "
        "or weighted score) over the evaluation window.",
    )
    # the form shows the threshold in whole units unless the club qualifies by money or a weighted mix
    club_tier_metric = fields.Selection(related="club_id.tier_metric", string="Club qualifies by")
    # the list of every club's tiers says each threshold in its club's unit ("1,500 points", "$2,000.00")
    threshold_display = fields.Char("Qualification threshold", compute="_compute_threshold_display")
    earn_multiplier = fields.Float("Earning multiplier", digits=(6, 2), default=1.0, required=True)
    discount_percent = fields.Float("Automatic discount (%)", digits=(5, 2), default=0.0)
    card_count = fields.Integer(compute="_compute_card_count")

    _sql_constraints = [
        ("threshold_unique", "unique(club_id, threshold)", "Two tiers of a club cannot share a threshold."),
        ("threshold_positive", "CHECK(threshold >= 0)", "The threshold cannot be negative."),
        ("multiplier_positive", "CHECK(earn_multiplier > 0)", "The earning multiplier must be positive."),
        (
            "discount_range",
            "CHECK(discount_percent >= 0 AND discount_percent <= 100)",
            "The discount must be between 0 and 100 %.",
        ),
    ]

    @api.constrains("earn_multiplier")
    def _check_multiplier(self):
        for tier in self:
            if tier.earn_multiplier > 100:
                raise ValidationError(self.env._("An earning multiplier above 100 is surely a mistake."))

    @api.depends("threshold", "club_id.tier_metric", "club_id.currency_id")
    @api.depends_context("lang")
    def _compute_threshold_display(self):
        for tier in self:
            metric, club = tier.club_id.tier_metric, tier.club_id
            if metric == "points":
                tier.threshold_display = self.env._("%s points", club._format_points(tier.threshold))
            elif metric == "purchases":
                tier.threshold_display = self.env._("%s purchases", club._format_points(tier.threshold))
            elif metric == "amount":
                tier.threshold_display = format_amount(self.env, tier.threshold, club.currency_id)
            else:
                tier.threshold_display = formatLang(self.env, tier.threshold, digits=2)

    def _compute_card_count(self):
        counts = dict(
            self.env["loyalty.club.card"]._read_group([("tier_id", "in", self.ids)], ["tier_id"], ["__count"])
        )
        for tier in self:
            tier.card_count = counts.get(tier, 0)

    def _next_tier(self):
        """The tier right above this one in its club (empty recordset at the top)."""
        self.ensure_one()
        return self.search(
            [("club_id", "=", self.club_id.id), ("threshold", ">", self.threshold)],
            order="threshold",
            limit=1,
        )

    @api.model
    def _load_pos_data_domain(self, data):
        return [("club_id", "in", [club["id"] for club in data["loyalty.club"]["data"]])]

    @api.model
    def _load_pos_data_fields(self, config_id):
        return ["id", "name", "club_id", "earn_multiplier", "discount_percent", "threshold", "sequence"]
