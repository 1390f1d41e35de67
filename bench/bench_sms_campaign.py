"""An SMS campaign to a segment of club members through a gateway (loyalty_club, issue 21).

Creates N members (partners with a mobile number and a card) in a club of their own, a segment of
them, queues the campaign with Odoo's SMS composer in mass mode (what *Send SMS* on a segment
opens) and sends the queue through Kavenegar's bulk endpoint, against the tests' mock gateway on
127.0.0.1 (no network). Prints the time to queue, the time to send, messages per second, requests,
peak Python memory (tracemalloc) and the ORM cache size after the send. Everything is rolled back::

    .venv/bin/python bench/bench_sms_campaign.py --odoo-dir /opt/odoo18 --db DB --members 10000 \\
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

from bench import environment, start_odoo


def run(odoo, db, members, rate, batch_size):
    from odoo.addons.loyalty_club.tests.test_sms_gateway import KEY, MockGateway

    mock = MockGateway()
    try:
        with environment(odoo, db) as env:
            params = env["ir.config_parameter"].sudo()
            for key, value in {
                "loyalty_club.sms_provider": "kavenegar",
                "loyalty_club.sms_kavenegar_api_key": KEY,
                "loyalty_club.sms_kavenegar_sender": "10004346",
                "loyalty_club.sms_kavenegar_url": f"http://127.0.0.1:{mock.port}",
                "loyalty_club.sms_rate": rate,
                "sms.session.batch.size": batch_size,
            }.items():
                params.set_param(key, value)
            company = env["res.company"].create({"name": f"SMS bench {time.time():.0f}"})
            club = env["loyalty.club"].create({"name": "SMS bench", "company_id": company.id, "card_prefix": "7705"})
            started = time.perf_counter()
            for start in range(0, members, 1000):
                partners = env["res.partner"].create(
                    [
                        {"name": f"SMS bench {i}", "phone": f"+98912{i:07d}", "company_id": company.id}
                        for i in range(start, min(members, start + 1000))
                    ]
                )
                env["loyalty.club.card"].create([{"partner_id": p.id, "club_id": club.id} for p in partners])
                env.invalidate_all()
            setup_seconds = time.perf_counter() - started
            segment = env["loyalty.club.segment"].create({"name": "SMS bench", "club_id": club.id})
            tracemalloc.start()
            started = time.perf_counter()
            action = segment.action_send_sms()
            composer = env["sms.composer"].with_context(**action["context"]).create({"body": "تخفیف ویژه اعضا: ۲۰٪"})
            composer.action_send_sms()
            env.flush_all()
            queued = env["sms.sms"].search([("partner_id.company_id", "=", company.id), ("state", "=", "outgoing")])
            queue_seconds = time.perf_counter() - started
            queued_ids = queued.ids
            _current, queue_peak = tracemalloc.get_traced_memory()
            env.invalidate_all()
            tracemalloc.reset_peak()
            started = time.perf_counter()
            env["sms.sms"].browse(queued_ids).send(auto_commit=False)
            env.flush_all()
            send_seconds = time.perf_counter() - started
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            env.cr.execute(
                "SELECT state, count(*) FROM sms_sms WHERE id = ANY(%s) GROUP BY state ORDER BY state", [queued_ids]
            )
            states = dict(env.cr.fetchall())
            cache_values = sum(len(values) for values in env.cache._data.values())
            return {
                "members": members,
                "setup_seconds": round(setup_seconds, 1),
                "queued": len(queued_ids),
                "queue_seconds": round(queue_seconds, 1),
                "send_seconds": round(send_seconds, 1),
                "messages_per_second": round(len(queued_ids) / send_seconds, 1) if send_seconds else None,
                "requests": len(mock.requests),
                "sent_by_gateway": len(mock.sent),
                "states": states,
                "peak_python_mb_queue": round(queue_peak / 2**20, 1),
                "peak_python_mb_send": round(peak / 2**20, 1),
                "orm_cache_values_after": cache_values,
                "rate": rate,
                "batch_size": batch_size,
            }
    finally:
        mock.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--odoo-dir", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second (0: no limit)")
    parser.add_argument("--batch-size", type=int, default=500, help="Odoo's sms.session.batch.size")
    parser.add_argument("--log", default="/tmp/bench_sms_campaign.log")
    parser.add_argument("odoo_args", nargs="*")
    args = parser.parse_args()
    odoo = start_odoo(args.odoo_dir, args.odoo_args, args.log)
    print(json.dumps(run(odoo, args.db, args.members, args.rate, args.batch_size), indent=1))


if __name__ == "__main__":
    main()
