"""Database-enforced append-only tables (ledgers)."""

from odoo.tools import SQL

# Transaction-local PostgreSQL setting through which the contact merge (and nothing else) may
# move ledger rows from merged contacts to the surviving one: "<destination id>:<source id>,...".
# Set with set_config(..., true) (SET LOCAL) by loyalty.club.posting._merge_partners only; the
# trigger below names it literally (a parameter cannot go into a function body).
PARTNER_MERGE_SETTING = "loyalty_club.partner_merge"


def create_append_only_trigger(cr, table, immutable_columns, merge_column=None, fill_once_columns=()):
    """Refuse ``DELETE``, ``TRUNCATE`` and any ``UPDATE`` of ``immutable_columns`` of ``table``
    in PostgreSQL itself (even for the superuser), with a trigger named after the table.

    ``merge_column`` (one of ``immutable_columns``, a contact column) may change in exactly one
    case: from one of the merged contacts to the surviving one named by the transaction-local
    setting :data:`PARTNER_MERGE_SETTING`, which only the contact merge sets.
    ``fill_once_columns`` may go from NULL to a value (a backfill), never change afterwards.
    """
    changed = _changed_condition(immutable_columns, merge_column, fill_once_columns)
    merge_check = _merge_check(merge_column)
    function = SQL.identifier(f"{table}_append_only")
    table_id = SQL.identifier(table)
    row_trigger = SQL.identifier(f"{table}_append_only_row")
    truncate_trigger = SQL.identifier(f"{table}_append_only_truncate")
    cr.execute(
        SQL(
            """
        CREATE OR REPLACE FUNCTION %s() RETURNS trigger AS $$
        DECLARE
            merge text;
        BEGIN
            IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
                RAISE EXCEPTION 'loyalty_club: ledger entries are append-only; %% refused', TG_OP
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF %s THEN
                RAISE EXCEPTION 'loyalty_club: ledger entry %% cannot be modified; post a correction', OLD.id
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;%s
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
            merge_check,
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


def _changed_condition(immutable_columns, merge_column, fill_once_columns):
    """SQL condition true when an update changes a column it may not (the merge column aside)."""
    return SQL(" OR ").join(
        [
            *(
                SQL("NEW.%s IS DISTINCT FROM OLD.%s", SQL.identifier(column), SQL.identifier(column))
                for column in immutable_columns
                if column != merge_column
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


def _merge_check(merge_column):
    """PL/pgSQL block letting ``merge_column`` change only as the contact merge allows (or nothing)."""
    if not merge_column:
        return SQL("")
    merge_identifier = SQL.identifier(merge_column)
    # positional arguments: the code keeps a literal "%" for the RAISE placeholder
    return SQL(
        """
            IF NEW.%s IS DISTINCT FROM OLD.%s THEN
                merge := COALESCE(current_setting('loyalty_club.partner_merge', true), '');
                IF merge = '' OR NEW.%s IS NULL OR OLD.%s IS NULL
                   OR NEW.%s::text <> split_part(merge, ':', 1)
                   OR NOT (OLD.%s::text = ANY (string_to_array(split_part(merge, ':', 2), ','))) THEN
                    RAISE EXCEPTION 'loyalty_club: ledger entry %% cannot be modified; post a correction', OLD.id
                        USING ERRCODE = 'integrity_constraint_violation';
                END IF;
            END IF;""",
        *([merge_identifier] * 6),
    )
