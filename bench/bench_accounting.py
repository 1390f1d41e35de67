"""The nightly job that books club points in accounting, over one day of N postings (issue 24).

Creates a club of its own (three branches) in a database where ``loyalty_club`` is installed,
switches points accounting on (journal and accounts made by the setup), bulk-loads members and
yesterday's ledger with SQL (earnings, redemptions, bonuses, reversals of earnings and expiries,
through the ledger's own triggers), then times ``_book_club_points()`` twice: the first run books
the day, one journal entry per branch (or per order with ``--per-order``), the second finds nothing
to book. Prints seconds, batches, journal entries and items, ledger rows covered, whether the
liability account equals the report, and peak Python memory (tracemalloc). Everything is rolled
back::

    .venv/bin/python bench/bench_accounting.py --odoo-dir /opt/odoo18 --db DB --postings 100000 \\
        -- -c .local/odoo.conf --addons-path=/opt/odoo18/addons,/opt/odoo18/odoo/addons,. \\
           --db_host=<socket dir> --db_port=<port> --db_user=odoo
"""

import argparse
import json
import sys
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, start_odoo

MEMBERS_PER_POSTING = 5  # one member for five postings of the day


def load(env, club, branches, postings, per_order):
    """Members with a card each, and ``postings`` ledger rows dated yesterday: 70 % earnings
    (an order each when ``per_order``), 20 % redemptions, 5 % bonuses, 5 % reversals and expiries."""
    cr = env.cr
    members = max(1, postings // MEMBERS_PER_POSTING)
    company = club.company_id.id
    cr.execute(
        """INSERT INTO res_partner (name, complete_name, active, type, company_id, autopost_bills, create_date,
                                   write_date)
           SELECT 'Books bench ' || i, 'Books bench ' || i, TRUE, 'contact', %(company)s, 'ask', now(), now()
             FROM generate_series(1, %(n)s) i
        RETURNING id""",
        {"company": company, "n": members},
    )
    partner_ids = [row[0] for row in cr.fetchall()]
    cr.execute(
        """INSERT INTO loyalty_club_card (number, club_id, company_id, partner_id, state, date_issued, balance,
                                          create_date, write_date)
           SELECT 'BKSB' || lpad(p::text, 12, '0'), %(club)s, %(company)s, p, 'active', current_date - 400, 0,
                  now(), now()
             FROM unnest(%(partners)s) p""",
        {"club": club.id, "company": company, "partners": partner_ids},
    )
    day = datetime.combine(datetime.now().date() - timedelta(days=1), datetime.min.time())
    main = round(postings * 0.95)
    # earnings, redemptions and bonuses of yesterday, spread over the branches and the day
    cr.execute(
        """INSERT INTO loyalty_club_entry
                  (card_id, partner_id, club_id, company_id, branch_id, kind, points, points_remaining, date,
                   posting_key, origin_model, origin_id, amount, purchase_count, qualifying, expiry_date,
                   create_date, write_date)
           SELECT c.id, c.partner_id, c.club_id, c.company_id, (%(branches)s::int[])[1 + i %% 3], k.kind,
                  k.points, GREATEST(k.points, 0), %(day)s + (i %% 86400) * interval '1 second',
                  'bench:books:' || i, CASE WHEN %(per_order)s AND k.kind = 'earn' THEN 'pos.order' END,
                  CASE WHEN %(per_order)s AND k.kind = 'earn' THEN i END, 0, 0, k.kind = 'earn',
                  current_date + 365, now(), now()
             FROM generate_series(1, %(n)s) i
             JOIN loyalty_club_card c ON c.club_id = %(club)s AND c.partner_id = (%(partners)s::int[])[1 + i %% %(m)s]
             JOIN LATERAL (SELECT CASE WHEN i %% 20 < 14 THEN 'earn' WHEN i %% 20 < 18 THEN 'redeem' ELSE 'bonus' END
                                  AS kind) kk ON TRUE
             JOIN LATERAL (SELECT kk.kind, CASE kk.kind WHEN 'earn' THEN 10 + i %% 90 WHEN 'redeem' THEN -(5 + i %% 20)
                                  ELSE 25 END AS points) k ON TRUE""",
        {
            "branches": branches.ids,
            "day": day,
            "per_order": per_order,
            "n": main,
            "club": club.id,
            "partners": partner_ids,
            "m": members,
        },
    )
    # reversals of earnings and expiries of bonuses: the rest of the day's postings
    rest = postings - main
    cr.execute(
        """INSERT INTO loyalty_club_entry
                  (card_id, partner_id, club_id, company_id, branch_id, kind, points, points_remaining, date,
                   posting_key, reversed_entry_id, lot_id, amount, purchase_count, qualifying, create_date,
                   write_date)
           SELECT e.card_id, e.partner_id, e.club_id, e.company_id, e.branch_id,
                  CASE WHEN e.kind = 'earn' THEN 'reverse' ELSE 'expire' END, -LEAST(e.points, 5), 0,
                  e.date + interval '1 minute', 'bench:books:back:' || e.id,
                  CASE WHEN e.kind = 'earn' THEN e.id END, CASE WHEN e.kind = 'bonus' THEN e.id END,
                  0, 0, FALSE, now(), now()
             FROM (SELECT * FROM loyalty_club_entry
                    WHERE club_id = %(club)s AND kind IN ('earn', 'bonus') ORDER BY id LIMIT %(n)s) e""",
        {"club": club.id, "n": rest},
    )
    cr.execute("ANALYZE loyalty_club_entry")
    cr.execute("SELECT count(*) FROM loyalty_club_entry WHERE club_id = %s", [club.id])
    return members, cr.fetchone()[0]


def run(odoo, db, postings, per_order):
    with environment(odoo, db) as user_env:
        env = user_env(su=True)
        stamp = f"{time.time():.0f}"
        company = env["res.company"].create({"name": f"Books bench {stamp}"})
        branches = env["res.company"].create(
            [{"name": f"Books bench {stamp} branch {n}", "parent_id": company.id} for n in range(1, 3)]
        )
        club = env["loyalty.club"].create(
            {"name": "Books bench", "company_id": company.id, "card_prefix": "7707", "point_value": 1000}
        )
        club.action_setup_points_accounting()
        club.points_accounting_start = datetime.now().date() - timedelta(days=1)
        club.points_accounting_grouping = "order" if per_order else "day"
        env.flush_all()
        started = time.perf_counter()
        members, entries = load(env, club, company | branches, postings, per_order)
        load_seconds = time.perf_counter() - started
        Batch = env["loyalty.club.accounting.batch"]
        tracemalloc.start()
        started = time.perf_counter()
        batches = Batch._book_club_points(club)
        env.flush_all()
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = Batch._book_club_points(club)
        second_seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        yesterday = datetime.now().date() - timedelta(days=1)
        Report = env["loyalty.club.liability.report"]
        rows = Report._add_booked_as_of(yesterday, Report._liability_as_of(yesterday, company))
        return {
            "postings": entries,
            "members": members,
            "grouping": club.points_accounting_grouping,
            "load_seconds": round(load_seconds, 1),
            "booking_seconds": round(first_seconds, 2),
            "batches": len(batches),
            "journal_entries": len(batches.move_id),
            "journal_items": len(batches.move_id.line_ids),
            "rows_covered": sum(batches.mapped("entry_count")),
            "rerun_seconds": round(second_seconds, 2),
            "rerun_batches": len(again),
            "reconciled": all(row["difference"] == 0 for row in rows if row.get("booked")),
            "peak_python_mb": round(peak / 2**20, 2),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--odoo-dir", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--postings", type=int, default=100_000)
    parser.add_argument("--per-order", action="store_true", help="one journal entry per order")
    parser.add_argument("--log", default="/tmp/bench_accounting.log")
    parser.add_argument("odoo_args", nargs="*")
    args = parser.parse_args()
    odoo = start_odoo(args.odoo_dir, args.odoo_args, args.log)
    print(json.dumps(run(odoo, args.db, args.postings, args.per_order), indent=1))


if __name__ == "__main__":
    main()
