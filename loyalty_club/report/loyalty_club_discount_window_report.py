from odoo import fields, models, tools
from odoo.tools import SQL


class LoyaltyClubDiscountWindowReport(models.Model):
    """Discount granted by each discount window, per branch: one row per discounted line of a
    confirmed sale order or a paid POS order, amounts in the branch's currency, taxes included.

    Other channels add their rows through ``_subqueries`` (UNION ALL) with the same columns;
    ids must not collide: sale lines use even ids (2 x line id), so the POS can use odd ones.
    """

    _name = "loyalty.club.discount.window.report"
    _description = "Club Discount Window Report"
    _auto = False
    _order = "date desc"

    window_id = fields.Many2one("loyalty.club.discount.window", "Discount window", readonly=True)
    company_id = fields.Many2one("res.company", "Club company", readonly=True)
    branch_id = fields.Many2one("res.company", readonly=True)
    channel = fields.Selection([("sale", "Sales"), ("pos", "Point of Sale")], readonly=True)
    date = fields.Datetime(readonly=True)
    partner_id = fields.Many2one("res.partner", "Customer", readonly=True)
    team_id = fields.Many2one("crm.team", "Sales team", readonly=True)
    user_id = fields.Many2one("res.users", "Salesperson", readonly=True)
    sale_order_id = fields.Many2one("sale.order", "Sale order", readonly=True)
    pos_order_id = fields.Many2one("pos.order", "POS order", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    discount_amount = fields.Monetary("Discount granted", readonly=True)

    def _subquery_sale(self):
        return SQL(
            """
            SELECT 2 * l.id AS id,
                   'sale' AS channel,
                   l.loyalty_discount_window_id AS window_id,
                   w.company_id AS company_id,
                   so.company_id AS branch_id,
                   so.date_order AS date,
                   so.partner_id AS partner_id,
                   so.team_id AS team_id,
                   so.user_id AS user_id,
                   so.id AS sale_order_id,
                   NULL::integer AS pos_order_id,
                   c.currency_id AS currency_id,
                   l.loyalty_window_discount_amount
                       / CASE COALESCE(so.currency_rate, 0) WHEN 0 THEN 1.0 ELSE so.currency_rate END
                       AS discount_amount
              FROM sale_order_line l
              JOIN sale_order so ON so.id = l.order_id
              JOIN loyalty_club_discount_window w ON w.id = l.loyalty_discount_window_id
              JOIN res_company c ON c.id = so.company_id
             WHERE so.state = 'sale'
               AND l.loyalty_window_discount_amount != 0
            """
        )

    def _subquery_pos(self):
        return SQL(
            """
            SELECT 2 * l.id + 1 AS id,
                   'pos' AS channel,
                   l.loyalty_discount_window_id AS window_id,
                   w.company_id AS company_id,
                   po.company_id AS branch_id,
                   po.date_order AS date,
                   po.partner_id AS partner_id,
                   NULL::integer AS team_id,
                   po.user_id AS user_id,
                   NULL::integer AS sale_order_id,
                   po.id AS pos_order_id,
                   c.currency_id AS currency_id,
                   l.loyalty_window_discount_amount
                       / CASE COALESCE(po.currency_rate, 0) WHEN 0 THEN 1.0 ELSE po.currency_rate END
                       AS discount_amount
              FROM pos_order_line l
              JOIN pos_order po ON po.id = l.order_id
              JOIN loyalty_club_discount_window w ON w.id = l.loyalty_discount_window_id
              JOIN res_company c ON c.id = po.company_id
             WHERE po.state IN ('paid', 'done', 'invoiced')
               AND l.loyalty_window_discount_amount != 0
            """
        )

    def _subqueries(self):
        """SELECTs whose rows make the report (same columns, disjoint ids)."""
        return [self._subquery_sale(), self._subquery_pos()]

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                SQL(" UNION ALL ").join(self._subqueries()),
            )
        )
