import re
from datetime import date

from lxml import html as lxml_html

from odoo.tests import HttpCase, tagged
from odoo.tools import format_date

from ..tools.gift_card_code import generate_code
from ..tools.jalali import format_jalali

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

    def _post(self, code, pin, page_url="/giftcard/balance"):
        page = self.url_open(page_url)
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


@tagged("post_install", "-at_install")
class TestGiftCardBalancePageLayout(HttpCase):
    """The balance page is a proper public page of the shop (issue 25): the company's logo and
    name, a way back home, a hint of the code format, and the expiry date as the customer reads
    it: Solar Hijri in Persian, the language's format otherwise, never ISO."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        cls.company = cls.env.ref("base.public_user").company_id
        cls.company.write({"name": "Saffron Bakery", "website": "https://saffron.example.com"})
        cls.club = cls.company._loyalty_club_get() or cls.env["loyalty.club"].create(
            {"name": "Layout club", "company_id": cls.company.id}
        )
        cls.club.customer_persian_digits = False
        cls.card = cls.env["loyalty.club.gift.card"].create({"club_id": cls.club.id})
        cls.card._set_pin(PIN)
        cls.env["loyalty.club.posting"]._post_gift_card(cls.card, 20.0, "load", "layout:seed")
        cls.expiry = cls.card.date_expiry  # set when the card is loaded
        cls.env["res.lang"]._activate_lang("fa_IR")

    def _check(self, page_url):
        page = self.url_open(page_url)
        self.assertEqual(page.status_code, 200)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = self.url_open(
            "/giftcard/balance", data={"code": self.card.sudo().code, "pin": PIN, "csrf_token": token}
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("o_gift_card_balance", response.text)
        return response.text

    def test_company_logo_name_home_link_and_code_format(self):
        page = self.url_open("/giftcard/balance")
        self.assertEqual(page.status_code, 200)
        tree = lxml_html.fromstring(page.text)
        self.assertTrue(tree.xpath(f"//img[contains(@src, '/logo.png?company={self.company.id}')]"), "the logo")
        self.assertEqual(tree.xpath("//*[hasclass('o_gift_card_company')]")[0].text_content().strip(), "Saffron Bakery")
        self.assertEqual(tree.xpath("//a[hasclass('o_gift_card_home')]/@href"), ["https://saffron.example.com"])
        code_input = tree.xpath("//input[@name='code']")[0]
        self.assertEqual(code_input.get("placeholder"), "XXXX-XXXX-XXXX-XXXX", "16 symbols in groups of 4")
        self.assertEqual(code_input.get("dir"), "ltr")
        code_help = tree.xpath("//*[@id=$id]", id=code_input.get("aria-describedby"))[0].text_content()
        self.assertIn("16 letters and digits", code_help)
        self.assertIn("XXXX-XXXX-XXXX-XXXX", code_help)
        pin_input = tree.xpath("//input[@name='pin']")[0]
        pin_help = tree.xpath("//*[@id=$id]", id=pin_input.get("aria-describedby"))[0].text_content()
        self.assertIn("6 digits", pin_help)

    def test_without_a_company_website_the_way_back_is_home(self):
        for website in (False, "javascript:alert(1)"):
            self.company.partner_id.sudo().write({"website": website})
            tree = lxml_html.fromstring(self.url_open("/giftcard/balance").text)
            self.assertEqual(tree.xpath("//a[hasclass('o_gift_card_home')]/@href"), ["/"], website)

    def test_expiry_date_in_the_customer_language(self):
        self.assertTrue(self.expiry)
        english = self._check("/giftcard/balance")
        expiry = lxml_html.fromstring(english).xpath("//*[hasclass('o_gift_card_expiry')]")[0]
        self.assertEqual(expiry.text_content(), format_date(self.env, self.expiry, lang_code="en_US"))
        self.assertNotIn(self.expiry.isoformat(), english, "never the ISO date")

    def test_expiry_date_in_jalali_in_persian(self):
        self.assertEqual(format_jalali(date(2029, 12, 4)), "1408/09/14", "Azar 1408 starts on 21 November 2029")
        persian = self._check("/fa/giftcard/balance")
        tree = lxml_html.fromstring(persian)
        self.assertIn("o_rtl", tree.xpath("//div[@id='wrapwrap']/@class")[0], "the page is right to left")
        expiry = tree.xpath("//*[hasclass('o_gift_card_expiry')]")[0]
        jalali = format_jalali(self.expiry)
        self.assertEqual(expiry.text_content(), jalali, "the club's customer date: Solar Hijri")
        self.assertEqual(expiry.get("dir"), "ltr", "year first, read left to right")
        day, month, year = self.expiry.day, self.expiry.month, self.expiry.year
        for gregorian in (self.expiry.isoformat(), f"{day:02d}-{month:02d}-{year}", f"{year}/{month:02d}/{day:02d}"):
            self.assertNotIn(gregorian, persian)
        # the club's setting for Persian digits applies here too
        self.club.customer_persian_digits = True
        expiry = lxml_html.fromstring(self._check("/fa/giftcard/balance")).xpath("//*[hasclass('o_gift_card_expiry')]")
        self.assertEqual(expiry[0].text_content(), format_jalali(self.expiry, persian_digits=True))

    def test_amount_number_is_isolated_left_to_right(self):
        tree = lxml_html.fromstring(self._check("/fa/giftcard/balance"))
        balance = tree.xpath("//*[hasclass('o_loyalty_portal_amount')]//*[hasclass('o_gift_card_balance')]")
        self.assertTrue(balance, "the balance sits in an amount whose number reads left to right")
        self.assertTrue(balance[0].xpath(".//*[hasclass('oe_currency_value')]"))
