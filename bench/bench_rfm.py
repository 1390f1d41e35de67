"""The nightly RFM job (recency, frequency, monetary scores and groups) at scale (loyalty_club, issue 21).

Creates a club of its own in a database where ``loyalty_club`` is installed, bulk-loads N members
with SQL (partners, active cards, and 1 to 12 purchase days each in the daily qualifying totals the
job reads, spread over the last two years), then times ``_cron_compute_rfm()`` twice (the first run
writes every card, the second, idempotent, none). Prints seconds, cards written, the groups' sizes
and peak Python memory (tracemalloc). Everything is rolled back::

    .venv/bin/python bench/bench_rfm.py --odoo-dir /opt/odoo18 --db DB --members 100000 \\
        -- -c .local/odoo.conf --addons-path=/opt/odoo18/addons,/opt/odoo18/odoo/addons,. \\
           --db_host=<socket dir> --db_port=<port> --db_user=odoo
"""

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, start_odoo


def load(env, club, members):
    """N partners, cards and purchase days, in three INSERT ... SELECT."""
    cr = env.cr
    cr.execute(
        """INSERT INTO res_partner (name, complete_name, active, type, company_id, autopost_bills, create_date,
                                   write_date)
           SELECT 'RFM bench ' || i, 'RFM bench ' || i, TRUE, 'contact', %(company)s, 'ask', now(), now()
             FROM generate_series(1, %(n)s) i
        RETURNING id""",
        {"company": club.company_id.id, "n": members},
    )
    partner_ids = [row[0] for row in cr.fetchall()]
    cr.execute(
        """INSERT INTO loyalty_club_card (number, club_id, company_id, partner_id, state, date_issued, balance,
                                          create_date, write_date)
           SELECT 'RFMB' || lpad(p::text, 12, '0'), %(club)s, %(company)s, p, 'active', current_date - 800, 0,
                  now(), now()
             FROM unnest(%(partners)s) p""",
        {"club": club.id, "company": club.company_id.id, "partners": partner_ids},
    )
    # purchase days: k = 1..12 per member (skewed towards few), every `gap` days from `last` days ago
    cr.execute(
        """INSERT INTO loyalty_club_qualifying_total
                  (card_id, partner_id, club_id, company_id, day, points, amount, purchase_count)
           SELECT c.id, c.partner_id, c.club_id, c.company_id,
                  current_date - (m.last + g * m.gap), 10, m.basket, 1
             FROM loyalty_club_card c
             JOIN LATERAL (SELECT (1 + floor(12 * random() ^ 2))::int AS k,
                                  floor(random() * 700)::int AS last,
                                  (3 + floor(random() * 60))::int AS gap,
                                  round((20 + random() * 500)::numeric, 2) AS basket
                            WHERE c.id > 0) m ON TRUE
             JOIN LATERAL generate_series(0, m.k - 1) g ON TRUE
            WHERE c.club_id = %(club)s""",
        {"club": club.id},
    )
    cr.execute("SELECT count(*) FROM loyalty_club_qualifying_total WHERE club_id = %s", [club.id])
    return cr.fetchone()[0]


def run(odoo, db, members):
    with environment(odoo, db) as env:
        company = env["res.company"].create({"name": f"RFM bench {time.time():.0f}"})
        club = env["loyalty.club"].create({"name": "RFM bench", "company_id": company.id, "card_prefix": "7706"})
        env.flush_all()
        started = time.perf_counter()
        purchase_days = load(env, club, members)
        env.cr.execute("ANALYZE loyalty_club_card")
        env.cr.execute("ANALYZE loyalty_club_qualifying_total")
        load_seconds = time.perf_counter() - started
        Card = env["loyalty.club.card"]
        tracemalloc.start()
        started = time.perf_counter()
        written = Card._cron_compute_rfm(clubs=club)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        rewritten = Card._cron_compute_rfm(clubs=club)
        second_seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        env.cr.execute(
            "SELECT rfm_group, count(*) FROM loyalty_club_card WHERE club_id = %s GROUP BY 1 ORDER BY 2 DESC",
            [club.id],
        )
        groups = dict(env.cr.fetchall())
        return {
            "members": members,
            "purchase_days": purchase_days,
            "load_seconds": round(load_seconds, 1),
            "rfm_seconds": round(first_seconds, 2),
            "cards_written": written,
            "rerun_seconds": round(second_seconds, 2),
            "cards_rewritten": rewritten,
            "groups": groups,
            "peak_python_mb": round(peak / 2**20, 2),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--odoo-dir", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--log", default="/tmp/bench_rfm.log")
    parser.add_argument("odoo_args", nargs="*")
    args = parser.parse_args()
    odoo = start_odoo(args.odoo_dir, args.odoo_args, args.log)
    print(json.dumps(run(odoo, args.db, args.members), indent=1))


if __name__ == "__main__":
    main()
