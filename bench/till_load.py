"""Tills under load: paid member orders synced over JSON-RPC against ``odoo-bin --workers``.

Run through ``bench/till_load.sh`` (it builds the database, starts the server on loopback and
calls the steps below with Odoo's options after ``--``)::

    python bench/till_load.py setup|count|run --db DB [...] -- <odoo options>

- ``setup``: a club, cards with PINs and points, a POS shop with cash and *Club points*, an
  open session (in-process, committed); writes the ids to ``--state``.
- ``count``: SQL statements of one sync of a member's order paying with points, and of the
  PIN check and the hold that precede it (in-process, rolled back). Works on the code before
  holds too (the order then carries a PIN token), to compare.
- ``run``: the scenarios over JSON-RPC (one HTTP session and thread per till): 8 and 32 tills
  on one card or on one card each, and every order sent twice at once with and without a
  member. Member orders pay one point: PIN check and hold at the till, then the sync. Prints
  orders/s, p95 of the sync, the retries the server logged, and checks in SQL that no order
  lost its card, none was saved twice, none was flagged, and every balance equals its entries.
"""

import argparse
import json
import re
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_setup import ensure_pos, setup_common
from common import environment, out, start_odoo, stats

PIN = "2468"
# how many times a till tries a call that failed (a cashier asking again, a pending order re-sent)
TILL_TRIES = 5
POINT_VALUE = 0.5
RETRY_LINE = re.compile(r"(SERIALIZATION_FAILURE|LOCK_NOT_AVAILABLE|DEADLOCK_DETECTED), \d+ tries left")


# ----------------------------------------------------------------------
# setup and statement counts (in-process)
# ----------------------------------------------------------------------
def cmd_setup(odoo, args):
    with environment(odoo, args.db, commit=True) as env:
        env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        products, _walk_in, config = setup_common(env, " (tills)")
        company = env.company
        club = env["loyalty.club"].search([("company_id", "=", company.id)], limit=1)
        if not club:
            club = env["loyalty.club"].create({"name": "Till load club", "company_id": company.id})
        club.write({"earn_amount": 10, "earn_points": 1})
        club.write({"point_value": POINT_VALUE, "expiry_months": 0, "pin_max_attempts": 1000})
        journal = env["account.journal"].create(
            {"name": "Club points (tills)", "type": "bank", "code": "CLTL", "company_id": company.id}
        )
        points = env["pos.payment.method"].create(
            {"name": "Club points (tills)", "journal_id": journal.id, "loyalty_club_points": True}
        )
        if config.current_session_id:
            config.current_session_id.action_pos_session_closing_control()
        config.payment_method_ids |= points
        config = ensure_pos(env, config.name)
        partners = env["res.partner"].create([{"name": f"Till load member {i}"} for i in range(33)])
        cards = env["loyalty.club.card"].create([{"partner_id": p.id, "club_id": club.id} for p in partners])
        for card in cards:
            card._set_pin(PIN)
            env["loyalty.club.posting"]._post(card, 1_000_000, "bonus", f"till-load:{card.id}:seed")
        state = {
            "config": config.id,
            "session": config.current_session_id.id,
            "pricelist": config.pricelist_id.id,
            "cash": config.payment_method_ids.filtered("is_cash_count")[:1].id,
            "points": points.id,
            "product": products[0].id,
            "price": products[0].lst_price,
            "cards": cards.ids,
        }
    Path(args.state).write_text(json.dumps(state))
    out(f"set up: shop {state['config']}, {len(state['cards'])} cards")


def order_data(state, card_id=None, payment_uuid=None):
    """What a till sends for a paid order of one product; a member order pays one point."""
    order_uuid = str(uuid.uuid4())
    price = state["price"]
    payments = []
    if card_id and payment_uuid:
        payments.append((0, 0, {"payment_method_id": state["points"], "amount": POINT_VALUE, "uuid": payment_uuid}))
    cash = price - sum(payment[2]["amount"] for payment in payments)
    payments.append((0, 0, {"payment_method_id": state["cash"], "amount": cash}))
    line = {"product_id": state["product"], "qty": 1, "price_unit": price, "tax_ids": [(6, 0, [])]}
    line.update(price_subtotal=price, price_subtotal_incl=price, uuid=str(uuid.uuid4()))
    data = {
        "name": f"Order {order_uuid}",
        "uuid": order_uuid,
        "session_id": state["session"],
        "pricelist_id": state["pricelist"],
        "sequence_number": 1,
        "amount_paid": price,
        "amount_return": 0.0,
        "amount_tax": 0.0,
        "amount_total": price,
        "lines": [(0, 0, line)],
        "payment_ids": payments,
    }
    if card_id:
        data["loyalty_club_card_id"] = card_id
    return data


