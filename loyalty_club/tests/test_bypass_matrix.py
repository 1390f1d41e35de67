import base64
import inspect

from odoo import Command, fields
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from .access_matrix_lines import MATRIX
from .bypass_matrix_lines import ARGS, FIELDS, MAGIC, METHODS, ORM_METHODS, SNAPSHOT


@tagged("post_install", "-at_install")
class TestBypassMatrix(TransactionCase):
    """Issue 20: every role against every field and public method of the addon, the way a JSON-RPC
    client reaches them (create, write, method calls; context is the caller's to forge, so none is
    trusted): no role sets what the server decides, and nothing moves points, money, a PIN or a
    card unless the role's business is that very operation."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        cls.company = env["res.company"].create({"name": "Bypass Chain", "country_id": env.ref("base.ir").id})
        cls.company2 = env["res.company"].create({"name": "Bypass Other Chain"})
        cls.club = env["loyalty.club"].create(
            {"name": "Bypass Club", "company_id": cls.company.id, "redeem_pin_required": True}
        )
        env["account.chart.template"].try_loading("generic_coa", cls.company, install_demo=False)
        cls.gift_method = cls.club._setup_gift_cards()

        def user(login, groups, company=cls.company):
            return new_test_user(env, login, groups=groups, company_id=company.id, company_ids=[company.id])

        cls.users = {
            "cashier": user("bp_cashier", "base.group_user,point_of_sale.group_pos_user"),
            "salesman": user("bp_salesman", "base.group_user,sales_team.group_sale_salesman_all_leads"),
            "billing": user("bp_billing", "base.group_user,account.group_account_invoice"),
            "club_user": user("bp_club_user", "loyalty_club.group_loyalty_club_user"),
            "club_manager": user("bp_club_manager", "loyalty_club.group_loyalty_club_manager"),
            "other_company": user("bp_other", "loyalty_club.group_loyalty_club_manager", cls.company2),
            "portal": user("bp_portal", "base.group_portal"),
            "admin": user("bp_admin", "base.group_user,base.group_system"),
        }
        cls.victim = env["res.partner"].create({"name": "Bypass Victim", "phone": "+98 912 300 4000"})
        cls.victim_card = env["loyalty.club.card"].create({"partner_id": cls.victim.id, "club_id": cls.club.id})
        cls.victim_card._set_pin("2580")
        Posting = env["loyalty.club.posting"]
        Posting._post(cls.victim_card, 800, "earn", "bypass:victim:earn", branch=cls.company)
        cls.victim_gift = env["loyalty.club.gift.card"].create({"club_id": cls.club.id, "partner_id": cls.victim.id})
        cls.victim_gift._set_pin("258025")
        Posting._post_gift_card(cls.victim_gift, 90.0, "load", "bypass:victim:gift", branch=cls.company)
        cls.product = env["product.product"].create({"name": "Bypass shirt", "lst_price": 40.0, "taxes_id": False})
        cls.reward = env["loyalty.club.reward"].create(
            {"name": "Bypass 10 %", "club_id": cls.club.id, "points_cost": 100, "discount_percent": 10}
        )
        cls.order = (
            env["sale.order"]
            .with_company(cls.company)
            .create(
                {
                    "partner_id": cls.victim.id,
                    "company_id": cls.company.id,
                    "order_line": [Command.create({"product_id": cls.product.id, "product_uom_qty": 3})],
                }
            )
        )
        cls.invoice = (
            env["account.move"]
            .with_company(cls.company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": cls.victim.id,
                    "invoice_line_ids": [Command.create({"product_id": cls.product.id, "price_unit": 40.0})],
                }
            )
        )
        cls.invoice.action_post()
        config = (
            env["pos.config"]
            .with_company(cls.company)
            .create({"name": "Bypass shop", "company_id": cls.company.id, "payment_method_ids": [(5, 0, 0)]})
        )
        cls.config = config
        session = env["pos.session"].with_company(cls.company).create({"config_id": config.id})
        cls.pos_order = (
            env["pos.order"]
            .with_company(cls.company)
            .create(
                {
                    "session_id": session.id,
                    "company_id": cls.company.id,
                    "amount_tax": 0.0,
                    "amount_total": 40.0,
                    "amount_paid": 0.0,
                    "amount_return": 0.0,
                    "lines": [
                        Command.create(
                            {
                                "product_id": cls.product.id,
                                "qty": 1,
                                "price_unit": 40.0,
                                "price_subtotal": 40.0,
                                "price_subtotal_incl": 40.0,
                            }
                        )
                    ],
                }
            )
        )
        # a redemption (a lot consumption), a PIN token and a hold of the victim's card at the till
        Posting._post(cls.victim_card, -10, "redeem", "bypass:victim:redeem", branch=cls.company)
        env["loyalty.club.till.token"]._issue(config, cls.victim_card, "bp-victim-order")
        cls.victim_hold = env["loyalty.club.hold"]._make(
            config,
            cls.victim_card,
            "bp-victim-order",
            "bp-victim-payment",
            points=20,
            amount=0.0,
            currency=cls.company.currency_id,
        )
        cls.records = cls._victim_records()
        currency = cls.company.currency_id.id
        cls.parents = {
            "loyalty.club.gift.card.issue.wizard": env["loyalty.club.gift.card.issue.wizard"].create(
                {"club_id": cls.club.id, "count": 1, "amount": 0.0, "currency_id": currency}
            ),
            "loyalty.club.liability.wizard": env["loyalty.club.liability.wizard"].create({}),
            "loyalty.club.import.wizard": env["loyalty.club.import.wizard"].create({"club_id": cls.club.id}),
            "loyalty.club.native.migration.wizard": env["loyalty.club.native.migration.wizard"].create(
                {"club_id": cls.club.id}
            ),
        }

    @classmethod
    def _victim_records(cls):
        """The record of each model a role attacks: another customer's, or the company's."""
        env = cls.env
        card = cls.victim_card
        history = env["loyalty.club.tier.history"].sudo().search([("card_id", "=", card.id)], limit=1)
        if not history:
            tier = env["loyalty.club.tier"].create({"name": "Bypass Gold", "club_id": cls.club.id, "threshold": 1})
            card._change_tier(tier, "upgrade")
        coalition = env["loyalty.club.coalition.partner"].create(
            {
                "club_id": cls.club.id,
                "partner_id": env["res.partner"].create({"name": "Bypass Restaurant", "is_company": True}).id,
                "point_rate": 0.5,
            }
        )
        transaction = env["loyalty.club.coalition.transaction"]._book(
            coalition, card, "redeem", 10, 50.0, "bypass-partner-redeem-0001"
        )
        month = fields.Date.today().replace(day=1)
        settlement = env["loyalty.club.coalition.settlement"].create(
            {
                "name": "Bypass settlement",
                "coalition_partner_id": coalition.id,
                "partner_id": coalition.partner_id.id,
                "club_id": cls.club.id,
                "company_id": cls.company.id,
                "date_from": month,
                "date_to": month,
            }
        )
        return {
            "loyalty.club.coalition.partner": coalition,
            "loyalty.club.coalition.transaction": transaction,
            "loyalty.club.coalition.settlement": settlement,
            "loyalty.club": cls.club,
            "loyalty.club.tier": env["loyalty.club.tier"].search([("club_id", "=", cls.club.id)], limit=1),
            "loyalty.club.card": card,
            "loyalty.club.entry": card.entry_ids[:1],
            "loyalty.club.tier.history": env["loyalty.club.tier.history"].search([("card_id", "=", card.id)], limit=1),
            "loyalty.club.qualifying.total": env["loyalty.club.qualifying.total"].search(
                [("card_id", "=", card.id)], limit=1
            ),
            "loyalty.club.reward": cls.reward,
            "loyalty.club.discount.window": env["loyalty.club.discount.window"].create(
                {"name": "Bypass window", "club_id": cls.club.id, "discount_percent": 5}
            ),
            "loyalty.club.gift.card": cls.victim_gift,
            "loyalty.club.gift.card.entry": cls.victim_gift.entry_ids[:1],
            "loyalty.club.bonus.rule": env["loyalty.club.bonus.rule"].create(
                {"name": "Bypass visit", "club_id": cls.club.id, "kind": "visit", "points": 5}
            ),
            "loyalty.club.segment": env["loyalty.club.segment"].create({"name": "Bypass", "club_id": cls.club.id}),
            "loyalty.club.sms.campaign": env["loyalty.club.sms.campaign"].create(
                {"name": "Bypass campaign", "club_id": cls.club.id, "body": "Bypass"}
            ),
            "loyalty.club.notification": env["loyalty.club.notification"].create(
                {
                    "key": "bypass:note",
                    "club_id": cls.club.id,
                    "company_id": cls.company.id,
                    "partner_id": cls.victim.id,
                    "card_id": card.id,
                    "kind": "welcome",
                }
            ),
            "loyalty.club.attempt": env["loyalty.club.attempt"].create({"channel": "backoffice"}),
            "loyalty.club.pin.check": env["loyalty.club.pin.check"]._record(card, cls.order),
            "loyalty.club.phone.verification": env["loyalty.club.phone.verification"].create(
                {
                    "user_id": cls.users["portal"].id,
                    "partner_id": cls.victim.id,
                    "phone": "+989123004000",
                    "purpose": "phone",
                    "expires_at": fields.Datetime.now(),
                }
            ),
            "sale.order": cls.order,
            "sms.sms": env["sms.sms"].create({"number": "+989123004000", "body": "Bypass SMS"}),
            "sale.order.line": cls.order.order_line[:1],
            "account.move": cls.invoice,
            "res.partner": cls.victim,
            "product.template": cls.product.product_tmpl_id,
            "pos.payment.method": cls.gift_method,
            "barcode.rule": cls.club.barcode_rule_id,
            "pos.config": cls.config,
            "pos.order": cls.pos_order,
            "pos.order.line": cls.pos_order.lines[:1],
            "pos.payment": env["pos.payment"],
            "loyalty.club.lot.consumption": env["loyalty.club.lot.consumption"].search(
                [("lot_id.card_id", "=", card.id)], limit=1
            ),
            "loyalty.club.hold": cls.victim_hold,
            "loyalty.club.till.token": env["loyalty.club.till.token"].search([], limit=1),
        }

    def _wizard_values(self):
        """What a role fills a wizard with to attack another customer (no PIN typed)."""
        return {
            "loyalty.club.adjust.wizard": {"card_id": self.victim_card.id, "delta": 1000, "reason": "forged"},
            "loyalty.club.card.replace.wizard": {"card_id": self.victim_card.id},
            "loyalty.club.pin.wizard": {"card_id": self.victim_card.id},
            "loyalty.club.redeem.wizard": {
                "order_id": self.order.id,
                "card_id": self.victim_card.id,
                "reward_id": self.reward.id,
            },
            "loyalty.club.gift.card.issue.wizard": {
                "club_id": self.club.id,
                "count": 1,
                "amount": 10.0,
                "activate": True,
                "currency_id": self.company.currency_id.id,
            },
            "loyalty.club.gift.card.issue.line": {"wizard_id": self._parent("loyalty.club.gift.card.issue.wizard")},
            "loyalty.club.gift.card.payment.wizard": {
                "move_id": self.invoice.id,
                "code": self.victim_gift.sudo().code,
                "amount": 10.0,
            },
            "loyalty.club.gift.card.refund.wizard": {
                "move_id": self.invoice.id,
                "gift_card_id": self.victim_gift.id,
                "amount": 10.0,
            },
            "loyalty.club.gift.card.reveal.wizard": {"gift_card_id": self.victim_gift.id, "reason": "forged"},
            "loyalty.club.liability.wizard": {},
            "loyalty.club.liability.line": {"wizard_id": self._parent("loyalty.club.liability.wizard")},
            "loyalty.club.import.wizard": {"club_id": self.club.id},
            "loyalty.club.import.line": {
                "wizard_id": self._parent("loyalty.club.import.wizard"),
                "line_number": 1,
                "severity": "error",
                "message": "forged",
            },
            "loyalty.club.native.migration.wizard": {"club_id": self.club.id},
            "loyalty.club.native.migration.line": {
                "wizard_id": self._parent("loyalty.club.native.migration.wizard"),
                "result": "skipped",
            },
        }

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _parent(self, model):
        """A wizard of ``model`` (made by the server) that a line under attack belongs to."""
        return self.parents[model].id

    @staticmethod
    def _own_fields(model):
        """The fields the addon defines on ``model`` (not those it gets through ``_inherits``)."""
        return {
            name
            for name, field in model._fields.items()
            if "loyalty_club" in (field._modules or ()) and not field.inherited
        }

    @staticmethod
    def _own_methods(model):
        names = set()
        for cls in type(model).__mro__:
            if not cls.__module__.startswith("odoo.addons.loyalty_club."):
                continue
            for name, value in vars(cls).items():
                if not name.startswith("_") and inspect.isfunction(value) and name not in ORM_METHODS:
                    names.add(name)
        return names

    def _models(self):
        """Models with a field or a public method of the addon."""
        result = {}
        for name in self.env.registry:
            model = self.env[name]
            if model._abstract:
                continue
            fields_ = self._own_fields(model) - MAGIC
            methods = self._own_methods(model)
            if fields_ or methods:
                result[name] = (fields_, methods)
        return result

    def _lines(self, model):
        line = FIELDS.get(model, {})
        if line == "report":
            return {}
        return {name: kind for kind, names in line.items() for name in names.split()}

    def _forged(self, model, name):
        field = model._fields[name]
        if field.type == "many2one":
            comodel = self.env[field.comodel_name].sudo()
            return (comodel.search([], limit=1, order="id desc") or comodel.browse(1)).id
        if field.type == "one2many":
            return [Command.clear()]
        if field.type == "many2many":
            comodel = self.env[field.comodel_name].sudo()
            return [Command.set(comodel.search([], limit=1).ids)]
        if field.type in ("integer", "many2one_reference"):
            return 424242
        if field.type in ("float", "monetary"):
            return 4242.42
        if field.type == "boolean":
            return True
        if field.type == "date":
            return "2031-01-01"
        if field.type == "datetime":
            return "2031-01-01 00:00:00"
        if field.type == "selection":
            values = field._description_selection(self.env)
            return values[-1][0] if values else False
        if field.type == "binary":
            return base64.b64encode(b"forged")
        if field.type == "reference":
            return f"res.partner,{self.victim.id}"
        return "forged"

    @staticmethod
    def _carries(record, name, forged):
        """Whether ``record`` was given the ``forged`` value of ``name`` (the till's models drop it)."""
        value = record[name]
        field = record._fields[name]
        if field.type == "many2one":
            return value.id == forged
        if field.type in ("one2many", "many2many"):
            return bool(value)
        if field.type in ("date", "datetime"):
            return bool(value) and str(value).startswith(forged[:10])
        if field.type == "binary":
            return bool(value)
        return value == forged

    def _snapshot(self):
        self.env.flush_all()
        self.env.cr.execute(SNAPSHOT)
        return self.env.cr.fetchone()

    def _target(self, model, user):
        """The record ``user`` attacks: the victim record, or a wizard filled with forged values."""
        Model = self.env[model]
        if Model._transient:
            values = self._wizard_values().get(model)
            if values is None:
                return None
            try:
                with self.env.cr.savepoint():
                    return Model.with_user(user).create(values)
            except Exception:  # refused
                # the role may not create it: attack one it got another way (created in sudo, as itself)
                try:
                    with self.env.cr.savepoint():
                        return Model.with_user(user).sudo().create(values).sudo(False)
                except Exception:  # not creatable with these values even so: nothing to attack
                    return None
        record = self.records.get(model)
        return record.with_user(user) if record else None

    # ------------------------------------------------------------------
    # Tests
    # ------------------------------------------------------------------
    def test_every_field_and_method_has_a_line(self):
        missing_fields, missing_methods, stale = {}, {}, []
        for model, (fields_, methods) in self._models().items():
            if FIELDS.get(model) == "report":
                continue
            lines = self._lines(model)
            absent = sorted(fields_ - set(lines))
            if absent:
                Model = self.env[model]
                missing_fields[model] = {
                    name: "server" if Model._fields[name].readonly and not Model._fields[name].inverse else "?"
                    for name in absent
                }
            stale += [f"{model}.{name}" for name in set(lines) - set(self.env[model]._fields)]
            absent_methods = sorted(methods - set(METHODS.get(model, {})))
            if absent_methods:
                missing_methods[model] = absent_methods
        self.assertFalse(
            missing_fields, f"fields without their line in FIELDS (bypass_matrix_lines.py): {missing_fields}"
        )
        self.assertFalse(
            missing_methods, f"public methods without their line in METHODS (bypass_matrix_lines.py): {missing_methods}"
        )
        self.assertFalse(stale, "lines of fields that no longer exist")
        self.assertTrue(set(MATRIX) <= set(FIELDS), set(MATRIX) - set(FIELDS))

    def test_the_server_decided_fields_are_those_the_mixin_protects(self):
        """One mechanism: loyalty.club.protected.mixin refuses every server line (create and write)
        and every create line (write) outside superuser mode."""
        gaps = []
        for model, line in FIELDS.items():
            if line == "report":
                continue
            Model = self.env[model]
            if set(self._lines(model).values()) <= {"input"}:
                continue  # nothing the server decides there
            if not isinstance(Model, type(self.env["loyalty.club.protected.mixin"])):
                gaps.append(f"{model}: no loyalty.club.protected.mixin")
                continue
            protected = Model._loyalty_protected_names() - set(Model._loyalty_create_only_fields)
            for name, kind in self._lines(model).items():
                if kind == "server" and name not in protected:
                    gaps.append(f"{model}.{name} is not protected")
                if kind == "create" and name not in Model._loyalty_create_only_fields:
                    gaps.append(f"{model}.{name} is not create-only")
        self.assertFalse(gaps, "\n".join(gaps))

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_rule", "odoo.sql_db")
    def test_no_role_writes_what_the_server_decides(self):
        """Every server-decided field, created and written with a forged value, by every role."""
        accepted, refusals = [], 0
        for model, line in FIELDS.items():
            if line == "report":
                continue
            Model = self.env[model]
            lines = self._lines(model)
            for role, user in self.users.items():
                target = self._target(model, user)
                for name, kind in lines.items():
                    if kind == "input" or name not in Model._fields:
                        continue
                    forged = self._forged(Model, name)
                    if kind == "server":
                        try:
                            with self.env.cr.savepoint():
                                record = Model.with_user(user).create({name: forged})
                                if self._carries(record.sudo(), name, forged):
                                    accepted.append(f"{role} created {model} with {name}")
                        except Exception:  # any refusal will do: what was accepted is listed
                            refusals += 1
                    if target:
                        before = target.sudo()[name]
                        try:
                            with self.env.cr.savepoint():
                                target.with_user(user).write({name: forged})
                                target.invalidate_recordset()
                                if target.sudo()[name] != before:
                                    accepted.append(f"{role} wrote {model}.{name}")
                        except Exception:  # refused
                            refusals += 1
        self.assertFalse(accepted, "\n".join(accepted))
        self.assertTrue(refusals, "the attempts were made")

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_rule", "odoo.sql_db", "odoo.http")
    def test_no_method_moves_points_money_pins_or_cards_without_the_right(self):
        """Every public method, called by every role on another customer's records or on a wizard
        filled with forged values (no PIN typed), with forged context keys."""
        moved, calls = [], 0
        forged_context = {"loyalty_club_posting": True, "loyalty_club_import": True, "tracking_disable": True}
        for model, methods in METHODS.items():
            for role, user in self.users.items():
                for method, allowed in methods.items():
                    target = self._target(model, user)
                    if target is None:
                        continue
                    args = ARGS.get(method, lambda case: [])(self)
                    before = self._snapshot()
                    try:
                        with self.env.cr.savepoint():
                            try:
                                getattr(target.with_user(user).with_context(**forged_context), method)(*args)
                            except Exception as error:
                                raise _Undo() from error
                            after = self._snapshot()
                            if after != before and role not in allowed.split():
                                moved.append(f"{role} {model}.{method}: {before} -> {after}")
                            raise _Undo()
                    except _Undo:
                        calls += 1
                    self.env.invalidate_all()
                    self.assertEqual(self._snapshot(), before)
        self.assertFalse(moved, "\n".join(moved))
        self.assertTrue(calls, "the calls were made")


class _Undo(Exception):
    """Roll a call back to its savepoint once its effects were looked at."""
