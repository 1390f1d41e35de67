"""The scheduled jobs over the loaded members: ``crons`` (expiry, tier evaluation, balance audit and
chain audit, in committed batches) and ``engagement`` (birthday bonuses and expiring-points notices
over 1,000 then E members, run like the scheduler runs them over a backlog: batches, time, peak
Python memory and the ORM cache after each batch)."""

import time
import tracemalloc

from bench_chain import measure_chain_audit
from common import PREFIX, environment, load_json, out, save


def cmd_crons(odoo, args, raw):
    results = {}
    with environment(odoo, args.db, uid=1):
        pass  # load the registry before the clock starts
    out("    expiry cron (batches of 10,000 lots, each committed)")
    start, batches, cards = time.perf_counter(), 0, 0
    while True:
        with environment(odoo, args.db, uid=1, commit=True) as env:
            done = env["loyalty.club.posting"]._cron_expire_points()
        if not done:
            break
        batches += 1
        cards += done
    with environment(odoo, args.db, uid=1) as env:
        env.cr.execute("SELECT count(*) FROM loyalty_club_entry WHERE kind = 'expire'")
        expired = env.cr.fetchone()[0]
    results["expiry cron"] = {
        "seconds": time.perf_counter() - start,
        "detail": f"{batches} committed batches, {cards:,} cards, {expired:,} lots expired",
    }
    out(f"      {results['expiry cron']}")

    out("    tier evaluation cron (committed batches)")
    with environment(odoo, args.db, uid=1) as env:
        env.cr.execute("SELECT count(*) FROM loyalty_club_tier_history")
        history_before = env.cr.fetchone()[0]
    start = time.perf_counter()
    with environment(odoo, args.db, uid=1, commit=True) as env:
        env["loyalty.club.card"]._cron_evaluate_tiers()
    elapsed = time.perf_counter() - start
    with environment(odoo, args.db, uid=1) as env:
        env.cr.execute(
            """SELECT reason, count(*) FROM loyalty_club_tier_history WHERE id > 0 GROUP BY reason ORDER BY reason"""
        )
        reasons = dict(env.cr.fetchall())
        env.cr.execute("SELECT count(*) FROM loyalty_club_card WHERE tier_grace_until IS NOT NULL")
        grace = env.cr.fetchone()[0]
        env.cr.execute("SELECT count(*) FROM loyalty_club_tier_history")
        history_after = env.cr.fetchone()[0]
    results["tier evaluation cron"] = {
        "seconds": elapsed,
        "detail": f"{history_after - history_before:,} tier changes {reasons}, {grace:,} cards in grace",
    }
    out(f"      {results['tier evaluation cron']}")

    out("    balance audit (stored balance vs sum of the ledger, all cards)")
    start = time.perf_counter()
    with environment(odoo, args.db, uid=1) as env:
        mismatches = env["loyalty.club.posting"]._audit_balances()
    results["balance audit"] = {
        "seconds": time.perf_counter() - start,
        "detail": f"{len(mismatches)} cards whose balance differs from the sum of their entries",
    }
    out(f"      {results['balance audit']}")

    out("    ledger chain audit (every entry's hash against its columns and its predecessor's, both ledgers)")
    results["ledger chain audit"] = measure_chain_audit(odoo, args.db)
    out(f"      {results['ledger chain audit']}")
    save(raw, "crons", results)


def member_index_sql(alias="c"):
    """SQL of the bulk-loaded member index of card ``alias`` (its number is prefix, 9, index, check)."""
    return f"substr({alias}.number, {len(PREFIX) + 2}, 10)::bigint"


def run_scheduled(odoo, db, call, label):
    """Run a cron method like the scheduler does over a backlog: the same environment, called
    again while it reports work, committed after each call. Returns batches, seconds, peak
    Python memory (tracemalloc) and the ORM cache size after each batch."""
    with environment(odoo, db, uid=1):
        pass  # registry loaded before the measure
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    batches, done, cache = 0, 0, []
    with environment(odoo, db, uid=1, commit=True) as env:
        base_cache = cache_size(env)
        while True:
            count = call(env)
            if not count:
                break
            batches += 1
            done += count
            cache.append(cache_size(env) - base_cache)
            env.cr.commit()  # pylint: disable=invalid-commit
    seconds = time.perf_counter() - start
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {
        "batches": batches,
        "done": done,
        "seconds": seconds,
        "peak_mb": peak / 2**20,
        "cache_max": max(cache, default=0),
        "cache_last": cache[-1] if cache else 0,
    }
    out(
        f"      {label}: {done:,} in {batches} batches, {seconds:.1f} s, peak Python memory "
        f"{result['peak_mb']:.1f} MB, ORM cache after a batch: max {result['cache_max']:,} values"
    )
    return result