def cmd_count(odoo, args):
    state = json.loads(Path(args.state).read_text())
    results = {}
    for attempt in range(3):  # the first ones warm the caches
        with environment(odoo, args.db) as env:
            config = env["pos.config"].browse(state["config"])
            card = env["loyalty.club.card"].browse(state["cards"][-1])
            cr = env.cr
            payment_uuid = str(uuid.uuid4())
            data = order_data(state, card.id, payment_uuid)
            env.flush_all()
            env.invalidate_all()
            start = cr.sql_log_count
            if hasattr(config, "loyalty_club_hold_points"):
                token = config.loyalty_club_verify_pin(card.id, PIN, data["uuid"])["token"]
                checked = cr.sql_log_count
                config.loyalty_club_hold_points(card.id, 1, data["uuid"], payment_uuid, token)
            else:  # the code before holds: the order carries the PIN token to the sync
                data["loyalty_club_pin_token"] = config.loyalty_club_verify_pin(card.id, PIN)["token"]
                checked = cr.sql_log_count
            env.flush_all()
            held = cr.sql_log_count
            env.invalidate_all()
            before = cr.sql_log_count
            env["pos.order"].sync_from_ui([data])
            env.flush_all()
            results = {"pin_check": checked - start, "hold": held - checked, "sync": cr.sql_log_count - before}
            results["warm"] = attempt > 0
    out(json.dumps(results))
    if args.out:
        Path(args.out).write_text(json.dumps(results))


# ----------------------------------------------------------------------
# JSON-RPC scenarios
# ----------------------------------------------------------------------
class Till:
    """One till: its own HTTP session (a cashier logged in), calls over JSON-RPC."""

    def __init__(self, url, db):
        self.url, self.session = url, requests.Session()
        self.call_json("/web/session/authenticate", {"db": db, "login": "admin", "password": "admin"})

    def call_json(self, path, params):
        response = self.session.post(f"{self.url}{path}", json={"jsonrpc": "2.0", "params": params}, timeout=300)
        body = response.json()
        if body.get("error"):
            raise RuntimeError(body["error"].get("data", {}).get("message") or body["error"])
        return body["result"]

    def call(self, model, method, *args):
        path = f"/web/dataset/call_kw/{model}/{method}"
        return self.call_json(path, {"model": model, "method": method, "args": list(args), "kwargs": {}})


def log_retries(log, offset):
    with open(log, encoding="utf-8", errors="replace") as handle:
        handle.seek(offset)
        return sum(1 for line in handle if RETRY_LINE.search(line))


