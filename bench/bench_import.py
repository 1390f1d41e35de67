"""Benchmark of the member import (loyalty_club): check and import of a 100,000-row file.

``measure_import(env, rows=100_000)`` builds a CSV in memory (valid rows plus a share of
invalid ones: bad phones, negative balances, unknown tiers, duplicate phones), then runs the
import wizard's real methods in-process: the check (dry run), the import (what the scheduled
job does, batch by batch, in one run) and a second check of the same file (everything already
imported). It returns timings, rows per second, peak Python memory (tracemalloc) and counts.
It works in a company and club of its own, so it can run on any database with loyalty_club.

Run it with ``bench/bench.py import`` (``bench/run.sh --import-rows R`` does, :func:`cmd_import`);
the transaction is rolled back at the end unless ``--commit`` is given.
"""

import base64
import csv
import io
import resource
import time
import tracemalloc

from common import environment, out, save, save_extra

HEADER = ["name", "phone", "email", "birthday", "card_number", "points", "points_expiry", "tier", "pin"]
PHONE_PREFIX = "0901"  # a mobile range of its own, so the rows do not match members of other benchmarks
CARD_PREFIX = "7702"
TIERS = ("Bronze", "Silver", "Gold")


def luhn_number(body):
    """``body`` followed by its Luhn check digit (the addon's own helper)."""
    from odoo.addons.loyalty_club.tools.card_number import luhn_check_digit

    return body + luhn_check_digit(body)


def build_csv(rows, invalid_every=50, number_every=10, pin_every=1000):
    """CSV bytes of ``rows`` members: one row in ``invalid_every`` is invalid (four kinds in
    turn), one in ``number_every`` brings its own card number, one in ``pin_every`` a PIN."""
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(HEADER)
    invalid = 0
    for index in range(rows):
        phone = f"{PHONE_PREFIX}{index:07d}"
        row = [
            f"Bench Member {index}",
            phone,
            f"member{index}@bench.example.com" if index % 3 == 0 else "",
            f"19{60 + index % 40}-{1 + index % 12:02d}-{1 + index % 28:02d}" if index % 2 == 0 else "",
            luhn_number(f"{CARD_PREFIX}9{index:010d}") if index % number_every == 0 else "",
            str(index % 2500),
            "",
            TIERS[index % 3] if index % 7 == 0 else "",
            f"{index % 10000:04d}" if pin_every and index % pin_every == 1 else "",
        ]
        if invalid_every and index % invalid_every == invalid_every - 1:
            kind = invalid % 4
            invalid += 1
            if kind == 0:
                row[1] = "0912"  # not a phone number
            elif kind == 1:
                row[5] = "-10"  # negative balance
            elif kind == 2:
                row[7] = "Diamond"  # unknown tier
            else:
                row[1] = f"{PHONE_PREFIX}{index - 1:07d}"  # same phone as the row before
        writer.writerow(row)
    return stream.getvalue().encode("utf-8"), invalid


def setup_club(env):
    """A company (in Iran) with a club and three tiers, for the current user."""
    company = env["res.company"].create(
        {"name": f"Import bench {time.time():.0f}", "country_id": env.ref("base.ir").id}
    )
    env.user.write({"company_ids": [(4, company.id)]})
    env = env(context=dict(env.context, allowed_company_ids=[company.id]))
    club = env["loyalty.club"].create(
        {"name": "Import bench club", "company_id": company.id, "card_prefix": "7703", "pin_length": 4}
    )
    for name, threshold in zip(TIERS, (0, 500, 2000), strict=True):
        env["loyalty.club.tier"].create({"name": name, "club_id": club.id, "threshold": threshold})
    return env, club


def measure_import(env, rows=100_000, batch_size=1000, trace_memory=True, recheck=True):
    """Check and import ``rows`` generated rows through the import wizard, in ``env``'s
    transaction (the caller commits or rolls back).

    :returns: dict of timings (seconds), rows per second, peak Python memory (MiB, tracemalloc)
        and the wizard's counts after the check, the import and a second check
    """
    env, club = setup_club(env)
    data, invalid = build_csv(rows)
    env.flush_all()
    if trace_memory:
        tracemalloc.start()
    result = {"rows": rows, "invalid_rows": invalid, "file_mib": round(len(data) / 2**20, 2), "batch_size": batch_size}
    wizard = (
        env["loyalty.club.import.wizard"]
        .with_context(allowed_company_ids=[club.company_id.id])
        .create(
            {
                "club_id": club.id,
                "import_file": base64.b64encode(data),
                "filename": "bench_members.csv",
                "batch_size": batch_size,
            }
        )
    )
    del data

    started = time.perf_counter()
    wizard.action_check()
    result["check_seconds"] = round(time.perf_counter() - started, 2)
    result["check_counts"] = counts(wizard)

    started = time.perf_counter()
    wizard.action_import()
    if wizard.state == "running":
        wizard._process_import()  # the scheduled job's work, in one run
    result["import_seconds"] = round(time.perf_counter() - started, 2)
    result["import_counts"] = counts(wizard)
    result["state"] = wizard.state

    if recheck:
        data = csv_again(rows)
        again = wizard.create(
            {
                "club_id": club.id,
                "import_file": base64.b64encode(data),
                "filename": "again.csv",
                "batch_size": batch_size,
            }
        )
        started = time.perf_counter()
        again.action_check()
        result["recheck_seconds"] = round(time.perf_counter() - started, 2)
        result["recheck_counts"] = counts(again)

    if trace_memory:
        result["peak_python_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    result["max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["check_rows_per_second"] = round(rows / result["check_seconds"]) if result["check_seconds"] else None
    result["import_rows_per_second"] = round(rows / result["import_seconds"]) if result["import_seconds"] else None
    env.flush_all()
    env.cr.execute("SELECT count(*), COALESCE(sum(points), 0) FROM loyalty_club_entry WHERE club_id = %s", [club.id])
    result["ledger_entries"], result["ledger_points"] = env.cr.fetchone()
    result["balance_mismatches"] = len(
        env["loyalty.club.posting"]._audit_balances(env["loyalty.club.card"].search([("club_id", "=", club.id)]))
    )
    return result


def csv_again(rows):
    return build_csv(rows)[0]


def counts(wizard):
    """The wizard's counters (rows, errors, new partners and cards, openings...)."""
    from odoo.addons.loyalty_club.wizard.loyalty_club_import_runner import COUNTERS

    return {field: wizard[field] for field in COUNTERS}


def cmd_import(odoo, args, raw):
    """``import``: check, import and second check of ``--rows`` generated rows through the wizard's
    real methods (:func:`measure_import`), in one transaction rolled back after (kept with
    ``--commit``)."""
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
