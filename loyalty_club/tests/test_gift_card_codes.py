import json

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.loyalty_club.tools.gift_card_code import format_code, mask_code

GIFT_PIN = "975310"


@tagged("post_install", "-at_install")
class TestGiftCardCodesMasked(HttpCase):
    """Issue 20, item 5: after its issue a gift card's code shows masked (its last four symbols) to
    every role, in lists, forms, reports, exports, name search and RPC reads; a manager reveals one
    with a reason logged on the card; at issue time the issuer sees the codes and PINs and prints."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        cls.company = env["res.company"].create({"name": "Codes Chain", "country_id": env.ref("base.ir").id})
        cls.club = env["loyalty.club"].create({"name": "Codes Club", "company_id": cls.company.id})

        def user(login, groups):
            return new_test_user(env, login, groups=groups, company_id=cls.company.id, company_ids=[cls.company.id])

        cls.users = {
            "cashier": user("gc_cashier", "base.group_user,point_of_sale.group_pos_user"),
            "billing": user("gc_billing", "base.group_user,account.group_account_invoice"),
            "club_user": user("gc_club_user", "loyalty_club.group_loyalty_club_user"),
            "club_manager": user("gc_manager", "loyalty_club.group_loyalty_club_manager"),
            "portal_owner": user("gc_portal", "base.group_portal"),
        }
        cls.card = env["loyalty.club.gift.card"].create(
            {"club_id": cls.club.id, "partner_id": cls.users["portal_owner"].partner_id.id}
        )
        cls.card._set_pin(GIFT_PIN)
        env["loyalty.club.posting"]._post_gift_card(cls.card, 25.0, "load", "codes:load")
        cls.code = cls.card.sudo().code
        cls.masked = mask_code(cls.code)

    def _call(self, model, method, args, kwargs=None):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        return json.dumps(response.json())

    @mute_logger("odoo.http", "odoo.models")
    def test_no_role_reads_a_code_after_issue(self):
        model = "loyalty.club.gift.card"
        whole = (self.code, format_code(self.code), self.code.lower())
        for role, user in self.users.items():
            self.authenticate(user.login, user.login)
            with self.subTest(role=role):
                answers = [
                    self._call(model, "read", [self.card.ids, ["code"]]),
                    self._call(model, "read", [self.card.ids, ["code_display"]]),
                    self._call(model, "read", [self.card.ids]),
                    self._call(model, "search_read", [[]]),
                    self._call(
                        model, "web_search_read", [[]], {"specification": {"display_name": {}, "code_masked": {}}}
                    ),
                    self._call(
                        model, "web_read", [self.card.ids], {"specification": {"display_name": {}, "qr_code": {}}}
                    ),
                    self._call(model, "name_search", [self.code]),
                    self._call(model, "search_read", [[("code", "=", self.code)]]),
                    self._call(model, "search_read", [[("code_masked", "ilike", self.code[:4])]]),
                    self._call(model, "read_group", [[], ["code"], ["code"]]),
                    self._call(model, "export_data", [self.card.ids, ["code"]]),
                    self._call(model, "export_data", [self.card.ids, ["code_masked", "display_name"]]),
                    self.url_open(f"/report/html/loyalty_club.report_gift_card/{self.card.id}").text,
                ]
                text = "\n".join(answers)
                self.assertFalse([spelling for spelling in whole if spelling in text], f"{role} read the code")
                self.assertIn(self.code[-4:], text, "the last four symbols are shown where the role reads cards")
        self.assertIn(self.masked, self.card.with_user(self.users["club_user"]).display_name)

    def test_name_search_finds_a_card_by_its_whole_code_or_last_four(self):
        Card = self.env["loyalty.club.gift.card"].with_user(self.users["club_user"])
        self.assertEqual(Card.search([("code_masked", "=", format_code(self.code).lower())]), self.card)
        self.assertEqual(Card.search([("code_masked", "ilike", self.code[-4:])]), self.card)
        self.assertFalse(Card.search([("code_masked", "ilike", self.code[:4])]), "hidden symbols find nothing")
        self.assertEqual([name for _id, name in Card.name_search(self.code)], [self.masked])

    def test_a_manager_reveals_a_code_with_a_reason_logged_on_the_card(self):
        Wizard = self.env["loyalty.club.gift.card.reveal.wizard"]
        with self.assertRaises(AccessError):
            Wizard.with_user(self.users["club_user"]).create({"gift_card_id": self.card.id, "reason": "customer"})
        manager = self.users["club_manager"]
        wizard = Wizard.with_user(manager).create({"gift_card_id": self.card.id, "reason": " "})
        with self.assertRaises(ValidationError):
            wizard.action_reveal()
        self.assertFalse(wizard.code)
        with self.assertRaises(AccessError):
            wizard.write({"revealed": True})
        wizard.reason = "Customer lost the printed card, ticket 4711"
        wizard.action_reveal()
        self.assertEqual(wizard.code, format_code(self.code))
        message = self.card.message_ids[:1]
        self.assertIn("ticket 4711", message.body)
        self.assertIn(manager.name, message.body)
        self.assertNotIn(self.code, message.body)
        html = (
            self.env["ir.actions.report"]
            .with_user(manager)
            ._render_qweb_html("loyalty_club.report_gift_card", self.card.ids)[0]
        )
        self.assertIn(format_code(self.code).encode(), html, "revealed: the manager prints the whole code")
        other = self.users["club_user"]
        html = (
            self.env["ir.actions.report"]
            .with_user(other)
            ._render_qweb_html("loyalty_club.report_gift_card", self.card.ids)[0]
        )
        self.assertNotIn(format_code(self.code).encode(), html, "for the manager only")
        self.assertNotIn(b'alt="QR code"', html, "no QR code of the whole code either")

    def test_the_issuer_sees_codes_and_pins_at_issue_time_and_prints_them(self):
        manager = self.users["club_manager"]
        wizard = (
            self.env["loyalty.club.gift.card.issue.wizard"]
            .with_user(manager)
            .create({"club_id": self.club.id, "count": 2, "amount": 10.0, "activate": True})
        )
        wizard.action_issue()
        cards = wizard.line_ids.gift_card_id
        self.assertEqual(len(cards), 2)
        self.assertEqual(
            set(wizard.line_ids.mapped("code")), {format_code(code) for code in cards.sudo().mapped("code")}
        )
        self.assertTrue(all(wizard.line_ids.mapped("pin")))
        action = wizard.action_print()
        html = self.env["ir.actions.report"].with_user(manager)._render_qweb_html(action["report_name"], cards.ids)[0]
        for card in cards.sudo():
            self.assertIn(card.code_display.encode(), html)
        wizard.action_done()
        html = (
            self.env["ir.actions.report"]
            .with_user(manager)
            ._render_qweb_html("loyalty_club.report_gift_card", cards.ids)[0]
        )
        self.assertFalse([card for card in cards.sudo() if card.code_display.encode() in html], "issued: masked")

    def test_replacing_a_pin_shows_the_code_again_so_it_is_for_managers(self):
        with self.assertRaises(AccessError):
            self.card.with_user(self.users["club_user"]).action_new_pin()
        fresh = self.env["loyalty.club.gift.card"].create({"club_id": self.club.id})
        action = fresh.with_user(self.users["club_user"]).action_new_pin()  # a first PIN: its issue
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        self.assertEqual(wizard.line_ids.code, fresh.sudo().code_display)