def run_scenario(args, state, name, tills, orders, card_of, twice=False):
    """``orders`` orders over ``tills`` threads; ``card_of(till index)`` gives the member card or
    None; ``twice``: every order is sent by two tills at the same moment."""
    offset = Path(args.server_log).stat().st_size
    clients = [Till(args.url, args.db) for _index in range(tills)]
    per_till = orders // tills if not twice else orders // (tills // 2)
    timings, errors, sent, resends = [], [], [], []
    lock = threading.Lock()
    barriers = {}

    def again(call):
        """What a till does when a call fails (a serialization failure Odoo gave up on after its own
        retries): the cashier asks again for a hold, the till re-sends a pending order at its next
        sync. Up to TILL_TRIES times; the last error is raised."""
        for attempt in range(TILL_TRIES):
            try:
                return call()
            except Exception:
                if attempt == TILL_TRIES - 1:
                    raise
                with lock:
                    resends.append(1)
                time.sleep(0.2 * (attempt + 1))
        return None

    def hold(client, card_id, data, payment_uuid):
        token = client.call("pos.config", "loyalty_club_verify_pin", [state["config"]], card_id, PIN, data["uuid"])[
            "token"
        ]
        args_ = (card_id, 1, data["uuid"], payment_uuid, token)
        client.call("pos.config", "loyalty_club_hold_points", [state["config"]], *args_)

    def work(index):
        client = clients[index]
        card_id = card_of(index)
        for number in range(per_till):
            try:
                if twice:
                    pair = index // 2
                    key = (pair, number)
                    with lock:
                        if key not in barriers:
                            data = order_data(state, card_id, None)
                            barriers[key] = (threading.Barrier(2), data)
                            sent.append((data["uuid"], card_id))
                    barrier, data = barriers[key]
                    barrier.wait(timeout=120)
                else:
                    payment_uuid = str(uuid.uuid4()) if card_id else None
                    data = order_data(state, card_id, payment_uuid)
                    if card_id:
                        again(lambda data=data, payment_uuid=payment_uuid: hold(client, card_id, data, payment_uuid))
                    with lock:
                        sent.append((data["uuid"], card_id))
                start = time.perf_counter()
                again(lambda data=data: client.call("pos.order", "sync_from_ui", [data]))
                with lock:
                    timings.append(time.perf_counter() - start)
            except Exception as error:
                with lock:
                    errors.append(str(error)[:200])

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(index,)) for index in range(tills)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    checks = check_orders(args, [uuid_ for uuid_, _card in sent], dict(sent))
    figures = stats(timings) if timings else {"median": 0.0, "p95": 0.0}
    row = {
        "scenario": name,
        "tills": tills,
        "orders": len(sent),
        "sync_calls": len(timings),
        "orders_per_s": round(len(sent) / wall, 1) if wall else 0.0,
        "median_ms": round(figures["median"] * 1000, 1),
        "p95_ms": round(figures["p95"] * 1000, 1),
        "retries": log_retries(args.server_log, offset),
        "till_resends": len(resends),
        "errors": len(errors),
        **checks,
    }
    out(json.dumps(row))
    for error in sorted(set(errors))[:5]:
        out(f"  error: {error}")
    return row


def check_orders(args, uuids, cards):
    """What the database says about the orders sent: missing, doubled, without their card,
    flagged for review, and cards whose balance differs from their entries."""
    with environment(args.odoo, args.db) as env:
        cr = env.cr
        cr.execute(
            "SELECT uuid, count(*), max(loyalty_card_id), max(loyalty_review_state) FROM pos_order"
            " WHERE uuid = ANY(%s) GROUP BY uuid",
            [uuids],
        )
        rows = {row[0]: row[1:] for row in cr.fetchall()}
        member_cards = {card for card in cards.values() if card}
        audit = env["loyalty.club.posting"]._audit_balances(env["loyalty.club.card"].browse(member_cards))
    return {
        "missing": sum(1 for uuid_ in uuids if uuid_ not in rows),
        "doubled": sum(1 for count, _card, _review in rows.values() if count > 1),
        "lost_card": sum(
            1 for uuid_, (_count, card, _review) in rows.items() if cards.get(uuid_) and card != cards[uuid_]
        ),
        "flagged": sum(1 for _count, _card, review in rows.values() if review),
        "balance_mismatches": len(audit),
    }


def cmd_run(odoo, args):
    args.odoo = odoo
    state = json.loads(Path(args.state).read_text())
    one_card, cards = state["cards"][-1], state["cards"]
    rows = [
        run_scenario(args, state, "8 tills, one card", 8, args.orders, lambda i: one_card),
        run_scenario(args, state, "32 tills, one card", 32, args.orders * 4, lambda i: one_card),
        run_scenario(args, state, "8 tills, a card each", 8, args.orders, lambda i: cards[i]),
        run_scenario(args, state, "32 tills, a card each", 32, args.orders * 4, lambda i: cards[i]),
        run_scenario(args, state, "each order sent twice at once, member", 16, args.orders, lambda i: one_card, True),
        run_scenario(args, state, "each order sent twice at once, no member", 16, args.orders, lambda i: None, True),
    ]
    Path(args.out).write_text(json.dumps(rows, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["setup", "count", "run"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--odoo-dir")
    parser.add_argument("--log", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--out")
    parser.add_argument("--url")
    parser.add_argument("--server-log")
    parser.add_argument("--orders", type=int, default=200)
    argv = sys.argv[1:]
    odoo_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    odoo = start_odoo(args.odoo_dir, odoo_args, args.log)
    {"setup": cmd_setup, "count": cmd_count, "run": cmd_run}[args.command](odoo, args)


if __name__ == "__main__":
    main()
