"""The tamper-evident ledger at scale: the nightly audit of the hash chains (``crons``) and ``chain``
(bulk-load, hash as the upgrade does, audit, alter one entry and audit again, rolled back)."""

import time

from bench_bulk import LUHN_SQL, bulk_cards_and_entries, bulk_heavy_card, bulk_partners, fast_load_mode
from common import ADMIN, PREFIX, environment, out, save_extra


def measure_chain_audit(odoo, db):
    """The nightly audit of the hash chains over the whole ledger (set-based, ranges of cards),
    then once more with one entry altered behind the triggers' back: it must be found."""
    with environment(odoo, db, uid=1) as env:
        env.cr.execute("SELECT count(*) FROM loyalty_club_entry")
        entries = env.cr.fetchone()[0]
        Posting = env["loyalty.club.posting"]
        start = time.perf_counter()
        broken = Posting._audit_chains()
        gift_broken = Posting._audit_gift_card_chains()
        seconds = time.perf_counter() - start
        env.cr.execute("SELECT id, card_id FROM loyalty_club_entry ORDER BY id DESC LIMIT 1 OFFSET 1000")
        altered, card_id = env.cr.fetchone()
        env.cr.execute("ALTER TABLE loyalty_club_entry DISABLE TRIGGER loyalty_club_entry_append_only_row")
        env.cr.execute("UPDATE loyalty_club_entry SET points = points + 1 WHERE id = %s", [altered])
        found = Posting._audit_chains().get(card_id) == altered
    return {
        "seconds": seconds,
        "detail": f"{entries:,} point entries ({entries / seconds:,.0f}/s): {len(broken)} cards and "
        f"{len(gift_broken)} gift cards with an altered entry; an entry altered with the triggers off: "
        f"{'found' if found else 'NOT FOUND'} (rolled back)",
    }


def cmd_chain(odoo, args, raw):
    """Tamper-evident ledger at scale, on any database with loyalty_club, in one transaction rolled
    back at the end: bulk-load ``--members`` members with ``--entries-per-member`` entries each
    (and a card with ``--big-card-entries``) in a club of their own, hash them as the upgrade does
    (one UPDATE per ledger), audit every chain, alter one entry and audit again."""
    with environment(odoo, args.db, uid=1) as env:
        company = env["res.company"].create({"name": f"Chain bench {time.time():.0f}"})
        club = env["loyalty.club"].create({"name": "Chain bench", "company_id": company.id, "card_prefix": PREFIX})
        bronze, gold = env["loyalty.club.tier"].create(
            [
                {"name": "Bronze", "club_id": club.id, "threshold": 0},
                {"name": "Gold", "club_id": club.id, "threshold": 10**9},
            ]
        )
        ids = {"club": club.id, "company": company.id, "bronze": bronze.id, "gold": gold.id}
        env.flush_all()
        cr = env.cr
        fast = fast_load_mode(cr)
        cr.execute(LUHN_SQL)
        start = time.perf_counter()
        bulk_partners(cr, 1, args.members, ADMIN)
        bulk_cards_and_entries(cr, ids, args.entries_per_member, ADMIN)
        if args.big_card_entries:
            bulk_heavy_card(cr, ids, args.members + 1, args.big_card_entries, ADMIN)
        load = time.perf_counter() - start
        cr.execute("SELECT count(*) FROM loyalty_club_entry WHERE club_id = %s", [club.id])
        entries = cr.fetchone()[0]
        cr.execute("ANALYZE loyalty_club_entry")
        Posting = env["loyalty.club.posting"]
        start = time.perf_counter()
        hashed = Posting._backfill_chains()
        backfill = time.perf_counter() - start
        start = time.perf_counter()
        broken = Posting._audit_chains()
        audit = time.perf_counter() - start
        cr.execute(
            "SELECT id, card_id FROM loyalty_club_entry WHERE club_id = %s ORDER BY id LIMIT 1 OFFSET %s",
            [club.id, entries // 2],
        )
        altered, card_id = cr.fetchone()
        cr.execute("ALTER TABLE loyalty_club_entry DISABLE TRIGGER loyalty_club_entry_append_only_row")
        cr.execute("UPDATE loyalty_club_entry SET reason = 'altered' WHERE id = %s", [altered])
        start = time.perf_counter()
        found = Posting._audit_chains()
        audit_again = time.perf_counter() - start
    measures = [
        {
            "measure": "bulk load (triggers " + ("off" if fast else "on: hashed row by row") + ")",
            "value": round(load, 1),
            "unit": "s",
            "detail": f"{args.members:,} members x {args.entries_per_member} entries and a card of "
            f"{args.big_card_entries:,}: {entries:,} entries",
        },
        {
            "measure": "hash the chains (the upgrade's backfill, one UPDATE)",
            "value": round(backfill, 1),
            "unit": "s",
            "detail": f"{hashed:,} entries hashed ({hashed / backfill:,.0f}/s)" if hashed else "nothing left to hash",
        },
        {
            "measure": "audit every chain (set-based, ranges of 100,000 cards)",
            "value": round(audit, 1),
            "unit": "s",
            "detail": f"{entries / audit:,.0f} entries/s; {len(broken)} cards with an altered entry",
        },
        {
            "measure": "audit after altering one entry with the triggers off",
            "value": round(audit_again, 1),
            "unit": "s",
            "detail": "found: first altered entry of its card"
            if found == {card_id: altered}
            else f"NOT FOUND: {found}",
        },
    ]
    save_extra(raw, "chain", f"Tamper-evident ledger: {entries:,} entries (in-process, rolled back)", measures)
    for measure in measures:
        out(f"    {measure['measure']}: {measure['value']} {measure['unit']} ({measure['detail']})")
