"""Timing of refused PIN checks (loyalty_club, issue 20): an unknown card, a locked card, a blocked
card and a wrong PIN must take the same time, so the answer time does not tell "no such card"
from "wrong PIN". Each case is one real call, in its own cursor and environment like one RPC:

- at the till: ``pos.config.loyalty_club_verify_pin(card_id, pin)`` (a blocked card is not a card
  of the till: it answers like an unknown id);
- in the back office: ``loyalty.club.card._authenticate(number, pin)`` (a blocked card is found,
  then refused).

The cases are interleaved in a random order (a noisy neighbour slows them alike; the CPU time of the calling
thread, also printed, does not depend on the neighbours), with the
database's PBKDF2 rounds (``loyalty_club.pin_hash_rounds``, default 200,000; ``--rounds`` sets them
for the run). It prints the median
and p95 of each case and the ratio of the slowest median to the fastest (target: within 10 %).

It commits a member with three cards and a shop in the database's main company (in its club, or
a club it creates; kept, named after the run) and switches the attempt limits off while it runs
(restored at the end)::

    .venv/bin/python bench/bench_pin_timing.py --odoo-dir /opt/odoo18 --db DB [--iterations 30] \\
        -- -c .local/odoo.conf --addons-path=/opt/odoo18/addons,/opt/odoo18/odoo/addons,. \\
           --db_host=<socket dir> --db_port=<port> --db_user=odoo
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, start_odoo, stats

PIN = "246813"
WRONG_PIN = "135792"
ROUNDS_PARAM = "loyalty_club.pin_hash_rounds"
LIMIT_PARAMS = (
    "loyalty_club.attempt_limit_user",
    "loyalty_club.attempt_limit_pos_session",
    "loyalty_club.attempt_limit_staff_ip",
    "loyalty_club.attempt_limit_code",
)


def setup(odoo, db, rounds=None):
    """Commit the bench's member, cards and shop; returns their ids and the saved parameters."""
    with environment(odoo, db, uid=2, commit=True) as env:
        params = env["ir.config_parameter"].sudo()
        saved = {key: params.get_param(key) for key in (*LIMIT_PARAMS, ROUNDS_PARAM)}
        for key in LIMIT_PARAMS:
            params.set_param(key, "0")
        if rounds:
            params.set_param(ROUNDS_PARAM, str(rounds))
        stamp = f"{time.time():.0f}"
        company = env.company.root_id
        club = company._loyalty_club_get() or env["loyalty.club"].create(
            {"name": f"PIN timing {stamp}", "company_id": company.id, "card_prefix": "7704"}
        )
        partner = env["res.partner"].create({"name": f"PIN timing member {stamp}"})
        Card = env["loyalty.club.card"]
        cards = {
            name: Card.create({"partner_id": partner.id, "club_id": club.id})
            for name in ("active", "locked", "blocked")
        }
        pin, wrong = PIN[: club.pin_length], WRONG_PIN[: club.pin_length]
        for card in cards.values():
            card._set_pin(pin)
        cards["blocked"].action_block()
        env.cr.execute(
            "UPDATE loyalty_club_card SET pin_locked = TRUE, pin_locked_until = NULL WHERE id = %s",
            [cards["locked"].id],
        )
        config = (
            env["pos.config"]
            .with_company(company)
            .create({"name": f"PIN timing shop {stamp}", "company_id": company.id, "payment_method_ids": [(5, 0, 0)]})
        )
        env["pos.session"].with_company(company).create({"config_id": config.id})
        rounds = env["loyalty.club.card"]._pin_rounds()
        return {
            "company": company.id,
            "config": config.id,
            "cards": {name: card.id for name, card in cards.items()},
            "numbers": {name: card.number for name, card in cards.items()},
            "saved": saved,
            "rounds": rounds,
            "pin": pin,
            "wrong": wrong,
        }


def restore(odoo, db, ids):
    with environment(odoo, db, uid=2, commit=True) as env:
        params = env["ir.config_parameter"].sudo()
        for key, value in ids["saved"].items():
            params.set_param(key, value or False)


