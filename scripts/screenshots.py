#!/usr/bin/env python3
"""Screenshots of the loyalty_club demo for the README, taken with headless Chromium.

Against a running demo server (``./scripts/run.sh``; the demo database must be fresh enough
for the PIN and the points used below), with the repository's virtualenv:

    .venv/bin/python scripts/screenshots.py --url http://localhost:8069 [--out docs/screenshots]

Saves docs/screenshots/*.png (1280x800, the portal on a 390x844 phone viewport):
  till-member.png          Bakery Shop till (cashier) with a member identified by card number
  till-points-payment.png  the payment screen with a points payment (PIN 1234)
  card-form.png            a member card in the back office (admin)
  portal-card-phone.png    the customer's card on /my/club on a phone (portal)
  card-persian.png         a Tehran member's card in Persian (persian)
The browser is Chromium (or Chrome; CHROMIUM_BIN overrides) driven over the DevTools protocol
with websocket-client; selectors are the stable classes of Odoo's POS and of loyalty_club.
"""

import argparse
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_smoke import CARD_ALI, CARD_SARA, PIN, SHOP, Session

DESKTOP = (1280, 800)
PHONE = (390, 844)
PRODUCTS = ("Apple Pie", "Pecan Pie", "Butter Croissant", "Butter Croissant", "Sourdough Loaf")
POINTS_PAID = "100"


