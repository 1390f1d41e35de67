import importlib.util
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time
from lxml import etree, html

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import file_path, format_amount

from .common import LoyaltyClubCase
from .common_reports import model_counts, sums

REPORTS = (
    "loyalty.club.activity.report",
    "loyalty.club.liability.report",
    "loyalty.club.member.report",
    "loyalty.club.kpi.report",
)


@tagged("post_install", "-at_install", "loyalty_club_reports")
class TestReports(LoyaltyClubCase):
    """Acceptance 1-4 on the ledger: a known history (earnings, redemption, reversals, a
    redemption given back, adjustment, bonus, expiry by the cron) checked in every report."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.branch = cls.env["res.company"].create({"name": "Club Branch North", "parent_id": cls.company.id})
        cls.club_manager.company_ids |= cls.branch
        cls.card2 = cls.env["loyalty.club.card"].create({"partner_id": cls.member2.id, "club_id": cls.club.id})
        cls.card.sudo()._change_tier(cls.silver, "upgrade")
        cls.newcomer = cls.env["res.partner"].create({"name": "Mina Newcomer"})
        cls.card3 = cls.env["loyalty.club.card"].create(
            {"partner_id": cls.newcomer.id, "club_id": cls.club.id, "date_issued": "2025-03-15"}
        )
        post = cls.env["loyalty.club.posting"]._post
        company, branch = cls.company, cls.branch
        card, card2 = cls.card, cls.card2
        earn = post(
            card, 100, "earn", "r:1", branch=company, date=datetime(2025, 1, 10, 9), amount=1000, purchase_count=1
        )
        post(
            card2,
            40,
            "earn",
            "r:2",
            branch=branch,
            date=datetime(2025, 1, 20, 9),
            amount=400,
            purchase_count=1,
            expiry_date=date(2025, 6, 30),
        )
        redeem = post(card, -30, "redeem", "r:3", branch=branch, date=datetime(2025, 2, 5, 9))
        post(card, -20, "reverse", "r:4", branch=company, date=datetime(2025, 2, 10, 9), reversed_entry=earn, lot=earn)
        post(card, 10, "reverse", "r:5", branch=branch, date=datetime(2025, 2, 15, 9), reversed_entry=redeem)
        post(card2, 5, "adjust", "r:6", branch=branch, date=datetime(2025, 3, 1, 9))
        post(card2, 15, "bonus", "r:7", branch=branch, date=datetime(2025, 3, 5, 9))
        with freeze_time("2025-07-01 12:00:00"):
            cls.env["loyalty.club.posting"]._cron_expire_points()
        # another chain: must never show in this company's reports
        cls.other_club = cls.env["loyalty.club"].create(
            {"name": "Other Club", "company_id": cls.other_company.id, "card_prefix": "7799", "point_value": 2}
        )
        other_member = cls.env["res.partner"].create({"name": "Other Member"})
        cls.other_card = cls.env["loyalty.club.card"].create(
            {"partner_id": other_member.id, "club_id": cls.other_club.id}
        )
        post(cls.other_card, 70, "earn", "r:other", branch=cls.other_company, date=datetime(2025, 1, 15), amount=700)
        cls.env.flush_all()

    def as_manager(self, model):
        return (
            self.env[model]
            .with_user(self.club_manager)
            .with_context(allowed_company_ids=[self.company.id, self.branch.id])
        )

    def test_history_is_consistent(self):
        self.assertEqual((self.card.balance, self.card2.balance), (60, 20))
        self.assertBalanceIsLedgerSum(self.card)
        self.assertBalanceIsLedgerSum(self.card2)

    def test_activity_per_month_branch_tier_and_kind(self):
        Activity = self.as_manager("loyalty.club.activity.report")
        measures = ["points_issued", "points_redeemed", "points_expired", "points_reversed", "points_adjusted"]
        by_month = sums(Activity, [], ["date:month"], measures)
        self.assertEqual(
            {month.strftime("%Y-%m"): values for month, values in by_month.items()},
            {
                "2025-01": (140, 0, 0, 0, 0),
                "2025-02": (0, 20, 0, 20, 0),  # 30 redeemed, 10 given back; 20 earned taken back
                "2025-03": (15, 0, 0, 0, 5),
                "2025-07": (0, 0, 40, 0, 0),
            },
        )
        self.assertEqual(
            sums(Activity, [], ["branch_id"], measures),
            {self.company: (100, 0, 40, 20, 0), self.branch: (55, 20, 0, 0, 5)},
        )
        self.assertEqual(
            sums(Activity, [], ["tier_id"], ["points_issued", "points_redeemed"]),
            {self.silver: (100, 20), self.bronze: (55, 0)},
        )
        by_kind = sums(Activity, [], ["kind"], ["points"])
        self.assertEqual(
            by_kind,
            {
                "earn": (140,),
                "redeem": (-30,),
                "reverse": (-10,),
                "adjust": (5,),
                "bonus": (15,),
                "expire": (-40,),
            },
        )
        [[value, cost]] = Activity._read_group([], [], ["value:sum", "redeemed_value:sum"])
        self.assertEqual((value, cost), (40.0, 10.0))  # 80 points and 20 redeemed, at 0.5

    def test_points_activity_opens_on_the_points_issued(self):
        """Odoo's graph shows one measure, the last one its view declares: the dashboard's first
        report opens on the points issued per month, not on an empty graph of reversals."""
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_activity_report_action")
        self.assertEqual(action["view_mode"].split(",")[0], "graph")
        arch = etree.fromstring(self.env["loyalty.club.activity.report"].get_view(view_type="graph")["arch"])
        self.assertEqual([field.get("name") for field in arch.iterfind("field[@type='measure']")], ["points_issued"])
        self.assertEqual(arch.find("field[@interval]").get("name"), "date")

    def test_liability_today_per_company_and_branch(self):
        Liability = self.as_manager("loyalty.club.liability.report")
        self.assertEqual(
            sums(Liability, [], ["branch_id"], ["points", "value"]),
            {self.company: (40, 20.0), self.branch: (40, 20.0)},
        )
        self.assertEqual(
            sum(Liability.search([]).mapped("points")), self.card.balance + self.card2.balance + self.card3.balance
        )
        today = self.env["loyalty.club.liability.report"]._liability_as_of(date.today(), self.company)
        self.assertEqual(
            [(r["branch_id"], r["points"], r["value"]) for r in today],
            [(self.company.id, 40, 20.0), (self.branch.id, 40, 20.0)],
        )

    def test_liability_as_of_past_dates(self):
        Liability = self.env["loyalty.club.liability.report"]

        def as_of(day, companies=None):
            rows = Liability._liability_as_of(day, companies or self.company)
            return {self.env["res.company"].browse(r["branch_id"]): (r["points"], r["value"]) for r in rows}

        self.assertEqual(as_of("2025-01-09"), {})
        self.assertEqual(as_of("2025-01-10"), {self.company: (100, 50.0)})
        self.assertEqual(as_of("2025-01-31"), {self.company: (100, 50.0), self.branch: (40, 20.0)})
        self.assertEqual(as_of("2025-02-28"), {self.company: (80, 40.0), self.branch: (20, 10.0)})
        self.assertEqual(as_of("2025-06-30"), {self.company: (80, 40.0), self.branch: (40, 20.0)})
        self.assertEqual(as_of("2025-07-01"), {self.company: (40, 20.0), self.branch: (40, 20.0)})
        self.assertEqual(as_of("2025-07-01", self.branch), {self.branch: (40, 20.0)}, "a branch alone")
        rows = Liability._liability_as_of("2025-07-01", self.company)
        self.assertEqual({r["source"] for r in rows}, {"points"})
        self.assertEqual({r["currency_id"] for r in rows}, {self.company.currency_id.id})

    def test_gift_card_liability_as_of_dates(self):
        """Gift cards owe their balance: loads add to the liability, redemptions lower it, per
        branch where the money moved; points rows are unchanged."""
        GiftCard = self.env["loyalty.club.gift.card"]
        Posting = self.env["loyalty.club.posting"]
        (gift,), _pins = GiftCard._issue(self.club)
        Posting._post_gift_card(
            gift, 50.0, "load", "report:gift:load", branch=self.company, date=datetime(2025, 2, 1, 9)
        )
        Posting._post_gift_card(
            gift, -20.0, "redeem", "report:gift:redeem", branch=self.branch, date=datetime(2025, 3, 1, 9)
        )
        Liability = self.env["loyalty.club.liability.report"]

        def gift_rows(day):
            rows = Liability._liability_as_of(day, self.company)
            return {
                self.env["res.company"].browse(r["branch_id"]): r["value"] for r in rows if r["source"] == "gift_card"
            }

        self.assertEqual(gift_rows("2025-01-31"), {})
        self.assertEqual(gift_rows("2025-02-01"), {self.company: 50.0})
        self.assertEqual(gift_rows("2025-03-01"), {self.company: 50.0, self.branch: -20.0})
        self.assertEqual(sum(gift_rows("2025-12-31").values()), gift.balance)
        points_rows = {
            (r["branch_id"], r["points"])
            for r in Liability._liability_as_of("2025-07-01", self.company)
            if r["source"] == "points"
        }
        self.assertEqual(points_rows, {(self.company.id, 40), (self.branch.id, 40)})
        today = Liability.search([("source", "=", "gift_card"), ("company_id", "=", self.company.id)])
        self.assertEqual(sum(today.mapped("value")), 30.0)

    def test_liability_queries_do_not_grow_with_the_ledger(self):
        Liability = self.env["loyalty.club.liability.report"]

        def queries():
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            Liability._liability_as_of(date.today(), self.company)
            Liability._read_group([], ["branch_id"], ["points:sum", "value:sum"])
            return self.env.cr.sql_log_count - before

        small = queries()
        for index in range(30):
            card = self.env["loyalty.club.card"].create(
                {"partner_id": self.env["res.partner"].create({"name": f"Bulk {index}"}).id, "club_id": self.club.id}
            )
            self.Posting._post(card, 10, "earn", f"bulk:{index}", branch=self.branch)
        self.assertEqual(queries(), small, "set-based: one grouped query, whatever the number of entries")
        self.assertEqual(Liability._liability_as_of(date.today(), self.branch)[0]["points"], 40 + 300)

    def test_liability_wizard_shows_the_same_lines(self):
        wizard = (
            self.env["loyalty.club.liability.wizard"]
            .with_user(self.club_manager)
            .with_context(allowed_company_ids=[self.company.id, self.branch.id])
            .create({"date": "2025-02-28"})
        )
        action = wizard.action_compute()
        self.assertEqual(action["res_id"], wizard.id)
        self.assertEqual(
            [(line.branch_id, line.points, line.value) for line in wizard.line_ids],
            [(self.company, 80, 40.0), (self.branch, 20, 10.0)],
        )

    def test_members_per_tier_new_and_active(self):
        Member = self.as_manager("loyalty.club.member.report")
        self.assertEqual(sums(Member, [], ["tier_id"], ["member_count"]), {self.silver: (1,), self.bronze: (2,)})
        joined = sums(Member, [("date_joined", "<", "2026-01-01")], ["date_joined:month"], ["member_count"])
        self.assertEqual({month.strftime("%Y-%m"): v for month, v in joined.items()}, {"2025-03": (1,)})
        rows = {row.partner_id: row for row in Member.search([])}
        self.assertEqual(set(rows), {self.member, self.member2, self.newcomer})
        sara = rows[self.member]
        self.assertEqual((sara.card_id, sara.balance, sara.purchase_count), (self.card, 60, 1))
        self.assertEqual(sara.last_purchase_date, datetime(2025, 1, 10, 9))
        self.assertFalse(rows[self.newcomer].last_purchase_date)
        with freeze_time("2025-02-01"):
            self.assertEqual(Member._active_member_count(30), 2)
            self.assertEqual(Member._active_member_count(15), 1)

    def test_dashboard_key_figures_from_the_ledger(self):
        Dashboard = (
            self.env["loyalty.club.dashboard"]
            .with_user(self.club_manager)
            .with_context(allowed_company_ids=[self.company.id, self.branch.id])
        )
        values = Dashboard._kpi_values("2025-01-01", "2025-12-31")
        self.assertEqual(values["points_issued"], 135)  # 140 + 15 issued, 20 taken back
        self.assertEqual(values["points_redeemed"], 20)
        self.assertAlmostEqual(values["redemption_rate"], 20 / 135 * 100)
        self.assertEqual(values["reward_cost"], 10.0)
        liability = ("liability_points", "liability_points_value", "liability_gift_card_value", "liability_total")
        self.assertEqual([values[key] for key in liability], [80, 40.0, 0.0, 40.0])
        self.assertEqual((values["member_count"], values["new_member_count"]), (1, 1))
        branch_only = Dashboard._kpi_values("2025-01-01", "2025-12-31", self.branch)
        self.assertEqual((branch_only["points_issued"], branch_only["points_redeemed"]), (55, 20))
        february = Dashboard._kpi_values("2025-02-01", "2025-02-28")
        self.assertEqual((february["points_issued"], february["points_redeemed"]), (-20, 20))

    def test_dashboard_owes_points_and_gift_cards_apart(self):
        """'Liability today' no longer adds gift cards to points: two figures and their total."""
        gift = self.env["loyalty.club.gift.card"].create({"club_id": self.club.id})
        self.Posting._post_gift_card(gift, 25.0, "load", "reports:gift", branch=self.company)
        self.env.flush_all()
        Dashboard = (
            self.env["loyalty.club.dashboard"]
            .with_user(self.club_manager)
            .with_context(allowed_company_ids=[self.company.id, self.branch.id])
        )
        values = Dashboard._kpi_values("2025-01-01", "2025-12-31")
        liability = ("liability_points", "liability_points_value", "liability_gift_card_value", "liability_total")
        self.assertEqual([values[key] for key in liability], [80, 40.0, 25.0, 65.0])
        branch_only = Dashboard._kpi_values("2025-01-01", "2025-12-31", self.branch)
        self.assertEqual([branch_only[key] for key in liability], [40, 20.0, 0.0, 20.0])

    def test_dashboard_data_for_the_client_action(self):
        """get_dashboard_data: the figures as plain values with their text, filtered by period and
        branch; branches the user may not see are left out; nothing is created."""
        Dashboard = (
            self.env["loyalty.club.dashboard"]
            .with_user(self.club_manager)
            .with_context(allowed_company_ids=[self.company.id, self.branch.id])
        )
        self.assertTrue(Dashboard._abstract, "the dashboard is no record")
        counts = model_counts(self.env)
        data = Dashboard.get_dashboard_data("2025-01-01", "2025-12-31")
        self.assertEqual(counts, model_counts(self.env), "the dashboard creates no record")
        self.assertEqual((data["date_from"], data["date_to"], data["branch_ids"]), ("2025-01-01", "2025-12-31", []))
        self.assertEqual([b["id"] for b in data["branches"]], [self.company.id, self.branch.id])
        self.assertEqual(
            [section["title"] for section in data["sections"]], ["Members", "Sales", "Points", "Cost and liability"]
        )
        kpis = {kpi["key"]: kpi for section in data["sections"] for kpi in section["kpis"]}
        currency = self.company.currency_id
        self.assertEqual((kpis["points_issued"]["value"], kpis["points_issued"]["display"]), (135, "135"))
        self.assertEqual(kpis["redemption_rate"]["display"], "14.8 %")
        self.assertEqual(kpis["liability_points_value"]["display"], format_amount(self.env, 40.0, currency))
        self.assertEqual(kpis["liability_gift_card_value"]["display"], format_amount(self.env, 0.0, currency))
        self.assertEqual(kpis["liability_total"]["label"], "Total liability today")
        self.assertEqual(kpis["reward_cost"]["display"], format_amount(self.env, 10.0, currency))

        def figures(*args):
            data = Dashboard.get_dashboard_data(*args)
            kpis = {kpi["key"]: kpi["value"] for section in data["sections"] for kpi in section["kpis"]}
            return data, (kpis["points_issued"], kpis["points_redeemed"], kpis["liability_points"])

        data, values = figures("2025-01-01", "2025-12-31", [self.branch.id])
        self.assertEqual((data["branch_ids"], values), ([self.branch.id], (55, 20, 40)))
        data, values = figures("2025-02-28", "2025-02-01")  # the dates in the wrong order
        self.assertEqual((data["date_from"], data["date_to"], values), ("2025-02-01", "2025-02-28", (-20, 20, 80)))
        data, values = figures("2025-01-01", "2025-12-31", [self.other_company.id])
        self.assertEqual((data["branch_ids"], values), ([], (135, 20, 80)), "another chain's figures stay hidden")
        data, _values = figures()
        today = date.today()
        self.assertEqual(data["date_to"], str(today))
        self.assertEqual(data["date_from"], str(today + relativedelta(months=-12, days=1)))
        with self.assertRaises(AccessError):
            self.env["loyalty.club.dashboard"].with_user(self.salesman_without_club()).get_dashboard_data()

    def salesman_without_club(self):
        return new_test_user(self.env, "dash_salesman", groups="sales_team.group_sale_salesman")

    def test_upgrade_drops_the_tables_of_the_old_dashboard_records(self):
        self.env.cr.execute(
            """CREATE TABLE loyalty_club_dashboard (id serial PRIMARY KEY, date_from date);
               CREATE TABLE loyalty_club_dashboard_res_company_rel (
                   loyalty_club_dashboard_id int REFERENCES loyalty_club_dashboard(id), res_company_id int)"""
        )
        path = file_path("loyalty_club/migrations/18.0.1.4.0/post-migration.py")
        spec = importlib.util.spec_from_file_location("loyalty_club_migration_18_0_1_4_0", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, "18.0.1.3.0")
        self.env.cr.execute(
            "SELECT count(*) FROM pg_class WHERE relname IN ('loyalty_club_dashboard', "
            "'loyalty_club_dashboard_res_company_rel')"
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def test_dashboard_buttons_open_the_reports_of_the_period_and_branches(self):
        Dashboard = (
            self.env["loyalty.club.dashboard"]
            .with_user(self.club_manager)
            .with_context(allowed_company_ids=[self.company.id, self.branch.id])
        )
        action = Dashboard.action_open_activity("2025-02-01", "2025-02-28", [self.branch.id])
        self.assertEqual(action["res_model"], "loyalty.club.activity.report")
        Activity = self.as_manager("loyalty.club.activity.report")
        self.assertEqual(sums(Activity, action["domain"], [], ["points_issued", "points_redeemed"]), {(): (0, 20)})
        self.assertEqual(Activity.search(action["domain"]).branch_id, self.branch)
        expected = {
            "action_open_activity": "loyalty.club.activity.report",
            "action_open_kpi": "loyalty.club.kpi.report",
            "action_open_members": "loyalty.club.member.report",
            "action_open_liability": "loyalty.club.liability.report",
        }
        for method, model in expected.items():
            action = getattr(Dashboard, method)("2025-01-01", "2025-12-31", [self.branch.id])
            self.assertEqual(action["res_model"], model, method)
            self.assertTrue(self.as_manager(model).search(action["domain"]), method)

    def test_company_isolation_of_every_report(self):
        for model in REPORTS:
            mine = self.as_manager(model).search([])
            theirs = self.env[model].with_user(self.other_manager).search([])
            self.assertTrue(mine, model)
            self.assertTrue(theirs, model)
            self.assertEqual(set(mine.mapped("company_id")), {self.company}, model)
            self.assertEqual(set(theirs.mapped("company_id")), {self.other_company}, model)
        Liability = self.env["loyalty.club.liability.report"]
        self.assertEqual(
            [(r["points"], r["value"]) for r in Liability.with_user(self.other_manager)._liability_as_of(date.today())],
            [(70, 140.0)],
        )
        self.assertEqual(
            Liability.with_user(self.other_manager)._liability_as_of(date.today(), self.company),
            [],
            "companies the user may not see are left out",
        )
        Dashboard = self.env["loyalty.club.dashboard"].with_user(self.other_manager)
        # through tomorrow: "today" of the user's time zone may already be tomorrow in UTC
        values = Dashboard._kpi_values("2025-01-01", date.today() + timedelta(days=1))
        self.assertEqual((values["points_issued"], values["liability_points"], values["member_count"]), (70, 70, 1))

    def test_branch_user_sees_the_branch_activity_only(self):
        self.club_user.company_ids |= self.branch
        Activity = (
            self.env["loyalty.club.activity.report"]
            .with_user(self.club_user)
            .with_context(allowed_company_ids=[self.branch.id])
        )
        self.assertEqual(set(Activity.search([]).mapped("branch_id")), {self.branch})

    def _render(self, xmlid, cards, data=None):
        content, _kind = self.env["ir.actions.report"]._render_qweb_html(xmlid, cards.ids, data=data)
        return html.fromstring(content)

    def _wrappers(self, tree):
        return tree.xpath("//div[contains(@class, 'o_loyalty_club_report')]")

    def test_member_card_pdf_in_english_and_persian(self):
        tree = self._render("loyalty_club.action_report_member_card", self.card | self.card2)
        wrappers = self._wrappers(tree)
        self.assertEqual(len(wrappers), 2)
        self.assertEqual((wrappers[0].get("dir"), wrappers[0].get("lang")), ("ltr", "en-US"))
        text = wrappers[0].text_content()
        for expected in (self.card.number, "Sara Test", "Silver", "Test Club"):
            self.assertIn(expected, text)
        self.assertTrue(wrappers[0].xpath(".//img[contains(@class, 'o_loyalty_club_card_qr')]"))
        self.assertIn(self.card2.number, wrappers[1].text_content())

        self.env["res.lang"]._activate_lang("fa_IR")
        self.member.lang = "fa_IR"
        wrappers = self._wrappers(self._render("loyalty_club.action_report_member_card", self.card | self.card2))
        self.assertEqual((wrappers[0].get("dir"), wrappers[0].get("lang")), ("rtl", "fa-IR"))
        self.assertIn(self.card.number, wrappers[0].text_content())
        self.assertIn("Sara Test", wrappers[0].text_content())
        self.assertEqual(wrappers[1].get("dir"), "ltr", "each member gets their own language")

    def test_member_statement_in_english_and_persian(self):
        data = {"date_from": "2025-02-01", "date_to": "2025-02-28"}
        wrapper = self._wrappers(self._render("loyalty_club.action_report_card_statement", self.card, data))[0]

        def cell(css):
            return wrapper.xpath(f".//td[contains(@class, '{css}')]")[0].text_content().strip()

        self.assertEqual((cell("o_loyalty_club_opening"), cell("o_loyalty_club_closing")), ("100", "60"))
        self.assertEqual(len(wrapper.xpath(".//tbody")[0].xpath("./tr")), 5, "opening, 3 entries, closing")
        self.assertIn("Points statement", wrapper.text_content())
        values = self.env["report.loyalty_club.report_card_statement"]._statement_values(
            self.card, date(2025, 1, 1), date(2025, 12, 31), today=date(2026, 1, 1)
        )
        totals = (values["opening"], values["points_in"], values["points_out"], values["closing"])
        self.assertEqual(totals, (0, 110, 50, 60))
        # the 10 points given back on 15 February return to the January lot they were spent from
        self.assertEqual(values["expiring"], [(date(2026, 1, 10), 60)])
        default = self._render("loyalty_club.action_report_card_statement", self.card)
        self.assertIn("No points expire in the next", self._wrappers(default)[0].text_content())

        self.env["res.lang"]._activate_lang("fa_IR")
        self.member.lang = "fa_IR"
        wrapper = self._wrappers(self._render("loyalty_club.action_report_card_statement", self.card, data))[0]
        self.assertEqual((wrapper.get("dir"), wrapper.get("lang")), ("rtl", "fa-IR"))
        self.assertEqual(cell("o_loyalty_club_closing"), "60")
        self.assertIn(self.card.number, wrapper.text_content())

    def test_ledger_export_for_managers_without_pin_data(self):
        Entry = self.env["loyalty.club.entry"].with_user(self.club_manager)
        entries = Entry.search([("card_id", "=", self.card.id)], order="id")
        columns = ["date", "card_id/number", "partner_id/name", "kind", "points", "branch_id/name"]
        exported = entries.export_data(columns)
        self.assertEqual(len(exported["datas"]), 4)
        self.assertEqual([row[4] for row in exported["datas"]], [100, -30, -20, 10])
        self.assertEqual(exported["datas"][0][1:4], [self.card.number, "Sara Test", "Earned"])
        for model in ("loyalty.club.card", "loyalty.club.entry"):
            names = self.env[model].with_user(self.club_manager).fields_get()
            self.assertFalse([n for n in names if "hash" in n or "secret" in n], model)
        self.assertNotIn("pin_hash", self.env["loyalty.club.card"]._fields)
        card_export = self.card.with_user(self.club_manager).export_data(["number", "pin_set", "partner_id/name"])
        self.assertEqual(card_export["datas"][0][0], self.card.number)
