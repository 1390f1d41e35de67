import json

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common_pos import PIN, PosClubCase

GIFT_PIN = "135790"


@tagged("post_install", "-at_install")
class TestServerDecides(PosClubCase):
    """Issue 20, items 1 and 2: what a PIN check decides (which card pays, whether the PIN was
    verified, the points a reward line costs) is derived on the server, never written by a client."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.redeem_pin_required = True
        cls.club._setup_gift_cards()
        cls.GiftCard = cls.env["loyalty.club.gift.card"]
        cls.victim_gift = cls.GiftCard.create({"club_id": cls.club.id, "currency_id": cls.company.currency_id.id})
        cls.victim_gift._set_pin(GIFT_PIN)
        cls.Posting._post_gift_card(cls.victim_gift, 100.0, "load", "server-decides:victim")
        cls.own_gift = cls.GiftCard.create({"club_id": cls.club.id, "currency_id": cls.company.currency_id.id})
        cls.own_gift._set_pin(GIFT_PIN)
        cls.Posting._post_gift_card(cls.own_gift, 100.0, "load", "server-decides:own")
        cls.billing = new_test_user(
            cls.env,
            "sd_billing",
            groups="base.group_user,account.group_account_invoice",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.club_user = new_test_user(
            cls.env,
            "sd_club_user",
            groups="base.group_user,sales_team.group_sale_salesman_all_leads,loyalty_club.group_loyalty_club_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.victim = cls.env["res.partner"].create({"name": "Victim Member", "phone": "+98 912 999 0000"})
        cls.victim_card = cls.env["loyalty.club.card"].create({"partner_id": cls.victim.id, "club_id": cls.club.id})
        cls.victim_card._set_pin("9753")
        cls.Posting._post(cls.victim_card, 500, "earn", "server-decides:victim-points")
        cls.Posting._post(cls.card, 500, "earn", "server-decides:member-points")
        cls.reward = cls.env["loyalty.club.reward"].create(
            {"name": "Ten off", "club_id": cls.club.id, "points_cost": 100, "discount_percent": 10}
        )

    def invoice(self):
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.member.id,
                "company_id": self.company.id,
                "invoice_line_ids": [Command.create({"product_id": self.shirt.id, "quantity": 1, "price_unit": 80.0})],
            }
        )
        invoice.action_post()
        return invoice

    def order(self, partner=None):
        return (
            self.env["sale.order"]
            .with_user(self.club_user)
            .create(
                {
                    "partner_id": (partner or self.member).id,
                    "company_id": self.company.id,
                    "order_line": [Command.create({"product_id": self.shirt.id, "product_uom_qty": 2})],
                }
            )
        )

    # ------------------------------------------------------------------
    # Item 1: a Billing user pays an invoice with another customer's gift card
    # ------------------------------------------------------------------
    def test_billing_user_cannot_pay_with_a_card_whose_pin_they_did_not_type(self):
        invoice = self.invoice()
        Wizard = self.env["loyalty.club.gift.card.payment.wizard"].with_user(self.billing)
        forged = {
            "move_id": invoice.id,
            "code": self.own_gift.sudo().code,
            "gift_card_id": self.victim_gift.id,
            "amount": 50.0,
        }
        with self.assertRaises(AccessError):  # the card is decided by the PIN check
            Wizard.create(forged)
        forged.pop("gift_card_id")
        wizard = Wizard.create(forged)
        with self.assertRaises(UserError):  # no PIN typed: no card pays
            wizard.action_pay()
        # its own card's PIN typed, then the victim's card forged on the wizard
        wizard = Wizard.create({**forged, "pin": GIFT_PIN})
        self.assertEqual(wizard.gift_card_id, self.own_gift)
        with self.assertRaises(AccessError):
            wizard.write({"gift_card_id": self.victim_gift.id})
        wizard.write({"code": self.victim_gift.sudo().code})
        wizard.invalidate_recordset()
        self.assertEqual(wizard.gift_card_id, self.own_gift, "the card is the one whose PIN was checked")
        with self.assertRaises(AccessError):
            wizard.write({"move_id": self.invoice().id})
        wizard.action_pay()
        self.assertEqual(self.victim_gift.balance, 100.0, "the victim's card is untouched")
        self.assertEqual(self.own_gift.balance, 50.0)
        self.assertEqual(invoice.amount_residual, 30.0)

    def test_a_pin_check_authorises_its_user_and_its_wizard_only(self):
        invoice = self.invoice()
        Wizard = self.env["loyalty.club.gift.card.payment.wizard"]
        checked = Wizard.create(
            {"move_id": invoice.id, "code": self.victim_gift.sudo().code, "pin": GIFT_PIN, "amount": 10.0}
        )
        self.assertEqual(checked.gift_card_id, self.victim_gift)
        other = Wizard.with_user(self.billing).create({"move_id": invoice.id, "code": "x", "amount": 10.0})
        self.assertFalse(other.gift_card_id, "a check of another wizard authorises nothing here")
        with self.assertRaises(UserError):
            other.action_pay()
        self.assertEqual(self.victim_gift.balance, 100.0)

    # ------------------------------------------------------------------
    # Item 2: points on a quotation
    # ------------------------------------------------------------------
    def test_club_user_cannot_write_reward_points_or_swap_cards(self):
        order = self.order()
        line = order.order_line
        for values in (
            {"loyalty_reward_points": 400},
            {"loyalty_reward_id": self.reward.id},
            {"loyalty_reward_card_id": self.victim_card.id},
            {"loyalty_points": 999},
            {"loyalty_member_discount": 50.0},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                line.with_user(self.club_user).write(values)
        with self.assertRaises(AccessError):
            order.with_user(self.club_user).write(
                {"order_line": [Command.create({"product_id": self.shirt.id, "loyalty_reward_points": 300})]}
            )
        with self.assertRaises(ValidationError):
            order.with_user(self.club_user).write({"loyalty_card_id": self.victim_card.id})
        with self.assertRaises(AccessError):
            order.with_user(self.club_user).write({"loyalty_confirmations": 5})
        order.with_user(self.club_user).action_confirm()
        self.assertEqual(self.victim_card.balance, 500, "nothing was spent from the victim's card")

    def test_redeem_wizard_card_cannot_be_swapped_after_the_pin_check(self):
        order = self.order()
        Wizard = self.env["loyalty.club.redeem.wizard"].with_user(self.club_user)
        wizard = Wizard.create({"order_id": order.id, "card_id": self.card.id, "reward_id": self.reward.id, "pin": PIN})
        self.assertTrue(wizard.pin_verified)
        with self.assertRaises(AccessError):
            wizard.write({"card_id": self.victim_card.id})
        with self.assertRaises(AccessError):
            wizard.write({"order_id": self.order(self.victim).id})
        forged = Wizard.create(
            {"order_id": self.order(self.victim).id, "card_id": self.victim_card.id, "reward_id": self.reward.id}
        )
        with self.assertRaises(AccessError):
            forged.write({"pin_verified": True})
        self.assertFalse(forged.pin_verified)
        with self.assertRaises(UserError):
            forged.action_apply()
        self.assertFalse(forged.order_id.order_line.filtered("loyalty_reward_id"))

    def test_reward_lines_stay_with_the_card_whose_pin_was_checked(self):
        order = self.order()
        self.env["loyalty.club.redeem.wizard"].with_user(self.club_user).create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": self.reward.id, "pin": PIN}
        ).action_apply()
        reward_lines = order.order_line.filtered("loyalty_reward_id")
        self.assertEqual(reward_lines.loyalty_reward_card_id, self.card)
        second = self.env["loyalty.club.card"].create({"partner_id": self.member.id, "club_id": self.club.id})
        with self.assertRaises(ValidationError):
            order.with_user(self.club_user).write({"loyalty_card_id": second.id})
        with self.assertRaises(ValidationError):
            order.with_user(self.club_user).write({"partner_id": self.victim.id})
        order.with_user(self.club_user).action_confirm()
        redeemed = self.env["loyalty.club.entry"].search(
            [("origin_model", "=", "sale.order"), ("origin_id", "=", order.id), ("kind", "=", "redeem")]
        )
        self.assertEqual((redeemed.card_id, redeemed.points), (self.card, -100), "the checked card paid")
        self.assertEqual(self.victim_card.balance, 500)


@tagged("post_install", "-at_install")
class TestServerDecidesOverRpc(HttpCase):
    """Item 1 over JSON-RPC, as a Billing user's browser would send it, with forged context keys."""

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
        return response.json()

    @mute_logger("odoo.http")
    def test_forged_gift_card_over_json_rpc_pays_nothing(self):
        env = self.env
        env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        company = env["res.company"].create({"name": "RPC Chain", "country_id": env.ref("base.ir").id})
        env.user.company_ids |= company
        env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
        club = env["loyalty.club"].with_company(company).create({"name": "RPC Club", "company_id": company.id})
        club._setup_gift_cards()
        victim = env["loyalty.club.gift.card"].create({"club_id": club.id, "currency_id": company.currency_id.id})
        victim._set_pin("112233")
        env["loyalty.club.posting"]._post_gift_card(victim, 80.0, "load", "rpc:victim")
        billing = new_test_user(
            env,
            "sd_rpc_billing",
            groups="base.group_user,account.group_account_invoice",
            company_id=company.id,
            company_ids=[company.id],
        )
        product = env["product.product"].create({"name": "RPC shirt", "lst_price": 50.0})
        invoice = (
            env["account.move"]
            .with_company(company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": billing.partner_id.id,
                    "invoice_line_ids": [Command.create({"product_id": product.id, "price_unit": 50.0})],
                }
            )
        )
        invoice.action_post()
        residual = invoice.amount_residual
        self.authenticate(billing.login, billing.login)
        context = {"loyalty_club_posting": True, "allowed_company_ids": [company.id]}
        Wizard = "loyalty.club.gift.card.payment.wizard"
        values = {"move_id": invoice.id, "code": "0000", "amount": 20.0}
        forged = self._call(Wizard, "create", [{**values, "gift_card_id": victim.id}], {"context": context})
        self.assertIn("error", forged, "the card is not a field a client sets")
        created = self._call(Wizard, "create", [values], {"context": context})
        self.assertIn("result", created)
        paid = self._call(Wizard, "action_pay", [[created["result"]]], {"context": context})
        self.assertIn("error", paid, "no PIN was typed: no card pays")
        victim.invalidate_recordset()
        invoice.invalidate_recordset()
        self.assertEqual(victim.balance, 80.0)
        self.assertEqual(invoice.amount_residual, residual)
