from datetime import datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL


class LoyaltyClubDashboard(models.TransientModel):
    """The club's key figures for a period and branches, with shortcuts to the charts.

    Every figure comes from the report views through the ORM (set-based SQL, record rules apply):
    members, revenue and orders of members and non-members, repeat purchases, points issued and
    redeemed, reward cost against the members' revenue (the 5-10 % budget rule), liability today.
    """

    _name = "loyalty.club.dashboard"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Dashboard"

    date_from = fields.Date("From", required=True, default=lambda self: self._default_date_from())
    date_to = fields.Date("To", required=True, default=fields.Date.context_today)
    branch_ids = fields.Many2many(
        "res.company",
        string="Branches",
        domain=lambda self: [("id", "in", self.env.user.company_ids.ids)],
        help="Companies or branches to include (with their branches); empty = all selected companies.",
    )
    currency_id = fields.Many2one("res.currency", compute="_compute_kpis")
    member_count = fields.Integer("Members", compute="_compute_kpis")
    new_member_count = fields.Integer("New members", compute="_compute_kpis")
    active_member_count = fields.Integer(
        "Active members", compute="_compute_kpis", help="Members who bought in the period."
    )
    revenue = fields.Monetary(compute="_compute_kpis")
    member_revenue = fields.Monetary("Members' revenue", compute="_compute_kpis")
    member_revenue_share = fields.Float("Members' share of revenue (%)", compute="_compute_kpis")
    order_count = fields.Integer("Orders", compute="_compute_kpis")
    member_order_count = fields.Integer("Members' orders", compute="_compute_kpis")
    member_order_value = fields.Monetary("Average order (members)", compute="_compute_kpis")
    nonmember_order_value = fields.Monetary("Average order (non-members)", compute="_compute_kpis")
    repeat_purchase_rate = fields.Float(
        "Repeat-purchase rate (%)",
        compute="_compute_kpis",
        help="Members with two orders or more in the period, among members with at least one.",
    )
    points_issued = fields.Integer("Points issued", compute="_compute_kpis", help="Net of reversed earnings.")
    points_redeemed = fields.Integer("Points redeemed", compute="_compute_kpis", help="Net of points given back.")
    redemption_rate = fields.Float("Redemption rate (%)", compute="_compute_kpis")
    reward_cost = fields.Monetary("Reward cost", compute="_compute_kpis")
    reward_cost_percent = fields.Float(
        "Reward cost (% of members' revenue)", compute="_compute_kpis", help="The club's budget rule: 5 to 10 %."
    )
    liability_points = fields.Integer("Outstanding points", compute="_compute_kpis")
    liability_value = fields.Monetary("Liability today", compute="_compute_kpis")

    @api.model
    def _default_date_from(self):
        return fields.Date.context_today(self) + relativedelta(months=-12, days=1)

    def _branch_domain(self, branches=None):
        branches = branches or self.branch_ids or self.env.companies
        return [("branch_id", "child_of", branches.ids)]

    @api.model
    def _period_domain(self, date_from=None, date_to=None):
        start = datetime.combine(date_from or self.date_from, time.min)
        end = datetime.combine((date_to or self.date_to) + timedelta(days=1), time.min)
        return [("date", ">=", start), ("date", "<", end)]

    @api.model
    def _kpi_values(self, date_from, date_to, branches=None):
        """Key figures of the period (dates included, UTC) for ``branches`` (with their branches;
        default: the selected companies), as a dict; ratios in percent (0 when undefined)."""
        date_from, date_to = fields.Date.to_date(date_from), fields.Date.to_date(date_to)
        branches = branches or self.env.companies
        domain = self._branch_domain(branches) + self._period_domain(date_from, date_to)
        Kpi = self.env["loyalty.club.kpi.report"]
        measures = [
            "revenue:sum",
            "member_revenue:sum",
            "order_count:sum",
            "member_order_count:sum",
            "points_issued:sum",
            "points_reversed:sum",
            "points_redeemed:sum",
            "reward_cost:sum",
        ]
        sums = dict(zip(measures, Kpi._read_group(domain, [], measures)[0], strict=True))
        sums = {key.split(":")[0]: value or 0 for key, value in sums.items()}
        # members with at least one / two orders in the period: one aggregate over the view
        query = Kpi._search([*domain, ("is_member", "=", True), ("channel", "in", ("sale", "pos"))])
        self.env.cr.execute(
            SQL(
                """SELECT COUNT(*) FILTER (WHERE orders >= 1), COUNT(*) FILTER (WHERE orders >= 2)
                     FROM (SELECT partner_id, SUM(order_count) AS orders
                             FROM loyalty_club_kpi_report WHERE id IN %s GROUP BY partner_id) buyers""",
                query.subselect(),
            )
        )
        buyers, repeat_buyers = self.env.cr.fetchone()
        Member = self.env["loyalty.club.member.report"]
        member_domain = [("company_id", "parent_of", branches.ids)]
        joined = [("date_joined", ">=", date_from), ("date_joined", "<=", date_to)]
        liability = self.env["loyalty.club.liability.report"]._read_group(
            self._branch_domain(branches), [], ["points:sum", "value:sum"]
        )[0]
        non_member_orders = sums["order_count"] - sums["member_order_count"]
        issued = sums["points_issued"] - sums["points_reversed"]

        def ratio(numerator, denominator, percent=True):
            return (numerator / denominator * (100.0 if percent else 1.0)) if denominator else 0.0

        return {
            "member_count": Member.search_count([*member_domain, ("date_joined", "<=", date_to)]),
            "new_member_count": Member.search_count(member_domain + joined),
            "active_member_count": buyers,
            "revenue": sums["revenue"],
            "member_revenue": sums["member_revenue"],
            "member_revenue_share": ratio(sums["member_revenue"], sums["revenue"]),
            "order_count": sums["order_count"],
            "member_order_count": sums["member_order_count"],
            "member_order_value": ratio(sums["member_revenue"], sums["member_order_count"], percent=False),
            "nonmember_order_value": ratio(sums["revenue"] - sums["member_revenue"], non_member_orders, percent=False),
            "repeat_purchase_rate": ratio(repeat_buyers, buyers),
            "points_issued": issued,
            "points_redeemed": sums["points_redeemed"],
            "redemption_rate": ratio(sums["points_redeemed"], issued),
            "reward_cost": sums["reward_cost"],
            "reward_cost_percent": ratio(sums["reward_cost"], sums["member_revenue"]),
            "liability_points": liability[0] or 0,
            "liability_value": liability[1] or 0,
        }

    @api.depends("date_from", "date_to", "branch_ids")
    def _compute_kpis(self):
        for dashboard in self:
            companies = dashboard.branch_ids or self.env.companies
            dashboard.currency_id = companies[:1].currency_id or self.env.company.currency_id
            if not dashboard.date_from or not dashboard.date_to:
                dashboard.update(dict.fromkeys(self._kpi_fields(), 0))
                continue
            dashboard.update(self._kpi_values(dashboard.date_from, dashboard.date_to, dashboard.branch_ids))

    @api.model
    def _kpi_fields(self):
        return [
            name for name, field in self._fields.items() if field.compute == "_compute_kpis" and name != "currency_id"
        ]

    def _open_report(self, xmlid, domain):
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = domain
        return action

    def action_open_activity(self):
        self.ensure_one()
        return self._open_report(
            "loyalty_club.loyalty_club_activity_report_action", self._branch_domain() + self._period_domain()
        )

    def action_open_kpi(self):
        self.ensure_one()
        return self._open_report(
            "loyalty_club.loyalty_club_kpi_report_action", self._branch_domain() + self._period_domain()
        )

    def action_open_members(self):
        self.ensure_one()
        companies = self.branch_ids or self.env.companies
        return self._open_report(
            "loyalty_club.loyalty_club_member_report_action", [("company_id", "parent_of", companies.ids)]
        )

    def action_open_liability(self):
        self.ensure_one()
        return self._open_report("loyalty_club.loyalty_club_liability_report_action", self._branch_domain())
