from datetime import datetime, time, timedelta

from odoo import api, fields, models, tools
from odoo.tools import SQL


class LoyaltyClubLiabilityReport(models.Model):
    """Outstanding liability today: unspent points valued at the club's value of a point, per
    club company and branch (the branch where the points were earned or spent).

    The rows come from ``_subqueries`` (UNION ALL, same columns). The gift card module adds its
    balances with one more SELECT (``source = 'gift_card'``, odd ids; ledger rows use even ids)
    and a ``selection_add`` on ``source``; the view and :meth:`_liability_as_of` both pick it up.
    """

    _name = "loyalty.club.liability.report"
    _description = "Club Liability Report"
    _auto = False
    _order = "company_id, branch_id"

    source = fields.Selection([("points", "Club points"), ("gift_card", "Gift cards")], readonly=True)
    company_id = fields.Many2one("res.company", "Club company", readonly=True)
    branch_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    points = fields.Integer("Outstanding points", readonly=True)
    value = fields.Monetary("Liability", readonly=True)

    @api.model
    def _subquery_points(self, until=None):
        """Point balances per club company and branch; ``until``: only entries before this instant."""
        return SQL(
            """
            SELECT 2 * MIN(e.id) AS id,
                   'points' AS source,
                   e.company_id AS company_id,
                   COALESCE(e.branch_id, e.company_id) AS branch_id,
                   rc.currency_id AS currency_id,
                   SUM(e.points) AS points,
                   SUM(e.points) * cl.point_value AS value
              FROM loyalty_club_entry e
              JOIN loyalty_club cl ON cl.id = e.club_id
              JOIN res_company rc ON rc.id = e.company_id
             %s
          GROUP BY e.company_id, COALESCE(e.branch_id, e.company_id), rc.currency_id, cl.point_value
            """,
            SQL("WHERE e.date < %s", until) if until else SQL(),
        )

    @api.model
    def _subquery_gift_cards(self, until=None):
        """Gift card balances (what is still owed) per company, branch and card currency."""
        return SQL(
            """
            SELECT 2 * MIN(g.id) + 1 AS id,
                   'gift_card' AS source,
                   g.company_id AS company_id,
                   COALESCE(g.branch_id, g.company_id) AS branch_id,
                   g.currency_id AS currency_id,
                   0 AS points,
                   SUM(g.amount) AS value
              FROM loyalty_club_gift_card_entry g
             %s
          GROUP BY g.company_id, COALESCE(g.branch_id, g.company_id), g.currency_id
            """,
            SQL("WHERE g.date < %s", until) if until else SQL(),
        )

    @api.model
    def _subqueries(self, until=None):
        """SELECTs of the report (same columns: id, source, company_id, branch_id, currency_id,
        points, value), each limited to what was booked before ``until`` when it is given."""
        return [self._subquery_points(until), self._subquery_gift_cards(until)]

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                SQL(" UNION ALL ").join(self._subqueries()),
            )
        )

    @api.model
    def _liability_as_of(self, date, companies=None):
        """Liability at the end of ``date`` (a day, UTC): one set-based query over the ledger.

        :param companies: companies and branches to report (default: the selected companies);
            a company includes its branches; limited to the user's allowed companies
        :returns: list of dicts ``{source, company_id, branch_id, currency_id, points, value}``
            sorted by company, branch and source; ``value`` rounded to the currency
        """
        companies = companies if companies is not None else self.env.companies
        if not self.env.su:
            companies &= self.env.user.company_ids
        branches = self.env["res.company"].sudo().search([("id", "child_of", companies.ids)])
        until = datetime.combine(fields.Date.to_date(date) + timedelta(days=1), time.min)
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT source, company_id, branch_id, currency_id, SUM(points), SUM(value)
                  FROM (%s) rows
                 WHERE branch_id = ANY(%s)
              GROUP BY source, company_id, branch_id, currency_id
              ORDER BY company_id, branch_id, source
                """,
                SQL(" UNION ALL ").join(self._subqueries(until)),
                branches.ids,
            )
        )
        Currency = self.env["res.currency"]
        return [
            {
                "source": source,
                "company_id": company_id,
                "branch_id": branch_id,
                "currency_id": currency_id,
                "points": int(points or 0),
                "value": Currency.browse(currency_id).round(float(value or 0)),
            }
            for source, company_id, branch_id, currency_id, points, value in self.env.cr.fetchall()
        ]
