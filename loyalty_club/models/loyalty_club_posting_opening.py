from odoo import api, fields, models
from odoo.exceptions import ValidationError


# The posting service is split by ledger: points (loyalty_club_posting.py), gift cards and
# opening balances each keep their own file.
class LoyaltyClubPosting(models.AbstractModel):
    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _post_openings(self, items):
        """Post the opening balances of many cards at once (member import, migration), with the
        guarantees of :meth:`_post`: each key posts exactly once (the same key again returns
        its entry, a key used for another movement is refused), the card rows are locked (in id
        order) before their balances move, lots and stored balances stay equal to the ledger.
        A few queries for the whole batch instead of a few per card.

        An opening balance is a credit of kind ``opening``: it counts for tiers, but does not
        change the tier by itself (the importer sets the tier) and runs no purchase hooks.

        :param items: list of dicts with ``card``, ``points`` (> 0), ``key`` and optionally
            ``origin``, ``reason``, ``branch`` and ``expiry_date`` (None: the club's rule,
            False: never)
        :returns: the ``loyalty.club.entry`` records, one per item, in order
        """
        Entry = self.env["loyalty.club.entry"].sudo().with_context(loyalty_club_posting=True)
        if not items:
            return Entry.browse()
        keys = [item.get("key") for item in items]
        self._check_posting_keys(keys)
        if len(set(keys)) != len(keys):
            raise ValidationError(self.env._("The same posting key appears twice in one batch."))
        points = [self._check_points(item["points"], "opening") for item in items]
        cards = self.env["loyalty.club.card"].sudo().browse({item["card"].id for item in items})
        self._lock_rows(cards)
        existing = {entry.posting_key: entry for entry in Entry.search([("posting_key", "in", keys)])}
        balances = {card.id: card.balance for card in cards}
        now = fields.Datetime.now()
        today = fields.Date.to_date(now)
        values_list = []
        for item, amount in zip(items, points, strict=True):
            card = item["card"].sudo()
            entry = existing.get(item["key"])
            if entry:
                self._check_replay(entry, card, amount, "opening", item["key"])
                continue
            debt = max(0, -balances[card.id])
            balances[card.id] += amount
            values_list.append(self._opening_values(item, card, amount, debt, now, today))
        # every new key is inserted: under Odoo's repeatable read, a key another transaction
        # committed since the search above makes the insert fail to serialize (and be retried)
        created = self._insert_entries(values_list)
        result = [created.get(key) or existing[key] for key in keys]
        return Entry.browse([entry.id for entry in result]).sudo(self.env.su)

    @api.model
    def _opening_values(self, item, card, amount, debt, now, today):
        """Values of the opening entry of ``item`` (``amount`` points; ``debt``: the card's debt before it)."""
        expiry_date = item.get("expiry_date")
        if expiry_date is None:
            expiry_date = card.club_id._expiry_date_from(today)
        values = self._entry_values(
            card, "opening", amount, item["key"], now, item.get("origin"), item.get("branch"), item.get("reason")
        )
        values.update(
            {
                "points_remaining": max(0, amount - debt),
                "expiry_date": expiry_date or False,
                "amount": 0.0,
                "purchase_count": 0,
                "qualifying": True,
            }
        )
        return values
