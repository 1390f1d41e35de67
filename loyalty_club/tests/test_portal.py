import re
from datetime import timedelta

from freezegun import freeze_time
from lxml import html as lxml_html

from odoo import fields, http
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import format_amount

from odoo.addons.mail.tests.common import MockEmail
from odoo.addons.sms.tests.common import SMSCase

from .common import LoyaltyClubCase

PIN = "4821"
NEW_PIN = "7391"


class LoyaltyPortalCase(HttpCase, LoyaltyClubCase, MockEmail):
    """Two portal customers X and Y of the test club, each with a card; X's has history."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.email = "club@example.com"
        cls.portal_x = cls._portal_user("club_portal_x", "x@example.com", "+98 912 555 0101")
        cls.portal_y = cls._portal_user("club_portal_y", "y@example.com", "+98 912 555 0202")
        Card = cls.env["loyalty.club.card"]
        cls.card_x = Card.create({"partner_id": cls.portal_x.partner_id.id, "club_id": cls.club.id})
        cls.card_y = Card.create({"partner_id": cls.portal_y.partner_id.id, "club_id": cls.club.id})
        cls.card_x._set_pin(PIN)
        cls.card_y._set_pin(PIN)
        Posting = cls.env["loyalty.club.posting"]
        soon = fields.Date.today() + timedelta(days=10)
        Posting._post(cls.card_x, 1000, "earn", "portal:x:1", reason="Opening bonus")
        Posting._post(cls.card_x, 500, "earn", "portal:x:2", expiry_date=soon, branch=cls.company)
        Posting._post(cls.card_x, -300, "redeem", "portal:x:3", reason="Reward")
        Posting._post(cls.card_y, 777, "earn", "portal:y:1", reason="Secret of Y")
        cls.soon = soon

    @classmethod
    def _portal_user(cls, login, email, phone):
        user = new_test_user(
            cls.env,
            login,
            groups="base.group_portal",
            email=email,
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        user.partner_id.phone = phone
        return user

    def csrf(self):
        return http.Request.csrf_token(self)

    def post_form(self, url, **data):
        return self.url_open(url, data={"csrf_token": self.csrf(), **data}, allow_redirects=False)

    def failed_attempts(self, card):
        self.env.cr.execute("SELECT pin_failed_attempts FROM loyalty_club_card WHERE id = %s", [card.id])
        return self.env.cr.fetchone()[0]


@tagged("post_install", "-at_install")
class TestPortalPages(LoyaltyPortalCase):
    """Acceptance 1: own pages show the right numbers."""

    def test_home_tile_and_counter(self):
        self.authenticate("club_portal_x", "club_portal_x")
        response = self.url_open("/my")
        self.assertEqual(response.status_code, 200)
        self.assertIn('href="/my/club"', response.text)
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["loyalty_card_count"]})
        self.assertEqual(counters, {"loyalty_card_count": 1})

    def test_club_page_numbers(self):
        self.authenticate("club_portal_x", "club_portal_x")
        response = self.url_open("/my/club")
        self.assertEqual(response.status_code, 200)
        body = response.text
        self.assertIn(self.card_x.number, body)
        self.assertIn("data:image/png;base64,", body, "the QR code is embedded")
        self.assertIn("1,200", body, "balance 1500 earned - 300 redeemed")
        currency = self.card_x.currency_id
        self.assertEqual(self.card_x.balance_value, 600.0)
        self.assertIn(f"{600:.{currency.decimal_places}f}", body, "value of the balance (0.5 per point)")
        self.assertIn("Silver", body)
        self.assertIn("500 more points to Gold", body)
        # 300 points were redeemed from the lot that expires first: 200 of it expire soon.
        expiring = re.search(r"o_loyalty_portal_expiring.*?</ul>", body, re.S).group(0)
        self.assertIn(">200<", expiring)
        self.assertNotIn(self.card_y.number, body)
        self.assertNotIn("777", body)

    def test_points_held_at_a_till_show_as_not_available(self):
        self.env["loyalty.club.hold"].sudo().create(
            {
                "card_id": self.card_x.id,
                "company_id": self.company.id,
                "order_uuid": "portal-held-order",
                "payment_uuid": "portal-held-payment",
                "points": 400,
                "amount": 200.0,
                "currency_id": self.card_x.currency_id.id,
                "date_expiry": fields.Datetime.now() + timedelta(hours=1),
            }
        )
        self.authenticate("club_portal_x", "club_portal_x")
        held = re.search(r"o_loyalty_portal_held.*?</div>", self.url_open("/my/club").text, re.S).group(0)
        self.assertIn(">400<", held)
        self.assertIn(">800<", held, "1,200 points less the 400 held")

    def test_history_pagination_filters_sorting(self):
        for index in range(22):
            self.Posting._post(self.card_x, 1, "bonus", f"portal:x:bonus:{index}", reason=f"Visit {index}")
        self.authenticate("club_portal_x", "club_portal_x")
        url = f"/my/club/card/{self.card_x.id}/history"
        first = self.url_open(url)
        self.assertEqual(first.status_code, 200)
        self.assertEqual(first.text.count("o_loyalty_portal_entry"), 20)
        second = self.url_open(f"{url}/page/2")
        self.assertEqual(second.text.count("o_loyalty_portal_entry"), 5)
        redeemed = self.url_open(f"{url}?filterby=redeemed")
        self.assertEqual(redeemed.text.count("o_loyalty_portal_entry"), 1)
        self.assertIn("-300", redeemed.text)
        earned = self.url_open(f"{url}/page/2?filterby=earned")
        self.assertEqual(earned.text.count("o_loyalty_portal_entry"), 4, "2 earnings + 22 bonuses, 20 a page")
        self.assertEqual(self.url_open(f"{url}?filterby=expired").text.count("o_loyalty_portal_entry"), 0)
        by_points = self.url_open(f"{url}?sortby=points").text
        self.assertLess(by_points.index("+1,000"), by_points.index("+500"))
        oldest = self.url_open(f"{url}?sortby=oldest&filterby=earned").text
        self.assertLess(oldest.index("Opening bonus"), oldest.index("Visit 0"))

    def test_history_links_only_visible_orders(self):
        own_order = self.env["sale.order"].create(
            {"partner_id": self.portal_x.partner_id.id, "company_id": self.company.id}
        )
        own_order.message_subscribe(self.portal_x.partner_id.ids)
        foreign_order = self.env["sale.order"].create(
            {"partner_id": self.portal_y.partner_id.id, "company_id": self.company.id}
        )
        self.Posting._post(self.card_x, 10, "earn", "portal:x:own-order", origin=own_order)
        self.Posting._post(self.card_x, 11, "earn", "portal:x:foreign-order", origin=foreign_order)
        self.authenticate("club_portal_x", "club_portal_x")
        body = self.url_open(f"/my/club/card/{self.card_x.id}/history").text
        self.assertIn(f"/my/orders/{own_order.id}", body)
        self.assertIn(own_order.name, body)
        self.assertNotIn(f"/my/orders/{foreign_order.id}", body)
        rows = re.findall(r'<tr class="o_loyalty_portal_entry">.*?</tr>', body, re.S)
        row = next(row for row in rows if "+500" in row)
        self.assertIn(self.company.name, row, "the branch where the points were earned")
        self.assertIn(self.soon.strftime("%m/%d/%Y"), row, "expiry date of the lot")
        self.assertNotIn(foreign_order.name, body)


@tagged("post_install", "-at_install")
class TestPortalAccess(LoyaltyPortalCase):
    """Acceptance 1: Y's card ids answer exactly like unknown ids; public users log in first."""

    def _routes(self, card_id):
        return [
            ("get", f"/my/club/card/{card_id}/history", {}),
            ("get", f"/my/club/card/{card_id}/history/page/2", {}),
            ("get", f"/my/club/card/{card_id}/pin", {}),
            (
                "post",
                f"/my/club/card/{card_id}/pin",
                {"current_pin": PIN, "new_pin": "1111", "new_pin_confirm": "1111"},
            ),
            ("post", f"/my/club/card/{card_id}/pin/email", {}),
        ]

    def _call(self, method, url, data):
        if method == "get":
            return self.url_open(url, allow_redirects=False)
        return self.post_form(url, **data)

    @staticmethod
    def _without_csrf(html):
        return re.sub(r"[0-9a-f]{40}o[0-9]+", "<csrf>", html)

    def test_foreign_card_is_like_an_unknown_card(self):
        self.env.cr.execute("SELECT COALESCE(MAX(id), 0) + 1000 FROM loyalty_club_card")
        unknown_id = self.env.cr.fetchone()[0]
        self.authenticate("club_portal_x", "club_portal_x")
        with self.mock_mail_gateway():
            for (method, url, data), (_m, unknown_url, unknown_data) in zip(
                self._routes(self.card_y.id), self._routes(unknown_id), strict=True
            ):
                foreign = self._call(method, url, data)
                unknown = self._call(method, unknown_url, unknown_data)
                self.assertEqual(foreign.status_code, 404, url)
                # The pages differ only by their CSRF token, which carries the second it was made, and
                # by the address asked for (the footer's language links repeat it).
                self.assertEqual(
                    (foreign.status_code, self._without_csrf(foreign.text).replace(url, "<url>")),
                    (unknown.status_code, self._without_csrf(unknown.text).replace(unknown_url, "<url>")),
                    url,
                )
                self.assertNotIn(self.card_y.number, foreign.text)
        self.assertFalse(self._new_mails, "no PIN mail for someone else's card")
        self.assertEqual(self.failed_attempts(self.card_y), 0)
        self.assertTrue(self.card_y._verify_pin(PIN), "Y's PIN did not change")
        body = self.url_open("/my/club").text
        self.assertNotIn(self.card_y.number, body)

    def test_foreign_reset_token_is_refused(self):
        token_y = self.card_y._pin_reset_token(self.portal_y)
        self.authenticate("club_portal_x", "club_portal_x")
        response = self.url_open(f"/my/club/pin/reset?token={token_y}")
        self.assertIn("o_loyalty_portal_link_invalid", response.text)
        self.post_form("/my/club/pin/reset", token=token_y, new_pin="1111", new_pin_confirm="1111")
        self.assertTrue(self.card_y._verify_pin(PIN), "X cannot use a link sent to Y")

    def test_portal_user_orm_sees_only_own_records(self):
        Card = self.env["loyalty.club.card"].with_user(self.portal_x)
        Entry = self.env["loyalty.club.entry"].with_user(self.portal_x)
        self.assertEqual(Card.search([]), self.card_x)
        self.assertEqual(Entry.search([]).card_id, self.card_x)
        with self.assertRaises(AccessError):
            self.card_y.with_user(self.portal_x).read(["balance"])
        with self.assertRaises(AccessError):
            self.card_y.entry_ids.with_user(self.portal_x).read(["points"])
        with self.assertRaises(AccessError):
            self.card_x.with_user(self.portal_x).write({"date_expiry": fields.Date.today()})
        with self.assertRaises(AccessError):
            Card.create({"partner_id": self.portal_x.partner_id.id, "club_id": self.club.id})

    def test_public_user_is_sent_to_login(self):
        self.authenticate(None, None)
        for method, url, data in [*self._routes(self.card_x.id), ("get", "/my/club", {})]:
            response = self._call(method, url, data)
            if method == "get":
                self.assertIn(response.status_code, (302, 303), url)
                self.assertIn("/web/login", response.headers["Location"], url)
            else:
                self.assertNotEqual(response.status_code, 200, url)
                self.assertNotIn(self.card_x.number, response.text)
        self.assertTrue(self.card_x._verify_pin(PIN))


