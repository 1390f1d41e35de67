"""An SMS campaign to a segment of club members through a gateway (loyalty_club, issue 21).

For each member count, on a fresh copy of ``--template`` (a database with loyalty_club installed,
e.g. the kept ``loyalty_club_pytest`` of ``scripts/pytest.sh``; the copy is dropped at the end):
creates N members (partner with a mobile number and a card) in a club of their own and a segment
of them, then does what a manager and the scheduler do, committing as they do:

- *Send SMS* on the segment and *Send* in Odoo's composer (the campaign is recorded);
- the campaign job queues it batch by batch (``loyalty.club.sms.campaign._process``, a commit
  after each batch of ``loyalty_club.sms_campaign_batch_size``);
- Odoo's SMS queue job (``sms.sms._process_queue``) sends it through Kavenegar's bulk endpoint.

The gateway is the tests' mock, served on 127.0.0.1 by a child process (no network), so its own
records of what it received stay out of the measure. Prints, per count: seconds to queue and to
send, messages per second, requests, messages the gateway sent, peak Python memory (tracemalloc)
while queuing and while sending, and the ORM cache after each phase::

    .venv/bin/python bench/bench_sms_campaign.py --odoo-dir /opt/odoo18 --template loyalty_club_pytest \\
        --members 2000,10000 -- --addons-path=/opt/odoo18/addons,/opt/odoo18/odoo/addons,. \\
        --db_host=<socket dir> --db_port=<port> --db_user=odoo
"""

import argparse
import json
import multiprocessing
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, start_odoo


def _serve_mock(conn):
    """The child process: the mock gateway, answering ``stats`` and ``stop`` from the parent."""
    from odoo.modules.module import initialize_sys_path

    initialize_sys_path()
    from odoo.addons.loyalty_club.tests.test_sms_gateway import MockGateway

    mock = MockGateway()
    conn.send(mock.port)
    while True:
        command = conn.recv()
        if command == "stats":
            conn.send({"requests": len(mock.requests), "sent": len(mock.sent)})
        else:
            mock.stop()
            conn.send("stopped")
            return


def _copy_database(odoo, template, name):
    from odoo.sql_db import db_connect

    with db_connect("postgres").cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cr.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _drop_database(odoo, name):
    from odoo.modules.registry import Registry
    from odoo.sql_db import close_db, db_connect

    Registry.delete(name)
    close_db(name)
    with db_connect("postgres").cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _cache_values(env):
    return sum(len(values) for values in env.cache._data.values())


def run(odoo, db, members, rate, gateway_port, stats):
    with environment(odoo, db, commit=True) as env:
        params = env["ir.config_parameter"].sudo()
        for key, value in {
            "loyalty_club.sms_provider": "kavenegar",
            "loyalty_club.sms_kavenegar_api_key": "test-key-0123",
            "loyalty_club.sms_kavenegar_sender": "10004346",
            "loyalty_club.sms_kavenegar_url": f"http://127.0.0.1:{gateway_port}",
            "loyalty_club.sms_rate": rate,
        }.items():
            params.set_param(key, value)
        company = env["res.company"].create(
            {"name": f"SMS bench {time.time():.0f}", "country_id": env.ref("base.ir").id}
        )
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
            env.cr.commit()
            env.invalidate_all()
        setup_seconds = time.perf_counter() - started
        manager = env.ref("base.user_admin")
        segment = env["loyalty.club.segment"].create({"name": "SMS bench", "club_id": club.id})
        env.cr.commit()
        env.invalidate_all()

        tracemalloc.start()
        started = time.perf_counter()
        action = segment.with_user(manager).action_send_sms()
        composer = env["sms.composer"].with_user(manager).with_context(**action["context"])
        composer.create({"body": "تخفیف ویژه اعضا: ۲۰٪ تا پایان هفته"}).action_send_sms()
        env.cr.commit()
        campaign = env["loyalty.club.sms.campaign"].search([("segment_id", "=", segment.id)])
        campaign_id, batch_size = campaign.id, campaign._batch_size()
        env.invalidate_all()
        campaign = env["loyalty.club.sms.campaign"].browse(campaign_id)
        campaign._process(auto_commit=True)
        queue_seconds = time.perf_counter() - started
        _current, queue_peak = tracemalloc.get_traced_memory()
        cache_after_queue = _cache_values(env)
        campaign = env["loyalty.club.sms.campaign"].browse(campaign_id)
        queued = campaign.sms_count
        env.invalidate_all()

        tracemalloc.reset_peak()
        started = time.perf_counter()
        while env["sms.sms"].search_count([("state", "=", "outgoing")], limit=1):
            env["sms.sms"]._process_queue()  # Odoo's job: 10,000 at most per run, a commit per batch
            env.invalidate_all()
        send_seconds = time.perf_counter() - started
        _current, send_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        cache_after_send = _cache_values(env)
        env.cr.execute("SELECT state, count(*) FROM sms_sms GROUP BY state ORDER BY state")
        states = dict(env.cr.fetchall())
        gateway = stats()
        return {
            "members": members,
            "setup_seconds": round(setup_seconds, 1),
            "campaign_batch_size": batch_size,
            "sms_queued": queued,
            "queue_seconds": round(queue_seconds, 1),
            "send_seconds": round(send_seconds, 1),
            "messages_per_second": round(queued / send_seconds, 1) if send_seconds else None,
            "requests": gateway["requests"],
            "sent_by_gateway": gateway["sent"],
            "sms_states_after": states,
            "peak_python_mb_queue": round(queue_peak / 2**20, 1),
            "peak_python_mb_send": round(send_peak / 2**20, 1),
            "orm_cache_values_after_queue": cache_after_queue,
            "orm_cache_values_after_send": cache_after_send,
            "rate": rate,
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--odoo-dir", required=True)
    parser.add_argument("--template", required=True, help="a database with loyalty_club installed (copied)")
    parser.add_argument("--members", default="2000,10000", help="member counts, comma-separated")
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second (0: no limit)")
    parser.add_argument("--log", default="/tmp/bench_sms_campaign.log")
    parser.add_argument("odoo_args", nargs="*")
    args = parser.parse_args()
    odoo = start_odoo(args.odoo_dir, args.odoo_args, args.log)
    results = []
    for members in (int(count) for count in args.members.split(",")):
        parent, child = multiprocessing.get_context("fork").Pipe()
        server = multiprocessing.get_context("fork").Process(target=_serve_mock, args=(child,), daemon=True)
        server.start()
        port = parent.recv()

        def stats(parent=parent):
            parent.send("stats")
            return parent.recv()

        db = f"{args.template}_sms_bench"
        _copy_database(odoo, args.template, db)
        try:
            results.append(run(odoo, db, members, args.rate, port, stats))
        finally:
            _drop_database(odoo, db)
            parent.send("stop")
            parent.recv()
            server.join(10)
        print(json.dumps(results[-1], indent=1), flush=True)


if __name__ == "__main__":
    main()
