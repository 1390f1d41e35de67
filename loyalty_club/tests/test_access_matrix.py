import importlib
import inspect
import json
import pkgutil
import re

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.loyalty_club import controllers

ROLES = (
    "cashier_a",
    "cashier_b",
    "salesman",
    "club_user",
    "club_manager",
    "other_company",
    "portal_x",
    "public",
)

# Model-level rights of each role: r(ead) w(rite) c(reate) u(nlink). One line per model of the
# addon; `test_every_model_is_in_the_matrix` fails when a model is added without its line.
MATRIX = {
    "loyalty.club": "r     r     -     r     rwcu  rwcu  -     -",
    "loyalty.club.tier": "r     r     -     r     rwcu  rwcu  -     -",
    "loyalty.club.card": "-     -     -     rwc   rwcu  rwcu  r     -",
    "loyalty.club.entry": "-     -     -     r     r     r     r     -",
    "loyalty.club.tier.history": "-     -     -     r     r     r     -     -",
    "loyalty.club.qualifying.total": "-     -     -     r     r     r     -     -",
    "loyalty.club.lot.consumption": "-     -     -     r     r     r     -     -",
    "loyalty.club.reward": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.discount.window": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.discount.window.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.adjust.wizard": "-     -     -     -     rwc   rwc   -     -",
    "loyalty.club.card.replace.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.pin.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.redeem.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.gift.card": "r     r     -     rwc   rwcu  rwcu  r     -",
    "loyalty.club.gift.card.entry": "-     -     -     r     r     r     -     -",
    "loyalty.club.gift.card.issue.wizard": "-     -     -     rwcu  rwcu  rwcu  -     -",
    "loyalty.club.gift.card.issue.line": "-     -     -     rwcu  rwcu  rwcu  -     -",
    "loyalty.club.gift.card.payment.wizard": "-     -     -     -     -     -     -     -",
    "loyalty.club.gift.card.refund.wizard": "-     -     -     -     -     -     -     -",
    "loyalty.club.activity.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.liability.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.member.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.kpi.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.liability.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.liability.line": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.accounting.batch": "-     -     -     r     r     r     -     -",
    "loyalty.club.bonus.rule": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.notification": "-     -     -     r     r     r     -     -",
    "loyalty.club.segment": "-     -     -     r     rwcu  rwcu  -     -",
    # created and moved on by the server only (composer, job); managers cancel (write is protected)
    "loyalty.club.sms.campaign": "-     -     -     r     rw    rw    -     -",
    "loyalty.club.attempt": "-     -     -     -     -     -     -     -",
    "loyalty.club.import.wizard": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.import.line": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.native.migration.wizard": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.native.migration.line": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.hold": "-     -     -     r     r     r     -     -",
    "loyalty.club.till.token": "-     -     -     -     -     -     -     -",
    "loyalty.club.pin.check": "-     -     -     -     -     -     -     -",
    "loyalty.club.phone.verification": "-     -     -     -     -     -     -     -",
    "loyalty.club.gift.card.reveal.wizard": "-     -     -     -     rwc   rwc   -     -",
    # partners' users reach their page through the controller (sudo, own partner only), not the models
    "loyalty.club.coalition.partner": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.coalition.transaction": "-     -     -     r     r     r     -     -",
    "loyalty.club.coalition.settlement": "-     -     -     r     r     r     -     -",
}
# Models without access rules on purpose: services with no table.
NO_TABLE = {
    "loyalty.club.posting",
    "loyalty.club.pin.mixin",
    "loyalty.club.cached.settings.mixin",
    "loyalty.club.protected.mixin",
    # the dashboard is a client action: its model only computes figures through the reports
    "loyalty.club.dashboard",
}

OPERATIONS = {"r": "read", "w": "write", "c": "create", "u": "unlink"}