@tagged("post_install", "-at_install")
class TestPortalPin(LoyaltyPortalCase):
    """PIN change with the current PIN (same lockout) or with a signed, expiring e-mail link."""

    def change(self, current, new=NEW_PIN, confirm=None):
        return self.post_form(
            f"/my/club/card/{self.card_x.id}/pin",
            current_pin=current,
            new_pin=new,
            new_pin_confirm=new if confirm is None else confirm,
        )

    def test_change_with_current_pin(self):
        self.authenticate("club_portal_x", "club_portal_x")
        response = self.change(PIN)
        self.assertEqual(response.status_code, 303)
        self.assertIn("/my/club?message=pin_changed", response.headers["Location"])
        self.card_x.invalidate_recordset()
        self.assertTrue(self.card_x._verify_pin(NEW_PIN))
        self.assertFalse(self.card_x._verify_pin(PIN))

    def test_wrong_pin_locks_with_the_uniform_message(self):
        uniform = self.env["loyalty.club.card"]._uniform_auth_error().args[0]
        self.authenticate("club_portal_x", "club_portal_x")
        for attempt in range(1, 4):
            response = self.change("0000")
            self.assertEqual(response.status_code, 200)
            self.assertIn(uniform, response.text)
            self.assertEqual(self.failed_attempts(self.card_x), attempt)
        self.card_x.invalidate_recordset()
        self.assertTrue(self.card_x.pin_locked)
        response = self.change(PIN)  # right PIN, but the card is locked
        self.assertIn(uniform, response.text)
        self.card_x.invalidate_recordset()
        self.assertFalse(self.card_x._verify_pin(NEW_PIN))

    def test_refused_new_pin_costs_no_attempt(self):
        self.authenticate("club_portal_x", "club_portal_x")
        self.assertIn("The two new PINs are different.", self.change("0000", NEW_PIN, "7392").text)
        self.assertIn("The PIN must be exactly 4 digits.", self.change("0000", "12").text)
        self.assertEqual(self.failed_attempts(self.card_x), 0)

    def test_pin_never_reaches_the_browser(self):
        self.authenticate("club_portal_x", "club_portal_x")
        self.env.cr.execute("SELECT pin_hash FROM loyalty_club_card WHERE id = %s", [self.card_x.id])
        pin_hash = self.env.cr.fetchone()[0]
        for url in ("/my/club", f"/my/club/card/{self.card_x.id}/pin", f"/my/club/card/{self.card_x.id}/history"):
            body = self.url_open(url).text
            self.assertNotIn(pin_hash, body)
            self.assertNotIn(pin_hash.split("$")[-1], body)

    def _mail_link(self):
        self.authenticate("club_portal_x", "club_portal_x")
        with self.mock_mail_gateway():
            response = self.post_form(f"/my/club/card/{self.card_x.id}/pin/email")
        self.assertIn("/my/club?message=pin_mail_sent", response.headers["Location"])
        self.assertEqual(len(self._mails), 1)
        mail = self._mails[0]
        self.assertEqual(mail["email_to"], [self.portal_x.partner_id.email_formatted])
        self.assertNotIn(PIN, mail["body"])
        link = re.search(r'href="([^"]*/my/club/pin/reset\?token=[^"]+)"', mail["body"]).group(1)
        return link.replace("&amp;", "&").split("/my/club/pin/reset")[1]

    def test_reset_by_mail_link(self):
        query = self._mail_link()
        form = self.url_open(f"/my/club/pin/reset{query}")
        self.assertIn("o_loyalty_portal_pin_form", form.text)
        self.assertNotIn("current_pin", form.text)
        token = query.split("token=")[1]
        response = self.post_form("/my/club/pin/reset", token=token, new_pin=NEW_PIN, new_pin_confirm=NEW_PIN)
        self.assertIn("/my/club?message=pin_changed", response.headers["Location"])
        self.card_x.invalidate_recordset()
        self.assertTrue(self.card_x._verify_pin(NEW_PIN))
        # single use: the link signs the old PIN hash
        again = self.post_form("/my/club/pin/reset", token=token, new_pin="5555", new_pin_confirm="5555")
        self.assertIn("o_loyalty_portal_link_invalid", again.text)
        self.assertTrue(self.card_x._verify_pin(NEW_PIN))

    def test_reset_link_expires_and_is_tamper_proof(self):
        token = self._mail_link().split("token=")[1]
        card_id, expiry, signature = token.split("-")
        forged = f"{card_id}-{int(expiry) + 86400}-{signature}"
        self.assertIn("o_loyalty_portal_link_invalid", self.url_open(f"/my/club/pin/reset?token={forged}").text)
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)):
            self.assertFalse(self.env["loyalty.club.card"]._card_from_pin_reset_token(token, self.portal_x))
        self.assertEqual(self.env["loyalty.club.card"]._card_from_pin_reset_token(token, self.portal_x), self.card_x)
        self.assertFalse(self.env["loyalty.club.card"]._card_from_pin_reset_token(token, self.portal_y))


