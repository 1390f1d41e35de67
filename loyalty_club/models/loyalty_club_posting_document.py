from odoo import api, models

from ..tools import posting_keys


# The posting service is split by ledger and use: points (loyalty_club_posting.py), gift cards,
# opening balances, and here the reversals and restorations of documents (orders, credit notes)
# whose card may have been replaced since they earned.
class LoyaltyClubPosting(models.AbstractModel):
    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _carrying_lot(self, entry, card):
        """The credit lot of ``card`` that carries what is left of ``entry`` (a credit of one of
        its predecessors): the lot a replacement transferred it to, hop by hop; ``entry`` itself
        on its own card; empty when the chain has no such lot."""
        Entry = self.env["loyalty.club.entry"].sudo()
        lot, source = entry, entry.card_id
        while source != card and source.replaced_by_id:
            target = source.replaced_by_id
            lot = Entry.search([("posting_key", "=", posting_keys.transfer_lot(source, target, lot, "in"))], limit=1)
            if not lot:
                return Entry
            source = target
        return lot if source == card else Entry

    @api.model
    def _taken_back(self, entry):
        """Points of the credit ``entry`` taken back so far (reversals less restorations)."""
        return -sum(
            self.env["loyalty.club.entry"].sudo().search([("reversed_entry_id", "=", entry.id)]).mapped("points")
        )

    @api.model
    def _post_document_reversal(self, reversed_entry, points, posting_key, **values):
        """Take back ``points`` credited by ``reversed_entry`` once per ``posting_key``, on the card
        that carries the member's points now: the entry's card or, after a lost card was
        replaced, its active successor (so the points and any debt follow the member).

        Same rules as :meth:`_post_reversal` (the club's negative-balance policy, never more than
        the entry credited); the successor's lot that carries the entry is consumed first.

        :returns: ``(entry, shortfall)``
        """
        reversed_entry = reversed_entry.sudo()
        reversed_entry.ensure_one()
        card = reversed_entry.card_id._active_successor()
        return self._post_reversal(card, points, posting_key, reversed_entry, **values)

    @api.model
    def _post_document_restoration(self, reversed_entry, points, posting_key, **values):
        """Give back, once per ``posting_key``, up to ``points`` of what reversals of the credit
        ``reversed_entry`` took back (a credit note reset to draft or cancelled), on the card that
        carries the member's points now. The points come back with the credit's own expiry
        date, and never more than was taken back.

        :returns: ``(entry, points given back)``
        """
        reversed_entry = reversed_entry.sudo()
        reversed_entry.ensure_one()
        card = reversed_entry.card_id._active_successor()
        self._lock_rows(card)
        existing = self.env["loyalty.club.entry"].sudo().search([("posting_key", "=", posting_key)], limit=1)
        if existing:
            return existing, existing.points
        points = self._check_points(points, "earn")
        given = min(points, max(self._taken_back(reversed_entry), 0))
        if not given:
            return self.env["loyalty.club.entry"], 0
        entry = self._post(
            card,
            given,
            "reverse",
            posting_key,
            reversed_entry=reversed_entry,
            expiry_date=reversed_entry.expiry_date or False,
            **values,
        )
        return entry, given
