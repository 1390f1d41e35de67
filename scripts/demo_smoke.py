#!/usr/bin/env python3
"""Smoke test of the loyalty_club demo: log in as each demo role and walk the advertised flows.

Run it against a running demo server (``./scripts/run.sh --smoke`` builds or reuses the demo
database, starts Odoo on a free port, runs this script and stops the server):

    .venv/bin/python scripts/demo_smoke.py --url http://localhost:8069 --db loyalty_club_demo

Roles and flows (the README's "Try it"):
  admin/admin        the dashboard's figures, the rewards, the discount windows
  cashier/cashier    at the Bakery Shop till: a member found by card number and by Iranian and US
                     local phone numbers, the PIN (a wrong one refused), points held and released,
                     the gift card and its PIN, the discount windows open now
  persian/persian    Persian (fa_IR) interface, the Tehran club in rials, a member found at the
                     Tehran Shop by a local number, the member card printed right to left
  portal/portal      /my/club shows Joel Willis's card, points, expiring points and gift card
  (anonymous)        /giftcard/balance with the code and PIN of the demo gift card
It writes nothing lasting: held points are released, a wrong PIN is followed by the right one.
Exit status 0 when every check passed; each failed check is printed.
"""

import argparse
import http.cookiejar
import json
import re
import sys
import urllib.parse
import urllib.request
import uuid

# What the demo data promises (loyalty_club/demo/loyalty_club_demo.xml)
PIN = "1234"
CARD_SARA = "7700550000000010"
CARD_JOHN = "7700550000000044"
CARD_JOEL = "7700550000000051"
CARD_ALI = "7800990000000017"
PHONE_SARA_LOCAL = "0912 345 6789"  # Iranian local form (the club's phone country)
PHONE_JOHN_LOCAL = "(202) 555-0147"  # US local form (the company's country)
PHONE_ALI_LOCAL = "09122223344"
GIFT_CARD_CODE = "DEM0-G1FT-CARD-000N"
GIFT_CARD_PIN = "123456"
SHOP = "Bakery Shop"
SHOP_TEHRAN = "Tehran Shop"


class RpcError(Exception):
    pass


class Session:
    """A browser-like session: cookies, JSON-RPC calls and plain pages."""

    def __init__(self, url, db):
        self.url = url.rstrip("/")
        self.db = db
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.context = {}

    def _open(self, path, data=None, headers=None):
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def jsonrpc(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params, "id": 1}).encode()
        status, text = self._open(path, body, {"Content-Type": "application/json"})
        if status != 200:
            raise RpcError(f"{path}: HTTP {status}")
        answer = json.loads(text)
        if answer.get("error"):
            data = answer["error"].get("data") or {}
            raise RpcError(data.get("message") or answer["error"].get("message"))
        return answer["result"]

    def login(self, login, password):
        info = self.jsonrpc("/web/session/authenticate", {"db": self.db, "login": login, "password": password})
        if not info.get("uid"):
            raise RpcError(f"login {login} refused")
        self.context = dict(info.get("user_context") or {})
        # like a user who ticks all their companies in the company switcher
        companies = (info.get("user_companies") or {}).get("allowed_companies") or {}
        if companies:
            self.context["allowed_company_ids"] = [int(company_id) for company_id in companies]
        return info

    def call(self, model, method, *args, **kwargs):
        kwargs.setdefault("context", self.context)
        return self.jsonrpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def get(self, path):
        return self._open(path)

    def post_form(self, path, fields):
        return self._open(path, urllib.parse.urlencode(fields).encode())


