"""HTTP clients of the Iranian SMS gateways the club can send through (issue 21).

Plain Python, no ORM: the ``sms.sms`` override (``models/sms_sms.py``) builds a client with the
settings, hands it batches of messages and maps the results onto Odoo's states and failure codes.

Why ``requests`` and not a PyPI client: Kavenegar's ``kavenegar`` package is a thin, long
unmaintained wrapper, and SMS.ir's ``smsir-python`` calls ``requests`` without a timeout and turns
every network error into a fake ``503`` response, so a timed-out send cannot be told from a refused
one. Both would add a dependency for a handful of HTTP calls whose timeouts, retries and
throttling must be ours anyway.

Kavenegar (https://kavenegar.com/rest.html), ``{base}/v1/{API-KEY}/...``, answers
``{"return": {"status": 200, "message": "..."}, "entries": [...]}`` (the HTTP status is the
``return.status`` too):

- ``sms/send.json`` (``receptor``, ``message``, ``sender``, ``localid``: comma-separated lists)
- ``sms/sendarray.json`` (``receptor``, ``sender``, ``message``, ``localmessageids``: JSON arrays of
  the same length, at most 200): entries ``{messageid, status, statustext, receptor, cost, ...}``
  in the order sent. A ``localid`` already used returns that message again instead of sending it a
  second time: a retried request sends nothing twice.
- ``sms/status.json`` (``messageid``: up to 500, comma-separated): entries ``{messageid, status}``
- ``account/info.json``: entries ``{remaincredit, expiredate, type}`` (credit in Rial)
- return codes: 200 ok; 400/406 missing parameters; 401 account disabled; 402 operation failed;
  403 invalid API key; 405 wrong HTTP method; 407 access denied; 409 server busy (temporary);
  411 invalid receptor; 412 invalid sender line; 413 empty or too long message; 414 too many
  receptors; 416 caller's IP not allowed; 417 invalid date; 418 not enough credit; 419 arrays of
  different lengths; 422 invalid characters; 501 test account (only to the owner's number).
- message statuses: 1 queued, 2 scheduled, 4 and 5 handed to the operator, 6 failed, 10 delivered,
  11 not delivered, 13 cancelled by the sender, 14 blocked by the receiver, 100 unknown id.
- delivery callback (set in the panel): ``messageid`` and ``status`` as GET or POST parameters.

SMS.ir (https://app.sms.ir/developer, API v1), ``{base}/v1/...``, header ``X-API-KEY``, answers
``{"status": 1, "message": "...", "data": ...}`` (``status`` 1 = success):

- ``POST send/bulk`` ``{"lineNumber", "messageText", "mobiles": [...], "sendDateTime": null}``
  (at most 100 numbers): ``data = {"packId", "messageIds": [...], "cost"}``, ids in the order sent.
  No local id: a send whose answer was lost cannot be told apart from one never received, so a send
  is retried only when the connection was never made.
- ``GET send/{messageId}``: ``data = {"messageId", "mobile", "deliveryState", ...}``;
  delivery states: 1 delivered, 2 not delivered to the phone, 3 handed to the operator, 4 not handed
  to the operator, 5 reached the operator's centre, 6 failed, 7 blacklisted.
- ``GET credit``: ``data`` = remaining credit (SMS units).
- status codes: 0 server error; 10 invalid API key; 11 API key disabled; 12 key limited to other IPs;
  13 account disabled; 14 account suspended; 20 too many requests (temporary); 101 invalid line;
  102 not enough credit; 103 empty text; 104 invalid mobile number; 105 too many numbers.
  No delivery callback: statuses are polled.
"""

import json
import logging
import math
import re
import threading
import time

import requests

_logger = logging.getLogger(__name__)

# GSM 03.38 basic character set (one septet each) and its extension table (escape + septet).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def sms_encoding(text):
    """``"gsm7"`` when every character is in the GSM 7-bit alphabet, else ``"ucs2"`` (Persian)."""
    return "gsm7" if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text or "") else "ucs2"


def sms_segments(text):
    """Number of SMS segments the operator bills for ``text``: GSM-7 160 characters in one segment,
    153 per segment when split (extension characters count twice); UCS-2 (Persian) 70 in one, 67
    per segment when split (characters outside the BMP count twice, as UTF-16 does)."""
    text = text or ""
    if not text:
        return 0
    if sms_encoding(text) == "gsm7":
        length = sum(2 if char in GSM7_EXTENDED else 1 for char in text)
        single, multi = 160, 153
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if length <= single else math.ceil(length / multi)