@tagged("post_install", "-at_install")
class TestPortalJoin(LoyaltyPortalCase, SMSCase):
    """Joining from the portal: the mobile number is verified by a code sent by SMS before anything
    is written (issue 20, item 6); phone normalised, duplicates refused, double submit harmless."""

    def send_code(self, phone="0912 777 8899"):
        with self.mockSMSGateway():
            return self.post_form("/my/club/join", phone=phone)

    def confirm(self, code, pin="2468", confirm=None):
        return self.post_form(
            "/my/club/join/confirm", code=code, pin=pin, pin_confirm=pin if confirm is None else confirm
        )

    def sent_code(self, partner, number):
        """The code of the SMS queued for ``number`` (through Odoo's SMS queue)."""
        sms = self._find_sms_sms(partner, number, "outgoing")
        return re.search(r"\b(\d{6})\b", sms.body).group(1)

    def join(self, newcomer, phone="0912 777 8899", pin="2468", confirm=None):
        self.send_code(phone)
        code = self.sent_code(newcomer.partner_id, self.env["loyalty.club.card"]._normalize_phone(phone))
        return self.confirm(code, pin=pin, confirm=confirm)

    def test_join_creates_one_card_once_the_number_is_verified(self):
        newcomer = self._portal_user("club_portal_new", "new@example.com", False)
        self.authenticate("club_portal_new", "club_portal_new")
        self.assertIn("o_loyalty_portal_join_phone", self.url_open("/my/club").text)
        response = self.send_code()
        self.assertIn("/my/club", response.headers["Location"])
        self.assertSMSOutgoing(newcomer.partner_id, "+989127778899", content="verification code")
        self.assertFalse(newcomer.partner_id.mobile, "nothing is written before the code comes back")
        self.assertIn("o_loyalty_portal_join_confirm", self.url_open("/my/club").text)
        code = self.sent_code(newcomer.partner_id, "+989127778899")
        # the queue delivers it through whichever gateway is configured
        with self.mockSMSGateway():
            self.env["sms.sms"].sudo()._process_queue()
        self.assertSMSIapSent(["+989127778899"], content=code)
        response = self.confirm(code)
        self.assertIn("/my/club?message=joined", response.headers["Location"])
        cards = self.env["loyalty.club.card"].search([("partner_id", "=", newcomer.partner_id.id)])
        self.assertEqual(len(cards), 1)
        self.assertEqual(cards.club_id, self.club)
        self.assertEqual(newcomer.partner_id.mobile, "+989127778899")
        self.assertEqual(cards.partner_phone_sanitized, "+989127778899")
        self.assertTrue(cards._verify_pin("2468"))
        again = self.confirm(code)
        self.assertIn("message=already_member", again.headers["Location"])
        self.assertIn("message=already_member", self.send_code().headers["Location"])
        self.assertEqual(self.env["loyalty.club.card"].search_count([("partner_id", "=", newcomer.partner_id.id)]), 1)
        self.assertNotIn("o_loyalty_portal_join", self.url_open("/my/club").text)

    def test_a_shops_number_is_never_overwritten_unverified(self):
        newcomer = self._portal_user("club_portal_shop", "shop@example.com", False)
        newcomer.partner_id.mobile = "+98 935 111 2222"  # the number the shop has
        self.authenticate("club_portal_shop", "club_portal_shop")
        self.send_code("0912 777 6655")
        code = self.sent_code(newcomer.partner_id, "+989127776655")
        wrong = "000000" if code != "000000" else "111111"
        for _try in range(5):
            self.assertIn("This code is wrong or has expired.", self.confirm(wrong).text)
        verification = self.env["loyalty.club.phone.verification"].sudo().search([("user_id", "=", newcomer.id)])
        self.assertEqual((verification.tries, verification.state), (5, "failed"))
        self.confirm(code)  # too late: five wrong tries spent the code
        self.assertEqual(newcomer.partner_id.mobile, "+98 935 111 2222")
        self.assertFalse(self.env["loyalty.club.card"].search([("partner_id", "=", newcomer.partner_id.id)]))
        self.assertFalse(verification.sudo().code_hash == code, "only a keyed hash of the code is kept")

    def test_codes_expire_and_are_limited(self):
        newcomer = self._portal_user("club_portal_late", "late@example.com", False)
        self.authenticate("club_portal_late", "club_portal_late")
        self.send_code()
        code = self.sent_code(newcomer.partner_id, "+989127778899")
        with freeze_time(fields.Datetime.now() + timedelta(minutes=11)):
            self.assertIn("This code is wrong or has expired.", self.confirm(code).text)
        self.assertFalse(newcomer.partner_id.mobile)
        for _index in range(4):
            self.send_code()
        self.assertIn("Too many codes were sent to you.", self.send_code().text)

    def test_join_refuses_duplicates(self):
        message = "A club card already exists for this phone number or e-mail address."
        newcomer = self._portal_user("club_portal_dup", "dup@example.com", False)
        self.authenticate("club_portal_dup", "club_portal_dup")
        self.assertIn(message, self.send_code(phone="0912 555 0101").text, "phone of X's card")
        newcomer.partner_id.email = "X@example.com"
        self.assertIn(message, self.send_code(phone="0912 000 0000").text, "e-mail of X's card")
        self.assertFalse(self.env["loyalty.club.card"].search([("partner_id", "=", newcomer.partner_id.id)]))

    def test_join_form_shows_the_pin_length_and_the_benefits(self):
        self.club.sudo().write({"pin_length": 5, "earn_amount": 10, "earn_points": 2})
        self.env["loyalty.club.bonus.rule"].create(
            {"name": "Welcome", "club_id": self.club.id, "kind": "join", "points": 50}
        )
        Reward = self.env["loyalty.club.reward"]
        Reward.create(
            {
                "name": "10% off",
                "club_id": self.club.id,
                "reward_type": "discount",
                "points_cost": 300,
                "discount_percent": 10,
            }
        )
        Reward.create(
            {
                "name": "7% off",
                "club_id": self.club.id,
                "reward_type": "discount",
                "points_cost": 150,
                "discount_percent": 7,
            }
        )
        self._portal_user("club_portal_benefits", "benefits@example.com", False)
        self.authenticate("club_portal_benefits", "club_portal_benefits")
        page = lxml_html.fromstring(self.url_open("/my/club").text)
        benefits = [item.text_content() for item in page.xpath("//ul[hasclass('o_loyalty_portal_join_benefits')]/li")]
        amount = format_amount(self.env, 10, self.club.currency_id)
        self.assertEqual(
            benefits,
            [
                "50 welcome points when you join.",
                f"2 points for every {amount} you spend.",
                f"Each point is worth {format_amount(self.env, 0.5, self.club.currency_id)} when you pay with points.",
                "Rewards from 150 points: 7% off and 10% off.",
                "More benefits in the higher tiers: Silver and Gold.",
            ],
        )
        rule = page.xpath("//*[hasclass('o_loyalty_portal_join_pin_rule')]")[0].text_content()
        self.assertIn("5 digits", rule, "the PIN length of the club, before the customer starts")
        # the second step: the PIN fields say it too
        self.send_code()
        page = lxml_html.fromstring(self.url_open("/my/club").text)
        pin_input = page.xpath("//input[@name='pin']")[0]
        self.assertEqual(pin_input.get("maxlength"), "5")
        pin_help = page.xpath("//*[@id=$id]", id=pin_input.get("aria-describedby"))[0].text_content()
        self.assertIn("5 digits", pin_help)

    def test_join_benefits_follow_the_club(self):
        """A club without rewards, tiers or welcome points does not promise them."""
        self.club.sudo().write({"earn_points": 1, "point_value": 0})
        self.club.tier_ids.filtered(lambda tier: tier.threshold > 0).write({"active": False})
        self.assertEqual(
            self.club._join_benefits("en_US"),
            [f"1 point for every {format_amount(self.env, 10, self.club.currency_id)} you spend."],
        )

    def test_join_bad_input(self):
        newcomer = self._portal_user("club_portal_bad", "bad@example.com", False)
        self.authenticate("club_portal_bad", "club_portal_bad")
        self.assertIn("is not a valid phone number", self.send_code(phone="12").text)
        self.send_code()
        code = self.sent_code(newcomer.partner_id, "+989127778899")
        self.assertIn("The PIN must be exactly 4 digits.", self.confirm(code, pin="12").text)
        self.assertIn("The two PINs are different.", self.confirm(code, confirm="1357").text)
        verification = self.env["loyalty.club.phone.verification"].sudo().search([("user_id", "=", newcomer.id)])
        self.assertEqual(verification.tries, 0, "a refused PIN costs no try of the code")
        self.assertFalse(self.env["loyalty.club.card"].search([("partner_id", "=", newcomer.partner_id.id)]))


