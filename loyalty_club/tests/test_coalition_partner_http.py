import re

from lxml import html as lxml_html

from odoo import http
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .test_coalition_partner import PIN, CoalitionCase

UNIFORM = "Unknown card, wrong PIN or card not usable."


class CoalitionHttpCase(HttpCase, CoalitionCase):
    def csrf(self):
        return http.Request.csrf_token(self)

    def login(self, user):
        self.authenticate(user.login, user.login)

    def post(self, url, **data):
        return self.url_open(url, data={"csrf_token": self.csrf(), **data}, allow_redirects=False)

    def page(self, coalition=None):
        return f"/my/club/partner/{(coalition or self.coalition).id}"

    @staticmethod
    def text_of(response, css_class):
        """Text of the first element of ``css_class`` in the page, or None."""
        found = lxml_html.fromstring(response.text).xpath(f"//*[contains(@class, '{css_class}')]")
        return " ".join(found[0].text_content().split()) if found else None

    @staticmethod
    def form_uuid(response):
        return re.search(r'name="request_uuid" value="([^"]+)"', response.text).group(1)

    def verify(self, coalition=None, card=None):
        """Look the member up and check the PIN on the partner page; returns the member's page."""
        card = card or self.card
        self.post(f"{self.page(coalition)}/lookup", query=card.number)
        return self.post(f"{self.page(coalition)}/pin", card_id=str(card.id), pin=PIN)

    def pin_hashes(self):
        self.env.cr.execute("SELECT pin_hash FROM loyalty_club_card WHERE pin_hash IS NOT NULL")
        return [row[0] for row in self.env.cr.fetchall()]


