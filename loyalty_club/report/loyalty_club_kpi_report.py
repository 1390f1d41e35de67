from odoo import fields, models, tools
from odoo.tools import SQL

from .loyalty_club_activity_report import ENTRY_MEASURES

ROOT_COMPANY = "split_part(c.parent_path, '/', 1)::integer"


class LoyaltyClubKpiReport(models.Model):
    """Sales KPIs of the club: revenue and orders of members and non-members, with the points
    issued and redeemed, per day, company and branch; amounts untaxed in the company currency.

    Rows (UNION ALL of ``_subqueries``, ids by residue modulo 4): confirmed sale orders (4 id),
    paid POS orders and POS refunds (4 id + 1), posted credit note lines of sale orders
    (4 id + 2, negative revenue) and ledger entries that issue or redeem points (4 id + 3).
    Ratios (share of revenue, repeat-purchase, redemption rate, reward cost) are quotients of
    these sums: see ``loyalty.club.dashboard._kpi_values``.
    """

    _name = "loyalty.club.kpi.report"
    _description = "Club Sales KPI Report"
    _auto = False
    _order = "date desc"

    date = fields.Datetime(readonly=True)
    channel = fields.Selection(
        [("sale", "Sales"), ("pos", "Point of Sale"), ("credit_note", "Credit notes"), ("points", "Club points")],
        readonly=True,
    )
    company_id = fields.Many2one("res.company", "Club company", readonly=True)
    branch_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", "Customer", readonly=True)
    card_id = fields.Many2one("loyalty.club.card", readonly=True)
    is_member = fields.Boolean("Member", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    revenue = fields.Monetary(readonly=True, help="Untaxed, net of refunds and credit notes.")
    member_revenue = fields.Monetary("Members' revenue", readonly=True)
    order_count = fields.Integer("Orders", readonly=True, help="Sale and POS orders (refunds not counted).")
    member_order_count = fields.Integer("Members' orders", readonly=True)
    order_value = fields.Monetary("Average order", readonly=True, aggregator="avg")
    member_order_value = fields.Monetary("Average order (members)", readonly=True, aggregator="avg")
    nonmember_order_value = fields.Monetary("Average order (non-members)", readonly=True, aggregator="avg")
    points_issued = fields.Integer("Points issued", readonly=True)
    points_reversed = fields.Integer("Points reversed", readonly=True)
    points_redeemed = fields.Integer("Points redeemed", readonly=True, help="Net of points given back on refunds.")
    reward_cost = fields.Monetary("Reward cost", readonly=True, help="Points redeemed at the value of a point.")

    def _order_columns(self, revenue, is_member, is_order):
        """Revenue and order columns from SQL expressions of one row."""
        return SQL(
            """
            %(revenue)s AS revenue,
            CASE WHEN %(member)s THEN %(revenue)s ELSE 0 END AS member_revenue,
            CASE WHEN %(order)s THEN 1 ELSE 0 END AS order_count,
            CASE WHEN %(order)s AND %(member)s THEN 1 ELSE 0 END AS member_order_count,
            CASE WHEN %(order)s THEN %(revenue)s END AS order_value,
            CASE WHEN %(order)s AND %(member)s THEN %(revenue)s END AS member_order_value,
            CASE WHEN %(order)s AND NOT %(member)s THEN %(revenue)s END AS nonmember_order_value,
            0 AS points_issued,
            0 AS points_reversed,
            0 AS points_redeemed,
            0 AS points_expired,
            0 AS reward_cost
            """,
            revenue=revenue,
            member=is_member,
            order=is_order,
        )

    def _subquery_sale(self):
        return SQL(
            """
            SELECT 4 * so.id AS id,
                   'sale' AS channel,
                   so.date_order AS date,
                   %(root)s AS company_id,
                   so.company_id AS branch_id,
                   so.partner_id AS partner_id,
                   so.loyalty_card_id AS card_id,
                   so.loyalty_card_id IS NOT NULL AS is_member,
                   c.currency_id AS currency_id,
                   %(columns)s
              FROM sale_order so
              JOIN res_company c ON c.id = so.company_id
             WHERE so.state = 'sale'
            """,
            root=SQL(ROOT_COMPANY),
            columns=self._order_columns(
                SQL("so.amount_untaxed / CASE COALESCE(so.currency_rate, 0) WHEN 0 THEN 1.0 ELSE so.currency_rate END"),
                SQL("so.loyalty_card_id IS NOT NULL"),
                SQL("TRUE"),
            ),
        )

    def _subquery_credit_note(self):
        return SQL(
            """
            SELECT 4 * aml.id + 2 AS id,
                   'credit_note' AS channel,
                   am.date::timestamp AS date,
                   %(root)s AS company_id,
                   am.company_id AS branch_id,
                   so.partner_id AS partner_id,
                   so.loyalty_card_id AS card_id,
                   so.loyalty_card_id IS NOT NULL AS is_member,
                   c.currency_id AS currency_id,
                   %(columns)s
              FROM account_move_line aml
              JOIN account_move am ON am.id = aml.move_id
              JOIN (SELECT rel.invoice_line_id, MIN(sol.order_id) AS order_id
                      FROM sale_order_line_invoice_rel rel
                      JOIN sale_order_line sol ON sol.id = rel.order_line_id
                  GROUP BY rel.invoice_line_id) link ON link.invoice_line_id = aml.id
              JOIN sale_order so ON so.id = link.order_id
              JOIN res_company c ON c.id = am.company_id
             WHERE am.move_type = 'out_refund'
               AND am.state = 'posted'
               AND so.state = 'sale'
            """,
            root=SQL(ROOT_COMPANY),
            columns=self._order_columns(SQL("-aml.balance"), SQL("so.loyalty_card_id IS NOT NULL"), SQL("FALSE")),
        )

    def _subquery_pos(self):
        return SQL(
            """
            SELECT 4 * po.id + 1 AS id,
                   'pos' AS channel,
                   po.date_order AS date,
                   %(root)s AS company_id,
                   po.company_id AS branch_id,
                   po.partner_id AS partner_id,
                   po.loyalty_card_id AS card_id,
                   po.loyalty_card_id IS NOT NULL AS is_member,
                   c.currency_id AS currency_id,
                   %(columns)s
              FROM pos_order po
              JOIN res_company c ON c.id = po.company_id
             WHERE po.state IN ('paid', 'done', 'invoiced')
            """,
            root=SQL(ROOT_COMPANY),
            columns=self._order_columns(
                SQL(
                    "(po.amount_total - po.amount_tax)"
                    " / CASE COALESCE(po.currency_rate, 0) WHEN 0 THEN 1.0 ELSE po.currency_rate END"
                ),
                SQL("po.loyalty_card_id IS NOT NULL"),
                SQL("po.amount_total >= 0"),
            ),
        )

    def _subquery_points(self):
        return SQL(
            """
            SELECT 4 * e.id + 3 AS id,
                   'points' AS channel,
                   e.date AS date,
                   e.company_id AS company_id,
                   COALESCE(e.branch_id, e.company_id) AS branch_id,
                   e.partner_id AS partner_id,
                   e.card_id AS card_id,
                   TRUE AS is_member,
                   rc.currency_id AS currency_id,
                   0 AS revenue,
                   0 AS member_revenue,
                   0 AS order_count,
                   0 AS member_order_count,
                   NULL::numeric AS order_value,
                   NULL::numeric AS member_order_value,
                   NULL::numeric AS nonmember_order_value,
                   %s,
                   CASE WHEN e.kind = 'redeem' OR (e.kind = 'reverse' AND r.kind = 'redeem')
                        THEN -e.points * cl.point_value ELSE 0 END AS reward_cost
              FROM loyalty_club_entry e
              JOIN loyalty_club cl ON cl.id = e.club_id
              JOIN res_company rc ON rc.id = e.company_id
         LEFT JOIN loyalty_club_entry r ON r.id = e.reversed_entry_id
             WHERE e.kind IN ('earn', 'bonus', 'redeem', 'reverse')
            """,
            ENTRY_MEASURES,
        )

    def _subqueries(self):
        """SELECTs whose rows make the report (same columns, ids disjoint modulo 4)."""
        return [self._subquery_sale(), self._subquery_pos(), self._subquery_credit_note(), self._subquery_points()]

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                SQL(" UNION ALL ").join(self._subqueries()),
            )
        )
