"""``report``: merge the raw JSON of the steps into RESULTS.md and results.csv (the calls, the
scheduled jobs, the engagement crons, the liability report, the extra tables of other scripts
(``extra_<name>.json``, see ``common.save_extra``) and the load)."""

import csv
import json
import os
from datetime import date
from pathlib import Path

from common import load_json, out


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
