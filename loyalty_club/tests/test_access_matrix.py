import json

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .access_matrix_common import AccessMatrixCase
from .access_matrix_lines import MATRIX, NO_TABLE, OPERATIONS, ROLES, ROUTES


@tagged("post_install", "-at_install")
class TestAccessMatrix(AccessMatrixCase):
    """Every role against every model of the addon, record rules between companies and
    customers, the POS RPCs, and the PIN data that no role can reach."""

    def test_every_model_is_in_the_matrix(self):
        own = self.env["ir.model.data"].search([("module", "=", "loyalty_club"), ("model", "=", "ir.model")])
        models = {
            name
            for name in self.env["ir.model"].browse(own.mapped("res_id")).mapped("model")
            if name.startswith("loyalty.club")
        }
        self.assertEqual(models - NO_TABLE, set(MATRIX), "add the new model's line to MATRIX (access_matrix_lines.py)")

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
        self.assertEqual(
            routes | rpcs | reports, set(ROUTES), "add the new route's line to ROUTES (access_matrix_lines.py)"
        )

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
