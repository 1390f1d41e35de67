"""``liability``: the liability report over the whole ledger, read as the UI reads it and as of a
date: time, SQL statements and the plan of the main one."""

import time
from datetime import timedelta

from bench_sql import plan_summary, statements
from common import environment, out, save, stats


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
