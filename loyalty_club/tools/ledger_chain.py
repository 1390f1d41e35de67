"""Tamper-evident ledgers: every entry stores a hash of its booked columns chained to the previous
entry of the same card, computed by PostgreSQL itself when the row is inserted (a ``BEFORE
INSERT`` trigger), so every way of inserting (ORM, batch ``INSERT ... SELECT``, the expiry SQL) is
covered. ``hash(n) = sha256(hash(n - 1) | booked columns of n)``, the columns as a JSON array (an
exact, DateStyle-independent text), starting from the empty string.

Changing a booked column of a row (with the append-only trigger disabled) makes that row's hash
wrong; changing its hash too breaks the next row's link. The audit recomputes every row from its
stored predecessor in one set-based pass and reports the first broken row per card.
"""

from odoo.tools import SQL

STEP_FUNCTION = "loyalty_club_chain_step"
AGGREGATE = "loyalty_club_chain_agg"


def create_chain_functions(cr):
    """The hash step (also a running aggregate, for backfills) shared by both ledgers."""
    cr.execute(
        SQL(
            """
        CREATE OR REPLACE FUNCTION %(step)s(previous text, payload text) RETURNS text AS $$
            SELECT encode(sha256(convert_to(COALESCE(previous, '') || '|' || payload, 'UTF8')), 'hex')
        $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;
        CREATE OR REPLACE AGGREGATE %(aggregate)s(text) (SFUNC = %(step)s, STYPE = text);
        """,
            step=SQL.identifier(STEP_FUNCTION),
            aggregate=SQL.identifier(AGGREGATE),
        )
    )


def payload_function(table):
    return f"{table}_chain_payload"


def create_chain_trigger(cr, table, group_column, columns):
    """Hash ``columns`` of each new row of ``table`` into ``chain_digest``, chained to the previous row
    (by id) of the same ``group_column`` (the card)."""
    create_chain_functions(cr)
    payload = SQL.identifier(payload_function(table))
    table_id = SQL.identifier(table)
    group = SQL.identifier(group_column)
    function = SQL.identifier(f"{table}_chain")
    trigger = SQL.identifier(f"{table}_chain_insert")
    index = SQL.identifier(f"{table}_chain_idx")
    cr.execute(
        SQL(
            """
        CREATE INDEX IF NOT EXISTS %(index)s ON %(table)s (%(group)s, id);
        CREATE OR REPLACE FUNCTION %(payload)s(e %(table)s) RETURNS text AS $$
            SELECT json_build_array(e.id, %(columns)s)::text
        $$ LANGUAGE sql STABLE;
        CREATE OR REPLACE FUNCTION %(function)s() RETURNS trigger AS $$
        BEGIN
            NEW.chain_digest := %(step)s(
                (SELECT previous.chain_digest FROM %(table)s previous
                  WHERE previous.%(group)s = NEW.%(group)s AND previous.id < NEW.id
               ORDER BY previous.id DESC LIMIT 1),
                %(payload)s(NEW));
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql;
        DROP TRIGGER IF EXISTS %(trigger)s ON %(table)s;
        CREATE TRIGGER %(trigger)s BEFORE INSERT ON %(table)s FOR EACH ROW EXECUTE FUNCTION %(function)s();
        """,
            index=index,
            table=table_id,
            group=group,
            payload=payload,
            columns=SQL(", ").join(SQL("e.%s", SQL.identifier(column)) for column in columns),
            function=function,
            step=SQL.identifier(STEP_FUNCTION),
            trigger=trigger,
        )
    )


def broken_links_sql(table, group_column, where):
    """SQL of ``(group id, first broken entry id)``: the entries of the groups matched by ``where``
    (on the alias ``e``) whose stored hash differs from the hash of their columns chained to their
    stored predecessor."""
    group = SQL.identifier(group_column)
    return SQL(
        """SELECT %(group)s, min(id) FROM (
               SELECT e.id, e.%(group)s, e.chain_digest,
                      %(step)s(lag(e.chain_digest) OVER (PARTITION BY e.%(group)s ORDER BY e.id),
                               %(payload)s(e)) AS expected
                 FROM %(table)s e
                WHERE %(where)s) chain
            WHERE chain_digest IS DISTINCT FROM expected
         GROUP BY %(group)s""",
        group=group,
        step=SQL.identifier(STEP_FUNCTION),
        payload=SQL.identifier(payload_function(table)),
        table=SQL.identifier(table),
        where=where,
    )


def backfill_sql(table, group_column):
    """SQL filling ``chain_digest`` of every row of the groups that have a row without one (an upgrade,
    a bulk load without triggers): one running aggregate per group, in id order."""
    group = SQL.identifier(group_column)
    table_id = SQL.identifier(table)
    return SQL(
        """UPDATE %(table)s e SET chain_digest = chain.hash
             FROM (SELECT x.id, %(aggregate)s(%(payload)s(x))
                              OVER (PARTITION BY x.%(group)s ORDER BY x.id ROWS UNBOUNDED PRECEDING) AS hash
                     FROM %(table)s x
                    WHERE x.%(group)s IN (SELECT DISTINCT %(group)s FROM %(table)s WHERE chain_digest IS NULL)) chain
            WHERE e.id = chain.id AND e.chain_digest IS DISTINCT FROM chain.hash""",
        table=table_id,
        group=group,
        aggregate=SQL.identifier(AGGREGATE),
        payload=SQL.identifier(payload_function(table)),
    )
