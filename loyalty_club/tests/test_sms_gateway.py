import itertools
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import Mock, patch
from urllib.parse import parse_qs, urlparse

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..models.sms_sms import LOST, NOT_SENT
from ..tools.sms_gateway import GatewayError, Throttle, sms_segments, to_e164

KEY = "test-key-0123"
PERSIAN = "سلام، امتیاز شما ۱۲۰ شد"  # 23 characters: one UCS-2 segment


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the client gave up on a late answer (the timeout tests): nothing to report


class MockGateway:
    """Kavenegar and SMS.ir on 127.0.0.1: records every request and every message it really sent
    (once per Kavenegar local id), and answers as their documentation says."""

    def __init__(self):
        self.reset()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                mock.handle(self)

            def do_POST(self):
                mock.handle(self)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self):
        self.requests = []  # (monotonic time, path, params)
        self.sent = []  # every message really sent: {"id", "number", "body", "local_id"}
        self.by_local = {}
        self.statuses = {}  # message id -> delivery status
        self.credit = 50000
        self.invalid_numbers = set()
        self.delay_sends = 0  # how many send requests answer after `delay` seconds
        self.delay = 0.0
        self.fail_sends = 0  # how many send requests answer a temporary error
        self.lock = threading.Lock()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- plumbing -------------------------------------------------------
    def _reply(self, handler, status, payload):
        body = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def handle(self, handler):
        url = urlparse(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        if handler.headers.get("Content-Type", "").startswith("application/json"):
            params = json.loads(raw or "{}")
        else:
            params = {k: v[0] for k, v in parse_qs(raw or url.query).items()}
        params["_headers"] = dict(handler.headers)
        with self.lock:
            self.requests.append((time.monotonic(), url.path, params))
        if url.path.startswith("/v1/send") or url.path.startswith("/v1/credit"):
            status, payload = self.smsir(url.path, params)
        else:
            status, payload = self.kavenegar(url.path, params)
        if status is None:
            return
        sending = url.path.endswith(("send.json", "sendarray.json", "/send/bulk"))
        if sending and self.delay_sends > 0:
            self.delay_sends -= 1
            time.sleep(self.delay)  # the answer comes too late: the message was sent all the same
        self._reply(handler, status, payload)

    def _send_one(self, number, body, local_id=None):
        if local_id and local_id in self.by_local:
            return self.by_local[local_id]
        message = {"id": 7000 + len(self.sent), "number": number, "body": body, "local_id": local_id}
        self.sent.append(message)
        self.statuses[message["id"]] = 1
        if local_id:
            self.by_local[local_id] = message
        return message

    # -- Kavenegar -----------------------------------------------------
    def kavenegar(self, path, params):
        parts = path.split("/")  # '', 'v1', key, ...
        if parts[2] != KEY:
            return 403, {"return": {"status": 403, "message": "invalid key"}, "entries": None}
        action = "/".join(parts[3:])
        if action in ("sms/send.json", "sms/sendarray.json"):
            if self.fail_sends > 0:
                self.fail_sends -= 1
                return 502, {"return": {"status": 502, "message": "bad gateway"}, "entries": None}
            if action == "sms/send.json":
                numbers, bodies = params["receptor"].split(","), [params["message"]]
                locals_ = params.get("localid", "").split(",")
                bodies = bodies * len(numbers)
            else:
                numbers, bodies = json.loads(params["receptor"]), json.loads(params["message"])
                locals_ = json.loads(params.get("localmessageids") or "[]") or [None] * len(numbers)
            if not self.credit:
                return 418, {"return": {"status": 418, "message": "credit"}, "entries": None}
            if set(numbers) & self.invalid_numbers:
                return 411, {"return": {"status": 411, "message": "receptor"}, "entries": None}
            entries = []
            for number, body, local_id in zip(numbers, bodies, locals_, strict=True):
                message = self._send_one(number, body, local_id)
                entries.append({"messageid": message["id"], "status": 1, "receptor": number, "cost": 120})
            return 200, {"return": {"status": 200, "message": "OK"}, "entries": entries}
        if action == "sms/status.json":
            ids = [int(i) for i in params["messageid"].split(",")]
            entries = [{"messageid": i, "status": self.statuses.get(i, 100)} for i in ids]
            return 200, {"return": {"status": 200, "message": "OK"}, "entries": entries}
        if action == "account/info.json":
            entries = {"remaincredit": self.credit, "expiredate": 0, "type": "Master"}
            return 200, {"return": {"status": 200, "message": "OK"}, "entries": entries}
        return 404, {"return": {"status": 404, "message": "not found"}, "entries": None}

    # -- SMS.ir --------------------------------------------------------
    def smsir(self, path, params):
        if params["_headers"].get("X-API-KEY") != KEY:
            return 401, {"status": 10, "message": "invalid key", "data": None}
        if path == "/v1/send/bulk":
            if not self.credit:
                return 400, {"status": 102, "message": "credit", "data": None}
            if set(params["mobiles"]) & self.invalid_numbers:
                return 400, {"status": 104, "message": "mobile", "data": None}
            ids = [self._send_one(number, params["messageText"])["id"] for number in params["mobiles"]]
            return 200, {"status": 1, "message": "OK", "data": {"packId": "p1", "messageIds": ids, "cost": 1}}
        if path == "/v1/credit":
            return 200, {"status": 1, "message": "OK", "data": self.credit}
        if path.rstrip("/") == "/v1/send/live":  # today's messages, newest first, page by page
            size, number = int(params["pageSize"]), int(params["pageNumber"])
            rows = [
                {"messageId": m["id"], "mobile": m["number"][2:], "messageText": m["body"], "deliveryState": 1}
                for m in reversed(self.sent)
            ][(number - 1) * size : number * size]
            return 200, {"status": 1, "message": "OK", "data": rows}
        ref = int(path.rsplit("/", 1)[1])
        return 200, {"status": 1, "message": "OK", "data": {"messageId": ref, "deliveryState": self.statuses[ref]}}

    # -- views ---------------------------------------------------------
    def calls(self, suffix):
        return [params for _t, path, params in self.requests if path.endswith(suffix)]


@tagged("post_install", "-at_install")
class TestSmsGateway(HttpCase):
    """Issue 21: Odoo's SMS queue sent through Kavenegar and SMS.ir (a mock of both on 127.0.0.1)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mock = MockGateway()
        cls.addClassCleanup(cls.mock.stop)
        cls.partner = cls.env["res.partner"].create({"name": "SMS Member", "phone": "+98 912 345 6789"})

    def setUp(self):
        super().setUp()
        self.mock.reset()
        Throttle._next.clear()
        self._gateway("kavenegar")

    def _gateway(self, provider, **params):
        values = {
            "provider": provider,
            f"{provider}_api_key": KEY,
            f"{provider}_sender": "10004346" if provider == "kavenegar" else "30007732",
            f"{provider}_url": f"http://127.0.0.1:{self.mock.port}",
            "timeout": 0.5,
            "retries": 2,
            "backoff": 0.01,
            "rate": 0,
            "callback_token": "s3cret-token",
            **params,
        }
        set_param = self.env["ir.config_parameter"].sudo().set_param
        for key, value in values.items():
            set_param(f"loyalty_club.sms_{key}", value)

    def _sms(self, *numbers, body=PERSIAN):
        return self.env["sms.sms"].create([{"number": number, "body": body} for number in numbers])

    def _send(self, sms):
        sms.send()
        sms.invalidate_recordset()
        return sms

    # ------------------------------------------------------------------
    # Text and numbers
    # ------------------------------------------------------------------
    def test_segments_of_gsm_and_persian_text(self):
        self.assertEqual(sms_segments("a" * 160), 1)
        self.assertEqual(sms_segments("a" * 161), 2)
        self.assertEqual(sms_segments("a" * 306), 2)
        self.assertEqual(sms_segments("a" * 307), 3)
        self.assertEqual(sms_segments("{" * 80), 1)  # extension characters count twice
        self.assertEqual(sms_segments("{" * 81), 2)
        self.assertEqual(sms_segments("س" * 70), 1)
        self.assertEqual(sms_segments("س" * 71), 2)
        self.assertEqual(sms_segments("س" * 134), 2)
        self.assertEqual(sms_segments("س" * 135), 3)
        self.assertEqual(sms_segments("a" * 159 + "س"), 3)  # one Persian letter makes it UCS-2
        sms = self._sms("+989123456789", body="س" * 71)
        self.assertEqual(sms.loyalty_sms_segments, 2)

    def test_numbers_in_each_gateways_form(self):
        self.assertEqual(to_e164("0912 345 6789"), "+989123456789")
        self.assertEqual(to_e164("۰۹۱۲۳۴۵۶۷۸۹"), "+989123456789")
        self.assertEqual(to_e164("+98 912 345 6789"), "+989123456789")
        self.assertEqual(to_e164("0098 912 345 6789"), "+989123456789")
        self.assertIsNone(to_e164("+98 21 1234 5678"), "a landline takes no SMS")
        self.assertIsNone(to_e164("abc"))
        self.mock.reset()
        sms = self._send(self._sms("+989123456789", "+447911123456", "+982112345678", False))
        numbers = json.loads(self.mock.calls("sendarray.json")[0]["receptor"])
        self.assertEqual(numbers, ["09123456789", "00447911123456"])
        self.assertEqual(sms[2].failure_type, "sms_number_format")
        self.assertEqual(sms[3].failure_type, "sms_number_missing")
        self._gateway("smsir")
        sms = self._send(self._sms("+989123456780", "+447911123456"))
        self.assertEqual(self.mock.calls("/send/bulk")[0]["mobiles"], ["989123456780"])
        self.assertEqual(sms[1].failure_type, "sms_country_not_supported")

    # ------------------------------------------------------------------
    # Odoo IAP stays the default
    # ------------------------------------------------------------------
    def test_iap_is_the_default_and_unchanged(self):
        self.env["ir.config_parameter"].sudo().set_param("loyalty_club.sms_provider", False)
        sms = self._sms("+989123456789")
        with patch(
            "odoo.addons.sms.tools.sms_api.SmsApi._send_sms_batch",
            return_value=[{"uuid": sms.uuid, "state": "success"}],
        ) as iap:
            self._send(sms)
        self.assertEqual(iap.call_count, 1)
        self.assertEqual(self.mock.requests, [])
        self.assertEqual(sms.state, "pending")
        self.assertTrue(sms.to_delete, "Odoo's IAP path as before")

    # ------------------------------------------------------------------
    # Kavenegar
    # ------------------------------------------------------------------
    def test_kavenegar_send_one(self):
        sms = self._send(self._sms("+989123456789"))
        (call,) = self.mock.calls("sms/send.json")
        self.assertEqual(call["receptor"], "09123456789")
        self.assertEqual(call["message"], PERSIAN, "Persian sent as Unicode")
        self.assertEqual(call["sender"], "10004346")
        self.assertEqual(call["localid"], str(sms.id))
        self.assertEqual(sms.state, "pending")
        self.assertEqual(sms.loyalty_gateway, "kavenegar")
        self.assertEqual(sms.loyalty_gateway_ref, str(self.mock.sent[0]["id"]))
        self.assertEqual(sms.loyalty_sms_segments, 1)
        self.assertFalse(sms.to_delete, "kept until its delivery report")

    def test_kavenegar_bulk_send(self):
        sms = self._sms("+989120000001", "+989120000002") | self._sms("+989120000003", body="Hello")
        self._send(sms)
        (call,) = self.mock.calls("sendarray.json")
        self.assertEqual(json.loads(call["receptor"]), ["09120000001", "09120000002", "09120000003"])
        self.assertEqual(json.loads(call["message"]), [PERSIAN, PERSIAN, "Hello"])
        self.assertEqual(json.loads(call["localmessageids"]), [str(i) for i in sms.ids])
        self.assertEqual(sms.mapped("loyalty_gateway_ref"), [str(m["id"]) for m in self.mock.sent])
        self.assertEqual(set(sms.mapped("state")), {"pending"})

    def test_kavenegar_batches_follow_odoos_batch_size(self):
        self.env["ir.config_parameter"].sudo().set_param("sms.session.batch.size", 2)
        sms = self._send(self._sms(*[f"+98912000001{i}" for i in range(5)]))
        self.assertEqual(len(self.mock.calls("sendarray.json")), 2)
        self.assertEqual(len(self.mock.calls("send.json")), 1)
        self.assertEqual(len(self.mock.sent), 5)
        self.assertEqual(set(sms.mapped("state")), {"pending"})

    @mute_logger("odoo.addons.loyalty_club.models.sms_sms")
    def test_kavenegar_auth_error(self):
        self._gateway("kavenegar", kavenegar_api_key="wrong")
        sms = self._send(self._sms("+989120000001", "+989120000002"))
        self.assertEqual(set(sms.mapped("failure_type")), {"sms_acc"})
        self.assertEqual(set(sms.mapped("state")), {"error"})
        self.assertEqual(len(self.mock.requests), 1, "a refused key is not retried")

    @mute_logger("odoo.addons.loyalty_club.models.sms_sms")
    def test_kavenegar_no_credit_updates_the_notification(self):
        self.mock.credit = 0
        self.partner._message_sms("Points!", partner_ids=self.partner.ids)
        sms = self.env["sms.sms"].search([("partner_id", "=", self.partner.id)])
        notification = self.env["mail.notification"].search([("sms_id_int", "=", sms.id)])
        self._send(sms)
        self.assertEqual((sms.state, sms.failure_type), ("error", "sms_credit"))
        self.assertEqual(len(self.mock.requests), 1)
        self.assertEqual(notification.notification_status, "exception")
        self.assertEqual(notification.failure_type, "sms_credit")

    @mute_logger("odoo.addons.loyalty_club.models.sms_sms")
    def test_kavenegar_invalid_number(self):
        self.mock.invalid_numbers = {"09990000002"}
        sms = self._send(self._sms("+989120000001", "+989990000002", "+989120000003"))
        self.assertEqual(sms.mapped("state"), ["pending", "error", "pending"])
        self.assertEqual(sms[1].failure_type, "sms_number_format")
        self.assertEqual(len(self.mock.calls("sendarray.json")), 1)
        self.assertEqual(len(self.mock.calls("send.json")), 3, "then one by one")
        self.assertEqual(len(self.mock.sent), 2)

    @mute_logger("odoo.http", "odoo.addons.loyalty_club.controllers.sms_gateway")
    def test_kavenegar_delivery_callback(self):
        sms = self._send(self._sms("+989120000001", "+989120000002"))
        self.authenticate(None, None)
        base = "/loyalty_club/sms/status/kavenegar"
        response = self.url_open(f"{base}/wrong-token?messageid={sms[0].loyalty_gateway_ref}&status=10")
        self.assertEqual(response.status_code, 403)
        response = self.url_open(f"{base}/s3cret-tokeN?messageid={sms[0].loyalty_gateway_ref}&status=10")
        self.assertEqual(response.status_code, 403)
        sms.invalidate_recordset()
        self.assertEqual(sms[0].state, "pending")
        response = self.url_open(f"{base}/s3cret-token?messageid={sms[0].loyalty_gateway_ref}&status=10")
        self.assertEqual(response.status_code, 200)
        response = self.url_open(f"{base}/s3cret-token", data={"messageid": sms[1].loyalty_gateway_ref, "status": "11"})
        self.assertEqual(response.status_code, 200)
        sms.invalidate_recordset()
        self.assertEqual((sms[0].state, sms[0].failure_type), ("sent", False))
        self.assertEqual((sms[1].state, sms[1].failure_type), ("error", "sms_not_delivered"))

    def test_kavenegar_polling(self):
        sms = self._send(self._sms("+989120000001", "+989120000002", "+989120000003"))
        first, second, _third = (m["id"] for m in self.mock.sent)
        self.mock.statuses.update({first: 10, second: 14})
        self.assertEqual(self.env["sms.sms"]._cron_loyalty_poll_statuses(), 2)
        (call,) = self.mock.calls("status.json")
        self.assertEqual(call["messageid"].split(","), sms.mapped("loyalty_gateway_ref"))
        sms.invalidate_recordset()
        self.assertEqual(sms.mapped("state"), ["sent", "error", "pending"])
        self.assertEqual(sms[1].failure_type, "sms_not_allowed")
        # delivered messages are not asked again
        self.mock.reset()
        self.env["sms.sms"]._cron_loyalty_poll_statuses()
        self.assertEqual(self.mock.calls("status.json")[0]["messageid"], sms[2].loyalty_gateway_ref)

    def test_delivery_reaches_the_notification_and_the_club_log(self):
        """A delivery report updates Odoo's notification (sms.tracker) and the club's message log."""
        self.partner._message_sms("Points!", partner_ids=self.partner.ids)
        sms = self.env["sms.sms"].search([("partner_id", "=", self.partner.id)])
        notification = self.env["mail.notification"].search([("sms_id_int", "=", sms.id)])
        self.assertEqual((sms.state, notification.notification_status), ("pending", "pending"))
        company = self.env["res.company"].create({"name": "SMS Chain"})
        club = self.env["loyalty.club"].create({"name": "SMS Club", "company_id": company.id})
        card = self.env["loyalty.club.card"].create({"partner_id": self.partner.id, "club_id": club.id})
        log = self.env["loyalty.club.notification"].create(
            {
                "key": "sms-test",
                "club_id": club.id,
                "company_id": company.id,
                "partner_id": self.partner.id,
                "card_id": card.id,
                "kind": "welcome",
                "sms_id": sms.id,
            }
        )
        self.mock.statuses[self.mock.sent[0]["id"]] = 10
        self.env["sms.sms"]._cron_loyalty_poll_statuses()
        self.assertEqual(notification.notification_status, "sent")
        self.assertEqual((log.sms_state, log.sms_segments), ("sent", 1))
        # delivered messages are kept 30 days (the log shows them), then left to Odoo's clean-up
        self.env.flush_all()
        self.env.cr.execute("UPDATE sms_sms SET write_date = now() - interval '31 days' WHERE id = %s", [sms.id])
        self.env["sms.sms"]._cron_loyalty_poll_statuses()
        self.assertTrue(sms.to_delete)

    def test_kavenegar_timeout_is_retried_without_a_second_send(self):
        self.mock.delay_sends, self.mock.delay = 1, 1.5  # longer than the client's 0.5 s
        sms = self._send(self._sms("+989120000001", "+989120000002"))
        self.assertEqual(len(self.mock.calls("sendarray.json")), 2, "retried after the timeout")
        self.assertEqual(len(self.mock.sent), 2, "each message sent once: same local ids")
        self.assertEqual(set(sms.mapped("state")), {"pending"})
        self.assertEqual(sms.mapped("loyalty_gateway_ref"), [str(m["id"]) for m in self.mock.sent])

    def test_kavenegar_server_error_retried_with_backoff(self):
        self.mock.fail_sends = 2
        sms = self._send(self._sms("+989120000001"))
        self.assertEqual(len(self.mock.calls("send.json")), 3)
        self.assertEqual(sms.state, "pending")
        self.mock.reset()
        self.mock.fail_sends = 5
        sms = self._send(self._sms("+989120000002"))
        self.assertEqual(len(self.mock.calls("send.json")), 3, "1 + 2 retries, then given up")
        self.assertEqual((sms.state, sms.failure_type), ("error", "sms_server"))

    def test_unreachable_gateway_retried_with_growing_backoff(self):
        """Connection refused (nothing was sent): retried, also by SMS.ir, with backoff 1x, 2x..."""
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]  # closed again: connections are refused
        for provider in ("kavenegar", "smsir"):
            gateway = self.env["sms.sms"]._loyalty_sms_gateway(provider)
            gateway.base_url = f"http://127.0.0.1:{port}"
            gateway.sleep = Mock()
            with self.assertRaises(GatewayError) as raised:
                gateway.send([{"number": "09120000001", "body": "x", "local_id": "1"}])
            self.assertEqual([call.args[0] for call in gateway.sleep.call_args_list], [0.01, 0.02], provider)
            self.assertEqual(raised.exception.failure_type, "sms_server")

    def test_throttling_to_the_configured_rate(self):
        self._gateway("kavenegar", rate=10)
        self._send(self._sms(*[f"+9891200001{i:02d}" for i in range(25)]))
        calls = self.mock.requests
        self.assertEqual([len(json.loads(p["receptor"])) for _t, _p, p in calls[:2]], [10, 10])
        self.assertEqual(len(calls), 3)
        self.assertEqual(len(self.mock.sent), 25)
        gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(calls)]
        self.assertTrue(all(gap >= 0.9 for gap in gaps), gaps)  # 10 messages per second at most

    def test_a_message_with_a_gateway_id_is_never_sent_again(self):
        sms = self._send(self._sms("+989120000001"))
        self.mock.reset()
        sms.action_set_outgoing()  # Odoo's Retry
        self._send(sms)
        self.assertEqual(self.mock.requests, [])
        self.assertEqual(sms.state, "pending")

    def test_credit_and_test_send_in_the_settings(self):
        admin = new_test_user(self.env, "sms_admin", groups="base.group_user,base.group_system")
        settings = self.env["res.config.settings"].with_user(admin).create({"loyalty_sms_provider": "kavenegar"})
        action = settings.action_loyalty_sms_credit()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("50,000", action["params"]["message"])
        settings.loyalty_sms_test_number = "0912 345 6789"
        action = settings.action_loyalty_sms_test()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        self.assertEqual(self.mock.calls("send.json")[0]["receptor"], "09123456789")

    def test_api_keys_are_for_administrators_only(self):
        manager = new_test_user(self.env, "sms_club_manager", groups="loyalty_club.group_loyalty_club_manager")
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(manager).get_param("loyalty_club.sms_kavenegar_api_key")
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(manager).search_read(
                [("key", "like", "loyalty_club.sms_")], ["value"]
            )
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(manager).create({}).read(["loyalty_sms_kavenegar_api_key"])
        with self.assertRaises(AccessError):
            self.env["sms.sms"].with_user(manager).create({"number": "+989120000001", "loyalty_gateway_ref": "1"})

    # ------------------------------------------------------------------
    # SMS.ir
    # ------------------------------------------------------------------
    def test_smsir_send_and_bulk_send(self):
        self._gateway("smsir")
        sms = self._sms("+989120000001", "+989120000002") | self._sms("+989120000003", body="Hello")
        self._send(sms)
        calls = self.mock.calls("/v1/send/bulk")
        self.assertEqual(len(calls), 2, "one request per text")
        self.assertEqual(calls[0]["mobiles"], ["989120000001", "989120000002"])
        self.assertEqual(calls[0]["messageText"], PERSIAN)
        self.assertEqual(calls[0]["lineNumber"], "30007732")
        self.assertEqual(calls[0]["_headers"]["X-API-KEY"], KEY)
        self.assertEqual(calls[1]["mobiles"], ["989120000003"])
        self.assertEqual(sms.mapped("loyalty_gateway_ref"), [str(m["id"]) for m in self.mock.sent])
        self.assertEqual(set(sms.mapped("state")), {"pending"})
        self.assertEqual(set(sms.mapped("loyalty_gateway")), {"smsir"})

    @mute_logger("odoo.addons.loyalty_club.models.sms_sms")
    def test_smsir_error_mapping(self):
        self._gateway("smsir", smsir_api_key="wrong")
        sms = self._send(self._sms("+989120000001") | self._sms("+989120000009", body="Other text"))
        self.assertEqual(sms.mapped("failure_type"), ["sms_acc", "sms_acc"])
        self.assertEqual(len(self.mock.requests), 1, "a refused key: the other texts are not tried")
        self._gateway("smsir")
        self.mock.credit = 0
        sms = self._send(self._sms("+989120000002"))
        self.assertEqual(sms.failure_type, "sms_credit")
        self.mock.credit = 100
        self.mock.invalid_numbers = {"989990000002"}
        sms = self._send(self._sms("+989120000003", "+989990000002"))
        self.assertEqual(sms.mapped("state"), ["pending", "error"])
        self.assertEqual(sms[1].failure_type, "sms_number_format")
        self.assertEqual([m["number"] for m in self.mock.sent], ["989120000003"])

    @mute_logger("odoo.addons.loyalty_club.models.sms_sms", "odoo.addons.loyalty_club.tools.sms_gateway")
    def test_smsir_timeout_is_not_sent_again(self):
        """SMS.ir has no local id: a send whose answer is lost is not repeated (no double send)."""
        self._gateway("smsir")
        self.mock.delay_sends, self.mock.delay = 1, 1.5
        sms = self._send(self._sms("+989120000001"))
        self.assertEqual(len(self.mock.calls("/v1/send/bulk")), 1)
        self.assertEqual(len(self.mock.sent), 1)
        self.assertEqual((sms.state, sms.failure_type), ("error", "sms_server"))

    def _lose_answer(self, *numbers, minutes_ago=3, sent=True):
        """SMS sent through SMS.ir whose answer never came (``sent``: the gateway carried them out
        all the same), lost ``minutes_ago``."""
        self._gateway("smsir")
        self.mock.delay_sends, self.mock.delay = 1, 1.5
        sms = self._send(self._sms(*numbers))
        self.assertEqual(set(sms.mapped("failure_type")), {"sms_server"})
        self.assertTrue(all(status.startswith(LOST) for status in sms.mapped("loyalty_gateway_status")))
        if not sent:
            del self.mock.sent[-len(numbers) :]
        lost_at = fields.Datetime.subtract(fields.Datetime.now(), minutes=minutes_ago)
        sms.write({"loyalty_gateway_status": f"{LOST}{fields.Datetime.to_string(lost_at)}"})
        return sms

    @mute_logger("odoo.addons.loyalty_club.models.sms_sms", "odoo.addons.loyalty_club.tools.sms_gateway")
    def test_smsir_retry_of_a_lost_answer_never_sends_twice(self):
        """Odoo's Retry of an SMS whose answer was lost: the live report of today decides; the
        message it shows keeps its gateway id and is not sent again; one it doesn't show is sent."""
        sms = self._lose_answer("+989120000001", "+989120000002")
        self.assertEqual(len(self.mock.sent), 2)
        self.mock.sent.pop()  # the gateway carried out the first only
        sms.resend_failed()
        sms.invalidate_recordset()
        self.assertEqual(len(self.mock.calls("/v1/send/live")), 1)
        self.assertEqual(len(self.mock.calls("/v1/send/bulk")), 2, "the second only was sent again")
        self.assertEqual([m["number"] for m in self.mock.sent], ["989120000001", "989120000002"])
        self.assertEqual(sms.mapped("state"), ["pending", "pending"])
        self.assertEqual(sms.mapped("loyalty_gateway_ref"), [str(m["id"]) for m in self.mock.sent])
        # the same text to the same number again (a new SMS) is no lost one: sent as any other
        again = self._send(self._sms("+989120000001"))
        self.assertEqual((again.state, len(self.mock.sent)), ("pending", 3))

    @mute_logger("odoo.addons.loyalty_club.models.sms_sms", "odoo.addons.loyalty_club.tools.sms_gateway")
    def test_smsir_lost_answers_kept_when_the_report_cannot_tell(self):
        """Lost a moment ago (the report may lag), on another day, or the report unreadable: a
        Retry sends nothing and the SMS stays in error."""
        for minutes_ago in (0, 60 * 30):
            sms = self._lose_answer("+989120000001", minutes_ago=minutes_ago, sent=False)
            sms.resend_failed()
            sms.invalidate_recordset()
            self.assertEqual((sms.state, sms.failure_type, len(self.mock.sent)), ("error", "sms_server", 0))
            self.assertTrue(sms.loyalty_gateway_status.startswith(LOST))
        sms = self._lose_answer("+989120000001", sent=False)
        self._gateway("smsir", smsir_api_key="revoked")
        sms.resend_failed()
        sms.invalidate_recordset()
        self.assertEqual((sms.state, len(self.mock.sent)), ("error", 0))

    @mute_logger("odoo.addons.loyalty_club.models.sms_sms", "odoo.addons.loyalty_club.tools.sms_gateway")
    def test_smsir_job_settles_lost_answers_from_the_report(self):
        found = self._lose_answer("+989120000001")
        not_sent = self._lose_answer("+989120000002", sent=False)
        recent = self._lose_answer("+989120000003", minutes_ago=0, sent=False)
        self.mock.sent[:0] = [{"id": 6999, "number": "989120000001", "body": "Other text", "local_id": None}]
        self.env["sms.sms"]._cron_loyalty_poll_statuses()
        (found | not_sent | recent).invalidate_recordset()
        # found with its gateway id, then its delivery read in the same run
        self.assertEqual((found.state, found.loyalty_gateway_ref), ("sent", str(self.mock.sent[1]["id"])))
        self.assertEqual((not_sent.state, not_sent.loyalty_gateway_status), ("error", NOT_SENT))
        self.assertTrue(recent.loyalty_gateway_status.startswith(LOST))
        bulk_before = len(self.mock.calls("/v1/send/bulk"))
        not_sent.resend_failed()
        not_sent.invalidate_recordset()
        self.assertEqual(not_sent.state, "pending")
        self.assertEqual(len(self.mock.calls("/v1/send/bulk")), bulk_before + 1)
        self.assertEqual(len(self.mock.calls("/v1/send/live")), 1, "a Retry of an SMS shown not sent asks nothing")

    def test_smsir_polling(self):
        self._gateway("smsir")
        sms = self._send(self._sms("+989120000001", "+989120000002"))
        first, second = (m["id"] for m in self.mock.sent)
        self.mock.statuses.update({first: 1, second: 2})
        self.env["sms.sms"]._cron_loyalty_poll_statuses()
        sms.invalidate_recordset()
        self.assertEqual(sms.mapped("state"), ["sent", "error"])
        self.assertEqual(sms[1].failure_type, "sms_not_delivered")
        self.assertEqual(len(self.mock.calls(f"/v1/send/{first}")), 1)

    def test_smsir_credit(self):
        self._gateway("smsir")
        self.mock.credit = 321
        self.assertEqual(self.env["sms.sms"]._loyalty_sms_gateway().credit(), (321.0, "SMS"))
