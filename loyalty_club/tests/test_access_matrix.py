from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

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
    "loyalty.club.reward": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.discount.window": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.discount.window.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.adjust.wizard": "-     -     -     -     rwc   rwc   -     -",
    "loyalty.club.card.replace.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.pin.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.redeem.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.gift.card": "r     r     -     rwc   rwcu  rwcu  r     -",
    "loyalty.club.gift.card.entry": "-     -     -     r     r     r     -     -",
    "loyalty.club.gift.card.attempt": "-     -     -     -     -     -     -     -",
    "loyalty.club.gift.card.issue.wizard": "-     -     -     rwcu  rwcu  rwcu  -     -",
    "loyalty.club.gift.card.issue.line": "-     -     -     rwcu  rwcu  rwcu  -     -",
    "loyalty.club.gift.card.payment.wizard": "-     -     -     -     -     -     -     -",
    "loyalty.club.activity.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.liability.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.member.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.kpi.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.dashboard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.liability.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.liability.line": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.bonus.rule": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.notification": "-     -     -     r     r     r     -     -",
    "loyalty.club.segment": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.import.wizard": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.import.line": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.native.migration.wizard": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.native.migration.line": "-     -     -     -     rwcu  rwcu  -     -",
}
# Models without access rules on purpose: services with no table.
NO_TABLE = {"loyalty.club.posting", "loyalty.club.pin.mixin"}

OPERATIONS = {"r": "read", "w": "write", "c": "create", "u": "unlink"}


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
            env["loyalty.club.posting"]._post(card, 10, "earn", f"matrix:{card.id}")

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
        }
        readable = {
            "club_user": {"own club", "own card", "own entry", "other customer's card", "other customer's entry"},
            "other_company": {"other chain's club", "other chain's card", "other chain's entry"},
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
        for role, user in self.users.items():
            Card = self.env["loyalty.club.card"].with_user(user)
            with self.subTest(role=role):
                self.assertFalse([name for name in Card.fields_get() if "hash" in name or "secret" in name])
                self.assertRefused(lambda Card=Card: Card.search([("pin_hash", "!=", False)]), ValueError, AccessError)
                if Card.browse().has_access("read"):
                    rows = Card.search([]).read(["number", "pin_set", "state"])
                    self.assertTrue(rows, "the role reads cards, but nothing of their PINs")
                    self.assertFalse([row for row in rows if "pbkdf2" in str(row) or "pin_hash" in row])
                self.assertFalse(
                    self.env["ir.config_parameter"].with_user(user).browse().has_access("read"),
                    "system parameters (database secret) stay with administrators",
                )

    def test_pos_rpcs_of_every_role(self):
        config_a = (
            self.env["pos.config"]
            .with_company(self.branch_a)
            .create({"name": "Matrix shop A", "company_id": self.branch_a.id, "payment_method_ids": [(5, 0, 0)]})
        )
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
