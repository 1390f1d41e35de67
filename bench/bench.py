"""Chain-scale benchmark of loyalty_club, side by side with Odoo's native loyalty.

Run through ``bench/run.sh``, which finds Odoo and PostgreSQL (scripts/lib.sh) and calls::

    python bench/bench.py load|measure|crons|chain|report [options] -- <odoo options>

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
import tracemalloc
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
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
    from odoo.addons.loyalty_club.tools.card_number import luhn_check_digit

    body = f"{PREFIX}9{index:010d}"
    return body + luhn_check_digit(body)


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
    """Drop the plain (non-constraint, non-primary) indexes and the unique constraints of
    ``tables``: a bulk load then builds each index once at the end instead of updating it row
    by row. Returns the statements that put them back, for :func:`create_indexes`."""
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
    cr.execute(
        """SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
            WHERE t.relname = ANY(%s) AND c.contype = 'u'""",
        [list(tables)],
    )
    constraints = cr.fetchall()
    for table, name, _definition in constraints:
        cr.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    return [
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}' for table, name, definition in constraints
    ] + [definition for _name, definition in definitions]


def create_indexes(odoo, db, definitions):
    with environment(odoo, db, uid=1, commit=True) as env:
        env.cr.execute("SET maintenance_work_mem = '1GB'")
        for definition in definitions:
            env.cr.execute(definition)


def fast_load_mode(cr):
    """For one bulk-load transaction: no per-row foreign-key checks or user triggers
    (``session_replication_role = replica``, superuser only: the scripts' own cluster). The
    loader writes consistent rows by construction and :func:`check_load` verifies them after;
    the ledger's qualifying totals, kept by a trigger, are rebuilt set-based after the load.
    Returns whether the mode is on (False on a server where the role is not a superuser)."""
    cr.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not cr.fetchone()[0]:
        return False
    cr.execute("SET LOCAL session_replication_role = replica")
    return True


def run_parallel(tasks, workers=2):
    """Run the callables in ``tasks`` on ``workers`` threads (each task opens its own cursor:
    the database does the work, so two threads keep both cores of the machine busy)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()


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
    if args.template_seconds:
        timings["template databases (base once, then loyalty_club / native on top)"] = args.template_seconds
    start = time.perf_counter()
    with environment(odoo, args.db, uid=1, commit=True) as env:
        ids = setup_club(env, entries)
    with environment(odoo, args.native_db, uid=1, commit=True) as env:
        native = setup_native(env)
    timings["setup (ORM, both databases)"] = time.perf_counter() - start
    save(raw, "ids", {"bench": ids, "native": native, "members": members, "entries": entries})
    fast = []

    def load_range(first, last):
        chunk_start = time.perf_counter()
        with environment(odoo, args.db, uid=1, commit=True) as env:
            fast.append(fast_load_mode(env.cr))
            env.cr.execute(LUHN_SQL)
            bulk_partners(env.cr, first, last, ADMIN)
            bulk_cards_and_entries(env.cr, ids, entries, ADMIN)
        out(f"    members {first:,}-{last:,}: {time.perf_counter() - chunk_start:.0f} s")

    start = time.perf_counter()
    load_range(1, 1000)
    with environment(odoo, args.db, uid=1, commit=True) as env:
        env["loyalty.club.qualifying.total"]._rebuild_from_ledger()
        env.cr.execute("ANALYZE res_partner; ANALYZE loyalty_club_card; ANALYZE loyalty_club_entry")
    session_1000 = measure_session_load(odoo, args.db, ids["config"])
    save(raw, "session_1000", session_1000)
    out(f"    session load at 1,000 members: {session_1000['time']['median'] * 1000:.0f} ms, {session_1000['bytes']} B")
    timings["first 1,000 members and the session load at 1,000"] = time.perf_counter() - start

    start = time.perf_counter()
    bench_tables = ("res_partner", "loyalty_club_card", "loyalty_club_entry")
    with environment(odoo, args.db, uid=1, commit=True) as env:
        if fast_load_mode(env.cr):
            # its trigger is off too: the totals are rebuilt after the load (the trigger's upsert
            # needs the unique constraint otherwise)
            bench_tables += ("loyalty_club_qualifying_total",)
        bench_indexes = drop_indexes(env.cr, bench_tables)
    with environment(odoo, args.native_db, uid=1, commit=True) as env:
        native_indexes = drop_indexes(env.cr, ("res_partner", "loyalty_card"))
    save(raw, "dropped_indexes", {"bench": bench_indexes, "native": native_indexes})
    special = {}

    def load_special():
        task_start = time.perf_counter()
        with environment(odoo, args.db, uid=1, commit=True) as env:
            fast.append(fast_load_mode(env.cr))
            env.cr.execute(LUHN_SQL)
            bulk_partners(env.cr, members + 1, members + 1, ADMIN)
            bulk_cards_and_entries(env.cr, ids, 10, ADMIN)  # the small card: 9 lots + a redemption
            env.cr.execute("SELECT card_id, partner_id FROM bench_member")
            special["small"] = env.cr.fetchone()
            special["heavy"] = bulk_heavy_card(env.cr, ids, members + 2, args.big_card_entries, ADMIN)
        timings[f"heavy card with {args.big_card_entries:,} entries (parallel)"] = time.perf_counter() - task_start

    def load_native(first, last):
        def task():
            with environment(odoo, args.native_db, uid=1, commit=True) as env:
                fast_load_mode(env.cr)
                bulk_native(env.cr, native, first, last, ADMIN)

        return task

    # two threads: the members in chunks (half of the rest each at 100,000, 250,000 at most), the
    # heavy card and the native database's members, biggest first
    rest = members - 1000
    chunk = max(1, min(CHUNK, -(-rest // 2)))
    tasks = [load_special]
    tasks += [
        (lambda first=first: load_range(first, min(members, first + chunk - 1)))
        for first in range(1001, members + 1, chunk)
    ]
    tasks += [
        load_native(first, min(args.native_members, first + CHUNK - 1))
        for first in range(1, args.native_members + 1, CHUNK)
    ]
    run_parallel(tasks)
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
    timings[
        f"bulk load {members:,} members x {entries} entries, the heavy card and "
        f"{args.native_members:,} native members (2 threads)"
    ] = time.perf_counter() - start

    if any(fast):
        start = time.perf_counter()
        with environment(odoo, args.db, uid=1, commit=True) as env:
            fast_load_mode(env.cr)
            env["loyalty.club.qualifying.total"]._rebuild_from_ledger()
        timings["qualifying totals rebuilt from the ledger (one INSERT ... SELECT)"] = time.perf_counter() - start

    start = time.perf_counter()
    run_parallel(
        [
            lambda: create_indexes(odoo, args.db, bench_indexes),
            lambda: create_indexes(odoo, args.native_db, native_indexes),
        ]
    )
    timings[f"rebuild the {len(bench_indexes) + len(native_indexes)} indexes and unique constraints dropped"] = (
        time.perf_counter() - start
    )

    # the load ran without triggers (or row by row with them): chain the entries that have no
    # hash, as the 18.0.1.2.0 upgrade does (one UPDATE per ledger, a running aggregate per card)
    start = time.perf_counter()
    with environment(odoo, args.db, uid=1, commit=True) as env:
        hashed = env["loyalty.club.posting"]._backfill_chains()
    timings[f"hash chains of the {hashed:,} loaded entries (one UPDATE per ledger)"] = time.perf_counter() - start

    start = time.perf_counter()
    run_parallel([lambda db=db: analyze(odoo, db) for db in (args.db, args.native_db)])
    timings["ANALYZE"] = time.perf_counter() - start

    start = time.perf_counter()
    checks = check_load(odoo, args.db, members)
    timings["checks (audit, lots, qualifying totals, references, numbers)"] = time.perf_counter() - start
    save(raw, "load", {"timings": timings, "checks": checks})
    for name, seconds in timings.items():
        out(f"    {name}: {seconds:.0f} s")
    out(f"    checks: {checks}")
    if any(checks[name] for name in CHECKS_MUST_BE_ZERO):
        raise SystemExit("the bulk-loaded data is not consistent: see the checks above")


def analyze(odoo, db):
    with environment(odoo, db, uid=1, commit=True) as env:
        env.cr.execute("ANALYZE")


CHECKS_MUST_BE_ZERO = (
    "balance_mismatches",
    "lot_mismatches",
    "total_mismatches",
    "orphans",
    "bad_numbers",
    "broken_chains",
)


def check_load(odoo, db, members):
    """The checks the ORM makes: stored balance = sum of the entries, open lots = balance,
    qualifying totals = ledger, every reference of an entry or card exists (the load skipped
    the per-row foreign-key checks), card numbers valid and found by the ORM lookup."""
    with environment(odoo, db) as env:
        mismatches = env["loyalty.club.posting"]._audit_balances()
        broken_chains = env["loyalty.club.posting"]._audit_chains()
        env.cr.execute(
            """SELECT count(*) FROM loyalty_club_card c
                 LEFT JOIN (SELECT card_id, SUM(points_remaining) AS open FROM loyalty_club_entry
                             WHERE points_remaining > 0 GROUP BY card_id) l ON l.card_id = c.id
                WHERE c.balance >= 0 AND c.balance <> COALESCE(l.open, 0)"""
        )
        lot_mismatches = env.cr.fetchone()[0]
        total_mismatches = len(env["loyalty.club.qualifying.total"]._check_against_ledger())
        env.cr.execute(
            """SELECT (SELECT count(*) FROM loyalty_club_entry e
                        WHERE NOT EXISTS (SELECT 1 FROM loyalty_club_card c WHERE c.id = e.card_id AND
                                                   c.partner_id = e.partner_id AND c.club_id = e.club_id))
                    + (SELECT count(*) FROM loyalty_club_card c
                        WHERE NOT EXISTS (SELECT 1 FROM res_partner p WHERE p.id = c.partner_id))"""
        )
        orphans = env.cr.fetchone()[0]
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
        "total_mismatches": total_mismatches,
        "orphans": orphans,
        "bad_numbers": len(bad),
        "broken_chains": len(broken_chains),
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

    out("    ledger chain audit (every entry's hash against its columns and its predecessor's, both ledgers)")
    results["ledger chain audit"] = measure_chain_audit(odoo, args.db)
    out(f"      {results['ledger chain audit']}")
    save(raw, "crons", results)


def measure_chain_audit(odoo, db):
    """The nightly audit of the hash chains over the whole ledger (set-based, ranges of cards),
    then once more with one entry altered behind the triggers' back: it must be found."""
    with environment(odoo, db, uid=1) as env:
        env.cr.execute("SELECT count(*) FROM loyalty_club_entry")
        entries = env.cr.fetchone()[0]
        Posting = env["loyalty.club.posting"]
        start = time.perf_counter()
        broken = Posting._audit_chains()
        gift_broken = Posting._audit_gift_card_chains()
        seconds = time.perf_counter() - start
        env.cr.execute("SELECT id, card_id FROM loyalty_club_entry ORDER BY id DESC LIMIT 1 OFFSET 1000")
        altered, card_id = env.cr.fetchone()
        env.cr.execute("ALTER TABLE loyalty_club_entry DISABLE TRIGGER loyalty_club_entry_append_only_row")
        env.cr.execute("UPDATE loyalty_club_entry SET points = points + 1 WHERE id = %s", [altered])
        found = Posting._audit_chains().get(card_id) == altered
    return {
        "seconds": seconds,
        "detail": f"{entries:,} point entries ({entries / seconds:,.0f}/s): {len(broken)} cards and "
        f"{len(gift_broken)} gift cards with an altered entry; an entry altered with the triggers off: "
        f"{'found' if found else 'NOT FOUND'} (rolled back)",
    }


# ----------------------------------------------------------------------
# statements: capture what a call sends to PostgreSQL
# ----------------------------------------------------------------------
@contextmanager
def statements(cr):
    """Capture ``[(sql text, seconds)]`` of every statement ``cr`` executes in the block."""
    captured = []
    cursor_class = type(cr)
    original = cursor_class.execute

    def execute(self, query, params=None, log_exceptions=True):
        start = time.perf_counter()
        try:
            return original(self, query, params, log_exceptions)
        finally:
            if self is cr:
                from odoo.tools import SQL

                if isinstance(query, SQL):
                    query, params = query.code, query.params
                captured.append((self._obj.mogrify(query, params or None).decode(), time.perf_counter() - start))

    cursor_class.execute = execute
    try:
        yield captured
    finally:
        cursor_class.execute = original


def plan_summary(cr, sql):
    """EXPLAIN ANALYZE of ``sql``: execution time and the plan as one line of nodes
    (type, relation or index, actual rows x loops), outermost first."""
    cr.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
    result = cr.fetchone()[0][0]
    nodes = []

    def walk(node, depth, processes):
        label = node["Node Type"]
        if node.get("Relation Name"):
            label += f" on {node['Relation Name']}"
        if node.get("Index Name"):
            label += f" using {node['Index Name']}"
        if node.get("Parent Relationship") == "SubPlan":
            label = "SubPlan: " + label
        rows, loops = node.get("Actual Rows", 0), node.get("Actual Loops", 1)
        if node["Node Type"] in ("Gather", "Gather Merge"):
            processes = node.get("Workers Launched", 0) + 1  # below it, one loop per parallel process
        suffix = f" x {loops:,} {'parallel processes' if loops <= processes and processes > 1 else 'loops'}"
        nodes.append((depth, f"{label} ({rows:,} rows{suffix if loops > 1 else ''})", node, loops / processes))
        for child in node.get("Plans", []):
            walk(child, depth + 1, processes)

    walk(result["Plan"], 0, 1)
    per_row = [
        text
        for _depth, text, node, loops in nodes
        if loops > 1 and node.get("Relation Name") in ("loyalty_club_entry", "loyalty_club_gift_card_entry")
    ]
    return {
        "ms": result["Execution Time"],
        "nodes": [f"{'  ' * depth}{text}" for depth, text, _node, _loops in nodes],
        "subplans": sum(1 for _depth, text, _node, _loops in nodes if text.startswith("SubPlan")),
        "ledger_scans_per_row": per_row,
    }


def cache_size(env):
    """Number of values in the environment's ORM cache (all records, all fields)."""
    total = 0
    for field_cache in env.cache._data.values():
        if field_cache and isinstance(next(iter(field_cache)), tuple):  # context-dependent field
            total += sum(len(values) for values in field_cache.values())
        else:
            total += len(field_cache)
    return total


def normalized(sql):
    """``sql`` with its literals replaced, to group the statements of a call."""
    import re

    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "N", sql)
    sql = re.sub(r"\(N(, N)*\)", "(N...)", sql)
    return " ".join(sql.split())


def cmd_profile(odoo, args, raw):
    """Development aid (not run by run.sh): the SQL statements of one sale confirmation and one
    POS sync, with and without a member, grouped; ``--show`` prints every statement."""
    ids = load_json(raw, "ids")
    driver = InProcess(odoo, args.db, args.db)
    people = resolve_members(odoo, args, ids, random.Random(7), 4)[1]["bench"]
    scenarios = {
        "sale, no member": lambda: driver.sale_confirm(ids, ids["bench"]["walk_in"]),
        "sale, member": lambda: driver.sale_confirm(ids, people[0][0]),
        "POS, no member": lambda: driver.pos_sync(ids, False, card_id=False),
        "POS, member": lambda: driver.pos_sync(ids, people[1][0], card_id=people[1][1]),
    }
    for name, scenario in scenarios.items():
        scenario()  # warm
        driver.capture = []
        scenario()
        captured, driver.capture = driver.capture, None
        out(f"== {name}: {len(captured)} statements")
        groups = {}
        for sql, _seconds in captured:
            groups.setdefault(normalized(sql)[: args.width], []).append(sql)
        for key, group in groups.items():
            out(f"  {len(group):3d} x {key}")
            if args.show:
                for sql in group:
                    out(f"          {' '.join(sql.split())[:600]}")


# ----------------------------------------------------------------------
# engagement crons: birthday bonuses and expiring-points notices over E members
# ----------------------------------------------------------------------
def member_index_sql(alias="c"):
    """SQL of the bulk-loaded member index of card ``alias`` (its number is prefix, 9, index, check)."""
    return f"substr({alias}.number, {len(PREFIX) + 2}, 10)::bigint"


def run_scheduled(odoo, db, call, label):
    """Run a cron method like the scheduler does over a backlog: the same environment, called
    again while it reports work, committed after each call. Returns batches, seconds, peak
    Python memory (tracemalloc) and the ORM cache size after each batch."""
    with environment(odoo, db, uid=1):
        pass  # registry loaded before the measure
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    batches, done, cache = 0, 0, []
    with environment(odoo, db, uid=1, commit=True) as env:
        base_cache = cache_size(env)
        while True:
            count = call(env)
            if not count:
                break
            batches += 1
            done += count
            cache.append(cache_size(env) - base_cache)
            env.cr.commit()  # pylint: disable=invalid-commit
    seconds = time.perf_counter() - start
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {
        "batches": batches,
        "done": done,
        "seconds": seconds,
        "peak_mb": peak / 2**20,
        "cache_max": max(cache, default=0),
        "cache_last": cache[-1] if cache else 0,
    }
    out(
        f"      {label}: {done:,} in {batches} batches, {seconds:.1f} s, peak Python memory "
        f"{result['peak_mb']:.1f} MB, ORM cache after a batch: max {result['cache_max']:,} values"
    )
    return result


def cmd_engagement(odoo, args, raw):
    """Birthday bonuses and expiring-points notices for 1,000 members, then for ``--members``
    others, on the loaded database: the cron must work in chunks with flat memory."""
    ids = load_json(raw, "ids")
    first, many = 1000, args.members
    batch = args.batch_size
    with environment(odoo, args.db, uid=1, commit=True) as env:
        club = env["loyalty.club"].browse(ids["bench"]["club"])
        club.write(
            {
                "notify_channel": "sms",
                "notify_birthday": True,
                "notify_expiring": True,
                "notify_expiring_days": 14,
                "notify_cap_per_week": 3,
            }
        )
        env["loyalty.club.bonus.rule"].create(
            [
                {"name": "Bench birthday", "club_id": club.id, "kind": "birthday", "points": 50},
                {"name": "Bench anniversary", "club_id": club.id, "kind": "anniversary", "points": 20},
            ]
        )
        # expiring lots of the members outside the two runs count as already announced
        env.cr.execute(
            f"""INSERT INTO loyalty_club_notification (key, date, club_id, company_id, partner_id, card_id,
                                                       entry_id, kind, state)
                SELECT 'expiring:' || e.id, now() at time zone 'UTC', e.club_id, e.company_id, e.partner_id,
                       e.card_id, e.id, 'expiring', 'cancelled'
                  FROM loyalty_club_entry e JOIN loyalty_club_card c ON c.id = e.card_id
                 WHERE e.points_remaining > 0 AND e.expiry_date > (now() at time zone 'UTC')::date
                   AND e.expiry_date <= (now() at time zone 'UTC')::date + 14
                   AND {member_index_sql()} > %s""",
            [first],
        )
        out(f"    {env.cr.rowcount:,} expiring lots of the other members marked as announced")

    def set_birthdays(low, high):
        with environment(odoo, args.db, uid=1, commit=True) as env:
            env.cr.execute(
                f"""UPDATE res_partner p
                       SET loyalty_birthday = make_date(1990, extract(month FROM now() at time zone 'UTC')::int,
                                                        extract(day FROM now() at time zone 'UTC')::int),
                           tz = 'UTC'
                      FROM loyalty_club_card c
                     WHERE c.partner_id = p.id AND {member_index_sql()} BETWEEN %s AND %s""",
                [low, high],
            )
            return env.cr.rowcount

    results = {"batch_size": batch, "runs": {}}

    def bonuses(env):
        return env["loyalty.club.bonus.rule"]._cron_date_bonuses(batch_size=batch)

    def notices(env):
        return env["loyalty.club.notification"]._cron_expiring_notices(batch_size=batch)

    out("    birthday bonuses (birthday and anniversary rules, SMS on)")
    set_birthdays(1, first)
    results["runs"]["birthday bonuses, 1,000 members"] = run_scheduled(odoo, args.db, bonuses, "1,000 members")
    set_birthdays(first + 1, first + many)
    results["runs"][f"birthday bonuses, {many:,} members"] = run_scheduled(odoo, args.db, bonuses, f"{many:,} members")
    out("    expiring-points notices (one lot per member expiring within 14 days, SMS)")
    results["runs"]["expiring-points notices, 1,000 members"] = run_scheduled(odoo, args.db, notices, "1,000 members")
    with environment(odoo, args.db, uid=1, commit=True) as env:
        env.cr.execute(
            f"""DELETE FROM loyalty_club_notification n USING loyalty_club_card c
                 WHERE c.id = n.card_id AND n.kind = 'expiring' AND n.state = 'cancelled'
                   AND {member_index_sql()} BETWEEN %s AND %s""",
            [first + 1, first + many],
        )
    results["runs"][f"expiring-points notices, {many:,} members"] = run_scheduled(
        odoo, args.db, notices, f"{many:,} members"
    )
    with environment(odoo, args.db, uid=1, commit=True) as env:
        env.cr.execute("SELECT count(*) FROM loyalty_club_entry WHERE posting_key LIKE 'bonus:birthday:%'")
        results["bonus_entries"] = env.cr.fetchone()[0]
        env.cr.execute("SELECT count(*) FROM sms_sms")
        results["sms_queued"] = env.cr.fetchone()[0]
        env["loyalty.club"].browse(ids["bench"]["club"]).notify_channel = "none"
    out(f"    {results['bonus_entries']:,} birthday bonus entries, {results['sms_queued']:,} SMS queued")
    save(raw, "engagement", results)


# ----------------------------------------------------------------------
# liability report over the whole ledger
# ----------------------------------------------------------------------
def cmd_liability(odoo, args, raw):
    """The liability report read as the UI reads it (list, pivot read_group) and as of a date,
    as user admin (record rules apply): time, statements and the plan of the main one."""
    from odoo import fields

    results = {}
    today = fields.Date.today()
    calls = {
        "report rows (search_read of the SQL view)": lambda env: env["loyalty.club.liability.report"].search_read(
            [], ["source", "company_id", "branch_id", "points", "value"]
        ),
        "pivot (read_group by company, branch and source)": lambda env: env["loyalty.club.liability.report"].read_group(
            [], ["points:sum", "value:sum"], ["company_id", "branch_id", "source"], lazy=False
        ),
        "as of today (_liability_as_of)": lambda env: env["loyalty.club.liability.report"]._liability_as_of(
            today, env.companies
        ),
        "as of 6 months ago (_liability_as_of)": lambda env: env["loyalty.club.liability.report"]._liability_as_of(
            today.replace(day=1) - timedelta(days=180), env.companies
        ),
    }
    with environment(odoo, args.db) as env:
        env.cr.execute("SELECT count(*) FROM loyalty_club_entry")
        entries = env.cr.fetchone()[0]
    out(f"    liability report over {entries:,} ledger entries")
    for name, call in calls.items():
        times = []
        for _index in range(args.iterations + 1):
            with environment(odoo, args.db) as env:
                env.flush_all()
                env.invalidate_all()
                call(env)  # warm the access rules
                env.invalidate_all()
                with statements(env.cr) as captured:
                    start = time.perf_counter()
                    rows = call(env)
                    elapsed = time.perf_counter() - start
                times.append(elapsed)
                main = max(captured, key=lambda item: item[1])[0]
                plan = plan_summary(env.cr, main)
        results[name] = {
            **stats(times[1:]),
            "statements": len(captured),
            "ledger_statements": sum(
                1 for sql, _seconds in captured if "loyalty_club_entry" in sql or "liability" in sql
            ),
            "rows": len(rows),
            "plan": plan,
            "sql": main,
        }
        out(
            f"      {name}: {results[name]['median'] * 1000:.0f} ms, {len(captured)} statement(s) "
            f"({results[name]['ledger_statements']} reading the ledger), "
            f"{len(rows)} rows; plan of the main one: {plan['ms']:.0f} ms, {plan['subplans']} subplans, "
            f"{len(plan['ledger_scans_per_row'])} per-row ledger scans"
        )
        for line in plan["nodes"]:
            out(f"          {line}")
    save(raw, "liability", {"entries": entries, "calls": results})


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------
def ms(value):
    return f"{value * 1000:.1f}"


def number(value):
    return f"{value:.6f}" if isinstance(value, float) else value


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def engagement_section(raw, rows):
    engagement = load_json(raw, "engagement")
    if not engagement:
        return []
    lines = [
        "## Engagement crons: 1,000 vs more members (same environment, committed per batch, like the scheduler)",
        "",
        f"Batches of {engagement['batch_size']:,}; Python memory traced with `tracemalloc` (its overhead is in "
        "the seconds); ORM cache = values cached in the environment after a batch, beyond what it held before.",
        "",
        "| Cron | done | batches | seconds | per member ms | peak Python memory MB | ORM cache after a batch |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in engagement["runs"].items():
        per = 1000 * run["seconds"] / run["done"] if run["done"] else 0
        lines.append(
            f"| {name} | {run['done']:,} | {run['batches']} | {run['seconds']:.1f} | {per:.1f} | "
            f"{run['peak_mb']:.1f} | {run['cache_max']:,} |"
        )
        rows.append(("engagement", name, run["seconds"], run["seconds"], "", f"peak {run['peak_mb']:.1f} MB"))
    lines += [
        "",
        f"{engagement['bonus_entries']:,} birthday bonus entries posted, {engagement['sms_queued']:,} SMS queued.",
        "",
    ]
    return lines


def liability_section(raw, rows):
    liability = load_json(raw, "liability")
    if not liability:
        return []
    lines = [
        f"## Liability report over {liability['entries']:,} ledger entries (as user admin)",
        "",
        "| Read | median ms | p95 ms | SQL statements (reading the ledger) | rows | main statement (EXPLAIN ANALYZE) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, call in liability["calls"].items():
        plan = call["plan"]
        scans = [line.strip() for line in plan["nodes"] if " on loyalty_club_" in line]
        note = (
            f"{plan['ms']:.0f} ms, {plan['subplans']} subplans, "
            f"{len(plan['ledger_scans_per_row'])} per-row ledger scans; " + "; ".join(scans)
        )
        lines.append(
            f"| {name} | {ms(call['median'])} | {ms(call['p95'])} | {call['statements']} "
            f"({call.get('ledger_statements', '?')}) | {call['rows']} | {note} |"
        )
        rows.append(("liability", name, call["median"], call["p95"], call["statements"], note))
    first = next(iter(liability["calls"].values()))
    lines += ["", "Plan of the pivot's statement (outermost node first):", "", "```"]
    lines += list(liability["calls"].get("pivot (read_group by company, branch and source)", first)["plan"]["nodes"])
    lines += ["```", ""]
    return lines


def extra_sections(raw, rows):
    """Measures other scripts add: each ``extra_<name>.json`` in the raw directory holds
    ``{"title": ..., "rows": [{"measure", "value", "unit", "detail"}]}`` (see :func:`save_extra`)."""
    lines = []
    for path in sorted(raw.glob("extra_*.json")):
        extra = json.loads(path.read_text())
        lines += [f"## {extra['title']}", "", "| Measure | value | unit | detail |", "|---|---:|---|---|"]
        for row in extra["rows"]:
            lines.append(f"| {row['measure']} | {row['value']} | {row.get('unit', '')} | {row.get('detail', '')} |")
            rows.append(("extra", row["measure"], row["value"], row["value"], "", row.get("detail", "")))
        lines.append("")
    return lines


def save_extra(raw, name, title, measures):
    """For additional benchmark scripts: record ``measures`` (list of dicts with ``measure``,
    ``value``, ``unit``, ``detail``) under ``title``; ``report`` adds them as a table."""
    save(raw, f"extra_{name}", {"title": title, "rows": measures})


def cmd_import(odoo, args, raw):
    """The member import (bench/bench_import.py): check, import and second check of ``--rows``
    generated rows through the wizard's real methods, in one transaction rolled back after
    (kept with ``--commit``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_import import measure_import

    with environment(odoo, args.db, commit=args.commit) as env:
        result = measure_import(
            env,
            rows=args.rows,
            batch_size=args.batch_size,
            trace_memory=not args.no_tracemalloc,
            recheck=not args.no_recheck,
        )
    save(raw, "import", result)
    checked, imported = result["check_counts"], result["import_counts"]
    measures = [
        {
            "measure": "check (dry run, nothing written)",
            "value": result["check_seconds"],
            "unit": "s",
            "detail": f"{result['check_rows_per_second']:,} rows/s; {checked['error_count']:,} rows with errors "
            f"({result['invalid_rows']:,} made invalid on purpose)",
        },
        {
            "measure": f"import (batches of {result['batch_size']} rows)",
            "value": result["import_seconds"],
            "unit": "s",
            "detail": f"{result['import_rows_per_second']:,} rows/s; {imported['new_card_count']:,} new cards, "
            f"{imported['opening_count']:,} opening entries, {result['balance_mismatches']} balance mismatches",
        },
    ]
    if "recheck_seconds" in result:
        measures.append(
            {
                "measure": "check of the same file again",
                "value": result["recheck_seconds"],
                "unit": "s",
                "detail": f"{result['recheck_counts']['unchanged_count']:,} rows already imported",
            }
        )
    if "peak_python_mib" in result:
        memory = {"measure": "peak Python memory (tracemalloc)", "value": result["peak_python_mib"], "unit": "MiB"}
    else:
        memory = {"measure": "process max RSS", "value": result["max_rss_mib"], "unit": "MiB"}
    measures.append({**memory, "detail": f"file of {result['file_mib']} MiB"})
    kept = "committed" if args.commit else "rolled back"
    save_extra(raw, "import", f"Member import of {args.rows:,} CSV rows (in-process, {kept})", measures)
    out(f"import: check {result['check_seconds']} s, import {result['import_seconds']} s")


def cmd_chain(odoo, args, raw):
    """Tamper-evident ledger at scale, on any database with loyalty_club, in one transaction rolled
    back at the end: bulk-load ``--members`` members with ``--entries-per-member`` entries each
    (and a card with ``--big-card-entries``) in a club of their own, hash them as the upgrade does
    (one UPDATE per ledger), audit every chain, alter one entry and audit again."""
    with environment(odoo, args.db, uid=1) as env:
        company = env["res.company"].create({"name": f"Chain bench {time.time():.0f}"})
        club = env["loyalty.club"].create({"name": "Chain bench", "company_id": company.id, "card_prefix": PREFIX})
        bronze, gold = env["loyalty.club.tier"].create(
            [
                {"name": "Bronze", "club_id": club.id, "threshold": 0},
                {"name": "Gold", "club_id": club.id, "threshold": 10**9},
            ]
        )
        ids = {"club": club.id, "company": company.id, "bronze": bronze.id, "gold": gold.id}
        env.flush_all()
        cr = env.cr
        fast = fast_load_mode(cr)
        cr.execute(LUHN_SQL)
        start = time.perf_counter()
        bulk_partners(cr, 1, args.members, ADMIN)
        bulk_cards_and_entries(cr, ids, args.entries_per_member, ADMIN)
        if args.big_card_entries:
            bulk_heavy_card(cr, ids, args.members + 1, args.big_card_entries, ADMIN)
        load = time.perf_counter() - start
        cr.execute("SELECT count(*) FROM loyalty_club_entry WHERE club_id = %s", [club.id])
        entries = cr.fetchone()[0]
        cr.execute("ANALYZE loyalty_club_entry")
        Posting = env["loyalty.club.posting"]
        start = time.perf_counter()
        hashed = Posting._backfill_chains()
        backfill = time.perf_counter() - start
        start = time.perf_counter()
        broken = Posting._audit_chains()
        audit = time.perf_counter() - start
        cr.execute(
            "SELECT id, card_id FROM loyalty_club_entry WHERE club_id = %s ORDER BY id LIMIT 1 OFFSET %s",
            [club.id, entries // 2],
        )
        altered, card_id = cr.fetchone()
        cr.execute("ALTER TABLE loyalty_club_entry DISABLE TRIGGER loyalty_club_entry_append_only_row")
        cr.execute("UPDATE loyalty_club_entry SET reason = 'altered' WHERE id = %s", [altered])
        start = time.perf_counter()
        found = Posting._audit_chains()
        audit_again = time.perf_counter() - start
    measures = [
        {
            "measure": "bulk load (triggers " + ("off" if fast else "on: hashed row by row") + ")",
            "value": round(load, 1),
            "unit": "s",
            "detail": f"{args.members:,} members x {args.entries_per_member} entries and a card of "
            f"{args.big_card_entries:,}: {entries:,} entries",
        },
        {
            "measure": "hash the chains (the upgrade's backfill, one UPDATE)",
            "value": round(backfill, 1),
            "unit": "s",
            "detail": f"{hashed:,} entries hashed ({hashed / backfill:,.0f}/s)" if hashed else "nothing left to hash",
        },
        {
            "measure": "audit every chain (set-based, ranges of 100,000 cards)",
            "value": round(audit, 1),
            "unit": "s",
            "detail": f"{entries / audit:,.0f} entries/s; {len(broken)} cards with an altered entry",
        },
        {
            "measure": "audit after altering one entry with the triggers off",
            "value": round(audit_again, 1),
            "unit": "s",
            "detail": "found: first altered entry of its card"
            if found == {card_id: altered}
            else f"NOT FOUND: {found}",
        },
    ]
    save_extra(raw, "chain", f"Tamper-evident ledger: {entries:,} entries (in-process, rolled back)", measures)
    for measure in measures:
        out(f"    {measure['measure']}: {measure['value']} {measure['unit']} ({measure['detail']})")


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
    lines += engagement_section(raw, rows)
    lines += liability_section(raw, rows)
    lines += extra_sections(raw, rows)
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
            writer.writerow([mode, name, number(median), number(p95), queries, note])
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
    engagement = sub.add_parser("engagement")
    profile = sub.add_parser("profile")
    profile.add_argument("--db", required=True)
    profile.add_argument("--native-db", required=True)
    profile.add_argument("--show", action="store_true")
    profile.add_argument("--width", type=int, default=160)
    liability = sub.add_parser("liability")
    chain = sub.add_parser("chain")
    chain.add_argument("--members", type=int, default=100_000)
    chain.add_argument("--entries-per-member", type=int, default=10)
    chain.add_argument("--big-card-entries", type=int, default=1_000_000)
    member_import = sub.add_parser("import")
    member_import.add_argument("--rows", type=int, default=100_000)
    member_import.add_argument("--batch-size", type=int, default=1000)
    member_import.add_argument("--no-tracemalloc", action="store_true", help="time without tracemalloc's overhead")
    member_import.add_argument("--no-recheck", action="store_true", help="skip the second check of the same file")
    member_import.add_argument("--commit", action="store_true", help="keep the imported members")
    for command in (load, measure, crons, engagement, liability, member_import, chain):
        command.add_argument("--db", required=True)
    engagement.add_argument("--members", type=int, default=10_000)
    engagement.add_argument("--batch-size", type=int, default=1000)
    liability.add_argument("--iterations", type=int, default=5)
    for command in (load, measure):
        command.add_argument("--native-db", required=True)
    for command in (load, report, measure):
        command.add_argument("--big-card-entries", type=int, default=1_000_000)
    for command in (load, report):
        command.add_argument("--members", type=int, required=True)
        command.add_argument("--entries-per-member", type=int, required=True)
    load.add_argument("--native-members", type=int)
    load.add_argument("--template-seconds", type=int, default=0)
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
    {
        "load": cmd_load,
        "measure": cmd_measure,
        "crons": cmd_crons,
        "engagement": cmd_engagement,
        "liability": cmd_liability,
        "import": cmd_import,
        "profile": cmd_profile,
        "chain": cmd_chain,
    }[args.command](odoo, args, raw)


if __name__ == "__main__":
    main()