def cmd_engagement(odoo, args, raw):
    """Birthday bonuses and expiring-points notices for 1,000 members, then for ``--members``
    others, on the loaded database: the cron must work in chunks with flat memory."""
    ids = load_json(raw, "ids")
    first, many = 1000, args.members
    batch = args.batch_size
    with environment(odoo, args.db, uid=1, commit=True) as env:
        club = env["loyalty.club"].browse(ids["bench"]["club"])
        club.write(
            {
                "notify_channel": "sms",
                "notify_birthday": True,
                "notify_expiring": True,
                "notify_expiring_days": 14,
                "notify_cap_per_week": 3,
            }
        )
        env["loyalty.club.bonus.rule"].create(
            [
                {"name": "Bench birthday", "club_id": club.id, "kind": "birthday", "points": 50},
                {"name": "Bench anniversary", "club_id": club.id, "kind": "anniversary", "points": 20},
            ]
        )
        # expiring lots of the members outside the two runs count as already announced
        env.cr.execute(
            f"""INSERT INTO loyalty_club_notification (key, date, club_id, company_id, partner_id, card_id,
                                                       entry_id, kind, state)
                SELECT 'expiring:' || e.id, now() at time zone 'UTC', e.club_id, e.company_id, e.partner_id,
                       e.card_id, e.id, 'expiring', 'cancelled'
                  FROM loyalty_club_entry e JOIN loyalty_club_card c ON c.id = e.card_id
                 WHERE e.points_remaining > 0 AND e.expiry_date > (now() at time zone 'UTC')::date
                   AND e.expiry_date <= (now() at time zone 'UTC')::date + 14
                   AND {member_index_sql()} > %s""",
            [first],
        )
        out(f"    {env.cr.rowcount:,} expiring lots of the other members marked as announced")

    def set_birthdays(low, high):
        with environment(odoo, args.db, uid=1, commit=True) as env:
            env.cr.execute(
                f"""UPDATE res_partner p
                       SET loyalty_birthday = make_date(1990, extract(month FROM now() at time zone 'UTC')::int,
                                                        extract(day FROM now() at time zone 'UTC')::int),
                           tz = 'UTC'
                      FROM loyalty_club_card c
                     WHERE c.partner_id = p.id AND {member_index_sql()} BETWEEN %s AND %s""",
                [low, high],
            )
            return env.cr.rowcount

    results = {"batch_size": batch, "runs": {}}

    def bonuses(env):
        return env["loyalty.club.bonus.rule"]._cron_date_bonuses(batch_size=batch)

    def notices(env):
        return env["loyalty.club.notification"]._cron_expiring_notices(batch_size=batch)

    out("    birthday bonuses (birthday and anniversary rules, SMS on)")
    set_birthdays(1, first)
    results["runs"]["birthday bonuses, 1,000 members"] = run_scheduled(odoo, args.db, bonuses, "1,000 members")
    set_birthdays(first + 1, first + many)
    results["runs"][f"birthday bonuses, {many:,} members"] = run_scheduled(odoo, args.db, bonuses, f"{many:,} members")
    out("    expiring-points notices (one lot per member expiring within 14 days, SMS)")
    results["runs"]["expiring-points notices, 1,000 members"] = run_scheduled(odoo, args.db, notices, "1,000 members")
    with environment(odoo, args.db, uid=1, commit=True) as env:
        env.cr.execute(
            f"""DELETE FROM loyalty_club_notification n USING loyalty_club_card c
                 WHERE c.id = n.card_id AND n.kind = 'expiring' AND n.state = 'cancelled'
                   AND {member_index_sql()} BETWEEN %s AND %s""",
            [first + 1, first + many],
        )
    results["runs"][f"expiring-points notices, {many:,} members"] = run_scheduled(
        odoo, args.db, notices, f"{many:,} members"
    )
    with environment(odoo, args.db, uid=1, commit=True) as env:
        env.cr.execute("SELECT count(*) FROM loyalty_club_entry WHERE posting_key LIKE 'bonus:birthday:%'")
        results["bonus_entries"] = env.cr.fetchone()[0]
        env.cr.execute("SELECT count(*) FROM sms_sms")
        results["sms_queued"] = env.cr.fetchone()[0]
        env["loyalty.club"].browse(ids["bench"]["club"]).notify_channel = "none"
    out(f"    {results['bonus_entries']:,} birthday bonus entries, {results['sms_queued']:,} SMS queued")
    save(raw, "engagement", results)


def cache_size(env):
    """Number of values in the environment's ORM cache (all records, all fields)."""
    total = 0
    for field_cache in env.cache._data.values():
        if field_cache and isinstance(next(iter(field_cache)), tuple):  # context-dependent field
            total += sum(len(values) for values in field_cache.values())
        else:
            total += len(field_cache)
    return total
