import re

from odoo.tests import HttpCase, tagged

from ..tools.gift_card_code import generate_code

PIN = "975310"


@tagged("post_install", "-at_install")
class TestGiftCardBalancePage(HttpCase):
    """The public balance page (acceptance 3): code + PIN show the balance; unknown code, wrong
    PIN and blocked card get byte-identical answers; 10 failures a minute per IP or per code
    and the caller is limited."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        company = cls.env["res.company"].create({"name": "Gift Page Retail"})
        cls.club = cls.env["loyalty.club"].create(
            {"name": "Page club", "company_id": company.id, "pin_max_attempts": 50, "pin_lock_minutes": 0}
        )
        Card = cls.env["loyalty.club.gift.card"]
        cls.card = Card.create({"club_id": cls.club.id})
        cls.card._set_pin(PIN)
        cls.env["loyalty.club.posting"]._post_gift_card(cls.card, 42.5, "load", "page:seed")
        cls.blocked = Card.create({"club_id": cls.club.id})
        cls.blocked._set_pin(PIN)
        cls.blocked.action_block()

    def _post(self, code, pin):
        page = self.url_open("/giftcard/balance")
        self.assertEqual(page.status_code, 200)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return self.url_open("/giftcard/balance", data={"code": code, "pin": pin, "csrf_token": token})

    @staticmethod
    def _body(response):
        """The page without its CSRF tokens: the form's and the one of the page's session info
        are each made at the second they are rendered (HMAC + "o" + expiry time), so they may
        differ from each other and from one response to the next."""
        return re.sub(r"\b[0-9a-f]{40}o\d+\b", "", response.text)

    def _clear_attempts(self):
        self.env["loyalty.club.attempt"].sudo().search([]).unlink()

    def test_right_code_and_pin_show_the_balance(self):
        response = self._post(self.card.sudo().code_display.lower(), PIN)
        self.assertEqual(response.status_code, 200)
        self.assertIn("o_gift_card_balance", response.text)
        self.assertIn("42.50", response.text)
        self.assertNotIn(self.card.sudo().code, response.text, "the page never echoes the whole code")

    def test_unknown_wrong_pin_and_blocked_answer_identically(self):
        answers = {
            "unknown": self._post(generate_code(), PIN),
            "garbage": self._post("not a code at all", PIN),
            "wrong pin": self._post(self.card.sudo().code, "000000"),
            "blocked": self._post(self.blocked.sudo().code, PIN),
        }
        for name, response in answers.items():
            self.assertEqual(response.status_code, 200, name)
            self.assertIn("o_gift_card_error", response.text, name)
        bodies = {self._body(response) for response in answers.values()}
        self.assertEqual(len(bodies), 1, "the answers must not tell the cases apart")

    def test_post_without_csrf_token_is_refused(self):
        response = self.url_open("/giftcard/balance", data={"code": self.card.sudo().code, "pin": PIN})
        self.assertEqual(response.status_code, 400)

    def test_ten_failures_a_minute_per_ip_limit_the_caller(self):
        self._clear_attempts()
        for _attempt in range(10):
            self.assertEqual(self._post(generate_code(), PIN).status_code, 200)
        limited = self._post(self.card.sudo().code, PIN)
        self.assertEqual(limited.status_code, 429)
        self.assertIn("o_gift_card_limited", limited.text)
        self.assertNotIn("o_gift_card_balance", limited.text, "even the right PIN is not checked while limited")
        # The same answer whether the code exists or not.
        self.assertEqual(self._body(self._post(generate_code(), PIN)), self._body(limited))
        # A minute later the caller may try again.
        self.env.cr.execute("UPDATE loyalty_club_attempt SET date = date - interval '2 minutes'")
        self.assertIn("o_gift_card_balance", self._post(self.card.sudo().code, PIN).text)

    def test_ten_failures_a_minute_per_code_limit_that_code_from_any_ip(self):
        self._clear_attempts()
        Attempt = self.env["loyalty.club.attempt"].sudo()
        GiftCard = self.env["loyalty.club.gift.card"]
        code_hash = Attempt._code_hash(GiftCard._code_key(self.card.sudo().code_display.lower()))
        self.assertEqual(code_hash, Attempt._code_hash(GiftCard._code_key(self.card.sudo().code)))
        for index in range(10):
            Attempt.create({"channel": "balance_page", "ip": f"203.0.113.{index}", "code_hash": code_hash})
        self.assertEqual(self._post(self.card.sudo().code, PIN).status_code, 429)
        # Another code from this IP is still fine.
        self.assertEqual(self._post(generate_code(), PIN).status_code, 200)

    def test_cron_cleans_old_attempts(self):
        Attempt = self.env["loyalty.club.attempt"].sudo()
        Attempt.create({"channel": "balance_page", "ip": "198.51.100.1", "code_hash": "x"})
        self.env.cr.execute("UPDATE loyalty_club_attempt SET date = date - interval '2 hours'")
        self.env["loyalty.club.gift.card"]._cron_expire_gift_cards()
        self.assertFalse(Attempt.search([("ip", "=", "198.51.100.1")]))
