"""Chain-scale benchmark of loyalty_club, side by side with Odoo's native loyalty.

Run through ``bench/run.sh``, which finds Odoo and PostgreSQL (scripts/lib.sh) and calls::

    python bench/bench.py load|measure|crons|report [options] -- <odoo options>

Everything after ``--`` goes to Odoo's configuration parser (config file, addons path,
database connection), exactly as the scripts pass it to ``odoo-bin``.

- ``load``: set up the club, tiers, products and a POS shop through the ORM, then bulk-load
  N members (partners, cards with valid Luhn numbers, ledger entries with consistent lots and
  balances) with plain SQL in the addon's real tables; the same in the native database
  (partners and ``loyalty.card`` of a native loyalty program). Checks balance = sum of entries
  and the card numbers through the ORM afterwards.
- ``measure``: real Odoo calls, in-process (``Registry(db)``, one cursor per call like an RPC,
  rolled back) or over JSON-RPC against a running ``odoo-bin --workers=2``.
- ``crons``: expiry, tier evaluation and balance audit over all members, in committed batches.
- ``report``: merge the raw JSON of the steps into RESULTS.md and results.csv.
"""

import argparse
import csv
import json
import logging
import os
import random
import statistics
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

_logger = logging.getLogger("loyalty_club.bench")

PREFIX = "7700"
PIN = "2468"
PHONE_BASE = "+98912"
CHUNK = 250_000
WARMUP = 3
ADMIN = 2  # base.user_admin: a real user, so access rights and record rules are paid for


def out(*args):
    print(*args, flush=True)


# ----------------------------------------------------------------------
# Odoo bootstrap
# ----------------------------------------------------------------------
def start_odoo(odoo_dir, odoo_args, log):
    if odoo_dir and odoo_dir not in sys.path:
        sys.path.insert(0, odoo_dir)
    import odoo

    odoo.tools.config.parse_config([*odoo_args, f"--logfile={log}", "--log-level=warn"])
    odoo.netsvc.init_logger()
    return odoo


@contextmanager
def environment(odoo, db, uid=ADMIN, commit=False):
    """A fresh cursor and environment, like one RPC; rolled back unless ``commit``."""
    from odoo.modules.registry import Registry

    registry = Registry(db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, uid, {})
        try:
            yield env
        finally:
            if commit:
                cr.commit()
            else:
                cr.rollback()


def stats(samples):
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, max(0, round(0.95 * len(samples)) - 1))]
    return {"median": statistics.median(samples), "p95": p95, "n": len(samples)}


def save(raw, name, data):
    raw.mkdir(parents=True, exist_ok=True)
    (raw / f"{name}.json").write_text(json.dumps(data, indent=1, default=str))


def load_json(raw, name):
    path = raw / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def card_number(index):
    """The bulk-loaded card number of member ``index`` (same formula as the SQL loader)."""
    body = f"{PREFIX}9{index:010d}"
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        total += digit
    return body + str((10 - total % 10) % 10)


def local_phone(index):
    return f"0912{index:07d}"


# ----------------------------------------------------------------------
# load
# ----------------------------------------------------------------------
def ensure_accounting(env):
    company = env.company
    company.country_id = env.ref("base.ir")
    if not env["account.account"].search_count([("company_ids", "in", company.id)], limit=1):
        env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)


def ensure_pos(env, name):
    """A POS shop with a cash method and an open session (like a till in the morning)."""
    config = env["pos.config"].search([("name", "=", name)], limit=1)
    if not config:
        config = env["pos.config"].create({"name": name})
    if not config.current_session_id:
        config = config.with_user(env.ref("base.user_admin"))
        config.open_ui()
        config.current_session_id.set_opening_control(0, None)
    return config


def setup_common(env, suffix=""):
    ensure_accounting(env)
    products = env["product.product"].create(
        [
            {
                "name": f"Bench {name}",
                "type": "service",
                "available_in_pos": True,
                "sale_ok": True,
                "lst_price": price,
                "taxes_id": False,
            }
            for name, price in (("Shirt", 100.0), ("Cap", 40.0), ("Socks", 10.0))
        ]
    )
    walk_in = env["res.partner"].create({"name": "Bench walk-in customer"})
    config = ensure_pos(env, f"Bench Shop{suffix}")
    return products, walk_in, config


