from datetime import datetime, time, timedelta
from decimal import Decimal

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

    @api.model
    def _add_booked_as_of(self, date, rows):
        """Reconcile the rows of :meth:`_liability_as_of` with the general ledger at the end of
        ``date``: for a club that books its points (points) or has a gift card account (gift
        cards), set ``booked``, ``expected`` (what the account should hold), ``account_balance``
        (credit balance of the liability account, posted entries of the branch up to ``date``)
        and ``difference``. Rows of clubs that book nothing get ``booked = False``."""
        Batch = self.env["loyalty.club.accounting.batch"].sudo()
        clubs = self.env["loyalty.club"].sudo().with_context(active_test=False)
        for row in rows:
            row["booked"] = False
            club = clubs.search([("company_id", "=", row["company_id"])], order="active desc, id", limit=1)
            currency = self.env["res.currency"].browse(row["currency_id"])
            if row["source"] == "points" and club.points_liability_account_id and club.points_accounting_start:
                batch = Batch.search(
                    [("club_id", "=", club.id), ("branch_id", "=", row["branch_id"]), ("date", "<=", date)],
                    order="date desc, id desc",
                    limit=1,
                )
                value = Decimal(repr(batch.point_value if batch else club.points_accounting_value))
                breakage = Decimal(repr(batch.breakage if batch else club.points_breakage))
                unit = value * (100 - breakage) / 100
                expected = Batch._round(currency, Decimal(row["points"]) * unit)
                account = club.points_liability_account_id
            elif row["source"] == "gift_card" and club.gift_card_account_id:
                expected, account = row["value"], club.gift_card_account_id
            else:
                continue
            balance = self._account_credit_balance(account, row["branch_id"], date, currency)
            row.update(
                booked=True, expected=expected, account_balance=balance, difference=currency.round(balance - expected)
            )
        return rows

    @api.model
    def _account_credit_balance(self, account, branch_id, date, currency):
        """Credit balance of ``account`` in the branch's posted entries dated up to ``date``, in
        ``currency`` (the company's, or the foreign currency of the entries' lines)."""
        self.env.flush_all()
        company_currency = self.env["res.company"].browse(branch_id).currency_id
        amount = SQL("balance") if currency == company_currency else SQL("amount_currency")
        self.env.cr.execute(
            SQL(
                """SELECT -COALESCE(SUM(%s), 0) FROM account_move_line
                    WHERE account_id = %s AND company_id = %s AND parent_state = 'posted' AND date <= %s
                      AND (%s OR currency_id = %s)""",
                amount,
                account.id,
                branch_id,
                date,
                currency == company_currency,
                currency.id,
            )
        )
        return currency.round(float(self.env.cr.fetchone()[0]))
