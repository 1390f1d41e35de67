"""``measure``: real Odoo calls, in-process or over JSON-RPC (see bench_drivers.py), each scenario
after WARMUP unmeasured rounds, scenarios of a group interleaved; and ``profile``, the SQL statements
of one order, grouped (a development aid, not run by run.sh)."""

import json
import random
import statistics
import time

from bench_drivers import InProcess, JsonRpc
from bench_sql import normalized
from common import card_number, environment, load_json, local_phone, out, save, stats

WARMUP = 3


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
