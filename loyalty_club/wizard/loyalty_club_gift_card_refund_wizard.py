from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools import posting_keys


class LoyaltyClubGiftCardRefundWizard(models.TransientModel):
    """Refund a credit note onto a gift card that paid the credited invoice: credits the card
    under its row lock (never more than it paid, less earlier refunds) and registers an outbound
    payment on the gift card journal, reconciled with the credit note.

    Amounts are in the credit note's currency; a card holding another currency is credited their
    value at the rate of the refund's date (at most what it paid, in its own currency)."""

    _name = "loyalty.club.gift.card.refund.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _loyalty_create_only_fields = frozenset({"move_id"})
    _description = "Refund to Gift Card"

    move_id = fields.Many2one("account.move", "Credit note", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="move_id.company_id")
    currency_id = fields.Many2one(related="move_id.currency_id")
    allowed_gift_card_ids = fields.Many2many("loyalty.club.gift.card", compute="_compute_allowed_gift_card_ids")
    gift_card_id = fields.Many2one(
        "loyalty.club.gift.card", "Gift card", required=True, domain="[('id', 'in', allowed_gift_card_ids)]"
    )
    refundable = fields.Monetary("Refundable to this card", compute="_compute_refundable")
    amount = fields.Monetary(required=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        move = self.env["account.move"].browse(values.get("move_id") or self.env.context.get("active_id"))
        if move:
            values["move_id"] = move.id
            cards = move._loyalty_gift_cards_that_paid()
            if cards:
                card = cards[0]
                values["gift_card_id"] = card.id
                values.setdefault("amount", min(move.amount_residual, self._refundable_in(move, card)))
        return values

    @api.model
    def _refundable_in(self, move, card):
        """What ``card`` may still take back from the invoice ``move`` credits, in ``move``'s currency."""
        return self.env["loyalty.club"]._convert_amount(
            move._loyalty_gift_card_refundable(card),
            card.currency_id,
            move.currency_id,
            move.company_id,
            fields.Date.context_today(self),
        )

    @api.depends("move_id")
    def _compute_allowed_gift_card_ids(self):
        for wizard in self:
            wizard.allowed_gift_card_ids = wizard.move_id._loyalty_gift_cards_that_paid()

    @api.depends("move_id", "gift_card_id")
    def _compute_refundable(self):
        for wizard in self:
            wizard.refundable = self._refundable_in(wizard.move_id, wizard.gift_card_id) if wizard.gift_card_id else 0.0

    def _refund_payments(self, card, amount):
        """Credit ``amount`` (card currency) back to ``card`` as refunds of its payments of the
        credited invoice, oldest first, each refund within what its payment has left (a card that
        paid twice is refunded across both), keyed by :func:`posting_keys.wizard` with the part number."""
        currency = card.currency_id
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        left, parts = amount, 0
        for redeem in self.move_id._loyalty_gift_card_redeem_entries(card):
            refunded = sum(Entry.search([("reversed_entry_id", "=", redeem.id)]).mapped("amount"))
            part = min(left, currency.round(-redeem.amount - refunded))
            if currency.compare_amounts(part, 0) <= 0:
                continue
            self.env["loyalty.club.posting"]._post_gift_card(
                card,
                part,
                "refund",
                posting_keys.wizard(self, "refund", parts),
                origin=self.move_id,
                branch=self.move_id.company_id,
                reason=self.move_id.name,
                reversed_entry=redeem,
            )
            parts += 1
            left = currency.round(left - part)
            if currency.is_zero(left):
                break

    def action_refund(self):
        """Credit the card and pay the credit note out of the gift card liability, once."""
        self.ensure_one()
        move = self.move_id
        move.check_access("write")  # a credit note of the user's companies only
        card = self.gift_card_id.sudo()
        if move.move_type != "out_refund" or move.state != "posted" or move.payment_state in ("paid", "in_payment"):
            raise UserError(self.env._("Only posted, unpaid customer credit notes can be refunded to a gift card."))
        if card not in move._loyalty_gift_cards_that_paid():
            raise UserError(self.env._("Only a gift card that paid the credited invoice can take this refund."))
        club = move._loyalty_gift_card_club()
        currency = move.currency_id
        Posting = self.env["loyalty.club.posting"]
        key = posting_keys.wizard(self, "refund")
        # Under the card lock: a double click pays once, two refunds cannot exceed what was paid.
        Posting._lock_gift_card_once(card, key, self.env._("This gift card refund was already made."))
        refundable = self._refundable_in(move, card)
        if (
            currency.compare_amounts(self.amount, 0) <= 0
            or currency.compare_amounts(self.amount, move.amount_residual) > 0
            or currency.compare_amounts(self.amount, refundable) > 0
        ):
            raise UserError(
                self.env._(
                    "Enter an amount between zero and %(limit)s: what is left to refund on the credit note and "
                    "what the card paid on the invoice, less earlier refunds.",
                    limit=min(move.amount_residual, refundable),
                )
            )
        # in the card's currency, never more than it paid (the last refund of a payment converted
        # back may round one unit above it)
        card_amount = min(
            self.env["loyalty.club"]._convert_amount(
                self.amount, currency, card.currency_id, move.company_id, fields.Date.context_today(self)
            ),
            move._loyalty_gift_card_refundable(card),
        )
        self._refund_payments(card, card_amount)
        payments = move._loyalty_gift_card_settle(
            club,
            self.amount,
            self.env._("Refund to gift card %s", card._masked()),
            self.env._(
                "Refunded %(amount)s to gift card %(card)s (new balance: %(balance)s).",
                amount=self.amount,
                card=card._masked(),
                balance=card.balance,
            ),
        )
        return {"type": "ir.actions.act_window_close", "payments": payments.ids}
