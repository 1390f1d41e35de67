from odoo import api, models
from odoo.tools import SQL

# The columns of loyalty_club_entry every insert writes last, the same for all its rows.
AUDIT_COLUMNS = ("create_uid", "create_date", "write_uid", "write_date")


class LoyaltyClubPosting(models.AbstractModel):
    """How ledger entries are written: one builder of their values, one insert statement."""

    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _entry_values(self, card, kind, points, posting_key, when, origin=None, branch=None, reason=None):
        """Columns every ledger entry of ``card`` carries (the single and batch postings add theirs).

        The expiry job assembles the same columns in SQL (:meth:`_cron_expire_points`); a test
        checks its entries against this builder."""
        return {
            "card_id": card.id,
            "partner_id": card.partner_id.id,
            "club_id": card.club_id.id,
            "company_id": card.company_id.id,
            "branch_id": (branch or self.env.company).id,
            "kind": kind,
            "points": points,
            "date": when,
            "posting_key": posting_key,
            "origin_model": origin._name if origin else False,
            "origin_id": origin.id if origin else False,
            "reason": reason,
            "user_id": self.env.uid,
        }

    @api.model
    def _insert_entries(self, rows, cache=True):
        """Insert ledger entries (single postings, bonus batches, opening balances) with
        :meth:`_write_entries`.

        :param rows: dicts of column values (:meth:`_entry_values` and what the posting adds), at
            most one per key; a column a row lacks is NULL (amounts and purchases are 0)
        :param cache: put the new entries and balances into the ORM cache as ``create`` would
        :returns: ``{posting_key: entry}`` of the entries inserted; a key posted before is absent
        """
        Entry = self.env["loyalty.club.entry"].sudo().with_context(loyalty_club_posting=True)
        if not rows:
            return {}
        rows = [{"amount": 0, "purchase_count": 0, **row} for row in rows]
        columns = list({name: None for row in rows for name in row})
        arrays = []
        for name in columns:
            field = Entry._fields[name]
            values = [row.get(name, False) for row in rows]
            if field.type != "boolean":
                values = [None if value is False else value for value in values]
            arrays.append(SQL("%s::%s[]", values, SQL(field.column_type[1])))
        inserted, balances = self._write_entries(columns, SQL("SELECT * FROM unnest(%s)", SQL(", ").join(arrays)))
        created = {key: Entry.browse(entry_id) for key, entry_id, _lot_id in inserted}
        if cache:
            self._cache_inserted(created, rows, balances)
        return created

    @api.model
    def _write_entries(self, columns, source, empty_lots=False):
        """The one statement that writes ledger entries: ``INSERT ... ON CONFLICT (posting_key)
        DO NOTHING`` of the rows of ``source`` (an ``SQL`` query selecting ``columns``, in order;
        the audit columns are added) and the ``UPDATE`` of the balances of their cards, which the
        caller has locked. A key posted before inserts nothing and moves no balance.
        ``empty_lots``: the new entries are expiries of their whole ``lot_id``; the same statement
        empties those lots (by primary key: an array, not a join over the ledger).

        :returns: ``(inserted, balances)``: ``(posting_key, id, lot_id)`` of each new entry and
            ``{card id: new balance}``
        """
        now = self.env.cr.now()
        self.env.cr.execute(
            SQL(
                """WITH entry AS (
                       INSERT INTO loyalty_club_entry (%(columns)s)
                       SELECT source.*, %(uid)s, %(now)s, %(uid)s, %(now)s FROM (%(source)s) source
                       ON CONFLICT (posting_key) DO NOTHING
                       RETURNING id, card_id, points, posting_key, lot_id),
                   card AS (
                       UPDATE loyalty_club_card c SET balance = c.balance + s.total
                         FROM (SELECT card_id, SUM(points) AS total FROM entry GROUP BY card_id) s
                        WHERE c.id = s.card_id
                       RETURNING c.id, c.balance)%(emptied)s
                   SELECT entry.posting_key, entry.id, entry.lot_id, NULL FROM entry
                   UNION ALL
                   SELECT NULL, card.id, NULL, card.balance FROM card""",
                columns=SQL(", ").join(SQL.identifier(name) for name in (*columns, *AUDIT_COLUMNS)),
                source=source,
                emptied=SQL(
                    """,
                   emptied AS (
                       UPDATE loyalty_club_entry e SET points_remaining = 0
                        WHERE e.id = ANY(ARRAY(SELECT lot_id FROM entry)))"""
                    if empty_lots
                    else ""
                ),
                uid=self.env.uid,
                now=now,
            )
        )
        inserted, balances = [], {}
        for key, record_id, lot_id, balance in self.env.cr.fetchall():
            if key is None:
                balances[record_id] = balance
            else:
                inserted.append((key, record_id, lot_id))
        return inserted, balances

    @api.model
    def _cache_inserted(self, created, rows, balances):
        """Put the inserted ``rows`` (``created``: their entries by key) and the new card
        ``balances`` into the ORM cache, as ``create`` and ``write`` would."""
        Entry, Card = self.env["loyalty.club.entry"], self.env["loyalty.club.card"]
        now = self.env.cr.now()
        audit = dict(zip(AUDIT_COLUMNS, (self.env.uid, now, self.env.uid, now), strict=True))
        for row in rows:
            entry = created.get(row["posting_key"])
            for name, value in {**row, **audit}.items() if entry else ():
                entry._cache[name] = Entry._fields[name].convert_to_cache(value, entry, validate=False)
        for card_id, balance in balances.items():
            Card.browse(card_id)._cache["balance"] = balance
