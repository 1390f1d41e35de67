from dateutil.relativedelta import relativedelta

from odoo import api, fields, models, tools
from odoo.tools import SQL


class LoyaltyClubMemberReport(models.Model):
    """Members: one row per member of a club (a member may hold several cards over time; the row
    shows the active or newest card), with the date they joined, tier, balance of all their cards,
    purchases and the date of their last purchase (for "active in the last N days")."""

    _name = "loyalty.club.member.report"
    _description = "Club Member Report"
    _auto = False
    _order = "date_joined desc"

    card_id = fields.Many2one("loyalty.club.card", readonly=True)
    club_id = fields.Many2one("loyalty.club", readonly=True)
    company_id = fields.Many2one("res.company", "Club company", readonly=True)
    partner_id = fields.Many2one("res.partner", "Member", readonly=True)
    tier_id = fields.Many2one("loyalty.club.tier", readonly=True)
    state = fields.Selection(
        [("active", "Active"), ("blocked", "Blocked"), ("lost", "Lost / replaced"), ("expired", "Expired")],
        "Card state",
        readonly=True,
    )
    date_joined = fields.Date("Joined on", readonly=True)
    last_purchase_date = fields.Datetime("Last purchase", readonly=True)
    balance = fields.Integer("Points balance", readonly=True)
    purchase_count = fields.Integer("Purchases", readonly=True)
    amount = fields.Monetary("Qualifying spend", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    member_count = fields.Integer("Members", readonly=True)

    def _query(self):
        return SQL(
            """
            WITH member_card AS (
                SELECT DISTINCT ON (c.club_id, c.partner_id)
                       c.id, c.club_id, c.company_id, c.partner_id, c.tier_id, c.state
                  FROM loyalty_club_card c
              ORDER BY c.club_id, c.partner_id, (c.state = 'active') DESC, c.id DESC
            ), cards AS (
                SELECT club_id, partner_id, MIN(date_issued) AS date_joined, SUM(balance) AS balance
                  FROM loyalty_club_card
              GROUP BY club_id, partner_id
            ), activity AS (
                SELECT club_id, partner_id,
                       MAX(date) FILTER (WHERE purchase_count > 0) AS last_purchase_date,
                       SUM(purchase_count) AS purchase_count,
                       SUM(amount) AS amount
                  FROM loyalty_club_entry
              GROUP BY club_id, partner_id
            )
            SELECT m.id AS id,
                   m.id AS card_id,
                   m.club_id AS club_id,
                   m.company_id AS company_id,
                   m.partner_id AS partner_id,
                   m.tier_id AS tier_id,
                   m.state AS state,
                   cards.date_joined AS date_joined,
                   a.last_purchase_date AS last_purchase_date,
                   cards.balance AS balance,
                   COALESCE(a.purchase_count, 0) AS purchase_count,
                   COALESCE(a.amount, 0) AS amount,
                   rc.currency_id AS currency_id,
                   1 AS member_count
              FROM member_card m
              JOIN cards ON cards.club_id = m.club_id AND cards.partner_id = m.partner_id
              JOIN res_company rc ON rc.id = m.company_id
         LEFT JOIN activity a ON a.club_id = m.club_id AND a.partner_id = m.partner_id
            """
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query()))

    @api.model
    def _active_member_count(self, days, domain=None):
        """Members (visible to the user) whose last purchase is less than ``days`` days old."""
        since = fields.Datetime.now() - relativedelta(days=days)
        return self.search_count([("last_purchase_date", ">=", since), *(domain or [])])