PERSIAN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def to_e164(number, default_country_code="98"):
    """``number`` in E.164 (``+989121234567``), or ``None`` if it cannot be one. A national number
    (``0912...``) is read in the default country (Iran)."""
    if not number:
        return None
    digits = re.sub(r"[\s\-().]", "", str(number).translate(PERSIAN_DIGITS))
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = f"+{default_country_code}{digits[1:]}"
    elif not digits.startswith("+"):
        digits = "+" + digits
    if not re.fullmatch(r"\+[1-9]\d{6,14}", digits):
        return None
    if digits.startswith("+98") and not re.fullmatch(r"\+989\d{9}", digits):
        return None  # an Iranian number that is no mobile: no operator takes an SMS for it
    return digits


class GatewayError(Exception):
    """A request the gateway refused or that did not reach it.

    ``failure_type`` is Odoo's ``sms.sms`` code; ``permanent`` errors are never retried; ``per_number``
    errors concern one of the numbers only (the batch is sent again one by one); ``lost``: a send
    whose answer never came, which the gateway may have carried out all the same."""

    def __init__(self, message, failure_type="sms_server", permanent=True, code=None, per_number=False, lost=False):
        super().__init__(message)
        self.failure_type = failure_type
        self.permanent = permanent
        self.code = code
        self.per_number = per_number
        self.lost = lost


class Throttle:
    """At most ``rate`` messages per second: a request of ``count`` messages waits until the messages
    sent before it have had their time (shared by the threads of one process, per gateway)."""

    _lock = threading.Lock()
    _next = {}

    def __init__(self, key, rate, clock=time.monotonic, sleep=time.sleep):
        self.key, self.rate, self.clock, self.sleep = key, rate, clock, sleep

    def wait(self, count):
        if not self.rate or self.rate <= 0:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._next.get(self.key, now))
            self._next[self.key] = start + count / self.rate
        if start > now:
            self.sleep(start - now)


class BaseGateway:
    """One gateway account: ``send`` a batch, ``statuses`` of sent messages, ``credit``."""

    name = None
    max_batch = 100
    has_local_id = False
    same_body = False  # True: a request carries one text for all its numbers
    # message status of the gateway -> ("pending" | "sent" | "canceled" | "error", failure_type)
    STATUSES = {}
    sleep = staticmethod(time.sleep)  # the backoff between attempts

    def __init__(self, api_key, sender, base_url, timeout=10.0, retries=3, backoff=1.0, rate=0.0, session=None):
        self.api_key = (api_key or "").strip()
        self.sender = (sender or "").strip()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.throttle = Throttle(f"{self.name}:{self.base_url}", rate)
        self.session = session or requests.Session()

    def batch_size(self):
        """Messages per request: the gateway's bulk limit, and no more than a second's worth at the
        configured rate (so the throttle spaces requests instead of bursts)."""
        size = self.max_batch
        if self.throttle.rate and self.throttle.rate > 0:
            size = min(size, max(1, int(self.throttle.rate)))
        return size

    # -- numbers -------------------------------------------------------
    def gateway_number(self, e164):
        raise NotImplementedError

    # -- HTTP ----------------------------------------------------------
    def _safe_to_retry(self, error, sending):
        """Whether a failed request may be sent again: always for reads; for a send, when the gateway
        deduplicates by local id, or when the connection was never made."""
        if not sending or self.has_local_id:
            return True
        if isinstance(error, requests.ConnectTimeout):
            return True
        return (
            isinstance(error, requests.ConnectionError)
            and not isinstance(error, requests.ReadTimeout)
            and ("NewConnectionError" in repr(error) or "Connection refused" in repr(error))
        )

    def _request(self, method, path, sending=False, count=0, **kwargs):
        """The gateway's JSON answer; network errors and temporary refusals retried with backoff
        (``backoff``, ``2 x backoff``, ...) when safe, permanent ones raised at once."""
        attempt = 0
        while True:
            if count:
                self.throttle.wait(count)
            try:
                response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
                payload = self._parse(response)
            except requests.RequestException as error:
                failure = GatewayError(f"{self.name}: {error.__class__.__name__}", "sms_server", permanent=False)
                if not self._safe_to_retry(error, sending):
                    failure.permanent = True
                    failure.lost = sending
            except GatewayError as error:
                failure = error
            else:
                return payload
            attempt += 1
            if failure.permanent or attempt > self.retries:
                raise failure
            delay = self.backoff * 2 ** (attempt - 1)
            _logger.info("%s: %s, attempt %s of %s in %.2fs", self.name, failure, attempt + 1, self.retries + 1, delay)
            self.sleep(delay)

    def _parse(self, response):
        raise NotImplementedError

    # -- API -----------------------------------------------------------
    def send(self, messages):
        """Send ``messages`` (dicts ``number`` in the gateway's form, ``body``, ``local_id``): one result
        per message, in order: ``{"ref": gateway id, "status": raw status}``. Raises GatewayError."""
        raise NotImplementedError

    def statuses(self, refs):
        """``{ref: (state, failure_type, raw status)}`` of sent messages (unknown ids left out)."""
        raise NotImplementedError

    def credit(self):
        raise NotImplementedError

    def sent_today(self):
        """``{(E.164 number, text): [gateway ids]}`` of the messages the account sent today (the
        gateway's day), to recognise a send whose answer was lost (gateways without local ids)."""
        raise NotImplementedError

    def map_status(self, status):
        return self.STATUSES.get(str(status), ("pending", False))