def setup_club(env, entries_per_member):
    """Club, tiers and shop of the benchmark database (through the ORM, committed)."""
    env.ref("base.user_admin").groups_id += env.ref("loyalty_club.group_loyalty_club_manager")
    products, walk_in, config = setup_common(env)
    club = env["loyalty.club"].create(
        {
            "name": "Bench Club",
            "company_id": env.company.id,
            "earn_amount": 10,
            "earn_points": 1,
            "point_value": 0.5,
            "expiry_months": 12,
            "card_prefix": PREFIX,
            "tier_grace_days": 30,
        }
    )
    silver, gold = 27 * (entries_per_member - 1), 40 * (entries_per_member - 1)
    tiers = env["loyalty.club.tier"].create(
        [
            {"name": "Bronze", "sequence": 1, "club_id": club.id, "threshold": 0},
            {"name": "Silver", "sequence": 2, "club_id": club.id, "threshold": silver, "earn_multiplier": 1.5},
            {"name": "Gold", "sequence": 3, "club_id": club.id, "threshold": gold, "earn_multiplier": 2},
        ]
    )
    return {
        "club": club.id,
        "company": env.company.id,
        "bronze": tiers[0].id,
        "gold": tiers[2].id,
        "products": products.ids,
        "walk_in": walk_in.id,
        "config": config.id,
    }


def setup_native(env):
    """The same products and shop, and a native loyalty program with the same earning rule."""
    products, walk_in, config = setup_common(env, " native")
    program = env["loyalty.program"].create(
        {
            "name": "Bench native loyalty",
            "program_type": "loyalty",
            "applies_on": "both",
            "trigger": "auto",
            "pos_ok": True,
            "sale_ok": True,
            "pos_config_ids": [(6, 0, config.ids)],
            "rule_ids": [(0, 0, {"reward_point_mode": "money", "reward_point_amount": 0.1, "minimum_amount": 0})],
            "reward_ids": [
                (
                    0,
                    0,
                    {"reward_type": "discount", "discount_mode": "per_point", "discount": 0.5, "required_points": 1},
                )
            ],
        }
    )
    return {
        "program": program.id,
        "company": env.company.id,
        "products": products.ids,
        "walk_in": walk_in.id,
        "config": config.id,
    }


