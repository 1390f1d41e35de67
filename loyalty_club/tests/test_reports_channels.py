from datetime import date

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from .common_pos import PosClubCase
from .common_reports import model_counts, sums
from .test_sale import SaleClubCase


@tagged("post_install", "-at_install", "loyalty_club_reports")
class TestReportsSales(SaleClubCase):
    """Sales KPIs from confirmed orders of members and non-members, a credit note and a redemption."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.point_value = 1.0
        cls.member2 = cls.env["res.partner"].create({"name": "Second Member"})
        cls.card2 = cls.env["loyalty.club.card"].create({"partner_id": cls.member2.id, "club_id": cls.club.id})
        cls.walk_in = cls.env["res.partner"].create({"name": "Not A Member"})

    def setUp(self):
        super().setUp()
        company = self.env.company
        self.first = self._order([(self.product, 5)])
        self.second = self._order([(self.product, 2)])
        self.third = self._order([(self.product, 2)], partner=self.member2)
        self.non_member = self._order([(self.product, 8)], partner=self.walk_in)
        cancelled = self._order([(self.product, 1)], partner=self.walk_in)
        (self.first | self.second | self.third | self.non_member | cancelled).action_confirm()
        cancelled._action_cancel()
        invoice = self.second._create_invoices()
        invoice.action_post()
        self._credit(invoice, 1)
        self.Posting._post(self.card, -40, "redeem", "reports:redeem", branch=company, origin=self.first)
        self.env.flush_all()
        self.Kpi = self.env["loyalty.club.kpi.report"].with_context(allowed_company_ids=[company.id])

    def test_kpi_sums_per_member_and_channel(self):
        self.assertEqual(self.non_member.loyalty_card_id.id, False)
        self.assertEqual(
            sums(self.Kpi, [], ["is_member"], ["revenue", "order_count"]),
            {True: (800.0, 3), False: (800.0, 1)},  # 500 + 200 - 100 credited + 200; 800
        )
        self.assertEqual(
            sums(self.Kpi, [], ["channel"], ["revenue", "points_issued", "points_reversed", "points_redeemed"]),
            {
                "sale": (1700.0, 0, 0, 0),
                "credit_note": (-100.0, 0, 0, 0),
                "points": (0.0, 90, 10, 40),
            },
        )
        [[member_avg, non_member_avg, cost]] = self.Kpi._read_group(
            [], [], ["member_order_value:avg", "nonmember_order_value:avg", "reward_cost:sum"]
        )
        self.assertAlmostEqual(member_avg, 300.0)  # (500 + 200 + 200) / 3 orders, before credit notes
        self.assertAlmostEqual(non_member_avg, 800.0)
        self.assertEqual(cost, 40.0)

    def test_dashboard_ratios(self):
        today = date.today()
        values = (
            self.env["loyalty.club.dashboard"]
            .with_context(allowed_company_ids=[self.env.company.id])
            ._kpi_values(today, today)
        )
        self.assertEqual((values["revenue"], values["member_revenue"]), (1600.0, 800.0))
        self.assertAlmostEqual(values["member_revenue_share"], 50.0)
        self.assertEqual((values["order_count"], values["member_order_count"]), (4, 3))
        self.assertAlmostEqual(values["member_order_value"], 800.0 / 3)
        self.assertAlmostEqual(values["nonmember_order_value"], 800.0)
        self.assertEqual(values["active_member_count"], 2)
        self.assertAlmostEqual(values["repeat_purchase_rate"], 50.0)  # 1 of the 2 buying members came back
        self.assertEqual((values["points_issued"], values["points_redeemed"]), (80, 40))
        self.assertAlmostEqual(values["redemption_rate"], 50.0)
        self.assertEqual(values["reward_cost"], 40.0)
        self.assertAlmostEqual(values["reward_cost_percent"], 5.0)  # within the 5-10 % budget
        self.assertEqual(values["liability_points"], self.card.balance + self.card2.balance)

    def test_kpi_company_isolation(self):
        company = self.env.company
        other = self.setup_other_company(name="KPI Other Chain")["company"]
        order = (
            self.env["sale.order"]
            .with_company(other)
            .create({"partner_id": self.walk_in.id, "order_line": [Command.create({"product_id": self.product.id})]})
        )
        order.action_confirm()
        self.env.flush_all()
        mine_user = new_test_user(
            self.env,
            "kpi_mine",
            groups="base.group_user,loyalty_club.group_loyalty_club_manager",
            company_id=company.id,
            company_ids=[company.id],
        )
        their_user = new_test_user(
            self.env,
            "kpi_theirs",
            groups="base.group_user,loyalty_club.group_loyalty_club_manager",
            company_id=other.id,
            company_ids=[other.id],
        )
        mine = self.env["loyalty.club.kpi.report"].with_user(mine_user).search([])
        self.assertNotIn(order.id * 4, mine.ids)
        self.assertEqual(set(mine.mapped("branch_id")), {company})
        theirs = self.env["loyalty.club.kpi.report"].with_user(their_user).search([])
        self.assertEqual(theirs.ids, [order.id * 4])
        values = self.env["loyalty.club.dashboard"].with_user(their_user)._kpi_values(date.today(), date.today())
        self.assertEqual((values["order_count"], values["member_order_count"], values["points_issued"]), (1, 0, 0))


@tagged("post_install", "-at_install", "loyalty_club_reports")
class TestReportsPos(PosClubCase):
    """POS orders, a points payment and a refund in the KPI and activity reports, per till."""

    def test_pos_orders_refund_and_points_in_reports(self):
        # the figures below count the whole order as earning (the club setting; by default the
        # part paid with points earns nothing, see TestTillEarningBase)
        self.club.earn_on_points_paid = True
        self.seed_points(100)
        sale = self.sync(
            self.order_data(
                [(self.shirt, 2)],
                payments=[(self.points_method, 20.0), (self.cash_method, 180.0)],
            )
        )
        self.sync(self.order_data([(self.cap, 1)], payments=[(self.cash_method, 100.0)], card=False))
        self.sync(self.refund_data(sale, {self.shirt: 1}, [(self.points_method, -10.0), (self.cash_method, -90.0)]))
        self.assertEqual(self.card.balance, 100 - 40 + 20 - 10 + 20)
        self.env.flush_all()
        Kpi = self.env["loyalty.club.kpi.report"].with_context(allowed_company_ids=[self.company.id])
        self.assertEqual(
            sums(Kpi, [("channel", "=", "pos")], ["is_member"], ["revenue", "order_count"]),
            {True: (100.0, 1), False: (100.0, 1)},  # 200 sold, 100 refunded; the refund is no order
        )
        [[issued, reversed_, redeemed, cost]] = Kpi._read_group(
            [], [], ["points_issued:sum", "points_reversed:sum", "points_redeemed:sum", "reward_cost:sum"]
        )
        self.assertEqual((issued, reversed_, redeemed, cost), (120, 10, 20, 10.0))
        Activity = self.env["loyalty.club.activity.report"].with_context(allowed_company_ids=[self.company.id])
        self.assertEqual(
            sums(
                Activity,
                [("pos_config_id", "!=", False)],
                ["pos_config_id"],
                ["points_issued", "points_reversed", "points_redeemed"],
            ),
            {self.config: (20, 10, 20)},
        )
        [row] = self.env["loyalty.club.liability.report"]._liability_as_of(date.today(), self.company)
        self.assertEqual((row["points"], row["value"]), (90, 45.0))


@tagged("post_install", "-at_install", "loyalty_club_reports")
class TestReportsTour(HttpCase):
    """The app opens on the dashboard, whose buttons open the charts (headless Chromium)."""

    def test_app_opens_on_the_dashboard(self):
        root = self.env.ref("loyalty_club.menu_loyalty_club_root")
        first = root.child_id.filtered("action").sorted("sequence")[:1]
        action = self.env.ref("loyalty_club.action_loyalty_club_dashboard")
        self.assertEqual(first.action, action)
        self.assertEqual((action.type, action.tag), ("ir.actions.client", "loyalty_club.dashboard"))
        # a company of its own, so that the figures are the test's whatever the database holds
        company = self.env["res.company"].create(
            {"name": "Dashboard Tour Retail", "currency_id": self.env.ref("base.USD").id}
        )
        club = self.env["loyalty.club"].create({"name": "Dashboard Tour Club", "company_id": company.id})
        gift = self.env["loyalty.club.gift.card"].create({"club_id": club.id})
        self.env["loyalty.club.posting"]._post_gift_card(gift, 25.0, "load", "dashboard-tour:gift", branch=company)
        admin = self.env.ref("base.user_admin")
        admin.write({"company_ids": [Command.link(company.id)], "company_id": company.id})
        self.env.flush_all()
        counts = model_counts(self.env)
        self.start_tour("/odoo", "LoyaltyClubDashboardTour", login="admin")
        self.env.invalidate_all()
        self.assertEqual(counts, model_counts(self.env), "opening the dashboard creates no record")
