from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools import posting_keys


class LoyaltyClubGiftCardPaymentWizard(models.TransientModel):
    """Pay a customer invoice with a gift card: code + PIN + amount. Debits the card under its
    row lock and registers a payment on the gift card journal, reconciled with the invoice.

    The amount is in the invoice's currency; a card holding another currency (the club's, on a
    Toman invoice of a Rial company) is debited its value at the rate of the payment's date, the
    date the payment books the liability at."""

    _name = "loyalty.club.gift.card.payment.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Pay with Gift Card"
    _loyalty_create_only_fields = frozenset({"move_id"})

    move_id = fields.Many2one("account.move", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="move_id.company_id")
    currency_id = fields.Many2one(related="move_id.currency_id")
    code = fields.Char("Gift card code", required=True)
    pin = fields.Char("PIN", compute="_compute_pin", inverse="_inverse_pin")
    gift_card_id = fields.Many2one("loyalty.club.gift.card", compute="_compute_gift_card_id")
    card_currency_id = fields.Many2one(related="gift_card_id.currency_id", string="Card currency")
    balance = fields.Monetary(compute="_compute_gift_card_id", string="Card balance", currency_field="card_currency_id")
    amount = fields.Monetary(required=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        move = self.env["account.move"].browse(values.get("move_id") or self.env.context.get("active_id"))
        if move:
            values["move_id"] = move.id
            values.setdefault("amount", move.amount_residual)
        return values

    @api.depends_context("uid")
    def _compute_gift_card_id(self):
        """The card whose PIN this user typed for this wizard (a server-side record of the check),
        never a value a client sends."""
        Check = self.env["loyalty.club.pin.check"]
        for wizard in self:
            card = Check._verified_card(wizard, "loyalty.club.gift.card")
            wizard.gift_card_id = card
            wizard.balance = card.sudo().balance if card else 0.0

    def _compute_pin(self):
        for wizard in self:
            wizard.pin = False

    def _inverse_pin(self):
        """The PIN is checked when the wizard is saved and never stored. Failures count towards
        the user's limit of failed card checks (``loyalty.club.attempt``)."""
        Attempt = self.env["loyalty.club.attempt"].sudo()
        for wizard in self:
            if wizard.pin:
                GiftCard = self.env["loyalty.club.gift.card"].sudo()
                scope = Attempt._scope("backoffice", code=GiftCard._code_key(wizard.code))
                Attempt._check_limit(scope)
                club = wizard.move_id.company_id._loyalty_club_get()
                try:
                    card = GiftCard._authenticate(wizard.code, wizard.pin, club=club)
                except UserError:
                    Attempt._record_failure(scope)
                    raise
                Attempt._record_success(scope)
                self.env["loyalty.club.pin.check"]._record(card, wizard)
                wizard.invalidate_recordset(["gift_card_id", "balance"])

    def _card_amount(self, card, currency):
        """The wizard's amount (in ``currency``) in the card's currency at today's rate. When the
        card holds just what the amount is worth, it pays with all of it (a converted amount may
        round one unit above the balance)."""
        Club = self.env["loyalty.club"]
        company = self.move_id.company_id
        date = fields.Date.context_today(self)
        card_amount = Club._convert_amount(self.amount, currency, card.currency_id, company, date)
        if card.currency_id.is_zero(card_amount):
            raise UserError(self.env._("This amount is worth nothing in the gift card's currency."))
        if card.currency_id.compare_amounts(card_amount, card.balance) > 0:
            worth = Club._convert_amount(card.balance, card.currency_id, currency, company, date)
            if currency.compare_amounts(self.amount, worth) <= 0:
                card_amount = card.balance
        return card_amount

    def action_pay(self):
        self.ensure_one()
        move = self.move_id
        move.check_access("write")  # an invoice of the user's companies only
        # the card of the server's record of the PIN check, read now (never a value in a cache)
        card = self.env["loyalty.club.pin.check"]._verified_card(self, "loyalty.club.gift.card").sudo()
        if not card:
            raise UserError(self.env._("Type the gift card's PIN."))
        if move.move_type != "out_invoice" or move.state != "posted" or move.payment_state in ("paid", "in_payment"):
            raise UserError(self.env._("Only posted, unpaid customer invoices can be paid with a gift card."))
        currency = move.currency_id
        if (
            currency.compare_amounts(self.amount, 0) <= 0
            or currency.compare_amounts(self.amount, move.amount_residual) > 0
        ):
            raise UserError(self.env._("Enter an amount between zero and what is left to pay."))
        club = move._loyalty_gift_card_club()
        card._check_spendable(move.company_id, card.currency_id)
        Posting = self.env["loyalty.club.posting"]
        key = posting_keys.wizard(self, "redeem")
        # Under the card lock: a double click (same wizard) pays once.
        Posting._lock_gift_card_once(card, key, self.env._("This gift card payment was already made."))
        card_amount = self._card_amount(card, currency)
        Posting._post_gift_card(
            card,
            -card_amount,
            "redeem",
            key,
            origin=move,
            branch=move.company_id,
            reason=move.name,
        )
        payments = move._loyalty_gift_card_settle(
            club,
            self.amount,
            self.env._("Gift card %s", card._masked()),
            self.env._(
                "Paid %(amount)s with gift card %(card)s (balance left: %(balance)s).",
                amount=self.amount,
                card=card._masked(),
                balance=card.balance,
            ),
        )
        return {"type": "ir.actions.act_window_close", "payments": payments.ids}