@tagged("post_install", "-at_install")
class TestCoalitionPartnerHttp(CoalitionHttpCase):
    """The partner page over HTTP: lookup, PIN, redemption once per form, uniform errors counted
    and limited, and nothing of a partner for anyone else."""

    def test_lookup_pin_and_redeem(self):
        self.login(self.restaurant_user)
        response = self.url_open("/my/club/partner", allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        self.assertTrue(response.headers["Location"].endswith(self.page()))
        response = self.url_open(self.page())
        self.assertEqual(response.status_code, 200)
        self.assertIn('name="query"', response.text)
        found = self.post(f"{self.page()}/lookup", query=self.card.number)
        self.assertEqual(found.status_code, 200)
        self.assertIn(self.card._masked_number(), found.text)
        self.assertNotIn("Sara Test", found.text, "the member's name only after the PIN")
        self.assertIsNone(self.text_of(found, "o_loyalty_partner_available"))
        member = self.post(f"{self.page()}/pin", card_id=str(self.card.id), pin=PIN)
        self.assertEqual(self.text_of(member, "o_loyalty_partner_member_name"), "Sara Test")
        self.assertEqual(self.text_of(member, "o_loyalty_partner_available"), "1,000")
        request_uuid = self.form_uuid(member)
        done = self.post(
            f"{self.page()}/redeem", card_id=str(self.card.id), points="40", amount="50", request_uuid=request_uuid
        )
        self.assertEqual(done.status_code, 303)
        self.assertTrue(done.headers["Location"].endswith(f"{self.page()}?done={request_uuid}"))
        confirmation = self.url_open(f"{self.page()}?done={request_uuid}")
        self.assertIn("40", self.text_of(confirmation, "o_loyalty_partner_done"))
        transaction = self.Transaction.search([("request_uuid", "=", request_uuid)])
        self.assertEqual((transaction.points, transaction.value), (40, 20.0))
        self.assertEqual(transaction.user_id, self.restaurant_user)
        self.assertEqual(transaction.entry_id.points, -40)
        self.card.invalidate_recordset()
        self.assertEqual(self.card.balance, 960)
        # the PIN check was spent: the member page is gone until the next PIN
        self.assertIsNone(self.text_of(confirmation, "o_loyalty_partner_member_name"))
        answers = "\n".join(r.text for r in (response, found, member, confirmation))
        self.assertFalse([pin_hash for pin_hash in self.pin_hashes() if pin_hash in answers])
        self.assertNotIn("pbkdf2", answers)

    def test_home_shows_the_partner_page_to_partner_users_only(self):
        self.login(self.restaurant_user)
        self.assertIn('href="/my/club/partner"', self.url_open("/my").text)
        customer = new_test_user(self.env, "club_home_customer", groups="base.group_portal", company_id=self.company.id)
        self.login(customer)
        self.assertNotIn('href="/my/club/partner"', self.url_open("/my").text)

    def test_member_history_names_the_partner(self):
        """The member's own history on the portal shows where the points went."""
        self.book(points=40, amount=50.0)
        member_user = self.env["res.users"].create(
            {
                "name": "Sara Test",
                "login": "club_member_sara",
                "password": "club_member_sara",
                "partner_id": self.member.id,
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
                "company_id": self.company.id,
                "company_ids": [(6, 0, self.company.ids)],
            }
        )
        self.login(member_user)
        history = self.url_open(f"/my/club/card/{self.card.id}/history")
        self.assertIn("Redeemed at Gym Restaurant", history.text)

    def test_an_undone_transaction_shows_as_cancelled(self):
        mistake, kept = self.book(points=40, amount=50.0), self.book(points=10, amount=50.0)
        mistake.with_user(self.club_manager).action_cancel()
        self.login(self.restaurant_user)
        page = lxml_html.fromstring(self.url_open(self.page()).text)
        rows = page.xpath("//tr[contains(@class, 'o_loyalty_partner_transaction')]")
        cancelled = [
            " ".join(row.text_content().split())
            for row in rows
            if row.xpath(".//*[contains(@class, 'o_loyalty_partner_cancelled')]")
        ]
        self.assertEqual(len(rows), 2)
        self.assertEqual(len(cancelled), 1)
        self.assertIn("40", cancelled[0])
        self.assertEqual(kept.state, "done")

    def test_lookup_by_phone_and_earning(self):
        self.login(self.gym_user)
        found = self.post(f"{self.page(self.gym_coalition)}/lookup", query="0912 345 6789")
        self.assertIn(self.card._masked_number(), found.text)
        member = self.post(f"{self.page(self.gym_coalition)}/pin", card_id=str(self.card.id), pin=PIN)
        earn_uuid = re.findall(r'name="request_uuid" value="([^"]+)"', member.text)[1]
        self.post(
            f"{self.page(self.gym_coalition)}/earn", card_id=str(self.card.id), amount="125.00", request_uuid=earn_uuid
        )
        transaction = self.Transaction.search([("request_uuid", "=", earn_uuid)])
        self.assertEqual((transaction.kind, transaction.points), ("earn", 12))

    def test_failures_get_one_answer_and_are_counted(self):
        blocked = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        blocked._set_pin(PIN)
        blocked.action_block()
        self.login(self.restaurant_user)
        Attempt = self.env["loyalty.club.attempt"].sudo()

        def counted():
            return Attempt.search_count([("channel", "=", "partner"), ("user_id", "=", self.restaurant_user.id)])

        failures = {
            "unknown number": lambda: self.post(f"{self.page()}/lookup", query="7700123412341234"),
            "unknown phone": lambda: self.post(f"{self.page()}/lookup", query="0912 000 0000"),
            "blocked card": lambda: self.post(f"{self.page()}/lookup", query=blocked.number),
            "wrong PIN": lambda: self.post(f"{self.page()}/pin", card_id=str(self.card.id), pin="0000"),
            "unknown card": lambda: self.post(f"{self.page()}/pin", card_id="999999999", pin=PIN),
            "blocked card's PIN": lambda: self.post(f"{self.page()}/pin", card_id=str(blocked.id), pin=PIN),
        }
        for name, call in failures.items():
            with self.subTest(failure=name):
                before = counted()
                response = call()
                self.assertEqual(response.status_code, 200)
                self.assertEqual(self.text_of(response, "o_loyalty_partner_error"), UNIFORM)
                self.assertIsNone(self.text_of(response, "o_loyalty_partner_member_name"))
                self.assertEqual(counted(), before + 1)
        # a success is not counted
        before = counted()
        self.post(f"{self.page()}/lookup", query=self.card.number)
        self.assertEqual(counted(), before)
        # beyond the limit per user, nothing is looked up, whatever the code
        self.env["ir.config_parameter"].sudo().set_param("loyalty_club.attempt_limit_partner_user", counted())
        limited = self.post(f"{self.page()}/lookup", query=self.card.number)
        self.assertIn("Too many failed", self.text_of(limited, "o_loyalty_partner_error"))
        self.assertNotIn(self.card._masked_number(), limited.text)

    def test_double_submission_books_once(self):
        self.login(self.restaurant_user)
        request_uuid = self.form_uuid(self.verify())
        form = {"card_id": str(self.card.id), "points": "40", "amount": "50", "request_uuid": request_uuid}
        first = self.post(f"{self.page()}/redeem", **form)
        second = self.post(f"{self.page()}/redeem", **form)
        self.assertEqual(first.headers["Location"], second.headers["Location"])
        self.assertEqual(self.Transaction.search_count([("request_uuid", "=", request_uuid)]), 1)
        self.assertEqual(
            self.env["loyalty.club.entry"].search_count([("card_id", "=", self.card.id), ("kind", "=", "redeem")]), 1
        )
        self.card.invalidate_recordset()
        self.assertEqual(self.card.balance, 960)

    def test_redemption_over_the_available_points_is_refused(self):
        self.login(self.restaurant_user)
        member = self.verify()
        before = self.counts()
        refused = self.post(
            f"{self.page()}/redeem",
            card_id=str(self.card.id),
            points="1001",
            amount="1000",
            request_uuid=self.form_uuid(member),
        )
        self.assertEqual(refused.status_code, 200)
        self.assertIn("Not enough points", self.text_of(refused, "o_loyalty_partner_error"))
        self.assertEqual(self.counts(), before)

    def test_redemption_needs_the_pin_of_that_card(self):
        card2 = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        self.Posting._post(card2, 500, "earn", "coalition:http:card2", branch=self.company)
        self.login(self.restaurant_user)
        before = self.counts()

        def redeem(card, request_uuid):
            response = self.post(
                f"{self.page()}/redeem", card_id=str(card.id), points="10", amount="50", request_uuid=request_uuid
            )
            return self.text_of(response, "o_loyalty_partner_error")

        # no PIN checked at all
        self.assertIn("PIN again", redeem(self.card, "aaaaaaaa-0000-0000-0000-000000000001"))
        # the PIN of one member does not spend another's points
        request_uuid = self.form_uuid(self.verify())
        self.assertIn("PIN again", redeem(card2, request_uuid))
        # a new lookup forgets the PIN check
        self.post(f"{self.page()}/lookup", query=self.card.number)
        self.assertIn("PIN again", redeem(self.card, request_uuid))
        self.assertEqual(self.counts(), before)

    @mute_logger("odoo.http")
    def test_other_partners_customers_and_visitors_see_nothing(self):
        transaction = self.book(points=40, amount=50.0)
        customer = new_test_user(
            self.env, "club_plain_customer", groups="base.group_portal", company_id=self.company.id
        )
        own = self.page()
        routes = [("GET", own), ("GET", f"{own}?done={transaction.request_uuid}")]
        routes += [("POST", f"{own}/{name}") for name in ("lookup", "pin", "redeem", "earn")]
        form = {
            "query": self.card.number,
            "card_id": str(self.card.id),
            "pin": PIN,
            "points": "10",
            "amount": "50",
            "request_uuid": transaction.request_uuid,
        }
        for user in (self.gym_user, customer):
            self.login(user)
            with self.subTest(user=user.login):
                home = self.url_open("/my/club/partner", allow_redirects=False)
                self.assertEqual(home.status_code, 404 if user == customer else 303)
                for method, url in routes:
                    response = self.url_open(url, allow_redirects=False) if method == "GET" else self.post(url, **form)
                    self.assertEqual(response.status_code, 404, f"{method} {url}")
                    self.assertNotIn("o_loyalty_partner", response.text)
                    self.assertNotIn("Gym Restaurant", response.text)
        # the gym's own page: none of the restaurant's transactions, not even by their submission
        self.login(self.gym_user)
        gym_page = self.url_open(f"{self.page(self.gym_coalition)}?done={transaction.request_uuid}")
        self.assertIsNone(self.text_of(gym_page, "o_loyalty_partner_done"))
        self.assertIsNone(self.text_of(gym_page, "o_loyalty_partner_transaction"))
        self.assertNotIn("Gym Restaurant", gym_page.text)
        replay = self.post(f"{self.page(self.gym_coalition)}/redeem", **form)
        self.assertEqual(self.text_of(replay, "o_loyalty_partner_error"), "This form was already submitted.")
        self.assertEqual(self.Transaction.search_count([]), 1)
        # a visitor is sent to log in
        self.authenticate(None, None)
        response = self.url_open(own, allow_redirects=False)
        self.assertIn("/web/login", response.headers.get("Location", ""))


@tagged("post_install", "-at_install")
class TestCoalitionPartnerTour(CoalitionHttpCase):
    """Acceptance, clicked through in headless Chromium by the restaurant's user: lookup, PIN,
    redemption; then last month's settlement is a draft bill of the points x the rate."""

    def test_partner_user_redeems_then_the_month_is_billed(self):
        self.start_tour("/my/club/partner", "loyalty_club_partner_tour", login="club_restaurant")
        transaction = self.Transaction.search([("coalition_partner_id", "=", self.coalition.id)])
        self.assertEqual((transaction.kind, transaction.points, transaction.value), ("redeem", 40, 20.0))
        self.assertEqual(transaction.user_id, self.restaurant_user)
        self.card.invalidate_recordset()
        self.assertEqual(self.card.balance, 960)
        self.backdate(transaction, self.last_month())
        settlement = self.Settlement._settle(self.coalition | self.gym_coalition, self.last_month())
        self.assertEqual(settlement.move_id.move_type, "in_invoice")
        self.assertEqual(settlement.move_id.state, "draft")
        self.assertEqual(settlement.move_id.amount_total, 40 * 0.5)
        # the gym's user sees nothing of it
        self.login(self.gym_user)
        self.assertEqual(self.url_open(self.page(), allow_redirects=False).status_code, 404)
        gym_page = self.url_open(self.page(self.gym_coalition))
        self.assertIsNone(self.text_of(gym_page, "o_loyalty_partner_transaction"))
        self.assertIsNone(self.text_of(gym_page, "o_loyalty_partner_settlement"))
