from odoo import fields, models, tools
from odoo.tools import SQL

from ..models.loyalty_club_entry import ENTRY_KINDS

# Measures of one ledger entry ``e`` (``r`` = the entry it reverses), shared with the KPI report.
# Issued: earned and bonus points. Reversed: earned points taken back (cancellations, credit notes,
# refunds). Redeemed: points spent, net of the points given back when a paid order is refunded or
# cancelled (a reversal of a redemption). Expired: points lost at expiry. All positive numbers.
ENTRY_MEASURES = SQL(
    """
    CASE WHEN e.kind IN ('earn', 'bonus') THEN e.points ELSE 0 END AS points_issued,
    CASE WHEN e.kind = 'reverse' AND r.kind IS DISTINCT FROM 'redeem' THEN -e.points ELSE 0 END
        AS points_reversed,
    CASE WHEN e.kind = 'redeem' OR (e.kind = 'reverse' AND r.kind = 'redeem') THEN -e.points ELSE 0 END
        AS points_redeemed,
    CASE WHEN e.kind = 'expire' THEN -e.points ELSE 0 END AS points_expired
    """
)


class LoyaltyClubActivityReport(models.Model):
    """Points activity: one row per ledger entry with its points split into issued, reversed,
    redeemed (net of returns), expired and adjusted, for pivots per month, branch, tier and kind."""

    _name = "loyalty.club.activity.report"
    _description = "Club Points Activity Report"
    _auto = False
    _order = "date desc"

    date = fields.Datetime(readonly=True)
    club_id = fields.Many2one("loyalty.club", readonly=True)
    company_id = fields.Many2one("res.company", "Club company", readonly=True)
    branch_id = fields.Many2one("res.company", readonly=True)
    pos_config_id = fields.Many2one("pos.config", "Point of Sale", readonly=True)
    card_id = fields.Many2one("loyalty.club.card", readonly=True)
    partner_id = fields.Many2one("res.partner", "Member", readonly=True)
    tier_id = fields.Many2one("loyalty.club.tier", readonly=True, help="The member's tier today.")
    kind = fields.Selection(ENTRY_KINDS, readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    points = fields.Integer("Net points", readonly=True)
    points_issued = fields.Integer("Points issued", readonly=True)
    points_reversed = fields.Integer("Points reversed", readonly=True)
    points_redeemed = fields.Integer("Points redeemed", readonly=True, help="Net of points given back on refunds.")
    points_expired = fields.Integer("Points expired", readonly=True)
    points_adjusted = fields.Integer("Points adjusted", readonly=True)
    points_opening = fields.Integer(
        "Opening balances",
        readonly=True,
        help="Balances members brought from another system (import, migration): part of the net points "
        "and the liability, but not points issued by the club.",
    )
    value = fields.Monetary("Net value", readonly=True, help="Net points at the club's value of a point.")
    redeemed_value = fields.Monetary("Reward cost", readonly=True, help="Points redeemed at the value of a point.")
    amount = fields.Monetary("Qualifying spend", readonly=True)
    purchase_count = fields.Integer("Purchases", readonly=True)

    def _query(self):
        return SQL(
            """
            SELECT e.id AS id,
                   e.date AS date,
                   e.club_id AS club_id,
                   e.company_id AS company_id,
                   COALESCE(e.branch_id, e.company_id) AS branch_id,
                   e.pos_config_id AS pos_config_id,
                   e.card_id AS card_id,
                   e.partner_id AS partner_id,
                   c.tier_id AS tier_id,
                   e.kind AS kind,
                   rc.currency_id AS currency_id,
                   e.points AS points,
                   %s,
                   CASE WHEN e.kind = 'adjust' THEN e.points ELSE 0 END AS points_adjusted,
                   CASE WHEN e.kind = 'opening' THEN e.points ELSE 0 END AS points_opening,
                   e.points * cl.point_value AS value,
                   CASE WHEN e.kind = 'redeem' OR (e.kind = 'reverse' AND r.kind = 'redeem')
                        THEN -e.points * cl.point_value ELSE 0 END AS redeemed_value,
                   e.amount AS amount,
                   e.purchase_count AS purchase_count
              FROM loyalty_club_entry e
              JOIN loyalty_club cl ON cl.id = e.club_id
              JOIN loyalty_club_card c ON c.id = e.card_id
              JOIN res_company rc ON rc.id = e.company_id
         LEFT JOIN loyalty_club_entry r ON r.id = e.reversed_entry_id
            """,
            ENTRY_MEASURES,
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query()))
