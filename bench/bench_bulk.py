"""The SQL bulk loader (``load`` and ``chain``): members (partners with E.164 phones), cards with
valid Luhn numbers, ledger entries with consistent lots and balances, in the addon's real tables
with ``INSERT ... SELECT``; the native database's ``loyalty.card``; and what makes a big load fast
(indexes dropped and rebuilt once, no per-row foreign-key checks or triggers)."""

from common import PREFIX, environment

PHONE_BASE = "+98912"


LUHN_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.bench_luhn(body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT ((10 - SUM(CASE WHEN (length(body) - i) % 2 = 0
                           THEN (CASE WHEN d * 2 > 9 THEN d * 2 - 9 ELSE d * 2 END) ELSE d END) % 10) % 10)::text
      FROM (SELECT i, substr(body, i, 1)::int AS d FROM generate_series(1, length(body)) i) s
$$;
"""


def bulk_partners(cr, first, last, uid, card_sequence="loyalty_club_card_id_seq"):
    """Members first..last (inclusive): a partner each, with an E.164 phone; returns nothing,
    the ids are kept in the temporary table bench_member."""
    cr.execute("DROP TABLE IF EXISTS bench_member")
    cr.execute(
        """CREATE TEMP TABLE bench_member AS
           SELECT i, nextval('res_partner_id_seq') AS partner_id, nextval(%s) AS card_id
             FROM generate_series(%s, %s) i""",
        [card_sequence, first, last],
    )
    cr.execute(
        """INSERT INTO res_partner (id, name, complete_name, commercial_partner_id, phone, phone_sanitized, type,
                                    active, is_company, lang, customer_rank, autopost_bills, create_uid,
                                    write_uid, create_date, write_date)
           SELECT partner_id, 'Bench Member ' || i, 'Bench Member ' || i, partner_id,
                  %(phone)s || lpad(i::text, 7, '0'), %(phone)s || lpad(i::text, 7, '0'), 'contact',
                  TRUE, FALSE, 'en_US', 1, 'ask', %(uid)s, %(uid)s, now() at time zone 'UTC',
                  now() at time zone 'UTC'
             FROM bench_member""",
        {"phone": PHONE_BASE, "uid": uid},
    )


def points_sql(i, j):
    """SQL of the points of earned lot ``j`` (1..K-1) of member ``i``; entry K redeems 5 points."""
    return f"(5 + (({i} * 31 + {j} * 17) %% 46))"


def bulk_cards_and_entries(cr, ids, entries, uid):
    """Cards and ledger of the members in bench_member: K-1 earned lots (one month apart, the
    oldest past its 12-month expiry), then one redemption of 5 points that consumed the oldest
    lot; balance = sum of the entries; every 10th card starts in Gold to give the tier
    evaluation downgrades, the others in Bronze."""
    points = points_sql("m.i", "j")
    spacing = 400 // (entries - 1) + 1
    params = {
        "club": ids["club"],
        "company": ids["company"],
        "bronze": ids["bronze"],
        "gold": ids["gold"],
        "uid": uid,
        "k": entries,
        "spacing": spacing,
        "prefix": PREFIX,
    }
    cr.execute(
        f"""INSERT INTO loyalty_club_card (id, number, club_id, company_id, partner_id, partner_phone_sanitized,
                                          state, date_issued, balance, tier_id, tier_since, pin_set,
                                          pin_failed_attempts, pin_locked, create_uid, write_uid,
                                          create_date, write_date)
            SELECT m.card_id,
                   %(prefix)s || '9' || lpad(m.i::text, 10, '0')
                       || pg_temp.bench_luhn(%(prefix)s || '9' || lpad(m.i::text, 10, '0')),
                   %(club)s, %(company)s, m.partner_id, p.phone_sanitized, 'active',
                   (now() at time zone 'UTC')::date - 500,
                   (SELECT SUM({points}) FROM generate_series(1, %(k)s - 1) j) - 5,
                   CASE WHEN m.i %% 10 = 0 THEN %(gold)s ELSE %(bronze)s END,
                   (now() at time zone 'UTC')::date - 500, FALSE, 0, FALSE, %(uid)s, %(uid)s,
                   now() at time zone 'UTC', now() at time zone 'UTC'
              FROM bench_member m JOIN res_partner p ON p.id = m.partner_id""",
        params,
    )
    cr.execute(
        f"""INSERT INTO loyalty_club_entry (card_id, partner_id, club_id, company_id, branch_id, kind, points,
                                           points_remaining, expiry_date, date, posting_key, origin_model,
                                           reason, amount, purchase_count, qualifying, user_id, create_uid,
                                           write_uid, create_date, write_date)
            SELECT m.card_id, m.partner_id, %(club)s, %(company)s, %(company)s,
                   CASE WHEN j = %(k)s THEN 'redeem' ELSE 'earn' END,
                   CASE WHEN j = %(k)s THEN -5 ELSE {points} END,
                   CASE WHEN j = %(k)s THEN 0 WHEN j = 1 THEN {points} - 5 ELSE {points} END,
                   CASE WHEN j = %(k)s THEN NULL ELSE (d.ts + interval '12 months')::date END,
                   d.ts, 'bench:' || m.i || ':' || j, 'bench', 'bulk load',
                   CASE WHEN j = %(k)s THEN 0 ELSE {points} * 10 END,
                   CASE WHEN j = %(k)s THEN 0 ELSE 1 END,
                   j <> %(k)s, %(uid)s, %(uid)s, %(uid)s, d.ts, d.ts
              FROM bench_member m
        CROSS JOIN generate_series(1, %(k)s) j
        CROSS JOIN LATERAL (SELECT (now() at time zone 'UTC') - make_interval(days => (%(k)s - j) * %(spacing)s)
                                   - make_interval(hours => m.i %% 24) AS ts) d""",
        params,
    )


def bulk_heavy_card(cr, ids, index, count, uid):
    """One member whose card has ``count`` one-point lots (never expiring before the run ends)."""
    bulk_partners(cr, index, index, uid)
    cr.execute(
        """INSERT INTO loyalty_club_card (id, number, club_id, company_id, partner_id, partner_phone_sanitized,
                                          state, date_issued, balance, tier_id, pin_set, pin_failed_attempts,
                                          pin_locked, create_uid, write_uid, create_date, write_date)
           SELECT m.card_id, %(prefix)s || '9' || lpad(m.i::text, 10, '0')
                       || pg_temp.bench_luhn(%(prefix)s || '9' || lpad(m.i::text, 10, '0')),
                  %(club)s, %(company)s, m.partner_id, p.phone_sanitized, 'active',
                  (now() at time zone 'UTC')::date, %(count)s, %(bronze)s, FALSE, 0, FALSE, %(uid)s, %(uid)s,
                  now() at time zone 'UTC', now() at time zone 'UTC'
             FROM bench_member m JOIN res_partner p ON p.id = m.partner_id""",
        {**ids, "prefix": PREFIX, "count": count, "uid": uid},
    )
    cr.execute(
        """INSERT INTO loyalty_club_entry (card_id, partner_id, club_id, company_id, branch_id, kind, points,
                                           points_remaining, expiry_date, date, posting_key, origin_model, reason,
                                           amount, purchase_count, qualifying, user_id, create_uid, write_uid,
                                           create_date, write_date)
           SELECT m.card_id, m.partner_id, %(club)s, %(company)s, %(company)s, 'earn', 1, 1,
                  (now() at time zone 'UTC')::date + 3650, (now() at time zone 'UTC') - interval '1 day',
                  'bench:heavy:' || m.i || ':' || j, 'bench', 'bulk load', 10, 1, TRUE, %(uid)s, %(uid)s,
                  %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
             FROM bench_member m CROSS JOIN generate_series(1, %(count)s) j""",
        {**ids, "count": count, "uid": uid},
    )
    cr.execute("SELECT card_id, partner_id FROM bench_member")
    return cr.fetchone()


def bulk_native(cr, ids, first, last, uid):
    """Members first..last in the native database: a partner and a loyalty.card with points."""
    bulk_partners(cr, first, last, uid, card_sequence="loyalty_card_id_seq")
    points = points_sql("m.i", "j")
    cr.execute(
        f"""INSERT INTO loyalty_card (id, program_id, company_id, partner_id, code, points, active,
                                      create_uid, write_uid, create_date, write_date)
            SELECT m.card_id, %(program)s, %(company)s, m.partner_id, 'BENCH' || m.i,
                   (SELECT SUM({points}) FROM generate_series(1, 9) j) - 5, TRUE,
                   %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
              FROM bench_member m""",
        {**ids, "uid": uid},
    )


def drop_indexes(cr, tables):
    """Drop the plain (non-constraint, non-primary) indexes and the unique constraints of
    ``tables``: a bulk load then builds each index once at the end instead of updating it row
    by row. Returns the statements that put them back, for :func:`create_indexes`."""
    cr.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = ANY(%s) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        [list(tables)],
    )
    definitions = cr.fetchall()
    for name, _definition in definitions:
        cr.execute(f"DROP INDEX {name}")
    cr.execute(
        """SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
            WHERE t.relname = ANY(%s) AND c.contype = 'u'""",
        [list(tables)],
    )
    constraints = cr.fetchall()
    for table, name, _definition in constraints:
        cr.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    return [
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}' for table, name, definition in constraints
    ] + [definition for _name, definition in definitions]


def create_indexes(odoo, db, definitions):
    with environment(odoo, db, uid=1, commit=True) as env:
        env.cr.execute("SET maintenance_work_mem = '1GB'")
        for definition in definitions:
            env.cr.execute(definition)


def fast_load_mode(cr):
    """For one bulk-load transaction: no per-row foreign-key checks or user triggers
    (``session_replication_role = replica``, superuser only: the scripts' own cluster). The
    loader writes consistent rows by construction and :func:`check_load` verifies them after;
    the ledger's qualifying totals, kept by a trigger, are rebuilt set-based after the load.
    Returns whether the mode is on (False on a server where the role is not a superuser)."""
    cr.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not cr.fetchone()[0]:
        return False
    cr.execute("SET LOCAL session_replication_role = replica")
    return True