# What each role gets from every HTTP/JSON route of the addon, its POS RPCs and its reports, asked
# about the portal customer X's card and gift card. One line per route (method and path as
# declared), RPC and report; `test_every_route_is_in_the_matrix` fails when one is missing.
# Card PDFs are printed in the back office (club users and managers); customers read their card on
# the portal and their own gift cards' PDF.
#   ok     the answer with X's card (or the form, or the RPC's result)
#   page   the page, without anything of X's card      404    not found (X's card is not theirs)
#   sent   done, redirected back to the club page        login  redirected to log in / session expired
#   deny   access refused (AccessError / 403)
ROUTES = {
    "GET /giftcard/balance": "ok    ok    ok    ok    ok    ok    ok    ok",
    "POST /giftcard/balance": "ok    ok    ok    ok    ok    ok    ok    ok",
    "GET,POST /my/club": "page  page  page  page  page  page  ok    login",
    "GET,POST /my/club/card/<int:card_id>/history": "404   404   404   404   404   404   ok    login",
    "GET,POST /my/club/card/<int:card_id>/history/page/<int:page>": "404   404   404   404   404   404   ok    login",
    "GET /my/club/card/<int:card_id>/pin": "404   404   404   404   404   404   ok    login",
    "POST /my/club/card/<int:card_id>/pin": "404   404   404   404   404   404   ok    login",
    "POST /my/club/card/<int:card_id>/pin/email": "404   404   404   404   404   404   sent  login",
    "GET,POST /my/club/pin/reset": "page  page  page  page  page  page  ok    login",
    "POST /my/club/join": "page  page  page  page  page  page  sent  login",
    "POST /my/club/join/confirm": "sent  sent  sent  sent  sent  sent  sent  login",
    "GET,POST /my/club/phone": "404   404   404   404   404   404   ok    login",
    "POST /my/club/phone/confirm": "404   404   404   404   404   404   page  login",
    "RPC pos.config.loyalty_club_find_card": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_club_verify_pin": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_club_discount_windows": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_gift_card_find": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_gift_card_verify_pin": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_club_hold_points": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_gift_card_hold": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_club_release_holds": "ok    deny  deny  deny  deny  deny  deny  login",
    # a delivery report with a wrong token (the gateway's callback)
    "GET,POST /loyalty_club/sms/status/<string:provider>/<string:token>": "deny  deny  deny  deny  deny  deny  deny "
    "deny",
    # the page of a coalition partner: its own portal users only (none of these roles)
    "GET /my/club/partner": "404   404   404   404   404   404   404   login",
    "GET /my/club/partner/<int:coalition_id>": "404   404   404   404   404   404   404   login",
    "POST /my/club/partner/<int:coalition_id>/lookup": "404   404   404   404   404   404   404   login",
    "POST /my/club/partner/<int:coalition_id>/pin": "404   404   404   404   404   404   404   login",
    "POST /my/club/partner/<int:coalition_id>/redeem": "404   404   404   404   404   404   404   login",
    "POST /my/club/partner/<int:coalition_id>/earn": "404   404   404   404   404   404   404   login",
    "REPORT loyalty_club.report_member_card": "deny  deny  deny  ok    ok    deny  deny  login",
    "REPORT loyalty_club.report_card_statement": "deny  deny  deny  ok    ok    deny  deny  login",
    "REPORT loyalty_club.report_gift_card": "deny  deny  deny  ok    ok    deny  ok    login",
}
GIFT_PIN = "864200"


