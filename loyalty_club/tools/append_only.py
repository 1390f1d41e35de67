"""Database-enforced append-only tables (ledgers)."""

from odoo.tools import SQL


def create_append_only_trigger(cr, table, immutable_columns, fill_once_columns=()):
    """Refuse ``DELETE``, ``TRUNCATE`` and any ``UPDATE`` of ``immutable_columns`` of ``table``
    in PostgreSQL itself (even for the superuser), with a trigger named after the table.
    ``fill_once_columns`` may go from NULL to a value (a backfill), never change afterwards."""
    changed = SQL(" OR ").join(
        [
            *(
                SQL("NEW.%s IS DISTINCT FROM OLD.%s", SQL.identifier(column), SQL.identifier(column))
                for column in immutable_columns
            ),
            *(
                SQL(
                    "(OLD.%s IS NOT NULL AND NEW.%s IS DISTINCT FROM OLD.%s)",
                    SQL.identifier(column),
                    SQL.identifier(column),
                    SQL.identifier(column),
                )
                for column in fill_once_columns
            ),
        ]
    )
    function = SQL.identifier(f"{table}_append_only")
    table_id = SQL.identifier(table)
    row_trigger = SQL.identifier(f"{table}_append_only_row")
    truncate_trigger = SQL.identifier(f"{table}_append_only_truncate")
    cr.execute(
        SQL(
            """
        CREATE OR REPLACE FUNCTION %s() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
                RAISE EXCEPTION 'loyalty_club: ledger entries are append-only; %% refused', TG_OP
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF %s THEN
                RAISE EXCEPTION 'loyalty_club: ledger entry %% cannot be modified; post a correction', OLD.id
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql;
        DROP TRIGGER IF EXISTS %s ON %s;
        CREATE TRIGGER %s BEFORE UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s();
        DROP TRIGGER IF EXISTS %s ON %s;
        CREATE TRIGGER %s BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s();
        """,
            function,
            changed,
            row_trigger,
            table_id,
            row_trigger,
            table_id,
            function,
            truncate_trigger,
            table_id,
            truncate_trigger,
            table_id,
            function,
        )
    )