class Smoke:
    def __init__(self, url, db, odoo_translations=True):
        self.url = url
        self.db = db
        # ./scripts/run.sh loads Odoo's Persian translations; the test databases do not
        self.odoo_translations = odoo_translations
        self.failures = []
        self.passed = 0

    def check(self, label, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"  ok    {label}")
        else:
            self.failures.append(f"{label}{': ' + str(detail) if detail else ''}")
            print(f"  FAIL  {label}{': ' + str(detail) if detail else ''}")
        return condition

    def step(self, label, function, *args):
        """Run one role's walk; an unexpected error fails it and the next role goes on."""
        print(f"{label}:")
        try:
            function(*args)
        except (RpcError, OSError, KeyError, IndexError, TypeError, ValueError) as error:
            self.check(f"{label} finished", False, f"{type(error).__name__}: {error}")

    def session(self, login=None, password=None):
        session = Session(self.url, self.db)
        if login:
            session.login(login, password)
        return session

    # ------------------------------------------------------------------
    def admin(self):
        s = self.session("admin", "admin")
        self.check("admin logs in", bool(s.context))
        clubs = s.call("loyalty.club", "search_read", [], ["name", "currency_id"], order="id")
        currencies = {club["currency_id"][1] for club in clubs}
        self.check("two clubs, in dollars and rials", {"USD", "IRR"} <= currencies, currencies)
        rewards = s.call(
            "loyalty.club.reward", "search_read", [["club_id.currency_id.name", "=", "USD"]], ["points_cost"]
        )
        self.check(
            "rewards at 100, 150 and 300 points", {100, 150, 300} <= {r["points_cost"] for r in rewards}, rewards
        )
        figures = self._dashboard_figures(s)
        self.check(
            "dashboard figures are filled",
            figures.get("member_count", 0) > 0 and figures.get("liability_points", 0) > 0,
            figures,
        )
        expiring = s.call(
            "loyalty.club.entry",
            "search_count",
            [["points_remaining", ">", 0], ["expiry_date", "<=", _in_days(30)], ["expiry_date", ">=", _in_days(0)]],
        )
        self.check("points expire within 30 days", expiring > 0, expiring)
        openings = s.call("loyalty.club.accounting.batch", "search_count", [["kind", "=", "opening"]])
        self.check("the demo club's points are booked in accounting", openings > 0, openings)

    def _dashboard_figures(self, s):
        """The dashboard's key figures, as its client action reads them ({key: value})."""
        data = s.call("loyalty.club.dashboard", "get_dashboard_data")
        return {kpi["key"]: kpi["value"] for section in data["sections"] for kpi in section["kpis"]}

    # ------------------------------------------------------------------
    def cashier(self):
        s = self.session("cashier", "cashier")
        self.check("cashier logs in", bool(s.context))
        shop = s.call("pos.config", "search_read", [["name", "=", SHOP]], ["id", "payment_method_ids"])[0]
        methods = s.call("pos.payment.method", "read", shop["payment_method_ids"], ["loyalty_club_points", "name"])
        self.check("the till takes club points", any(m["loyalty_club_points"] for m in methods), methods)
        self.check("the till takes gift cards", any(m["name"] == "Gift card" for m in methods), methods)
        config = shop["id"]
        for query, number in (
            (CARD_SARA, CARD_SARA),
            (PHONE_SARA_LOCAL, CARD_SARA),
            (PHONE_JOHN_LOCAL, CARD_JOHN),
        ):
            found = s.call("pos.config", "loyalty_club_find_card", [config], query)
            self.check(
                f"member found by {query!r}",
                len(found) == 1 and found[0]["number_masked"].endswith(number[-4:]),
                found,
            )
        sara = s.call("pos.config", "loyalty_club_find_card", [config], CARD_SARA)[0]
        self.check("the member has a tier and points", sara["tier_name"] and sara["points_available"] > 0, sara)
        order_uuid = str(uuid.uuid4())
        try:
            s.call("pos.config", "loyalty_club_verify_pin", [config], sara["id"], "0000", order_uuid)
            self.check("a wrong PIN is refused", False)
        except RpcError:
            self.check("a wrong PIN is refused", True)
        checked = s.call("pos.config", "loyalty_club_verify_pin", [config], sara["id"], PIN, order_uuid)
        self.check("the PIN 1234 is accepted", bool(checked.get("token")), checked)
        payment_uuid = str(uuid.uuid4())
        held = s.call(
            "pos.config",
            "loyalty_club_hold_points",
            [config],
            sara["id"],
            100,
            order_uuid,
            payment_uuid,
            checked["token"],
        )
        self.check("100 points pay for $5.00", held.get("points") == 100 and held.get("amount") == 5.0, held)
        released = s.call("pos.config", "loyalty_club_release_holds", [config], [payment_uuid])
        self.check("the held points are released", released == 1, released)
        windows = s.call("pos.config", "loyalty_club_discount_windows", [config])
        self.check("a discount window is open today", bool(windows), windows)
        gift = s.call("pos.config", "loyalty_gift_card_find", [config], GIFT_CARD_CODE)
        gift_checked = s.call(
            "pos.config", "loyalty_gift_card_verify_pin", [config], gift["id"], GIFT_CARD_PIN, str(uuid.uuid4())
        )
        self.check("the gift card and its PIN", bool(gift_checked), gift_checked)

    # ------------------------------------------------------------------
    def persian(self):
        s = self.session("persian", "persian")
        self.check("persian logs in in Persian", s.context.get("lang") == "fa_IR", s.context)
        if self.odoo_translations:
            labels = s.call("res.partner", "fields_get", ["name"], ["string"])
            self.check("Odoo's Persian translations are loaded", labels["name"]["string"] == "نام", labels)
        labels = s.call("loyalty.club.card", "fields_get", ["balance"], ["string"])
        self.check("the club speaks Persian", labels["balance"]["string"] != "Points balance", labels)
        cards = s.call("loyalty.club.card", "search_read", [], ["number", "club_id", "currency_id", "tier_id"])
        self.check(
            "the Tehran club's cards, in rials",
            cards and all(c["currency_id"][1] == "IRR" for c in cards),
            cards,
        )
        self.check("the club's name in Persian", cards and cards[0]["club_id"][1] == "باشگاه مشتریان تهران", cards)
        shop = s.call("pos.config", "search_read", [["name", "=", SHOP_TEHRAN]], ["id"])[0]
        found = s.call("pos.config", "loyalty_club_find_card", [shop["id"]], PHONE_ALI_LOCAL)
        self.check(
            "a Tehran member found by his local number", found and found[0]["number_masked"][-4:] == "0017", found
        )
        ali = next(c for c in cards if c["number"] == CARD_ALI)
        status, page = s.get(f"/report/html/loyalty_club.report_member_card/{ali['id']}")
        self.check("the member card prints right to left", status == 200 and 'dir="rtl"' in page, status)

    # ------------------------------------------------------------------
    def portal(self):
        s = self.session("portal", "portal")
        self.check("portal logs in", bool(s.context))
        status, page = s.get("/my/club")
        self.check("/my/club opens", status == 200, status)
        self.check("the card is on /my/club", CARD_JOEL in page, "card number missing")
        self.check("the balance is on /my/club", re.search(r">\s*520\s*<", page) is not None, "520 points missing")
        self.check("the gift card is on /my/club", "000N" in page, "gift card missing")

    def partner(self):
        s = self.session("partner", "partner")
        self.check("the restaurant's cashier logs in", bool(s.context))
        status, page = s.get("/my/club/partner")
        self.check("/my/club/partner opens", status == 200, status)
        self.check("the partner page shows the restaurant", "Gym Restaurant" in page, "partner name missing")
        self.check("the partner page has the lookup form", 'name="query"' in page, "lookup form missing")

    def balance_page(self):
        s = self.session()
        status, form = s.get("/giftcard/balance")
        token = re.search(r'name="csrf_token"\s+value="([^"]+)"', form)
        self.check("/giftcard/balance opens", status == 200 and token, status)
        status, page = s.post_form(
            "/giftcard/balance", {"csrf_token": token.group(1), "code": GIFT_CARD_CODE, "pin": GIFT_CARD_PIN}
        )
        self.check("the gift card's balance is shown", status == 200 and "50.00" in page, status)

    def run(self):
        self.step("admin", self.admin)
        self.step("cashier", self.cashier)
        self.step("persian", self.persian)
        self.step("portal", self.portal)
        self.step("coalition partner", self.partner)
        self.step("gift card balance page", self.balance_page)
        print(f"{self.passed} checks passed, {len(self.failures)} failed")
        return not self.failures


def _in_days(days):
    import datetime

    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--db", default="loyalty_club_demo")
    args = parser.parse_args()
    sys.exit(0 if Smoke(args.url, args.db).run() else 1)


if __name__ == "__main__":
    main()
