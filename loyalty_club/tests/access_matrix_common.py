import importlib
import inspect
import json
import pkgutil
import re

from odoo.tests import HttpCase, new_test_user

from odoo.addons.loyalty_club import controllers

from .access_matrix_lines import GIFT_PIN


class AccessMatrixCase(HttpCase):
    """The roles, records and HTTP helpers of the access matrix (TestAccessMatrix): the chain with
    its two branches, another company, customers X and Y with their cards and gift cards, and the
    calls of every route, POS RPC and report."""

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
            env["loyalty.club.posting"]._post(card, 10, "earn", f"matrix:{card.id}", branch=card.company_id)
        cls.gift_x = env["loyalty.club.gift.card"].create(
            {"club_id": cls.club.id, "partner_id": cls.users["portal_x"].partner_id.id}
        )
        cls.gift_x._set_pin(GIFT_PIN)
        cls.gift_other = env["loyalty.club.gift.card"].create({"club_id": cls.club2.id})
        cls.gift_other._set_pin(GIFT_PIN)
        env["loyalty.club.posting"]._post_gift_card(cls.gift_x, 30.0, "load", "matrix:gift", branch=cls.company)
        cls.restaurant = env["res.partner"].create({"name": "Matrix Restaurant", "is_company": True})
        cls.restaurant_user = user("mx_restaurant", "base.group_portal", cls.company, [cls.company.id])
        cls.restaurant_user.partner_id.parent_id = cls.restaurant
        cls.coalition = env["loyalty.club.coalition.partner"].create(
            {
                "club_id": cls.club.id,
                "partner_id": cls.restaurant.id,
                "point_rate": 0.5,
                "allow_earning": True,
                "earn_amount": 10,
                "earn_points": 1,
                "user_ids": [(6, 0, cls.restaurant_user.ids)],
            }
        )
        cls.config_a = (
            env["pos.config"]
            .with_company(cls.branch_a)
            .create({"name": "Matrix shop A", "company_id": cls.branch_a.id, "payment_method_ids": [(5, 0, 0)]})
        )

    def assertRefused(self, call, *exceptions):
        """``call()`` raises one of ``exceptions`` (and whatever it wrote is rolled back)."""
        try:
            with self.env.cr.savepoint():
                call()
        except exceptions:
            return
        self.fail(f"not refused: {call}")

    def _qualifying_total(self, card):
        total = self.env["loyalty.club.qualifying.total"].search([("card_id", "=", card.id)], limit=1)
        self.assertTrue(total, "the posting of the set-up left a qualifying total")
        return total

    def _call_kw(self, model, method, args, kwargs):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        return response.json()

    @staticmethod
    def _addon_routes():
        """'METHODS path' of every route declared by the addon's controllers."""
        routes = set()
        for module_info in pkgutil.iter_modules(controllers.__path__):
            module = importlib.import_module(f"{controllers.__name__}.{module_info.name}")
            for _name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__:
                    continue
                for function in vars(cls).values():
                    routing = getattr(function, "original_routing", None)
                    if routing:
                        methods = ",".join(sorted(routing.get("methods") or ["GET", "POST"]))
                        # an override without paths (@http.route() on Odoo's route) declares none;
                        # Odoo fills its routing's type once the routing map is built
                        routes |= {f"{methods} {path}" for path in routing.get("routes", ())}
        return routes

    def _login(self, role):
        if role == "public":
            self.authenticate(None, None)
        else:
            self.authenticate(self.users[role].login, self.users[role].login)
        page = self.url_open("/giftcard/balance")
        self._csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _page(self, response, marker):
        """Outcome of an HTTP route: ok (marker shown), page, 404, sent, login or deny."""
        self._responses.append(response.text)
        if response.status_code in (301, 302, 303):
            location = response.headers.get("Location", "")
            return "login" if "/web/login" in location else "sent"
        if response.status_code == 404:
            return "404"
        if response.status_code == 403:
            return "deny"
        self.assertEqual(response.status_code, 200, response.text[:300])
        return "ok" if marker in response.text else "page"

    def _get(self, url, marker):
        return self._page(self.url_open(url, allow_redirects=False), marker)

    def _post(self, url, data, marker):
        data = dict(data, csrf_token=self._csrf)
        return self._page(self.url_open(url, data=data, allow_redirects=False), marker)

    def _rpc(self, method, *args):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": "pos.config", "method": method, "args": [[self.config_a.id], *args], "kwargs": {}},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/pos.config/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self._responses.append(response.text)
        body = response.json()
        if "result" in body:
            return "ok"
        name = body["error"]["data"]["name"]
        return {
            "odoo.exceptions.AccessError": "deny",
            "odoo.http.SessionExpiredException": "login",
        }.get(name, name)

    def _rpc_hold(self, verify, hold, card_id, pin, amount):
        """What a till does for a points or gift card payment: the PIN checked for an order (the
        token comes back only to a cashier of the shop), then the hold of one point or 1.00."""
        order_uuid = f"mx-order-{len(self._responses):04d}"
        self._rpc(verify, card_id, pin, order_uuid)
        answer = json.loads(self._responses[-1])
        token = answer.get("result", {}).get("token", False)
        return self._rpc(hold, card_id, amount, order_uuid, f"{order_uuid}-pay", token)

    def _report(self, report_name, record):
        response = self.url_open(f"/report/html/{report_name}/{record.id}", allow_redirects=False)
        # a gift card prints masked after its issue (the whole code only to its issuer or a revealer)
        marker = record.number if record._name == "loyalty.club.card" else record.sudo()._masked()
        return self._page(response, marker)

    def _route_calls(self, role):
        card, gift = self.card_x, self.gift_x
        reset_token = card._pin_reset_token(self.users["portal_x"])
        number = card.number
        partner_page = f"/my/club/partner/{self.coalition.id}"
        return {
            "GET /giftcard/balance": lambda: self._get("/giftcard/balance", 'name="code"'),
            "POST /giftcard/balance": lambda: self._post(
                "/giftcard/balance", {"code": gift.sudo().code, "pin": GIFT_PIN}, "o_gift_card_balance"
            ),
            "GET,POST /my/club": lambda: self._get("/my/club", number),
            "GET,POST /my/club/card/<int:card_id>/history": lambda: self._get(
                f"/my/club/card/{card.id}/history", number
            ),
            "GET,POST /my/club/card/<int:card_id>/history/page/<int:page>": lambda: self._get(
                f"/my/club/card/{card.id}/history/page/1", number
            ),
            "GET /my/club/card/<int:card_id>/pin": lambda: self._get(f"/my/club/card/{card.id}/pin", 'name="new_pin"'),
            # Different new PINs: refused with a message, nothing changes.
            "POST /my/club/card/<int:card_id>/pin": lambda: self._post(
                f"/my/club/card/{card.id}/pin",
                {"current_pin": "1357", "new_pin": "2468", "new_pin_confirm": "8642"},
                'name="new_pin"',
            ),
            "POST /my/club/card/<int:card_id>/pin/email": lambda: self._post(
                f"/my/club/card/{card.id}/pin/email", {}, number
            ),
            "GET,POST /my/club/pin/reset": lambda: self._get(
                f"/my/club/pin/reset?token={reset_token}", 'name="new_pin"'
            ),
            # An empty phone: refused, nothing created (customer X is a member: sent back to the card).
            "POST /my/club/join": lambda: self._post(
                "/my/club/join", {"phone": "", "pin": "", "pin_confirm": ""}, "o_never_shown"
            ),
            # No code asked for: sent back to the club page (customer X: already a member).
            "POST /my/club/join/confirm": lambda: self._post(
                "/my/club/join/confirm", {"code": "", "pin": "", "pin_confirm": ""}, "o_never_shown"
            ),
            "GET,POST /my/club/phone": lambda: self._get("/my/club/phone", 'name="phone"'),
            # No code was sent: the page says so, nothing changes.
            "POST /my/club/phone/confirm": lambda: self._post(
                "/my/club/phone/confirm", {"code": "000000"}, "o_never_shown"
            ),
            # a delivery report with a wrong token: refused, whoever sends it
            "GET,POST /loyalty_club/sms/status/<string:provider>/<string:token>": lambda: self._get(
                "/loyalty_club/sms/status/kavenegar/not-the-token?messageid=1&status=10", "OK"
            ),
            "RPC pos.config.loyalty_club_find_card": lambda: self._rpc("loyalty_club_find_card", number),
            "RPC pos.config.loyalty_club_verify_pin": lambda: self._rpc("loyalty_club_verify_pin", card.id, "1357"),
            "RPC pos.config.loyalty_club_discount_windows": lambda: self._rpc("loyalty_club_discount_windows"),
            "RPC pos.config.loyalty_gift_card_find": lambda: self._rpc("loyalty_gift_card_find", gift.sudo().code),
            "RPC pos.config.loyalty_gift_card_verify_pin": lambda: self._rpc(
                "loyalty_gift_card_verify_pin", gift.id, GIFT_PIN
            ),
            "RPC pos.config.loyalty_club_hold_points": lambda: self._rpc_hold(
                "loyalty_club_verify_pin", "loyalty_club_hold_points", card.id, "1357", 1
            ),
            "RPC pos.config.loyalty_gift_card_hold": lambda: self._rpc_hold(
                "loyalty_gift_card_verify_pin", "loyalty_gift_card_hold", gift.id, GIFT_PIN, 1.0
            ),
            "RPC pos.config.loyalty_club_release_holds": lambda: self._rpc("loyalty_club_release_holds", ["mx-none"]),
            # X's card looked up, its PIN, a redemption and an earning at the partner: never reached
            "GET /my/club/partner": lambda: self._get("/my/club/partner", partner_page),
            "GET /my/club/partner/<int:coalition_id>": lambda: self._get(partner_page, 'name="query"'),
            "POST /my/club/partner/<int:coalition_id>/lookup": lambda: self._post(
                f"{partner_page}/lookup", {"query": number}, card._masked_number()
            ),
            "POST /my/club/partner/<int:coalition_id>/pin": lambda: self._post(
                f"{partner_page}/pin", {"card_id": card.id, "pin": "1357"}, "o_loyalty_partner_member_name"
            ),
            "POST /my/club/partner/<int:coalition_id>/redeem": lambda: self._post(
                f"{partner_page}/redeem",
                {"card_id": card.id, "points": 1, "amount": 10, "request_uuid": "mx-partner-redeem-0001"},
                "o_loyalty_partner_done",
            ),
            "POST /my/club/partner/<int:coalition_id>/earn": lambda: self._post(
                f"{partner_page}/earn",
                {"card_id": card.id, "amount": 10, "request_uuid": "mx-partner-earn-0001"},
                "o_loyalty_partner_done",
            ),
            "REPORT loyalty_club.report_member_card": lambda: self._report("loyalty_club.report_member_card", card),
            "REPORT loyalty_club.report_card_statement": lambda: self._report(
                "loyalty_club.report_card_statement", card
            ),
            "REPORT loyalty_club.report_gift_card": lambda: self._report("loyalty_club.report_gift_card", gift),
        }

    def _pin_hashes(self):
        self.env.cr.execute(
            "SELECT pin_hash FROM loyalty_club_card WHERE pin_hash IS NOT NULL "
            "UNION ALL SELECT pin_hash FROM loyalty_club_gift_card WHERE pin_hash IS NOT NULL"
        )
        hashes = [row[0] for row in self.env.cr.fetchall()]
        self.assertTrue(hashes)
        return hashes