class KavenegarGateway(BaseGateway):
    name = "kavenegar"
    max_batch = 200
    has_local_id = True
    STATUSES = {
        "1": ("pending", False),
        "2": ("pending", False),
        "4": ("pending", False),
        "5": ("pending", False),
        "6": ("error", "sms_not_delivered"),
        "10": ("sent", False),
        "11": ("error", "sms_not_delivered"),
        "13": ("canceled", False),
        "14": ("error", "sms_not_allowed"),
    }
    # return.status -> (failure_type, permanent, per_number)
    ERRORS = {
        401: ("sms_acc", True, False),
        403: ("sms_acc", True, False),
        407: ("sms_acc", True, False),
        416: ("sms_acc", True, False),
        411: ("sms_number_format", True, True),
        412: ("sms_acc", True, False),
        418: ("sms_credit", True, False),
        501: ("sms_acc", True, False),
        409: ("sms_server", False, False),
    }

    def gateway_number(self, e164):
        """``+989121234567`` -> ``09121234567``; other countries with the international prefix ``00``."""
        if e164.startswith("+98"):
            return "0" + e164[3:]
        return "00" + e164[1:]

    def _parse(self, response):
        try:
            payload = response.json()
            code = int(payload["return"]["status"])
            message = payload["return"].get("message") or ""
        except (ValueError, KeyError, TypeError):
            if response.status_code >= 500:
                raise GatewayError(f"kavenegar: HTTP {response.status_code}", permanent=False) from None
            raise GatewayError(f"kavenegar: unreadable answer (HTTP {response.status_code})") from None
        if code == 200:
            return payload
        failure_type, permanent, per_number = self.ERRORS.get(code, ("sms_server", code < 500 and code != 409, False))
        if code >= 500 and code != 501:
            permanent = False
        raise GatewayError(f"kavenegar {code}: {message}", failure_type, permanent, code, per_number)

    def _url(self, path):
        return f"/v1/{self.api_key}/{path}"

    def send(self, messages):
        if len(messages) == 1:
            message = messages[0]
            data = {
                "receptor": message["number"],
                "message": message["body"],
                "sender": self.sender,
                "localid": message["local_id"],
            }
            payload = self._request("POST", self._url("sms/send.json"), sending=True, count=1, data=data)
        else:
            data = {
                "receptor": json.dumps([m["number"] for m in messages]),
                "sender": json.dumps([self.sender] * len(messages)),
                "message": json.dumps([m["body"] for m in messages], ensure_ascii=False),
                "localmessageids": json.dumps([m["local_id"] for m in messages]),
            }
            payload = self._request(
                "POST", self._url("sms/sendarray.json"), sending=True, count=len(messages), data=data
            )
        entries = payload.get("entries") or []
        if len(entries) != len(messages):
            raise GatewayError(f"kavenegar: {len(entries)} entries for {len(messages)} messages")
        return [{"ref": str(entry["messageid"]), "status": str(entry.get("status", ""))} for entry in entries]

    def statuses(self, refs):
        result = {}
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            payload = self._request("POST", self._url("sms/status.json"), data={"messageid": ",".join(chunk)})
            for entry in payload.get("entries") or []:
                status = str(entry.get("status"))
                if status != "100":
                    result[str(entry["messageid"])] = (*self.map_status(status), status)
        return result

    def credit(self):
        payload = self._request("GET", self._url("account/info.json"))
        entries = payload.get("entries") or {}
        if isinstance(entries, list):
            entries = entries[0] if entries else {}
        return float(entries.get("remaincredit") or 0.0), "IRR"


