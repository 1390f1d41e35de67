from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL


class LoyaltyClubPosting(models.AbstractModel):
    """The posting service: many credits at once, with what :meth:`_post` guarantees for each."""

    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _post_credits(self, postings):
        """Post many credits at once (batch jobs: bonuses of thousands of members), each exactly
        once per key, with what :meth:`_post` does one after the other for a credit: lock the
        cards, skip the keys posted before, insert the entries (a debt on the card is repaid
        first), update the balances and upgrade the tiers, in a fixed number of statements.

        :param postings: list of dicts with ``card``, ``points`` (> 0), ``kind`` (bonus),
            ``posting_key`` and optionally ``reason``, ``branch``, ``origin``, ``date``
        :returns: the entry of each posting: the new one, the one posted before with the same
            key (as it was posted: a bonus is given once per key), or an empty recordset when the
            card is not active (nothing is posted on it)
        """
        Entry = self.env["loyalty.club.entry"].sudo()
        if not postings:
            return []
        for posting in postings:
            if posting["kind"] != "bonus":
                raise ValidationError(self.env._("Only bonuses are posted in batches."))
            posting["points"] = self._check_points(posting["points"], posting["kind"])
        cards = self.env["loyalty.club.card"].sudo().browse({posting["card"].id: None for posting in postings})
        self._lock_rows(cards)
        keys = [posting["posting_key"] for posting in postings]
        posted = {entry.posting_key: entry for entry in Entry.search([("posting_key", "in", keys)])}
        rows, balances, now = [], {}, fields.Datetime.now()
        for posting in postings:
            card = posting["card"].sudo()
            key = posting["posting_key"]
            if key in posted:
                continue  # posted before (or twice in the batch): given once, like a retried bonus
            if card.state != "active":
                continue
            when = posting.get("date") or now
            balance = balances.get(card.id, card.balance)
            balances[card.id] = balance + posting["points"]
            row = self._entry_values(
                card,
                posting["kind"],
                posting["points"],
                key,
                when,
                origin=posting.get("origin"),
                branch=posting.get("branch"),
                reason=posting.get("reason"),
            )
            row.update(
                {
                    # rows go to typed arrays: SQL NULL, not False
                    "origin_model": row["origin_model"] or None,
                    "origin_id": row["origin_id"] or None,
                    "points_remaining": max(0, posting["points"] - max(0, -balance)),
                    "expiry_date": card.club_id._expiry_date_from(fields.Date.to_date(when)) or None,
                    "qualifying": True,
                }
            )
            rows.append(row)
            posted[key] = Entry.browse()
        created = self._insert_entries(rows)
        entries = [created.get(key) or posted.get(key) or Entry.browse() for key in keys]
        upgraded = cards.filtered(lambda card: card.id in {row["card_id"] for row in rows})
        upgraded._upgrade_tier_if_qualified()
        return [entry.sudo(self.env.su) for entry in entries]

    @api.model
    def _insert_entries(self, rows):
        """Insert credit entries (dicts of column values, at most one row per key) and add their
        points to the balances of their locked cards, in one statement; ``{key: entry}``."""
        Entry = self.env["loyalty.club.entry"].sudo()
        if not rows:
            return {}
        columns = list(rows[0])
        types = {name: Entry._fields[name].column_type[1] for name in columns}
        now = self.env.cr.now()
        self.env.cr.execute(
            SQL(
                """WITH entry AS (
                       INSERT INTO loyalty_club_entry (%(columns)s, amount, purchase_count,
                                                       create_uid, create_date, write_uid, write_date)
                       SELECT %(columns)s, 0, 0, %(uid)s, %(now)s, %(uid)s, %(now)s
                         FROM unnest(%(arrays)s) AS v(%(columns)s)
                       ON CONFLICT (posting_key) DO NOTHING
                       RETURNING id, card_id, points, posting_key),
                   card AS (
                       UPDATE loyalty_club_card c SET balance = c.balance + s.total
                         FROM (SELECT card_id, SUM(points) AS total FROM entry GROUP BY card_id) s
                        WHERE c.id = s.card_id
                       RETURNING c.id, c.balance)
                   SELECT entry.posting_key, entry.id, NULL FROM entry
                   UNION ALL
                   SELECT NULL, card.id, card.balance FROM card""",
                columns=SQL(", ").join(SQL.identifier(name) for name in columns),
                arrays=SQL(", ").join(
                    SQL("%s::%s[]", [row[name] for row in rows], SQL(types[name])) for name in columns
                ),
                uid=self.env.uid,
                now=now,
            )
        )
        created, Card = {}, self.env["loyalty.club.card"].sudo()
        for key, record_id, balance in self.env.cr.fetchall():
            if key is None:
                Card.browse(record_id)._cache["balance"] = balance
            else:
                created[key] = Entry.browse(record_id)
        return created