class Browser:
    """One headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self):
        binary = os.environ.get("CHROMIUM_BIN") or next(
            (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)),
            None,
        )
        if not binary:
            sys.exit("No Chromium found (install chromium, or set CHROMIUM_BIN)")
        self.profile = tempfile.mkdtemp(prefix="loyalty-shots-")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--lang=en-US",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                f"--user-data-dir={self.profile}",
                f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        for _attempt in range(100):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.2)
        else:
            self.close()
            sys.exit("Chromium did not start")
        port = open(port_file).read().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as response:
            page = next(t for t in json.load(response) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=120, suppress_origin=True)
        self.next_id = 0
        self.send("Page.enable")
        self.send("Runtime.enable")

    def close(self):
        try:
            self.process.terminate()
            self.process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def viewport(self, width, height, mobile=False):
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def goto(self, url):
        self.send("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", f"{url} loaded")

    def wait(self, condition, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.js(f"!!({condition})"):
                    return
            except RuntimeError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"timed out waiting for {what}")

    def wait_for(self, selector, timeout=60):
        self.wait(f"document.querySelector({json.dumps(selector)})", selector, timeout)

    def click(self, selector, text=None):
        """Click the first element matching ``selector`` (and containing ``text``)."""
        condition = f"""[...document.querySelectorAll({json.dumps(selector)})]
            .find(el => {json.dumps(text or "")} === "" || el.textContent.includes({json.dumps(text or "")}))"""
        self.wait(condition, f"{selector} {text or ''}")
        self.js(f"({condition}).click()")

    def type_text(self, selector, text):
        """Type ``text`` into the field, again until it holds it (a dialog still mounting may
        re-render the field and drop what was typed)."""
        self.wait_for(selector)
        for _attempt in range(10):
            self.js(f"document.querySelector({json.dumps(selector)}).focus()")
            self.send("Input.insertText", text=text)
            time.sleep(0.3)
            if self.js(f"document.querySelector({json.dumps(selector)}).value === {json.dumps(text)}"):
                return
            self.js(f"document.querySelector({json.dumps(selector)}).value = ''")
        raise RuntimeError(f"could not type into {selector}")

    def login(self, base_url, db, login, password):
        self.send("Network.clearBrowserCookies")
        self.goto(f"{base_url}/web/login")
        params = json.dumps({"db": db, "login": login, "password": password})
        ok = self.js(
            f"""fetch('/web/session/authenticate', {{method: 'POST',
                headers: {{'Content-Type': 'application/json'}},
                body: JSON.stringify({{jsonrpc: '2.0', method: 'call', params: {params}}})}})
              .then(r => r.json()).then(j => !!(j.result && j.result.uid))"""
        )
        if not ok:
            raise RuntimeError(f"login {login} refused")

    def shot(self, path, settle=1.5):
        time.sleep(settle)  # fonts, images and transitions
        data = base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])
        image = Image.open(io.BytesIO(data)).convert("RGB")
        # a 256-colour palette keeps UI screenshots sharp at a fraction of the size
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
        print(f"  {path} ({os.path.getsize(path) // 1024} KB)")


def numpad(browser, digits):
    for digit in digits:
        browser.click(f".modal .numpad button[value='{digit}']")


def till(browser, base, db, out):
    browser.login(base, db, "cashier", "cashier")
    rpc = Session(base, db)
    rpc.login("cashier", "cashier")
    shop = rpc.call("pos.config", "search_read", [["name", "=", SHOP]], ["id"])[0]["id"]
    browser.viewport(*DESKTOP)
    browser.goto(f"{base}/pos/ui?config_id={shop}")
    browser.wait("document.querySelector('.screen-login .open-register-btn, .product-screen')", "the till", timeout=180)
    if browser.js("!!document.querySelector('.screen-login .open-register-btn')"):
        browser.click(".screen-login .open-register-btn")
    if browser.js("!!document.querySelector('.modal .modal-footer .btn-primary')"):
        browser.click(".modal .modal-footer .btn-primary", "Open")
    browser.wait_for(".product-screen")
    for product in PRODUCTS:
        browser.click("article.product .product-name", product)
    browser.click(".o_loyalty_club_card_button")
    browser.type_text(".modal input, .modal textarea", CARD_SARA)
    browser.click(".modal .modal-footer .btn-primary")
    browser.wait_for(".o_loyalty_club_member_name")
    browser.shot(os.path.join(out, "till-member.png"))

    browser.click(".product-screen .pay-order-button")
    browser.wait_for(".payment-screen")
    browser.click(".paymentmethods .paymentmethod", "Club points")
    browser.wait_for(".modal .numpad")
    numpad(browser, PIN)
    pin_dialog = browser.js("document.querySelector('.modal').textContent")
    browser.click(".modal .modal-footer .btn-primary")
    # then the till asks how many points to use (a new dialog), or adds the payment line at once
    browser.wait(
        f"document.querySelector('.modal') ? document.querySelector('.modal').textContent !== {json.dumps(pin_dialog)}"
        " : document.querySelector('.payment-screen .paymentline')",
        "the PIN accepted",
    )
    if browser.js("!!document.querySelector('.modal .numpad')"):
        for _index in range(8):  # clear the proposed value
            browser.click(".modal .numpad button[value='⌫']")
        numpad(browser, POINTS_PAID)
        browser.click(".modal .modal-footer .btn-primary")
    browser.wait("!document.querySelector('.modal')", "the payment dialogs closed")
    browser.wait_for(".payment-screen .paymentline")
    browser.shot(os.path.join(out, "till-points-payment.png"))


def card_form(browser, base, db, login, password, number, path):
    rpc = Session(base, db)
    rpc.login(login, password)
    card = rpc.call("loyalty.club.card", "search_read", [["number", "=", number]], ["id"])[0]["id"]
    browser.login(base, db, login, password)
    browser.viewport(*DESKTOP)
    browser.goto(f"{base}/odoo/action-loyalty_club.loyalty_club_card_action/{card}")
    browser.wait_for(".o_form_view .o_form_sheet")
    browser.shot(path, settle=2.5)


def portal(browser, base, db, out):
    browser.login(base, db, "portal", "portal")
    browser.viewport(*PHONE, mobile=True)
    browser.goto(f"{base}/my/club")
    browser.wait_for(".o_loyalty_portal_number")
    browser.shot(os.path.join(out, "portal-card-phone.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--db", default="loyalty_club_demo")
    parser.add_argument(
        "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "screenshots")
    )
    parser.add_argument("--only", help="comma-separated subset: till,card,portal,persian")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    wanted = set((args.only or "till,card,portal,persian").split(","))
    browser = Browser()
    failed = []
    steps = {
        "till": lambda: till(browser, base, args.db, out),
        "card": lambda: card_form(
            browser, base, args.db, "admin", "admin", CARD_SARA, os.path.join(out, "card-form.png")
        ),
        "portal": lambda: portal(browser, base, args.db, out),
        "persian": lambda: card_form(
            browser, base, args.db, "persian", "persian", CARD_ALI, os.path.join(out, "card-persian.png")
        ),
    }
    try:
        for name, step in steps.items():
            if name not in wanted:
                continue
            print(f"{name}:")
            try:
                step()
            except (RuntimeError, OSError, KeyError, IndexError) as error:
                failed.append(name)
                debug = os.path.join(tempfile.gettempdir(), f"screenshot-failed-{name}.png")
                try:
                    browser.shot(debug, settle=0)
                except (RuntimeError, OSError):
                    debug = "none"
                print(f"  FAILED: {error} (the page then: {debug})")
    finally:
        browser.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