class SmsIrGateway(BaseGateway):
    name = "smsir"
    max_batch = 100
    same_body = True
    report_tz = "Asia/Tehran"  # the day of the live report (/v1/send/live)
    report_page_size = 100
    report_max_pages = 500
    STATUSES = {
        "1": ("sent", False),
        "2": ("error", "sms_not_delivered"),
        "3": ("pending", False),
        "4": ("error", "sms_not_delivered"),
        "5": ("pending", False),
        "6": ("error", "sms_not_delivered"),
        "7": ("error", "sms_not_allowed"),
    }
    ERRORS = {
        10: ("sms_acc", True),
        11: ("sms_acc", True),
        12: ("sms_acc", True),
        13: ("sms_acc", True),
        14: ("sms_acc", True),
        20: ("sms_server", False),
        101: ("sms_acc", True),
        102: ("sms_credit", True),
        104: ("sms_number_format", True),
    }

    def gateway_number(self, e164):
        """``+989121234567`` -> ``989121234567`` (SMS.ir sends to Iranian numbers only)."""
        if not e164.startswith("+98"):
            return None
        return e164[1:]

    def _headers(self):
        return {"X-API-KEY": self.api_key, "Accept": "application/json"}

    def _parse(self, response):
        try:
            payload = response.json()
            code = int(payload["status"])
        except (ValueError, KeyError, TypeError):
            if response.status_code in (401, 403):
                raise GatewayError(f"smsir: HTTP {response.status_code}", "sms_acc") from None
            if response.status_code == 429 or response.status_code >= 500:
                raise GatewayError(f"smsir: HTTP {response.status_code}", permanent=False) from None
            raise GatewayError(f"smsir: unreadable answer (HTTP {response.status_code})") from None
        if code == 1:
            return payload
        failure_type, permanent = self.ERRORS.get(code, ("sms_server", code != 0))
        raise GatewayError(
            f"smsir {code}: {payload.get('message') or ''}", failure_type, permanent, code, per_number=code == 104
        )

    def send(self, messages):
        """One request for messages of one text (the caller groups them by text: see ``same_body``)."""
        body = messages[0]["body"]
        if any(m["body"] != body for m in messages):
            raise ValueError("SMS.ir sends one text per request")
        data = {
            "lineNumber": self.sender,
            "messageText": body,
            "mobiles": [m["number"] for m in messages],
            "sendDateTime": None,
        }
        payload = self._request(
            "POST", "/v1/send/bulk", sending=True, count=len(messages), json=data, headers=self._headers()
        )
        ids = (payload.get("data") or {}).get("messageIds") or []
        if len(ids) != len(messages):
            raise GatewayError(f"smsir: {len(ids)} ids for {len(messages)} messages")
        return [{"ref": str(ref), "status": ""} for ref in ids]

    def statuses(self, refs):
        result = {}
        for ref in refs:
            payload = self._request("GET", f"/v1/send/{ref}", headers=self._headers())
            data = payload.get("data") or {}
            status = str(data.get("deliveryState") or "")
            if status:
                result[str(ref)] = (*self.map_status(status), status)
        return result

    def credit(self):
        payload = self._request("GET", "/v1/credit", headers=self._headers())
        return float(payload.get("data") or 0.0), "SMS"

    def sent_today(self):
        """Today's messages from SMS.ir's live report, page by page; a report longer than
        ``report_max_pages`` pages raises (the caller then sends nothing again)."""
        found = {}
        for page in range(1, self.report_max_pages + 1):
            payload = self._request(
                "GET",
                "/v1/send/live",
                params={"pageSize": self.report_page_size, "pageNumber": page},
                headers=self._headers(),
            )
            rows = payload.get("data") or []
            for row in rows:
                mobile = re.sub(r"\D", "", str(row.get("mobile") or ""))
                if len(mobile) == 10 and mobile.startswith("9"):
                    mobile = "0" + mobile  # 912... -> 0912...
                key = (to_e164(mobile), row.get("messageText") or "")
                found.setdefault(key, []).append(str(row.get("messageId")))
            if len(rows) < self.report_page_size:
                return found
        raise GatewayError(f"smsir: more than {self.report_max_pages} pages of messages today")


GATEWAYS = {"kavenegar": KavenegarGateway, "smsir": SmsIrGateway}
DEFAULT_URLS = {"kavenegar": "https://api.kavenegar.com", "smsir": "https://api.sms.ir"}
