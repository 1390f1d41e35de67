from odoo import api, fields, models
from odoo.exceptions import UserError


class LoyaltyClubGiftCardRefundWizard(models.TransientModel):
    """Refund a credit note onto a gift card that paid the credited invoice: credits the card
    under its row lock (never more than it paid, less earlier refunds) and registers an outbound
    payment on the gift card journal, reconciled with the credit note."""

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
                values.setdefault("amount", min(move.amount_residual, move._loyalty_gift_card_refundable(card)))
        return values

    @api.depends("move_id")
    def _compute_allowed_gift_card_ids(self):
        for wizard in self:
            wizard.allowed_gift_card_ids = wizard.move_id._loyalty_gift_cards_that_paid()

    @api.depends("move_id", "gift_card_id")
    def _compute_refundable(self):
        for wizard in self:
            wizard.refundable = (
                wizard.move_id._loyalty_gift_card_refundable(wizard.gift_card_id) if wizard.gift_card_id else 0.0
            )

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
        # the club's journal and accounts: billing users need no club rights to be paid by a card
        club = move.company_id._loyalty_club_get().sudo()
        if not club.gift_card_journal_id:
            raise UserError(self.env._("Set up gift cards on the club first (gift card journal)."))
        currency = move.currency_id
        Posting = self.env["loyalty.club.posting"]
        key = f"{self._name}:{self.id}:refund"
        # Under the card lock: a double click pays once, two refunds cannot exceed what was paid.
        Posting._lock_rows(card)
        if self.env["loyalty.club.gift.card.entry"].sudo().search_count([("posting_key", "=", key)]):
            raise UserError(self.env._("This gift card refund was already made."))
        refundable = move._loyalty_gift_card_refundable(card)
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
        Posting._post_gift_card(
            card,
            self.amount,
            "refund",
            key,
            origin=move,
            branch=move.company_id,
            reason=move.name,
            reversed_entry=move._loyalty_gift_card_redeem_entries(card)[:1],
        )
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
