"""``load``: set up the club, tiers, products and a POS shop through the ORM (bench_setup.py), then
bulk-load N members with plain SQL (bench_bulk.py) on two threads, the same in the native database;
then check what the ORM relies on (balance = sum of the entries, lots, qualifying totals,
references, card numbers found by the ORM lookup)."""

import random
import time
from concurrent.futures import ThreadPoolExecutor

from bench_bulk import (
    LUHN_SQL,
    bulk_cards_and_entries,
    bulk_heavy_card,
    bulk_native,
    bulk_partners,
    create_indexes,
    drop_indexes,
    fast_load_mode,
)
from bench_measure import measure_session_load
from bench_setup import setup_club, setup_native
from common import ADMIN, card_number, environment, out, save

CHUNK = 250_000


def run_parallel(tasks, workers=2):
    """Run the callables in ``tasks`` on ``workers`` threads (each task opens its own cursor:
    the database does the work, so two threads keep both cores of the machine busy)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()


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