@tagged("post_install", "-at_install")
class TestPortalPhoneChange(LoyaltyPortalCase, SMSCase):
    """A member's new mobile number is recorded only once the code sent to it comes back, from the
    club page or from *My account* (issue 20, item 6)."""

    def code_for(self, partner, number):
        sms = self._find_sms_sms(partner, number, "outgoing")
        return re.search(r"\b(\d{6})\b", sms.body).group(1)

    def test_member_changes_the_mobile_number_with_a_code(self):
        self.authenticate("club_portal_x", "club_portal_x")
        partner = self.portal_x.partner_id
        self.assertIn('name="phone"', self.url_open("/my/club/phone").text)
        with self.mockSMSGateway():
            self.post_form("/my/club/phone", phone="0935 444 5566")
        self.assertSMSOutgoing(partner, "+989354445566")
        self.assertFalse(partner.mobile)
        self.assertEqual(self.card_x.partner_phone_sanitized, "+989125550101", "the till still finds the old one")
        self.assertIn("This code is wrong or has expired.", self.post_form("/my/club/phone/confirm", code="x").text)
        response = self.post_form("/my/club/phone/confirm", code=self.code_for(partner, "+989354445566"))
        self.assertIn("message=phone_changed", response.headers["Location"])
        self.assertEqual(partner.mobile, "+989354445566")
        self.card_x.invalidate_recordset()
        self.assertEqual(self.card_x.partner_phone_sanitized, "+989354445566")
        self.assertIn("verified by an SMS code", partner.message_ids[:1].body)

    def test_my_account_phone_of_a_member_waits_for_the_code(self):
        self.authenticate("club_portal_x", "club_portal_x")
        partner = self.portal_x.partner_id
        details = {
            "name": partner.name,
            "phone": "0935 777 8899",
            "email": partner.email,
            "street": "Valiasr 1",
            "city": "Tehran",
            "country_id": str(self.env.ref("base.ir").id),
        }
        with self.mockSMSGateway():
            response = self.post_form("/my/account", **details)
        self.assertIn("/my/club/phone", response.headers["Location"])
        self.assertEqual(partner.phone, "+98 912 555 0101", "not written before the code comes back")
        self.assertEqual(partner.street, "Valiasr 1", "the rest of the form is saved")
        self.assertSMSOutgoing(partner, "+989357778899")
        self.post_form("/my/club/phone/confirm", code=self.code_for(partner, "+989357778899"))
        self.assertEqual(partner.phone, "+989357778899")

    def test_non_members_and_unchanged_numbers_are_left_alone(self):
        self.authenticate("club_portal_x", "club_portal_x")
        partner = self.portal_x.partner_id
        details = {
            "name": partner.name,
            "phone": "0912 555 0101",  # the same number, typed differently
            "email": partner.email,
            "street": "Valiasr 2",
            "city": "Tehran",
            "country_id": str(self.env.ref("base.ir").id),
        }
        with self.mockSMSGateway():
            response = self.post_form("/my/account", **details)
        self.assertNotIn("/my/club/phone", response.headers.get("Location", ""))
        self.assertFalse(self._new_sms)
        outsider = self._portal_user("club_portal_out", "out@example.com", "+98 912 000 1111")
        self.authenticate("club_portal_out", "club_portal_out")
        self.assertEqual(self.url_open("/my/club/phone", allow_redirects=False).status_code, 404)
        response = self.post_form("/my/account", **dict(details, name="Out", email="out@example.com"))
        self.assertEqual(outsider.partner_id.phone, "0912 555 0101", "a non-member's phone is Odoo's business")


