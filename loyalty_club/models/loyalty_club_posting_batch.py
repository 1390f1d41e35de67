from odoo import api, fields, models
from odoo.exceptions import ValidationError


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
                    "points_remaining": max(0, posting["points"] - max(0, -balance)),
                    "expiry_date": card.club_id._expiry_date_from(fields.Date.to_date(when)) or False,
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
