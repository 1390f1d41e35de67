"""How ``measure`` and ``profile`` call Odoo: ``InProcess`` (each call in its own cursor and
environment, like one RPC, rolled back) and ``JsonRpc`` (``/jsonrpc`` against a running
``odoo-bin --workers=2``), with the same scenarios: a no-op RPC, the POS card lookup, a sale order
confirmation and the sync of a paid POS order, for loyalty_club or the native loyalty."""

import json
import random
import time
import urllib.request
import uuid

from bench_sql import statements
from common import ADMIN, environment


def pos_order_data(env, config, products, partner_id, card_id=None):
    """What a till sends for a paid order (as point_of_sale's test helper builds it)."""
    session = config.current_session_id
    cash = config.payment_method_ids.filtered(lambda m: m.is_cash_count)[:1]
    lines, total = [], 0.0
    for quantity, product in zip((1, 2, 3), products, strict=True):
        subtotal = product.lst_price * quantity
        total += subtotal
        lines.append(
            (
                0,
                0,
                {
                    "id": random.randint(1, 1_000_000),
                    "pack_lot_ids": [],
                    "price_unit": product.lst_price,
                    "product_id": product.id,
                    "price_subtotal": subtotal,
                    "price_subtotal_incl": subtotal,
                    "qty": quantity,
                    "tax_ids": [(6, 0, [])],
                },
            )
        )
    data = paid_order(
        lines, total, odoo_now(env), config.pricelist_id.id, session.id, cash.id, env.uid, partner_id, card_id
    )
    return data, total


def paid_order(lines, total, now, pricelist_id, session_id, cash_id, user_id, partner_id, card_id):
    """The paid order a till sends, around its ``lines`` (both drivers): paid in cash, for
    ``partner_id``, with loyalty_club's card ``card_id`` unless it is None."""
    order_uuid = str(uuid.uuid4())
    data = {
        "amount_paid": total,
        "amount_return": 0,
        "amount_tax": 0,
        "amount_total": total,
        "date_order": now,
        "fiscal_position_id": False,
        "pricelist_id": pricelist_id,
        "name": f"Order {order_uuid}",
        "last_order_preparation_change": "{}",
        "lines": lines,
        "partner_id": partner_id,
        "session_id": session_id,
        "sequence_number": 2,
        "payment_ids": [(0, 0, {"amount": total, "name": now, "payment_method_id": cash_id})],
        "uuid": order_uuid,
        "user_id": user_id,
        "to_invoice": False,
    }
    if card_id is not None:
        data["loyalty_club_card_id"] = card_id
        data["loyalty_club_pin_token"] = False
    return data


def odoo_now(env):
    from odoo import fields

    return fields.Datetime.to_string(fields.Datetime.now())


def sale_values(products, partner_id):
    return {
        "partner_id": partner_id,
        "order_line": [
            (0, 0, {"product_id": product, "product_uom_qty": quantity})
            for quantity, product in zip((1, 2, 3), products, strict=True)
        ],
    }