@tagged("post_install", "-at_install")
class TestPortalTour(LoyaltyPortalCase):
    """Acceptance 2: headless Chromium on a phone-sized screen."""

    browser_size = "390x844"
    touch_enabled = True

    def test_portal_tour(self):
        self.start_tour("/my", "loyalty_club_portal_tour", login="club_portal_x")
        self.card_x.invalidate_recordset()
        self.assertTrue(self.card_x._verify_pin(NEW_PIN))


@tagged("post_install", "-at_install")
class TestPortalGiftCards(LoyaltyPortalCase):
    """The club page lists the customer's own gift cards with their balances, never others'."""

    def test_own_gift_cards_with_balances(self):
        GiftCard = self.env["loyalty.club.gift.card"]
        Posting = self.env["loyalty.club.posting"]
        (own,), _pins = GiftCard._issue(self.club, partner=self.portal_x.partner_id)
        (foreign,), _pins = GiftCard._issue(self.club, partner=self.portal_y.partner_id)
        Posting._post_gift_card(own, 35.0, "load", "portal:gift:x")
        Posting._post_gift_card(foreign, 99.0, "load", "portal:gift:y")
        self.authenticate("club_portal_x", "club_portal_x")
        page = self.url_open("/my/club").text
        self.assertIn(own._masked_code(), page)
        self.assertIn("35.00", page)
        self.assertNotIn(own.sudo().code, page, "the full code stays off the screen")
        self.assertNotIn(foreign._masked_code(), page)
        self.assertNotIn("99.00", page)