@tagged("post_install", "-at_install")
class TestAccessMatrix(HttpCase):
    """Every role against every model of the addon, record rules between companies and
    customers, the POS RPCs, and the PIN data that no role can reach."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        cls.company = env["res.company"].create({"name": "Matrix Chain", "country_id": env.ref("base.ir").id})
        cls.branch_a = env["res.company"].create({"name": "Matrix Branch A", "parent_id": cls.company.id})
        cls.branch_b = env["res.company"].create({"name": "Matrix Branch B", "parent_id": cls.company.id})
        cls.company2 = env["res.company"].create({"name": "Matrix Other Chain"})
        cls.club = env["loyalty.club"].create({"name": "Matrix Club", "company_id": cls.company.id})
        cls.club2 = env["loyalty.club"].create(
            {"name": "Other Club", "company_id": cls.company2.id, "card_prefix": "7799"}
        )
        chain = [cls.company.id, cls.branch_a.id, cls.branch_b.id]

        def user(login, groups, company, companies):
            return new_test_user(
                env, login, groups=groups, company_id=company.id, company_ids=companies, email=f"{login}@example.com"
            )

        cls.users = {
            "cashier_a": user(
                "mx_cashier_a", "base.group_user,point_of_sale.group_pos_user", cls.branch_a, [cls.branch_a.id]
            ),
            "cashier_b": user(
                "mx_cashier_b", "base.group_user,point_of_sale.group_pos_user", cls.branch_b, [cls.branch_b.id]
            ),
            "salesman": user("mx_salesman", "base.group_user,sales_team.group_sale_salesman", cls.company, chain),
            "club_user": user("mx_club_user", "loyalty_club.group_loyalty_club_user", cls.company, chain),
            "club_manager": user("mx_club_manager", "loyalty_club.group_loyalty_club_manager", cls.company, chain),
            "other_company": user(
                "mx_other", "loyalty_club.group_loyalty_club_manager", cls.company2, [cls.company2.id]
            ),
            "portal_x": user("mx_portal_x", "base.group_portal", cls.company, [cls.company.id]),
            "public": env.ref("base.public_user"),
        }
        cls.portal_y = user("mx_portal_y", "base.group_portal", cls.company, [cls.company.id])
        Card = env["loyalty.club.card"]
        cls.card_x = Card.create({"partner_id": cls.users["portal_x"].partner_id.id, "club_id": cls.club.id})
        cls.card_y = Card.create({"partner_id": cls.portal_y.partner_id.id, "club_id": cls.club.id})
        cls.card_other = Card.create(
            {"partner_id": env["res.partner"].create({"name": "Far"}).id, "club_id": cls.club2.id}
        )
        for card in cls.card_x | cls.card_y | cls.card_other:
            card._set_pin("1357")
            env["loyalty.club.posting"]._post(card, 10, "earn", f"matrix:{card.id}", branch=card.company_id)
        cls.gift_x = env["loyalty.club.gift.card"].create(
            {"club_id": cls.club.id, "partner_id": cls.users["portal_x"].partner_id.id}
        )
        cls.gift_x._set_pin(GIFT_PIN)
        cls.gift_other = env["loyalty.club.gift.card"].create({"club_id": cls.club2.id})
        cls.gift_other._set_pin(GIFT_PIN)
        env["loyalty.club.posting"]._post_gift_card(cls.gift_x, 30.0, "load", "matrix:gift", branch=cls.company)
        cls.restaurant = env["res.partner"].create({"name": "Matrix Restaurant", "is_company": True})
        cls.restaurant_user = user("mx_restaurant", "base.group_portal", cls.company, [cls.company.id])
        cls.restaurant_user.partner_id.parent_id = cls.restaurant
        cls.coalition = env["loyalty.club.coalition.partner"].create(
            {
                "club_id": cls.club.id,
                "partner_id": cls.restaurant.id,
                "point_rate": 0.5,
                "allow_earning": True,
                "earn_amount": 10,
                "earn_points": 1,
                "user_ids": [(6, 0, cls.restaurant_user.ids)],
            }
        )
        cls.config_a = (
            env["pos.config"]
            .with_company(cls.branch_a)
            .create({"name": "Matrix shop A", "company_id": cls.branch_a.id, "payment_method_ids": [(5, 0, 0)]})
        )

    def assertRefused(self, call, *exceptions):
        """``call()`` raises one of ``exceptions`` (and whatever it wrote is rolled back)."""
        try:
            with self.env.cr.savepoint():
                call()
        except exceptions:
            return
        self.fail(f"not refused: {call}")

    def test_every_model_is_in_the_matrix(self):
        own = self.env["ir.model.data"].search([("module", "=", "loyalty_club"), ("model", "=", "ir.model")])
        models = {
            name
            for name in self.env["ir.model"].browse(own.mapped("res_id")).mapped("model")
            if name.startswith("loyalty.club")
        }
        self.assertEqual(models - NO_TABLE, set(MATRIX), "add the new model's line to MATRIX")

    def test_model_rights_of_every_role(self):
        mismatches = []
        for model, line in MATRIX.items():
            allowed_by_role = dict(zip(ROLES, line.split(), strict=True))
            for role, allowed in allowed_by_role.items():
                records = self.env[model].with_user(self.users[role]).browse()
                for letter, operation in OPERATIONS.items():
                    expected = letter in allowed
                    if records.has_access(operation) != expected:
                        mismatches.append(f"{role} {operation} {model}: expected {'allow' if expected else 'deny'}")
        self.assertFalse(mismatches, "\n".join(mismatches))

    def test_every_model_has_a_record_rule(self):
        ruled = set(self.env["ir.rule"].sudo().search([]).mapped("model_id.model"))
        self.assertFalse(sorted(set(MATRIX) - ruled), "models of the addon without a record rule")

    def test_failed_checks_of_another_companys_till_stay_hidden(self):
        """Even an administrator reads only the failed checks of the tills of their companies
        (and those without a till: back office, public page)."""
        Attempt = self.env["loyalty.club.attempt"]
        config_other = (
            self.env["pos.config"]
            .with_company(self.company2)
            .create({"name": "Other chain's shop", "company_id": self.company2.id, "payment_method_ids": [(5, 0, 0)]})
        )
        sessions = {}
        for config in self.config_a | config_other:
            sessions[config] = self.env["pos.session"].with_company(config.company_id).create({"config_id": config.id})
        own_till = Attempt.create({"channel": "pos", "pos_session_id": sessions[self.config_a].id})
        other_till = Attempt.create({"channel": "pos", "pos_session_id": sessions[config_other].id})
        back_office = Attempt.create({"channel": "backoffice", "user_id": self.users["club_user"].id})
        admin = new_test_user(
            self.env,
            "mx_admin",
            groups="base.group_system",
            company_id=self.company.id,
            company_ids=[self.company.id, self.branch_a.id, self.branch_b.id],
        )
        everything = own_till | other_till | back_office
        self.assertEqual(Attempt.with_user(admin).search([("id", "in", everything.ids)]), own_till | back_office)
        self.assertFalse(other_till.with_user(admin).has_access("read"))

    def _qualifying_total(self, card):
        total = self.env["loyalty.club.qualifying.total"].search([("card_id", "=", card.id)], limit=1)
        self.assertTrue(total, "the posting of the set-up left a qualifying total")
        return total

    def test_record_rules_between_companies_and_customers(self):
        records = {
            "own club": self.club,
            "own card": self.card_x,
            "own entry": self.card_x.entry_ids[:1],
            "other chain's club": self.club2,
            "other chain's card": self.card_other,
            "other chain's entry": self.card_other.entry_ids[:1],
            "other customer's card": self.card_y,
            "other customer's entry": self.card_y.entry_ids[:1],
            "own qualifying total": self._qualifying_total(self.card_x),
            "own partner business": self.coalition,
            "other chain's qualifying total": self._qualifying_total(self.card_other),
        }
        readable = {
            "club_user": {
                "own club",
                "own card",
                "own entry",
                "other customer's card",
                "other customer's entry",
                "own qualifying total",
                "own partner business",
            },
            "other_company": {
                "other chain's club",
                "other chain's card",
                "other chain's entry",
                "other chain's qualifying total",
            },
            "portal_x": {"own card", "own entry"},
            "cashier_a": {"own club"},
            "cashier_b": {"own club"},
        }
        for role, expected in readable.items():
            user = self.users[role]
            for name, record in records.items():
                with self.subTest(role=role, record=name):
                    self.assertEqual(record.with_user(user).has_access("read"), name in expected)

    def test_pin_data_is_unreachable_by_every_role(self):
        """Fields, search, grouping, read and export of cards and gift cards, as every role."""
        hashes = self._pin_hashes()
        for role, user in self.users.items():
            for model in ("loyalty.club.card", "loyalty.club.gift.card"):
                Model = self.env[model].with_user(user)
                with self.subTest(role=role, model=model):
                    self.assertFalse([name for name in Model.fields_get() if "hash" in name or "secret" in name])
                    record = self.card_x if model == "loyalty.club.card" else self.gift_x
                    for call in (
                        lambda M=Model: M.search([("pin_hash", "!=", False)]),
                        lambda M=Model: M.read_group([], ["pin_hash"], ["pin_hash"]),
                        lambda M=Model, r=record: M.browse(r.ids).read(["pin_hash"]),
                        lambda M=Model, r=record: M.browse(r.ids).export_data(["pin_hash"]),
                    ):
                        self.assertRefused(call, KeyError, ValueError, AccessError, UserError)
                    if Model.browse().has_access("read"):
                        records = Model.search([])
                        self.assertTrue(records, "the role reads some, but nothing of their PINs")
                        readable = [
                            name
                            for name in Model.fields_get()
                            if Model._fields[name].store
                            and (
                                not Model._fields[name].relational
                                or self.env[Model._fields[name].comodel_name].with_user(user).has_access("read")
                            )
                        ]
                        exportable = [name for name in readable if Model._fields[name].exportable]
                        seen = str(records.read(readable))
                        if user.has_group("base.group_allow_export"):
                            seen += str(records.export_data(exportable))
                        self.assertFalse([pin_hash for pin_hash in hashes if pin_hash in seen])
                        self.assertNotIn("pbkdf2", seen)
                self.assertFalse(
                    self.env["ir.config_parameter"].with_user(user).browse().has_access("read"),
                    "system parameters (database secret) stay with administrators",
                )
                self.assertFalse(self.env["loyalty.club.attempt"].with_user(user).browse().has_access("read"))

    def test_pins_of_issued_gift_cards_stay_with_their_issuer(self):
        """Bulk issue shows the new PINs once, to the manager who issued them (kept an hour on the
        wizard for the printer's CSV): no other role, not even another manager, can read them."""
        manager = self.users["club_manager"]
        wizard = (
            self.env["loyalty.club.gift.card.issue.wizard"]
            .with_user(manager)
            .create({"club_id": self.club.id, "count": 2, "amount": 0.0})
        )
        wizard.action_issue()
        lines = wizard.line_ids
        self.assertEqual(len(lines), 2)
        self.assertTrue(all(line.pin for line in lines), "the issuer sees the PINs")
        other_manager = new_test_user(
            self.env,
            "mx_club_manager2",
            groups="loyalty_club.group_loyalty_club_manager",
            company_id=self.company.id,
            company_ids=[self.company.id, self.branch_a.id, self.branch_b.id],
        )
        others = {role: user for role, user in self.users.items() if role != "club_manager"}
        others["another manager"] = other_manager
        for role, user in others.items():
            with self.subTest(role=role):
                Line = self.env["loyalty.club.gift.card.issue.line"].with_user(user)
                Wizard = self.env["loyalty.club.gift.card.issue.wizard"].with_user(user)
                self.assertFalse(Line.browse(lines.ids).has_access("read"))
                self.assertFalse(Wizard.browse(wizard.ids).has_access("read"))
                if Line.browse().has_access("read"):
                    self.assertFalse(Line.search([("id", "in", lines.ids)]))

    @mute_logger("odoo.http")
    def test_pin_data_is_unreachable_over_json_rpc(self):
        """The same through /web/dataset/call_kw, as the web client and external RPC reach it."""
        hashes = self._pin_hashes()
        answers = []
        for role, user in self.users.items():
            if role == "public":
                self.authenticate(None, None)
            else:
                self.authenticate(user.login, user.login)
            for model, record in (("loyalty.club.card", self.card_x), ("loyalty.club.gift.card", self.gift_x)):
                calls = {
                    "search": ("search", [[("pin_hash", "!=", False)]], {}),
                    "read": ("read", [record.ids, ["pin_hash"]], {}),
                    "web_search_read": ("web_search_read", [[]], {"specification": {"pin_hash": {}}}),
                    "read_group": ("read_group", [[], ["pin_hash"], ["pin_hash"]], {}),
                    "export_data": ("export_data", [record.ids, ["pin_hash"]], {}),
                }
                for name, (method, args, kwargs) in calls.items():
                    with self.subTest(role=role, model=model, call=name):
                        body = self._call_kw(model, method, args, kwargs)
                        answers.append(json.dumps(body))
                        self.assertIn("error", body, "nothing answers about pin_hash")
                for method, args, kwargs in [
                    ("search_read", [[]], {}),
                    ("fields_get", [], {}),
                    ("web_search_read", [[]], {"specification": {"display_name": {}, "pin_set": {}}}),
                ]:
                    answers.append(json.dumps(self._call_kw(model, method, args, kwargs)))
        text = "\n".join(answers)
        self.assertIn("7700", text, "some roles did read cards")
        self.assertFalse([pin_hash for pin_hash in hashes if pin_hash in text])
        self.assertNotIn("pbkdf2", text)

    def _call_kw(self, model, method, args, kwargs):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        return response.json()

    def test_pin_data_is_unreachable_through_mail_templates(self):
        """The club's e-mail and SMS templates never carry PIN data, and a template written by
        any role cannot reach it either (code and placeholders on pin_hash are refused)."""
        hashes = self._pin_hashes()
        tier = self.env["loyalty.club.tier"].create({"name": "Matrix Gold", "club_id": self.club.id, "threshold": 5})
        self.card_x._change_tier(tier, "upgrade")
        records = {
            "loyalty.club.card": self.card_x,
            "loyalty.club.entry": self.card_x.entry_ids[:1],
            "loyalty.club.tier.history": self.env["loyalty.club.tier.history"].search(
                [("card_id", "=", self.card_x.id)]
            ),
        }
        rendered = []
        own = self.env["ir.model.data"].search(
            [("module", "=", "loyalty_club"), ("model", "in", ("mail.template", "sms.template"))]
        )
        self.assertEqual(len(own), 12)
        for data in own:
            template = self.env[data.model].browse(data.res_id)
            record = records[template.model]
            self.assertTrue(record, template.model)
            fields = ["subject", "body_html"] if data.model == "mail.template" else ["body"]
            for field in fields:
                rendered.append(str(template._render_field(field, record.ids, compute_lang=True)))
        body = (
            "<p>{{ object.pin_hash }}</p>"
            "<p t-out=\"object.env.cr.execute('SELECT pin_hash FROM loyalty_club_card') or object.env.cr.fetchall()\"/>"
        )
        refused = []
        for role, user in self.users.items():
            Template = self.env["mail.template"].with_user(user)
            with self.subTest(role=role):
                try:
                    with self.env.cr.savepoint():
                        template = Template.create(
                            {
                                "name": f"Matrix {role}",
                                "model_id": self.env["ir.model"]._get_id("loyalty.club.card"),
                                "subject": "{{ object.pin_hash }}",
                                "body_html": body,
                            }
                        )
                        rendered.append(str(template._render_field("body_html", self.card_x.ids)))
                        rendered.append(str(template._render_field("subject", self.card_x.ids)))
                except (AccessError, UserError, ValueError, SyntaxError):
                    refused.append(role)
                try:
                    with self.env.cr.savepoint():
                        simple = Template.create(
                            {
                                "name": f"Matrix simple {role}",
                                "model_id": self.env["ir.model"]._get_id("loyalty.club.card"),
                                "subject": "{{ object.pin_hash }}",
                            }
                        )
                        rendered.append(str(simple._render_field("subject", self.card_x.ids)))
                except (AccessError, UserError, ValueError, SyntaxError):
                    refused.append(f"{role} placeholder")
        # Employees may write templates, but neither code nor a placeholder on something that is
        # not a field of the model (Odoo's restricted rendering; only administrators edit freely).
        self.assertEqual(set(refused), set(ROLES) | {f"{role} placeholder" for role in ROLES})
        text = "\n".join(rendered)
        self.assertIn(self.card_x.partner_id.name, text)
        self.assertFalse([pin_hash for pin_hash in hashes if pin_hash in text])
        self.assertNotIn("pbkdf2", text)

    def test_pos_rpcs_of_every_role(self):
        config_a = self.config_a
        allowed = {"cashier_a"}
        for role, user in self.users.items():
            with self.subTest(role=role):
                if role in allowed:
                    self.assertEqual(
                        config_a.with_user(user).loyalty_club_find_card(self.card_x.number)[0]["id"], self.card_x.id
                    )
                    with self.assertRaises(UserError):
                        config_a.with_user(user).loyalty_club_find_card(self.card_other.number)
                else:
                    config = config_a.with_user(user)
                    self.assertRefused(lambda c=config: c.loyalty_club_find_card(self.card_x.number), AccessError)
                    self.assertRefused(lambda c=config: c.loyalty_club_verify_pin(self.card_x.id, "1357"), AccessError)

    def test_portal_routes_of_every_role(self):
        """Club routes: a customer reaches only their own card; others get what an unknown card gets."""
        url = f"/my/club/card/{self.card_x.id}/history"
        for role, user in self.users.items():
            if role == "public":
                self.authenticate(None, None)
            else:
                self.authenticate(user.login, user.login)
            with self.subTest(role=role):
                response = self.url_open(url, allow_redirects=False)
                if role == "portal_x":
                    self.assertEqual(response.status_code, 200)
                    self.assertIn(self.card_x.number, response.text)
                elif role == "public":
                    self.assertIn(response.status_code, (302, 303))
                    self.assertIn("/web/login", response.headers.get("Location", ""))
                else:
                    self.assertNotIn(self.card_x.number, response.text)

    # ------------------------------------------------------------------
    # Routes, RPCs and reports
    # ------------------------------------------------------------------
    @staticmethod
    def _addon_routes():
        """'METHODS path' of every route declared by the addon's controllers."""
        routes = set()
        for module_info in pkgutil.iter_modules(controllers.__path__):
            module = importlib.import_module(f"{controllers.__name__}.{module_info.name}")
            for _name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__:
                    continue
                for function in vars(cls).values():
                    routing = getattr(function, "original_routing", None)
                    if routing:
                        methods = ",".join(sorted(routing.get("methods") or ["GET", "POST"]))
                        routes |= {f"{methods} {path}" for path in routing["routes"]}
        return routes

    def test_every_route_is_in_the_matrix(self):
        routes = self._addon_routes()
        self.assertIn("POST /my/club/join", routes)
        rpcs = {
            f"RPC pos.config.{name}"
            for name in dir(type(self.env["pos.config"]))
            if name.startswith("loyalty_") and callable(getattr(type(self.env["pos.config"]), name))
        }
        own_reports = self.env["ir.model.data"].search(
            [("module", "=", "loyalty_club"), ("model", "=", "ir.actions.report")]
        )
        reports = {
            f"REPORT {name}"
            for name in self.env["ir.actions.report"].browse(own_reports.mapped("res_id")).mapped("report_name")
        }
        self.assertEqual(routes | rpcs | reports, set(ROUTES), "add the new route's line to ROUTES")

    def _login(self, role):
        if role == "public":
            self.authenticate(None, None)
        else:
            self.authenticate(self.users[role].login, self.users[role].login)
        page = self.url_open("/giftcard/balance")
        self._csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _page(self, response, marker):
        """Outcome of an HTTP route: ok (marker shown), page, 404, sent, login or deny."""
        self._responses.append(response.text)
        if response.status_code in (301, 302, 303):
            location = response.headers.get("Location", "")
            return "login" if "/web/login" in location else "sent"
        if response.status_code == 404:
            return "404"
        if response.status_code == 403:
            return "deny"
        self.assertEqual(response.status_code, 200, response.text[:300])
        return "ok" if marker in response.text else "page"

    def _get(self, url, marker):
        return self._page(self.url_open(url, allow_redirects=False), marker)

    def _post(self, url, data, marker):
        data = dict(data, csrf_token=self._csrf)
        return self._page(self.url_open(url, data=data, allow_redirects=False), marker)

    def _rpc(self, method, *args):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": "pos.config", "method": method, "args": [[self.config_a.id], *args], "kwargs": {}},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/pos.config/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self._responses.append(response.text)
        body = response.json()
        if "result" in body:
            return "ok"
        name = body["error"]["data"]["name"]
        return {
            "odoo.exceptions.AccessError": "deny",
            "odoo.http.SessionExpiredException": "login",
        }.get(name, name)

    def _rpc_hold(self, verify, hold, card_id, pin, amount):
        """What a till does for a points or gift card payment: the PIN checked for an order (the
        token comes back only to a cashier of the shop), then the hold of one point or 1.00."""
        order_uuid = f"mx-order-{len(self._responses):04d}"
        self._rpc(verify, card_id, pin, order_uuid)
        answer = json.loads(self._responses[-1])
        token = answer.get("result", {}).get("token", False)
        return self._rpc(hold, card_id, amount, order_uuid, f"{order_uuid}-pay", token)

    def _report(self, report_name, record):
        response = self.url_open(f"/report/html/{report_name}/{record.id}", allow_redirects=False)
        # a gift card prints masked after its issue (the whole code only to its issuer or a revealer)
        marker = record.number if record._name == "loyalty.club.card" else record.sudo()._masked()
        return self._page(response, marker)

    def _route_calls(self, role):
        card, gift = self.card_x, self.gift_x
        reset_token = card._pin_reset_token(self.users["portal_x"])
        number = card.number
        partner_page = f"/my/club/partner/{self.coalition.id}"
        return {
            "GET /giftcard/balance": lambda: self._get("/giftcard/balance", 'name="code"'),
            "POST /giftcard/balance": lambda: self._post(
                "/giftcard/balance", {"code": gift.sudo().code, "pin": GIFT_PIN}, "o_gift_card_balance"
            ),
            "GET,POST /my/club": lambda: self._get("/my/club", number),
            "GET,POST /my/club/card/<int:card_id>/history": lambda: self._get(
                f"/my/club/card/{card.id}/history", number
            ),
            "GET,POST /my/club/card/<int:card_id>/history/page/<int:page>": lambda: self._get(
                f"/my/club/card/{card.id}/history/page/1", number
            ),
            "GET /my/club/card/<int:card_id>/pin": lambda: self._get(f"/my/club/card/{card.id}/pin", 'name="new_pin"'),
            # Different new PINs: refused with a message, nothing changes.
            "POST /my/club/card/<int:card_id>/pin": lambda: self._post(
                f"/my/club/card/{card.id}/pin",
                {"current_pin": "1357", "new_pin": "2468", "new_pin_confirm": "8642"},
                'name="new_pin"',
            ),
            "POST /my/club/card/<int:card_id>/pin/email": lambda: self._post(
                f"/my/club/card/{card.id}/pin/email", {}, number
            ),
            "GET,POST /my/club/pin/reset": lambda: self._get(
                f"/my/club/pin/reset?token={reset_token}", 'name="new_pin"'
            ),
            # An empty phone: refused, nothing created (customer X is a member: sent back to the card).
            "POST /my/club/join": lambda: self._post(
                "/my/club/join", {"phone": "", "pin": "", "pin_confirm": ""}, "o_never_shown"
            ),
            # No code asked for: sent back to the club page (customer X: already a member).
            "POST /my/club/join/confirm": lambda: self._post(
                "/my/club/join/confirm", {"code": "", "pin": "", "pin_confirm": ""}, "o_never_shown"
            ),
            "GET,POST /my/club/phone": lambda: self._get("/my/club/phone", 'name="phone"'),
            # No code was sent: the page says so, nothing changes.
            "POST /my/club/phone/confirm": lambda: self._post(
                "/my/club/phone/confirm", {"code": "000000"}, "o_never_shown"
            ),
            # a delivery report with a wrong token: refused, whoever sends it
            "GET,POST /loyalty_club/sms/status/<string:provider>/<string:token>": lambda: self._get(
                "/loyalty_club/sms/status/kavenegar/not-the-token?messageid=1&status=10", "OK"
            ),
            "RPC pos.config.loyalty_club_find_card": lambda: self._rpc("loyalty_club_find_card", number),
            "RPC pos.config.loyalty_club_verify_pin": lambda: self._rpc("loyalty_club_verify_pin", card.id, "1357"),
            "RPC pos.config.loyalty_club_discount_windows": lambda: self._rpc("loyalty_club_discount_windows"),
            "RPC pos.config.loyalty_gift_card_find": lambda: self._rpc("loyalty_gift_card_find", gift.sudo().code),
            "RPC pos.config.loyalty_gift_card_verify_pin": lambda: self._rpc(
                "loyalty_gift_card_verify_pin", gift.id, GIFT_PIN
            ),
            "RPC pos.config.loyalty_club_hold_points": lambda: self._rpc_hold(
                "loyalty_club_verify_pin", "loyalty_club_hold_points", card.id, "1357", 1
            ),
            "RPC pos.config.loyalty_gift_card_hold": lambda: self._rpc_hold(
                "loyalty_gift_card_verify_pin", "loyalty_gift_card_hold", gift.id, GIFT_PIN, 1.0
            ),
            "RPC pos.config.loyalty_club_release_holds": lambda: self._rpc("loyalty_club_release_holds", ["mx-none"]),
            # X's card looked up, its PIN, a redemption and an earning at the partner: never reached
            "GET /my/club/partner": lambda: self._get("/my/club/partner", partner_page),
            "GET /my/club/partner/<int:coalition_id>": lambda: self._get(partner_page, 'name="query"'),
            "POST /my/club/partner/<int:coalition_id>/lookup": lambda: self._post(
                f"{partner_page}/lookup", {"query": number}, card._masked_number()
            ),
            "POST /my/club/partner/<int:coalition_id>/pin": lambda: self._post(
                f"{partner_page}/pin", {"card_id": card.id, "pin": "1357"}, "o_loyalty_partner_member_name"
            ),
            "POST /my/club/partner/<int:coalition_id>/redeem": lambda: self._post(
                f"{partner_page}/redeem",
                {"card_id": card.id, "points": 1, "amount": 10, "request_uuid": "mx-partner-redeem-0001"},
                "o_loyalty_partner_done",
            ),
            "POST /my/club/partner/<int:coalition_id>/earn": lambda: self._post(
                f"{partner_page}/earn",
                {"card_id": card.id, "amount": 10, "request_uuid": "mx-partner-earn-0001"},
                "o_loyalty_partner_done",
            ),
            "REPORT loyalty_club.report_member_card": lambda: self._report("loyalty_club.report_member_card", card),
            "REPORT loyalty_club.report_card_statement": lambda: self._report(
                "loyalty_club.report_card_statement", card
            ),
            "REPORT loyalty_club.report_gift_card": lambda: self._report("loyalty_club.report_gift_card", gift),
        }

    def _pin_hashes(self):
        self.env.cr.execute(
            "SELECT pin_hash FROM loyalty_club_card WHERE pin_hash IS NOT NULL "
            "UNION ALL SELECT pin_hash FROM loyalty_club_gift_card WHERE pin_hash IS NOT NULL"
        )
        hashes = [row[0] for row in self.env.cr.fetchall()]
        self.assertTrue(hashes)
        return hashes

    @mute_logger("odoo.http", "odoo.addons.http_routing.models.ir_http")
    def test_routes_rpcs_and_reports_of_every_role(self):
        """Every role against every route, RPC and report of the addon (8 x 31); no answer ever
        contains a PIN hash; the refused calls change nothing."""
        self._responses = []
        counts = (
            self.env["loyalty.club.card"].search_count([]),
            self.env["loyalty.club.gift.card.entry"].search_count([]),
            self.env["loyalty.club.coalition.transaction"].search_count([]),
        )
        mismatches = []
        for role in ROLES:
            self._login(role)
            for route, call in self._route_calls(role).items():
                expected = dict(zip(ROLES, ROUTES[route].split(), strict=True))[role]
                with self.subTest(role=role, route=route):
                    outcome = call()
                    if outcome != expected:
                        mismatches.append(f"{role} {route}: expected {expected}, got {outcome}")
        self.assertFalse(mismatches, "\n".join(mismatches))
        self.card_x.invalidate_recordset()
        self.assertTrue(self.card_x._verify_pin("1357"), "the PIN did not change")
        self.env.invalidate_all()
        self.assertEqual(
            (
                self.env["loyalty.club.card"].search_count([]),
                self.env["loyalty.club.gift.card.entry"].search_count([]),
                self.env["loyalty.club.coalition.transaction"].search_count([]),
            ),
            counts,
        )
        answers = "\n".join(self._responses)
        self.assertFalse([pin_hash for pin_hash in self._pin_hashes() if pin_hash in answers])
        self.assertNotIn("pbkdf2", answers)