def cases(ids):
    """{name: call(env)}: each call is refused (UserError)."""
    cards, numbers, pin, wrong = ids["cards"], ids["numbers"], ids["pin"], ids["wrong"]

    def till(card_id, pin):
        return lambda env: (
            env["pos.config"].browse(ids["config"]).with_company(ids["company"]).loyalty_club_verify_pin(card_id, pin)
        )

    def back_office(number, pin):
        return lambda env: env["loyalty.club.card"].with_company(ids["company"])._authenticate(number, pin)

    unknown_number = numbers["active"][:-6] + "000000"
    return {
        "till: unknown card": till(2_000_000_000, pin),
        "till: locked card": till(cards["locked"], pin),
        "till: blocked card": till(cards["blocked"], pin),
        "till: wrong PIN": till(cards["active"], wrong),
        "back office: unknown card": back_office(unknown_number, pin),
        "back office: locked card": back_office(numbers["locked"], pin),
        "back office: blocked card": back_office(numbers["blocked"], pin),
        "back office: wrong PIN": back_office(numbers["active"], wrong),
    }


def measure(odoo, db, ids, iterations, warmup=3):
    from odoo.exceptions import UserError

    calls = cases(ids)
    samples = {name: [] for name in calls}
    cpu = {name: [] for name in calls}
    order = [name for name in calls for _index in range(iterations + warmup)]
    random.Random(20).shuffle(order)
    seen = dict.fromkeys(calls, 0)
    for name in order:
        with environment(odoo, db, uid=2) as env:
            start, start_cpu = time.perf_counter(), time.thread_time()
            try:
                calls[name](env)
                raise SystemExit(f"{name}: the PIN check was not refused")
            except UserError:
                elapsed, elapsed_cpu = time.perf_counter() - start, time.thread_time() - start_cpu
        seen[name] += 1
        if seen[name] > warmup:
            samples[name].append(elapsed)
            cpu[name].append(elapsed_cpu)
        # the wrong PINs count towards the card's lock: start each call from zero failures
        with environment(odoo, db, uid=2, commit=True) as env:
            env.cr.execute(
                "UPDATE loyalty_club_card SET pin_failed_attempts = 0 WHERE id = %s", [ids["cards"]["active"]]
            )
            env.cr.execute("DELETE FROM loyalty_club_attempt WHERE user_id = %s", [env.uid])
    return {name: {**stats(values), "cpu": statistics.median(cpu[name])} for name, values in samples.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--odoo-dir", default=None)
    parser.add_argument("--db", required=True)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--rounds", type=int, help="PBKDF2 rounds for the run (default: the database's)")
    parser.add_argument("--log", default="/dev/null")
    parser.add_argument("odoo_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    odoo_args = args.odoo_args[1:] if args.odoo_args[:1] == ["--"] else args.odoo_args
    odoo = start_odoo(args.odoo_dir, odoo_args, args.log)
    ids = setup(odoo, args.db, args.rounds)
    try:
        results = measure(odoo, args.db, ids, args.iterations)
    finally:
        restore(odoo, args.db, ids)
    print(f"PBKDF2 rounds: {ids['rounds']:,}; {args.iterations} calls per case (after 3 warm-up calls), interleaved")
    print(f"{'case':<28} {'median ms':>10} {'p95 ms':>10} {'CPU median ms':>14}")
    for name, values in results.items():
        print(
            f"{name:<28} {values['median'] * 1000:>10.1f} {values['p95'] * 1000:>10.1f} {values['cpu'] * 1000:>14.1f}"
        )
    for side in ("till", "back office"):
        medians = [values["median"] for name, values in results.items() if name.startswith(side)]
        cpus = [values["cpu"] for name, values in results.items() if name.startswith(side)]
        print(
            f"{side}: slowest / fastest median = {max(medians) / min(medians):.3f} (wall clock), "
            f"{max(cpus) / min(cpus):.3f} (CPU time of the call)"
        )
    medians = [values["median"] for values in results.values()]
    ratio = max(medians) / min(medians)
    middle = statistics.median(medians) * 1000
    print(f"all cases: slowest / fastest = {ratio:.3f} (median of medians {middle:.1f} ms)")


if __name__ == "__main__":
    main()
