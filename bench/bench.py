"""Chain-scale benchmark of loyalty_club, side by side with Odoo's native loyalty.

Run through ``bench/run.sh``, which finds Odoo and PostgreSQL (scripts/lib.sh) and calls::

    python bench/bench.py load|measure|crons|engagement|liability|import|chain|profile|report [options] \\
        -- <odoo options>

Everything after ``--`` goes to Odoo's configuration parser (config file, addons path,
database connection), exactly as the scripts pass it to ``odoo-bin``. This file is the command
line; each subcommand lives in a module of its own:

- ``load`` (bench_load.py, with bench_setup.py and bench_bulk.py): set up the club, tiers,
  products and a POS shop through the ORM, then bulk-load N members (partners, cards with valid
  Luhn numbers, ledger entries with consistent lots and balances) with plain SQL in the addon's
  real tables; the same in the native database (partners and ``loyalty.card`` of a native
  loyalty program). Checks balance = sum of entries and the card numbers through the ORM afterwards.
- ``measure`` and ``profile`` (bench_measure.py, bench_drivers.py): real Odoo calls, in-process
  (``Registry(db)``, one cursor per call like an RPC, rolled back) or over JSON-RPC against a
  running ``odoo-bin --workers=2``; the SQL statements of one order, grouped.
- ``crons`` and ``engagement`` (bench_crons.py): expiry, tier evaluation, balance and chain audit
  over all members, in committed batches; birthday bonuses and expiring-points notices.
- ``liability`` (bench_liability.py), ``import`` (bench_import.py), ``chain`` (bench_chain.py).
- ``report`` (bench_report.py): merge the raw JSON of the steps into RESULTS.md and results.csv.

Shared helpers (Odoo start, environments, statistics, raw JSON) are in common.py.
"""

import argparse
import os
import sys
from pathlib import Path

from bench_chain import cmd_chain
from bench_crons import cmd_crons, cmd_engagement
from bench_import import cmd_import
from bench_liability import cmd_liability
from bench_load import cmd_load
from bench_measure import cmd_measure, cmd_profile
from bench_report import cmd_report
from common import start_odoo


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
