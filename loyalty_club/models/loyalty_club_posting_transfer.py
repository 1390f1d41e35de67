from odoo import api, fields, models

from ..tools import posting_keys


class LoyaltyClubPosting(models.AbstractModel):
    # one subject per file: a lost card's balance moved to its replacement
    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _transfer_balance(self, source, target, origin=None):
        """Move everything on ``source`` to ``target`` (card replacement), lot by lot.

        Each open lot becomes a transfer-out on the source and a transfer-in with the same
        expiry on the target; a negative balance is carried over as a debt.
        """
        source.ensure_one()
        target.ensure_one()
        self._lock_rows(source | target)
        self._expire_card_lots(source.sudo(), fields.Datetime.now())
        common = {
            "origin": origin,
            "reason": self.env._("Card %(old)s replaced by %(new)s", old=source.number, new=target.number),
        }
        lots = (
            self.env["loyalty.club.entry"]
            .sudo()
            .search([("card_id", "=", source.id), ("points_remaining", ">", 0)], order="expiry_date, id")
        )
        for lot in lots:
            moved = lot.points_remaining
            self._post(
                source, -moved, "transfer", posting_keys.transfer_lot(source, target, lot, "out"), lot=lot, **common
            )
            self._post(
                target,
                moved,
                "transfer",
                posting_keys.transfer_lot(source, target, lot, "in"),
                expiry_date=lot.expiry_date or False,
                pending_until=lot.pending_until or False,
                **common,
            )
        # what the till held on the old card is held on the new one (the capture follows the chain)
        Hold = self.env["loyalty.club.hold"].sudo()
        Hold.search([("card_id", "=", source.id), ("state", "=", "held")]).write({"card_id": target.id})
        Hold._invalidate_available()
        if source.balance < 0:
            debt = -source.balance
            self._post(
                source, debt, "transfer", posting_keys.transfer_debt(source, target, "out"), expiry_date=False, **common
            )
            self._post(
                target,
                -debt,
                "transfer",
                posting_keys.transfer_debt(source, target, "in"),
                allow_negative=True,
                **common,
            )