class InProcess:
    """Each call in its own cursor and environment (like one RPC), then rolled back."""

    mode = "in-process"

    def __init__(self, odoo, db, native_db):
        self.odoo, self.db, self.native_db = odoo, db, native_db

    def timed(self, db, prepare, call):
        """(seconds, queries) of ``call(env, prepared)``, flushed, in a fresh transaction."""
        with environment(self.odoo, db) as env:
            prepared = prepare(env)
            env.flush_all()
            env.invalidate_all()
            before = env.cr.sql_log_count
            if getattr(self, "capture", None) is not None:
                with statements(env.cr) as captured:
                    call(env, prepared)
                    env.flush_all()
                self.capture += captured
                return 0, env.cr.sql_log_count - before
            start = time.perf_counter()
            call(env, prepared)
            env.flush_all()
            elapsed = time.perf_counter() - start
            return elapsed, env.cr.sql_log_count - before

    # scenarios -------------------------------------------------------
    def rpc(self, model, method, args):
        """A whole in-process RPC, as ``/jsonrpc`` runs it after authentication: Odoo's
        ``service.model.execute_kw`` (cursor, environment, ``call_kw``, commit), minus HTTP/JSON."""
        from odoo.service import model as service

        start = time.perf_counter()
        service.execute_kw(self.db, ADMIN, model, method, args)
        return time.perf_counter() - start, None

    def noop(self, ids):
        return self.rpc("res.users", "context_get", [])

    def find_card(self, ids, query):
        return self.rpc("pos.config", "loyalty_club_find_card", [[ids["bench"]["config"]], query])

    def sale_confirm(self, ids, partner_id, native=False):
        side = ids["native" if native else "bench"]

        def prepare(env):
            return env["sale.order"].create(sale_values(side["products"], partner_id))

        return self.timed(self.native_db if native else self.db, prepare, lambda env, order: order.action_confirm())

    def pos_sync(self, ids, partner_id, card_id=None, native_card=None):
        side = ids["native" if native_card is not None else "bench"]

        def prepare(env):
            config = env["pos.config"].browse(side["config"])
            products = env["product.product"].browse(side["products"])
            return pos_order_data(env, config, products, partner_id, card_id)

        def call(env, prepared):
            data, total = prepared
            result = env["pos.order"].sync_from_ui([data])
            if native_card:
                # what pos_loyalty's payment screen sends next: the points the till computed
                order = env["pos.order"].browse(result["pos.order"][0]["id"])
                points = int(total // 10)
                coupon = {native_card: {"points": points, "program_id": side["program"], "coupon_id": native_card}}
                updates = order.confirm_coupon_programs(coupon)
                order.add_loyalty_history_lines(
                    [{"card_id": native_card, "won": points, "spent": 0}], updates["coupon_updates"]
                )

        return self.timed(self.native_db if native_card is not None else self.db, prepare, call)


class JsonRpc:
    """JSON-RPC against a running odoo-bin (``/jsonrpc``, service ``object``, ``execute_kw``)."""

    mode = "JSON-RPC, odoo-bin --workers=2"

    def __init__(self, url, db, native_db, password="admin"):
        self.url, self.db, self.native_db, self.password = url, db, native_db, password
        self.uid = {name: self.rpc("common", "login", name, "admin", password) for name in (db, native_db)}

    def rpc(self, service, method, *args):
        body = json.dumps(
            {"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": args}}
        ).encode()
        request = urllib.request.Request(f"{self.url}/jsonrpc", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as response:
            reply = json.loads(response.read())
        if reply.get("error"):
            raise RuntimeError(json.dumps(reply["error"])[:2000])
        return reply.get("result")  # absent when the method returns None

    def call(self, db, model, method, args, kwargs=None):
        return self.rpc("object", "execute_kw", db, self.uid[db], self.password, model, method, args, kwargs or {})

    def timed(self, db, model, method, args):
        start = time.perf_counter()
        result = self.call(db, model, method, args)
        return time.perf_counter() - start, result

    def noop(self, ids):
        return self.timed(self.db, "res.users", "context_get", [])[0], None

    def find_card(self, ids, query):
        return self.timed(self.db, "pos.config", "loyalty_club_find_card", [[ids["bench"]["config"]], query])[0], None

    def sale_confirm(self, ids, partner_id, native=False):
        db = self.native_db if native else self.db
        side = ids["native" if native else "bench"]
        order_id = self.call(db, "sale.order", "create", [sale_values(side["products"], partner_id)])
        return self.timed(db, "sale.order", "action_confirm", [[order_id]])[0], None

    def pos_sync(self, ids, partner_id, card_id=None, native_card=None):
        native = native_card is not None
        db = self.native_db if native else self.db
        side = ids["native" if native else "bench"]
        data = self.pos_data(db, side, partner_id, card_id)
        elapsed, result = self.timed(db, "pos.order", "sync_from_ui", [[data]])
        if native_card:
            order_id = result["pos.order"][0]["id"]
            points = int(data["amount_total"] // 10)
            coupon = {str(native_card): {"points": points, "program_id": side["program"], "coupon_id": native_card}}
            more, updates = self.timed(db, "pos.order", "confirm_coupon_programs", [[order_id], coupon])
            elapsed += more
            history = [{"card_id": native_card, "won": points, "spent": 0}]
            elapsed += self.timed(
                db, "pos.order", "add_loyalty_history_lines", [[order_id], history, updates["coupon_updates"]]
            )[0]
        return elapsed, None

    def pos_data(self, db, side, partner_id, card_id):
        if not hasattr(self, "_pos_cache"):
            self._pos_cache = {}
        if db not in self._pos_cache:
            config = self.call(
                db,
                "pos.config",
                "read",
                [[side["config"]], ["current_session_id", "pricelist_id", "payment_method_ids"]],
            )[0]
            methods = self.call(db, "pos.payment.method", "read", [config["payment_method_ids"], ["is_cash_count"]])
            products = self.call(db, "product.product", "read", [side["products"], ["lst_price"]])
            self._pos_cache[db] = (config, next(m["id"] for m in methods if m["is_cash_count"]), products)
        config, cash, products = self._pos_cache[db]
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        lines, total = [], 0.0
        for quantity, product in zip((1, 2, 3), products, strict=True):
            subtotal = product["lst_price"] * quantity
            total += subtotal
            lines.append(
                [
                    0,
                    0,
                    {
                        "price_unit": product["lst_price"],
                        "product_id": product["id"],
                        "price_subtotal": subtotal,
                        "price_subtotal_incl": subtotal,
                        "qty": quantity,
                        "tax_ids": [[6, 0, []]],
                        "pack_lot_ids": [],
                    },
                ]
            )
        pricelist_id = config["pricelist_id"] and config["pricelist_id"][0]
        session_id = config["current_session_id"][0]
        return paid_order(lines, total, now, pricelist_id, session_id, cash, self.uid[db], partner_id, card_id)
