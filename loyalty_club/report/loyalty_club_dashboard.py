from datetime import datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models, tools
from odoo.tools import SQL
from odoo.tools.misc import formatLang


class LoyaltyClubDashboard(models.AbstractModel):
    """The club's key figures for a period and branches, with shortcuts to the charts.

    No record: the dashboard is a client action (``loyalty_club.dashboard``) that asks
    :meth:`get_dashboard_data` for its figures. Every figure comes from the report views through
    the ORM (set-based SQL, access rights and record rules apply): members, revenue and orders of
    members and non-members, repeat purchases, points issued and redeemed, reward cost against the
    members' revenue (the 5-10 % budget rule), the liability today of points and of gift cards.
    """

    _name = "loyalty.club.dashboard"
    _description = "Club Dashboard"

    @api.model
    def _default_date_from(self):
        return fields.Date.context_today(self) + relativedelta(months=-12, days=1)

    @api.model
    def _branch_domain(self, branches=None):
        branches = branches or self.env.companies
        return [("branch_id", "child_of", branches.ids)]

    @api.model
    def _period_domain(self, date_from, date_to):
        start = datetime.combine(fields.Date.to_date(date_from), time.min)
        end = datetime.combine(fields.Date.to_date(date_to) + timedelta(days=1), time.min)
        return [("date", ">=", start), ("date", "<", end)]

    @api.model
    def _dashboard_branches(self, branch_ids=None):
        """The companies or branches ``branch_ids`` the user may see (default: the selected companies)."""
        branches = self.env["res.company"].browse(branch_ids or []).exists()
        if not self.env.su:
            branches &= self.env.user.company_ids
        return branches or self.env.companies

    @api.model
    def _dashboard_period(self, date_from=None, date_to=None):
        """(from, to) dates of the period: default the last twelve months, today included."""
        date_to = fields.Date.to_date(date_to) or fields.Date.context_today(self)
        date_from = fields.Date.to_date(date_from) or self._default_date_from()
        return min(date_from, date_to), max(date_from, date_to)

    @api.model
    def _dashboard_currency(self, branches=None):
        return (branches or self.env.companies)[:1].currency_id or self.env.company.currency_id

    @api.model
    def _kpi_values(self, date_from, date_to, branches=None):
        """Key figures of the period (dates included, UTC) for ``branches`` (with their branches;
        default: the selected companies), as a dict; ratios in percent (0 when undefined); money in
        the currency of the first branch (liabilities in other currencies at today's rate)."""
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
        liability = self._liability_values(branches)
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
            **liability,
        }

    @api.model
    def _liability_values(self, branches):
        """Outstanding points and what the club owes today for them and for gift cards, apart, in
        the dashboard's currency (other currencies converted at today's rate)."""
        currency = self._dashboard_currency(branches)
        company = branches[:1] or self.env.company
        today = fields.Date.context_today(self)
        groups = self.env["loyalty.club.liability.report"]._read_group(
            self._branch_domain(branches), ["source", "currency_id"], ["points:sum", "value:sum"]
        )
        values = {"liability_points": 0, "liability_points_value": 0.0, "liability_gift_card_value": 0.0}
        for source, source_currency, points, value in groups:
            amount = value or 0.0
            if source_currency and source_currency != currency:
                amount = source_currency._convert(amount, currency, company, today)
            if source == "gift_card":
                values["liability_gift_card_value"] += amount
            else:
                values["liability_points"] += int(points or 0)
                values["liability_points_value"] += amount
        values["liability_points_value"] = currency.round(values["liability_points_value"])
        values["liability_gift_card_value"] = currency.round(values["liability_gift_card_value"])
        values["liability_total"] = currency.round(
            values["liability_points_value"] + values["liability_gift_card_value"]
        )
        return values

    @api.model
    def _kpi_layout(self):
        """The dashboard's sections: (title, [(key, label, kind, help)]); kind: count, money, percent."""
        return [
            (
                self.env._("Members"),
                [
                    ("member_count", self.env._("Members"), "count", ""),
                    (
                        "new_member_count",
                        self.env._("New members"),
                        "count",
                        self.env._("Members who joined in the period."),
                    ),
                    (
                        "active_member_count",
                        self.env._("Active members"),
                        "count",
                        self.env._("Members who bought in the period."),
                    ),
                    (
                        "repeat_purchase_rate",
                        self.env._("Repeat-purchase rate"),
                        "percent",
                        self.env._("Members with two orders or more in the period, among members with at least one."),
                    ),
                ],
            ),
            (
                self.env._("Sales"),
                [
                    ("revenue", self.env._("Revenue"), "money", ""),
                    ("member_revenue", self.env._("Members' revenue"), "money", ""),
                    ("member_revenue_share", self.env._("Members' share of revenue"), "percent", ""),
                    ("member_order_value", self.env._("Average order (members)"), "money", ""),
                    ("nonmember_order_value", self.env._("Average order (non-members)"), "money", ""),
                ],
            ),
            (
                self.env._("Points"),
                [
                    ("points_issued", self.env._("Points issued"), "count", self.env._("Net of reversed earnings.")),
                    (
                        "points_redeemed",
                        self.env._("Points redeemed"),
                        "count",
                        self.env._("Net of points given back."),
                    ),
                    (
                        "redemption_rate",
                        self.env._("Redemption rate"),
                        "percent",
                        self.env._("Points redeemed among points issued."),
                    ),
                ],
            ),
            (
                self.env._("Cost and liability"),
                [
                    ("reward_cost", self.env._("Reward cost"), "money", ""),
                    (
                        "reward_cost_percent",
                        self.env._("Reward cost (share of members' revenue)"),
                        "percent",
                        self.env._("The club's budget rule: 5 to 10 %."),
                    ),
                    (
                        "liability_points",
                        self.env._("Outstanding points"),
                        "count",
                        self.env._("Unspent points today."),
                    ),
                    (
                        "liability_points_value",
                        self.env._("Points liability today"),
                        "money",
                        self.env._("Outstanding points at the club's value of a point."),
                    ),
                    (
                        "liability_gift_card_value",
                        self.env._("Gift card liability today"),
                        "money",
                        self.env._("Balances of the gift cards."),
                    ),
                    (
                        "liability_total",
                        self.env._("Total liability today"),
                        "money",
                        self.env._("Points and gift cards."),
                    ),
                ],
            ),
        ]

    @api.model
    def _format_kpi(self, value, kind, currency):
        if kind == "money":
            return tools.format_amount(self.env, value, currency)
        if kind == "percent":
            return f"{formatLang(self.env, value, digits=1)} %"
        return formatLang(self.env, value, digits=0)

    @api.model
    def get_dashboard_data(self, date_from=None, date_to=None, branch_ids=None):
        """Everything the dashboard shows, as plain values: the period, the branches to choose from
        and those chosen, and the key figures by section, each with its value and its text.

        :param date_from: first day of the period (default: a year ago)
        :param date_to: last day of the period (default: today)
        :param branch_ids: ids of companies or branches (with their branches; default: the
            selected companies); companies the user may not see are left out
        """
        self.env["loyalty.club.kpi.report"].check_access("read")
        date_from, date_to = self._dashboard_period(date_from, date_to)
        branches = self._dashboard_branches(branch_ids)
        currency = self._dashboard_currency(branches)
        values = self._kpi_values(date_from, date_to, branches)
        chosen = self.env["res.company"].browse(branch_ids or []).exists() & branches
        return {
            "date_from": fields.Date.to_string(date_from),
            "date_to": fields.Date.to_string(date_to),
            "branches": [{"id": company.id, "name": company.name} for company in self.env.companies],
            "branch_ids": chosen.ids,
            "currency": currency.name,
            "sections": [
                {
                    "title": title,
                    "kpis": [
                        {
                            "key": key,
                            "label": label,
                            "help": help_text,
                            "kind": kind,
                            "value": values[key],
                            "display": self._format_kpi(values[key], kind, currency),
                        }
                        for key, label, kind, help_text in kpis
                    ],
                }
                for title, kpis in self._kpi_layout()
            ],
        }

    # ------------------------------------------------------------------
    # Shortcuts to the reports (the dashboard's buttons)
    # ------------------------------------------------------------------
    @api.model
    def _open_report(self, xmlid, domain):
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = domain
        return action

    @api.model
    def action_open_activity(self, date_from=None, date_to=None, branch_ids=None):
        """Points activity of the period and branches."""
        date_from, date_to = self._dashboard_period(date_from, date_to)
        branches = self._dashboard_branches(branch_ids)
        return self._open_report(
            "loyalty_club.loyalty_club_activity_report_action",
            self._branch_domain(branches) + self._period_domain(date_from, date_to),
        )

    @api.model
    def action_open_kpi(self, date_from=None, date_to=None, branch_ids=None):
        """Sales KPIs of the period and branches."""
        date_from, date_to = self._dashboard_period(date_from, date_to)
        branches = self._dashboard_branches(branch_ids)
        return self._open_report(
            "loyalty_club.loyalty_club_kpi_report_action",
            self._branch_domain(branches) + self._period_domain(date_from, date_to),
        )

    @api.model
    def action_open_members(self, date_from=None, date_to=None, branch_ids=None):
        """Members of the branches' clubs."""
        branches = self._dashboard_branches(branch_ids)
        return self._open_report(
            "loyalty_club.loyalty_club_member_report_action", [("company_id", "parent_of", branches.ids)]
        )

    @api.model
    def action_open_liability(self, date_from=None, date_to=None, branch_ids=None):
        """Outstanding liability of the branches today."""
        branches = self._dashboard_branches(branch_ids)
        return self._open_report("loyalty_club.loyalty_club_liability_report_action", self._branch_domain(branches))