LUHN_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.bench_luhn(body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT ((10 - SUM(CASE WHEN (length(body) - i) % 2 = 0
                           THEN (CASE WHEN d * 2 > 9 THEN d * 2 - 9 ELSE d * 2 END) ELSE d END) % 10) % 10)::text
      FROM (SELECT i, substr(body, i, 1)::int AS d FROM generate_series(1, length(body)) i) s
$$;
"""


def bulk_partners(cr, first, last, uid, card_sequence="loyalty_club_card_id_seq"):
    """Members first..last (inclusive): a partner each, with an E.164 phone; returns nothing,
    the ids are kept in the temporary table bench_member."""
    cr.execute("DROP TABLE IF EXISTS bench_member")
    cr.execute(
        """CREATE TEMP TABLE bench_member AS
           SELECT i, nextval('res_partner_id_seq') AS partner_id, nextval(%s) AS card_id
             FROM generate_series(%s, %s) i""",
        [card_sequence, first, last],
    )
    cr.execute(
        """INSERT INTO res_partner (id, name, complete_name, commercial_partner_id, phone, phone_sanitized, type,
                                    active, is_company, lang, customer_rank, autopost_bills, create_uid,
                                    write_uid, create_date, write_date)
           SELECT partner_id, 'Bench Member ' || i, 'Bench Member ' || i, partner_id,
                  %(phone)s || lpad(i::text, 7, '0'), %(phone)s || lpad(i::text, 7, '0'), 'contact',
                  TRUE, FALSE, 'en_US', 1, 'ask', %(uid)s, %(uid)s, now() at time zone 'UTC',
                  now() at time zone 'UTC'
             FROM bench_member""",
        {"phone": PHONE_BASE, "uid": uid},
    )


def points_sql(i, j):
    """SQL of the points of earned lot ``j`` (1..K-1) of member ``i``; entry K redeems 5 points."""
    return f"(5 + (({i} * 31 + {j} * 17) %% 46))"


def bulk_cards_and_entries(cr, ids, entries, uid):
    """Cards and ledger of the members in bench_member: K-1 earned lots (one month apart, the
    oldest past its 12-month expiry), then one redemption of 5 points that consumed the oldest
    lot; balance = sum of the entries; every 10th card starts in Gold to give the tier
    evaluation downgrades, the others in Bronze."""
    points = points_sql("m.i", "j")
    spacing = 400 // (entries - 1) + 1
    params = {
        "club": ids["club"],
        "company": ids["company"],
        "bronze": ids["bronze"],
        "gold": ids["gold"],
        "uid": uid,
        "k": entries,
        "spacing": spacing,
        "prefix": PREFIX,
    }
    cr.execute(
        f"""INSERT INTO loyalty_club_card (id, number, club_id, company_id, partner_id, partner_phone_sanitized,
                                          state, date_issued, balance, tier_id, tier_since, pin_set,
                                          pin_failed_attempts, pin_locked, create_uid, write_uid,
                                          create_date, write_date)
            SELECT m.card_id,
                   %(prefix)s || '9' || lpad(m.i::text, 10, '0')
                       || pg_temp.bench_luhn(%(prefix)s || '9' || lpad(m.i::text, 10, '0')),
                   %(club)s, %(company)s, m.partner_id, p.phone_sanitized, 'active',
                   (now() at time zone 'UTC')::date - 500,
                   (SELECT SUM({points}) FROM generate_series(1, %(k)s - 1) j) - 5,
                   CASE WHEN m.i %% 10 = 0 THEN %(gold)s ELSE %(bronze)s END,
                   (now() at time zone 'UTC')::date - 500, FALSE, 0, FALSE, %(uid)s, %(uid)s,
                   now() at time zone 'UTC', now() at time zone 'UTC'
              FROM bench_member m JOIN res_partner p ON p.id = m.partner_id""",
        params,
    )
    cr.execute(
        f"""INSERT INTO loyalty_club_entry (card_id, partner_id, club_id, company_id, branch_id, kind, points,
                                           points_remaining, expiry_date, date, posting_key, origin_model,
                                           reason, amount, purchase_count, qualifying, user_id, create_uid,
                                           write_uid, create_date, write_date)
            SELECT m.card_id, m.partner_id, %(club)s, %(company)s, %(company)s,
                   CASE WHEN j = %(k)s THEN 'redeem' ELSE 'earn' END,
                   CASE WHEN j = %(k)s THEN -5 ELSE {points} END,
                   CASE WHEN j = %(k)s THEN 0 WHEN j = 1 THEN {points} - 5 ELSE {points} END,
                   CASE WHEN j = %(k)s THEN NULL ELSE (d.ts + interval '12 months')::date END,
                   d.ts, 'bench:' || m.i || ':' || j, 'bench', 'bulk load',
                   CASE WHEN j = %(k)s THEN 0 ELSE {points} * 10 END,
                   CASE WHEN j = %(k)s THEN 0 ELSE 1 END,
                   j <> %(k)s, %(uid)s, %(uid)s, %(uid)s, d.ts, d.ts
              FROM bench_member m
        CROSS JOIN generate_series(1, %(k)s) j
        CROSS JOIN LATERAL (SELECT (now() at time zone 'UTC') - make_interval(days => (%(k)s - j) * %(spacing)s)
                                   - make_interval(hours => m.i %% 24) AS ts) d""",
        params,
    )


def bulk_heavy_card(cr, ids, index, count, uid):
    """One member whose card has ``count`` one-point lots (never expiring before the run ends)."""
    bulk_partners(cr, index, index, uid)
    cr.execute(
        """INSERT INTO loyalty_club_card (id, number, club_id, company_id, partner_id, partner_phone_sanitized,
                                          state, date_issued, balance, tier_id, pin_set, pin_failed_attempts,
                                          pin_locked, create_uid, write_uid, create_date, write_date)
           SELECT m.card_id, %(prefix)s || '9' || lpad(m.i::text, 10, '0')
                       || pg_temp.bench_luhn(%(prefix)s || '9' || lpad(m.i::text, 10, '0')),
                  %(club)s, %(company)s, m.partner_id, p.phone_sanitized, 'active',
                  (now() at time zone 'UTC')::date, %(count)s, %(bronze)s, FALSE, 0, FALSE, %(uid)s, %(uid)s,
                  now() at time zone 'UTC', now() at time zone 'UTC'
             FROM bench_member m JOIN res_partner p ON p.id = m.partner_id""",
        {**ids, "prefix": PREFIX, "count": count, "uid": uid},
    )
    cr.execute(
        """INSERT INTO loyalty_club_entry (card_id, partner_id, club_id, company_id, branch_id, kind, points,
                                           points_remaining, expiry_date, date, posting_key, origin_model, reason,
                                           amount, purchase_count, qualifying, user_id, create_uid, write_uid,
                                           create_date, write_date)
           SELECT m.card_id, m.partner_id, %(club)s, %(company)s, %(company)s, 'earn', 1, 1,
                  (now() at time zone 'UTC')::date + 3650, (now() at time zone 'UTC') - interval '1 day',
                  'bench:heavy:' || m.i || ':' || j, 'bench', 'bulk load', 10, 1, TRUE, %(uid)s, %(uid)s,
                  %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
             FROM bench_member m CROSS JOIN generate_series(1, %(count)s) j""",
        {**ids, "count": count, "uid": uid},
    )
    cr.execute("SELECT card_id, partner_id FROM bench_member")
    return cr.fetchone()


def bulk_native(cr, ids, first, last, uid):
    """Members first..last in the native database: a partner and a loyalty.card with points."""
    bulk_partners(cr, first, last, uid, card_sequence="loyalty_card_id_seq")
    points = points_sql("m.i", "j")
    cr.execute(
        f"""INSERT INTO loyalty_card (id, program_id, company_id, partner_id, code, points, active,
                                      create_uid, write_uid, create_date, write_date)
            SELECT m.card_id, %(program)s, %(company)s, m.partner_id, 'BENCH' || m.i,
                   (SELECT SUM({points}) FROM generate_series(1, 9) j) - 5, TRUE,
                   %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
              FROM bench_member m""",
        {**ids, "uid": uid},
    )


def drop_indexes(cr, tables):
    """Drop the plain (non-constraint, non-primary) indexes of ``tables``: a bulk load then
    builds each index once at the end instead of updating it row by row. Returns their
    definitions for :func:`create_indexes`."""
    cr.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = ANY(%s) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        [list(tables)],
    )
    definitions = cr.fetchall()
    for name, _definition in definitions:
        cr.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in definitions]


def create_indexes(odoo, db, definitions):
    with environment(odoo, db, uid=1, commit=True) as env:
        env.cr.execute("SET maintenance_work_mem = '1GB'")
        for definition in definitions:
            env.cr.execute(definition)


def session_load(env, config_id):
    """Time and JSON size of what a till downloads when it opens (pos.session.load_data)."""
    session = env["pos.config"].browse(config_id).current_session_id
    env.invalidate_all()
    start = time.perf_counter()
    data = session.load_data([])
    elapsed = time.perf_counter() - start
    size = len(json.dumps(data, default=str))
    return elapsed, size, len(data.get("res.partner", {}).get("data", []))


def measure_session_load(odoo, db, config_id, iterations=7):
    times, sizes, partners = [], set(), set()
    for _index in range(iterations):
        with environment(odoo, db) as env:
            elapsed, size, count = session_load(env, config_id)
        times.append(elapsed)
        sizes.add(size)
        partners.add(count)
    return {"time": stats(times[1:]), "bytes": max(sizes), "partners_loaded": max(partners)}


def cmd_load(odoo, args, raw):
    members, entries = args.members, args.entries_per_member
    timings = {}
    start = time.perf_counter()
    with environment(odoo, args.db, uid=1, commit=True) as env:
        ids = setup_club(env, entries)
    with environment(odoo, args.native_db, uid=1, commit=True) as env:
        native = setup_native(env)
    timings["setup (ORM, both databases)"] = time.perf_counter() - start
    save(raw, "ids", {"bench": ids, "native": native, "members": members, "entries": entries})

    def load_range(first, last):
        with environment(odoo, args.db, uid=1, commit=True) as env:
            env.cr.execute(LUHN_SQL)
            bulk_partners(env.cr, first, last, ADMIN)
            bulk_cards_and_entries(env.cr, ids, entries, ADMIN)

    start = time.perf_counter()
    load_range(1, 1000)
    with environment(odoo, args.db, uid=1, commit=True) as env:
        env.cr.execute("ANALYZE res_partner; ANALYZE loyalty_club_card; ANALYZE loyalty_club_entry")
    session_1000 = measure_session_load(odoo, args.db, ids["config"])
    save(raw, "session_1000", session_1000)
    out(f"    session load at 1,000 members: {session_1000['time']['median'] * 1000:.0f} ms, {session_1000['bytes']} B")
    with environment(odoo, args.db, uid=1, commit=True) as env:
        bench_indexes = drop_indexes(env.cr, ("res_partner", "loyalty_club_card", "loyalty_club_entry"))
    with environment(odoo, args.native_db, uid=1, commit=True) as env:
        native_indexes = drop_indexes(env.cr, ("res_partner", "loyalty_card"))
    save(raw, "dropped_indexes", {"bench": bench_indexes, "native": native_indexes})
    first = 1001
    while first <= members:
        last = min(members, first + CHUNK - 1)
        chunk_start = time.perf_counter()
        load_range(first, last)
        out(
            f"    members {first:,}-{last:,}: {time.perf_counter() - chunk_start:.0f} s "
            f"({time.perf_counter() - start:.0f} s so far)"
        )
        first = last + 1
    timings[f"bulk load {members:,} members x {entries} entries"] = time.perf_counter() - start

    start = time.perf_counter()
    special = {}
    with environment(odoo, args.db, uid=1, commit=True) as env:
        env.cr.execute(LUHN_SQL)
        bulk_partners(env.cr, members + 1, members + 1, ADMIN)
        bulk_cards_and_entries(env.cr, ids, 10, ADMIN)  # the small card: 9 lots + a redemption
        env.cr.execute("SELECT card_id, partner_id FROM bench_member")
        special["small"] = env.cr.fetchone()
        special["heavy"] = bulk_heavy_card(env.cr, ids, members + 2, args.big_card_entries, ADMIN)
    save(
        raw,
        "ids",
        {
            "bench": ids,
            "native": native,
            "members": members,
            "native_members": args.native_members,
            "entries": entries,
            **special,
        },
    )
    timings[f"heavy card with {args.big_card_entries:,} entries"] = time.perf_counter() - start

    start = time.perf_counter()
    first = 1
    while first <= args.native_members:
        last = min(args.native_members, first + CHUNK - 1)
        with environment(odoo, args.native_db, uid=1, commit=True) as env:
            bulk_native(env.cr, native, first, last, ADMIN)
        first = last + 1
    timings[f"native: {args.native_members:,} partners + loyalty cards"] = time.perf_counter() - start

    start = time.perf_counter()
    create_indexes(odoo, args.db, bench_indexes)
    create_indexes(odoo, args.native_db, native_indexes)
    timings[f"rebuild the {len(bench_indexes) + len(native_indexes)} indexes dropped for the load"] = (
        time.perf_counter() - start
    )

    start = time.perf_counter()
    for db in (args.db, args.native_db):
        with environment(odoo, db, uid=1, commit=True) as env:
            env.cr.execute("ANALYZE")
    timings["ANALYZE"] = time.perf_counter() - start

    start = time.perf_counter()
    checks = check_load(odoo, args.db, members)
    timings["checks (audit, lots, numbers)"] = time.perf_counter() - start
    save(raw, "load", {"timings": timings, "checks": checks})
    for name, seconds in timings.items():
        out(f"    {name}: {seconds:.0f} s")
    out(f"    checks: {checks}")
    if checks["balance_mismatches"] or checks["lot_mismatches"] or checks["bad_numbers"]:
        raise SystemExit("the bulk-loaded data is not consistent: see the checks above")


def check_load(odoo, db, members):
    """The checks the ORM makes: stored balance = sum of the entries, open lots = balance,
    card numbers valid and found by the ORM lookup."""
    with environment(odoo, db) as env:
        mismatches = env["loyalty.club.posting"]._audit_balances()
        env.cr.execute(
            """SELECT count(*) FROM loyalty_club_card c
                 LEFT JOIN (SELECT card_id, SUM(points_remaining) AS open FROM loyalty_club_entry
                             WHERE points_remaining > 0 GROUP BY card_id) l ON l.card_id = c.id
                WHERE c.balance >= 0 AND c.balance <> COALESCE(l.open, 0)"""
        )
        lot_mismatches = env.cr.fetchone()[0]
        Card = env["loyalty.club.card"]
        sample = random.Random(1).sample(range(1, members + 1), min(200, members))
        bad = [index for index in sample if not Card._find_by_number(card_number(index))]
        env.cr.execute("SELECT count(*), SUM(balance) FROM loyalty_club_card")
        cards, points = env.cr.fetchone()
        env.cr.execute("SELECT count(*) FROM loyalty_club_entry")
        entries = env.cr.fetchone()[0]
    return {
        "cards": cards,
        "entries": entries,
        "points": points,
        "balance_mismatches": len(mismatches),
        "lot_mismatches": lot_mismatches,
        "bad_numbers": len(bad),
    }


# ----------------------------------------------------------------------
# measure: in-process
# ----------------------------------------------------------------------
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
    order_uuid = str(uuid.uuid4())
    data = {
        "amount_paid": total,
        "amount_return": 0,
        "amount_tax": 0,
        "amount_total": total,
        "date_order": odoo_now(env),
        "fiscal_position_id": False,
        "pricelist_id": config.pricelist_id.id,
        "name": f"Order {order_uuid}",
        "last_order_preparation_change": "{}",
        "lines": lines,
        "partner_id": partner_id,
        "session_id": session.id,
        "sequence_number": 2,
        "payment_ids": [(0, 0, {"amount": total, "name": odoo_now(env), "payment_method_id": cash.id})],
        "uuid": order_uuid,
        "user_id": env.uid,
        "to_invoice": False,
    }
    if card_id is not None:
        data["loyalty_club_card_id"] = card_id
        data["loyalty_club_pin_token"] = False
    return data, total


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


# ----------------------------------------------------------------------
# measure: JSON-RPC
# ----------------------------------------------------------------------
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
        order_uuid = str(uuid.uuid4())
        data = {
            "amount_paid": total,
            "amount_return": 0,
            "amount_tax": 0,
            "amount_total": total,
            "date_order": now,
            "fiscal_position_id": False,
            "pricelist_id": config["pricelist_id"] and config["pricelist_id"][0],
            "name": f"Order {order_uuid}",
            "last_order_preparation_change": "{}",
            "lines": lines,
            "partner_id": partner_id,
            "session_id": config["current_session_id"][0],
            "sequence_number": 2,
            "payment_ids": [[0, 0, {"amount": total, "name": now, "payment_method_id": cash}]],
            "uuid": order_uuid,
            "user_id": self.uid[db],
            "to_invoice": False,
        }
        if card_id is not None:
            data["loyalty_club_card_id"] = card_id
            data["loyalty_club_pin_token"] = False
        return data


def run_group(driver, scenarios, iterations):
    """Run the scenarios interleaved (A B C A B C ...), after WARMUP unmeasured rounds each,
    so a noisy neighbour slows every scenario of the group alike."""
    samples = {name: [] for name in scenarios}
    queries = {name: [] for name in scenarios}
    for round_index in range(WARMUP + iterations):
        for name, scenario in scenarios.items():
            elapsed, count = scenario()
            if round_index >= WARMUP:
                samples[name].append(elapsed)
                if count is not None:
                    queries[name].append(count)
    return {
        name: {**stats(values), "queries": statistics.median(queries[name]) if queries[name] else None}
        for name, values in samples.items()
    }


def resolve_members(odoo, args, ids, rng, count):
    """Partner and card ids of ``count`` random members in both databases."""
    indexes = [rng.randint(1, ids.get("native_members") or ids["members"]) for _index in range(count)]
    names = [f"Bench Member {index}" for index in indexes]
    result = {}
    for key, db in (("bench", args.db), ("native", args.native_db)):
        with environment(odoo, db, uid=1) as env:
            if key == "bench":
                env.cr.execute(
                    """SELECT p.name, p.id, c.id FROM res_partner p JOIN loyalty_club_card c ON c.partner_id = p.id
                        WHERE p.name = ANY(%s)""",
                    [names],
                )
            else:
                env.cr.execute(
                    """SELECT p.name, p.id, c.id FROM res_partner p JOIN loyalty_card c ON c.partner_id = p.id
                        WHERE p.name = ANY(%s)""",
                    [names],
                )
            by_name = {name: (partner, card) for name, partner, card in env.cr.fetchall()}
        result[key] = [by_name[name] for name in names]
    return indexes, result


def cmd_measure(odoo, args, raw):
    ids = load_json(raw, "ids")
    rng = random.Random(42)
    if args.mode == "rpc":
        driver = JsonRpc(args.url, args.db, args.native_db)
    else:
        driver = InProcess(odoo, args.db, args.native_db)
    iterations = args.iterations
    rounds = WARMUP + iterations
    results = {"mode": driver.mode, "iterations": iterations}

    out(f"    [{driver.mode}] card lookup")
    indexes = [rng.randint(1, ids["members"]) for _index in range(2 * rounds)]
    numbers = iter([card_number(index) for index in indexes])
    phones = iter([local_phone(index) for index in indexes[rounds:]])
    results["lookup"] = run_group(
        driver,
        {
            "no-op RPC (res.users.context_get)": lambda: driver.noop(ids),
            "card lookup by number": lambda: driver.find_card(ids, next(numbers)),
            "card lookup by phone": lambda: driver.find_card(ids, next(phones)),
        },
        iterations,
    )

    out(f"    [{driver.mode}] sale order confirmation")
    _indexes, people = resolve_members(odoo, args, ids, rng, rounds)
    ours, natives = iter(people["bench"]), iter(people["native"])
    results["sale"] = run_group(
        driver,
        {
            "sale: confirm, no member": lambda: driver.sale_confirm(ids, ids["bench"]["walk_in"]),
            "sale: confirm, member (loyalty_club)": lambda: driver.sale_confirm(ids, next(ours)[0]),
            "sale: confirm, member (native sale_loyalty)": lambda: driver.sale_confirm(
                ids, next(natives)[0], native=True
            ),
            "sale: confirm, no member (native sale_loyalty)": lambda: driver.sale_confirm(
                ids, ids["native"]["walk_in"], native=True
            ),
        },
        iterations,
    )

    out(f"    [{driver.mode}] POS order sync")
    _indexes, people = resolve_members(odoo, args, ids, rng, rounds)
    ours, natives = iter(people["bench"]), iter(people["native"])

    def ours_sync():
        partner, card = next(ours)
        return driver.pos_sync(ids, partner, card_id=card)

    def native_sync():
        partner, card = next(natives)
        return driver.pos_sync(ids, partner, native_card=card)

    results["pos"] = run_group(
        driver,
        {
            "POS: sync paid order, no member": lambda: driver.pos_sync(ids, False, card_id=False),
            "POS: sync paid order, member (loyalty_club)": ours_sync,
            "POS: sync paid order, member (native pos_loyalty, 3 RPCs)": native_sync,
            "POS: sync paid order, no member (native pos_loyalty)": lambda: driver.pos_sync(
                ids, False, native_card=False
            ),
        },
        iterations,
    )

    small_partner, small_card = ids["small"][1], ids["small"][0]
    heavy_partner, heavy_card = ids["heavy"][1], ids["heavy"][0]
    out(f"    [{driver.mode}] orders on a card with 10 vs {args.big_card_entries:,} entries")
    results["ledger_size"] = run_group(
        driver,
        {
            "POS sync, card with 10 entries": lambda: driver.pos_sync(ids, small_partner, card_id=small_card),
            "POS sync, card with the big ledger": lambda: driver.pos_sync(ids, heavy_partner, card_id=heavy_card),
            "sale confirm, card with 10 entries": lambda: driver.sale_confirm(ids, small_partner),
            "sale confirm, card with the big ledger": lambda: driver.sale_confirm(ids, heavy_partner),
        },
        max(5, iterations // 3),
    )

    if args.mode != "rpc":
        out(f"    [{driver.mode}] POS session load at {ids['members']:,} members")
        results["session_n"] = measure_session_load(odoo, args.db, ids["bench"]["config"])
    save(raw, f"measure_{args.mode}", results)


# ----------------------------------------------------------------------
# crons
# ----------------------------------------------------------------------
def cmd_crons(odoo, args, raw):
    results = {}
    with environment(odoo, args.db, uid=1):
        pass  # load the registry before the clock starts
    out("    expiry cron (batches of 10,000 lots, each committed)")
    start, batches, cards = time.perf_counter(), 0, 0
    while True:
        with environment(odoo, args.db, uid=1, commit=True) as env:
            done = env["loyalty.club.posting"]._cron_expire_points()
        if not done:
            break
        batches += 1
        cards += done
    with environment(odoo, args.db, uid=1) as env:
        env.cr.execute("SELECT count(*) FROM loyalty_club_entry WHERE kind = 'expire'")
        expired = env.cr.fetchone()[0]
    results["expiry cron"] = {
        "seconds": time.perf_counter() - start,
        "detail": f"{batches} committed batches, {cards:,} cards, {expired:,} lots expired",
    }
    out(f"      {results['expiry cron']}")

    out("    tier evaluation cron (committed batches)")
    with environment(odoo, args.db, uid=1) as env:
        env.cr.execute("SELECT count(*) FROM loyalty_club_tier_history")
        history_before = env.cr.fetchone()[0]
    start = time.perf_counter()
    with environment(odoo, args.db, uid=1, commit=True) as env:
        env["loyalty.club.card"]._cron_evaluate_tiers()
    elapsed = time.perf_counter() - start
    with environment(odoo, args.db, uid=1) as env:
        env.cr.execute(
            """SELECT reason, count(*) FROM loyalty_club_tier_history WHERE id > 0 GROUP BY reason ORDER BY reason"""
        )
        reasons = dict(env.cr.fetchall())
        env.cr.execute("SELECT count(*) FROM loyalty_club_card WHERE tier_grace_until IS NOT NULL")
        grace = env.cr.fetchone()[0]
        env.cr.execute("SELECT count(*) FROM loyalty_club_tier_history")
        history_after = env.cr.fetchone()[0]
    results["tier evaluation cron"] = {
        "seconds": elapsed,
        "detail": f"{history_after - history_before:,} tier changes {reasons}, {grace:,} cards in grace",
    }
    out(f"      {results['tier evaluation cron']}")

    out("    balance audit (stored balance vs sum of the ledger, all cards)")
    start = time.perf_counter()
    with environment(odoo, args.db, uid=1) as env:
        mismatches = env["loyalty.club.posting"]._audit_balances()
    results["balance audit"] = {
        "seconds": time.perf_counter() - start,
        "detail": f"{len(mismatches)} cards whose balance differs from the sum of their entries",
    }
    out(f"      {results['balance audit']}")
    save(raw, "crons", results)


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------
def ms(value):
    return f"{value * 1000:.1f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def cmd_report(args, raw):
    load = load_json(raw, "load")
    crons = load_json(raw, "crons")
    session_1000 = load_json(raw, "session_1000")
    rows = []  # (section, measure, median_ms, p95_ms, queries, ratio, note)
    lines = [
        f"# loyalty_club chain-scale benchmark: {args.members:,} members",
        "",
        f"- Members: {args.members:,}, ledger entries per member: {args.entries_per_member} "
        f"(+ one card with 10 and one with {args.big_card_entries:,} entries); "
        f"cards: {load.get('checks', {}).get('cards', '?'):,}, entries: {load.get('checks', {}).get('entries', '?'):,}",
        f"- Run: {date.today()}, total {args.elapsed // 60} min {args.elapsed % 60} s, "
        f"machine: {os.cpu_count()} cores, shared with other jobs (timings are noisy).",
        "- Times in milliseconds, median and p95 of the measured calls (after 3 warm-up calls), "
        "scenarios of a group interleaved.",
        "",
    ]
    for mode in ("inprocess", "rpc"):
        measured = load_json(raw, f"measure_{mode}")
        if not measured:
            continue
        lines += [
            f"## Calls through Odoo: {measured['mode']}",
            "",
            "| Measure | median ms | p95 ms | queries | ratio |",
            "|---|---:|---:|---:|---|",
        ]
        lookup, sale, pos, ledger = measured["lookup"], measured["sale"], measured["pos"], measured["ledger_size"]
        noop = lookup["no-op RPC (res.users.context_get)"]["median"]
        base_sale = sale["sale: confirm, no member"]["median"]
        native_sale = sale["sale: confirm, member (native sale_loyalty)"]["median"]
        base_pos = pos["POS: sync paid order, no member"]["median"]
        native_pos = pos["POS: sync paid order, member (native pos_loyalty, 3 RPCs)"]["median"]
        ratios = {
            "card lookup by number": f"{ratio(lookup['card lookup by number']['median'], noop)} of no-op",
            "card lookup by phone": f"{ratio(lookup['card lookup by phone']['median'], noop)} of no-op",
            "sale: confirm, member (loyalty_club)": (
                f"{ratio(sale['sale: confirm, member (loyalty_club)']['median'], base_sale)} of no member, "
                f"{ratio(sale['sale: confirm, member (loyalty_club)']['median'], native_sale)} of native"
            ),
            "POS: sync paid order, member (loyalty_club)": (
                f"{ratio(pos['POS: sync paid order, member (loyalty_club)']['median'], base_pos)} of no member, "
                f"{ratio(pos['POS: sync paid order, member (loyalty_club)']['median'], native_pos)} of native"
            ),
            "POS sync, card with the big ledger": ratio(
                ledger["POS sync, card with the big ledger"]["median"],
                ledger["POS sync, card with 10 entries"]["median"],
            )
            + " of 10 entries",
            "sale confirm, card with the big ledger": ratio(
                ledger["sale confirm, card with the big ledger"]["median"],
                ledger["sale confirm, card with 10 entries"]["median"],
            )
            + " of 10 entries",
        }
        for group in ("lookup", "sale", "pos", "ledger_size"):
            for name, value in measured[group].items():
                queries = "" if value["queries"] is None else f"{value['queries']:.0f}"
                label = name.replace("the big ledger", f"{args.big_card_entries:,} entries")
                lines.append(
                    f"| {label} | {ms(value['median'])} | {ms(value['p95'])} | {queries} | {ratios.get(name, '')} |"
                )
                rows.append((measured["mode"], label, value["median"], value["p95"], queries, ratios.get(name, "")))
        session_n = measured.get("session_n")
        if session_n and session_1000:
            for label, value in (("1,000", session_1000), (f"{args.members:,}", session_n)):
                name = f"POS session load at {label} members ({value['bytes']:,} bytes JSON)"
                note = (
                    f"{ratio(value['time']['median'], session_1000['time']['median'])} time, "
                    f"{ratio(value['bytes'], session_1000['bytes'])} size of 1,000"
                )
                lines.append(f"| {name} | {ms(value['time']['median'])} | {ms(value['time']['p95'])} |  | {note} |")
                rows.append((measured["mode"], name, value["time"]["median"], value["time"]["p95"], "", note))
        lines.append("")
    if crons:
        lines += [
            f"## Scheduled jobs over all {args.members:,} members (committed batches)",
            "",
            "| Job | seconds | detail |",
            "|---|---:|---|",
        ]
        for name, value in crons.items():
            lines.append(f"| {name} | {value['seconds']:.1f} | {value['detail']} |")
            rows.append(("cron", name, value["seconds"], value["seconds"], "", value["detail"]))
        lines.append("")
    if load:
        lines += ["## Load (SQL, committed in chunks)", "", "| Step | seconds |", "|---|---:|"]
        lines += [f"| {name} | {seconds:.0f} |" for name, seconds in load["timings"].items()]
        lines += ["", f"Checks after the load: `{json.dumps(load['checks'])}`", ""]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "RESULTS.md").write_text("\n".join(lines))
    with (out_dir / "results.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mode", "measure", "median_s", "p95_s", "queries", "ratio"])
        for mode, name, median, p95, queries, note in rows:
            writer.writerow([mode, name, f"{median:.6f}", f"{p95:.6f}", queries, note])
    out("\n".join(lines))


# ----------------------------------------------------------------------
def main():
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    own, odoo_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--odoo-dir")
    parser.add_argument("--log", default=os.devnull)
    parser.add_argument("--raw", required=True, help="directory of the raw JSON results")
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load")
    measure = sub.add_parser("measure")
    crons = sub.add_parser("crons")
    report = sub.add_parser("report")
    for command in (load, measure, crons):
        command.add_argument("--db", required=True)
    for command in (load, measure):
        command.add_argument("--native-db", required=True)
    for command in (load, report, measure):
        command.add_argument("--big-card-entries", type=int, default=1_000_000)
    for command in (load, report):
        command.add_argument("--members", type=int, required=True)
        command.add_argument("--entries-per-member", type=int, required=True)
    load.add_argument("--native-members", type=int)
    measure.add_argument("--iterations", type=int, default=30)
    measure.add_argument("--mode", choices=("inprocess", "rpc"), default="inprocess")
    measure.add_argument("--url")
    report.add_argument("--out", required=True)
    report.add_argument("--elapsed", type=int, default=0)
    args = parser.parse_args(own)
    if args.command == "load" and not args.native_members:
        args.native_members = args.members
    raw = Path(args.raw)
    if args.command == "report":
        cmd_report(args, raw)
        return
    odoo = start_odoo(args.odoo_dir, odoo_args, args.log)
    {"load": cmd_load, "measure": cmd_measure, "crons": cmd_crons}[args.command](odoo, args, raw)


if __name__ == "__main__":
    main()
