from odoo import fields, models
from odoo.exceptions import UserError

from odoo.addons.loyalty_club.tools import posting_keys
from odoo.addons.loyalty_club.tools.gift_card_code import format_code


class SaleOrder(models.Model):
    """Gift cards on the web shop: paying part or all of an order with one, and the cards bought."""

    _inherit = "sale.order"  # pylint: disable=consider-merging-classes-inherited

    loyalty_gift_card_id = fields.Many2one(
        "loyalty.club.gift.card",
        "Gift card paying",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="Gift card whose code and PIN the customer typed at checkout: it pays what it can of the "
        "order (debited when the payment starts, or when the order is confirmed).",
    )
    loyalty_gift_card_entry_id = fields.Many2one(
        "loyalty.club.gift.card.entry",
        "Gift card debit",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups="loyalty_club.group_loyalty_club_user",
        help="The gift card movement that took this order's part off the card, until the payment fails or "
        "the order is cancelled (the money then goes back to the card).",
    )
    loyalty_gift_card_amount = fields.Monetary(
        "Paid with gift card",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="What the gift card paid of this order, in the order's currency.",
    )
    loyalty_gift_card_payment_id = fields.Many2one(
        "account.payment",
        "Gift card payment",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="The payment on the club's gift card journal that settles the gift card's part on the invoice.",
    )

    # ------------------------------------------------------------------
    # Gift cards at checkout
    # ------------------------------------------------------------------
    def _loyalty_website_apply_gift_card(self, code, pin):
        """Let the gift card ``code`` (PIN ``pin``) pay what it can of this cart. Unknown codes,
        wrong PINs, blocked cards and other clubs get one answer and count towards the public
        pages' limits per address and per code; nothing is debited before the payment starts."""
        self.ensure_one()
        order = self.sudo()
        if order.state != "draft":
            raise UserError(self.env._("This order can no longer change."))
        if order.loyalty_gift_card_entry_id:
            raise UserError(self.env._("A payment of this cart is under way: wait for it to finish."))
        club = order.company_id._loyalty_club_get()
        if not club or not club.sudo().gift_card_journal_id:
            raise UserError(self.env._("Gift cards cannot pay in this shop."))
        Attempt = self.env["loyalty.club.attempt"].sudo()
        Card = self.env["loyalty.club.gift.card"].sudo()
        scope = Attempt._scope("balance_page", code=Card._code_key(code))
        Attempt._check_limit(scope)
        try:
            card = Card._authenticate(code, pin, club=club)
            card._check_spendable(order.company_id, order.currency_id)
        except UserError:
            Attempt._record_failure(scope)
            raise
        Attempt._record_success(scope)
        order.loyalty_gift_card_id = card
        if order.currency_id.is_zero(order._loyalty_gift_card_cover()):
            order.loyalty_gift_card_id = False
            raise UserError(self.env._("This gift card has no money left to pay with."))

    def _loyalty_website_gift_card_summary(self):
        """What the payment page shows of the cart's gift card: ``{}`` when gift cards cannot pay
        in this shop; else the card (masked), what it pays and what is left to pay."""
        self.ensure_one()
        order = self.sudo()
        club = order.company_id._loyalty_club_get()
        if not club or not club.sudo().gift_card_journal_id:
            return {}
        card = order.loyalty_gift_card_id
        if not card:
            return {"card": False}
        cover = order._loyalty_gift_card_cover()
        return {
            "card": card,
            "masked": card._masked(),
            "amount": cover,
            "left": order.currency_id.round(order.amount_total - cover),
            "covers_all": order._loyalty_gift_card_covers_all(),
        }

    def _loyalty_gift_card_covers_all(self):
        """Whether the cart's gift card pays all of it (no payment provider needed)."""
        self.ensure_one()
        order = self.sudo()
        return bool(order.loyalty_gift_card_id) and not order.currency_id.compare_amounts(
            order._loyalty_gift_card_cover(), order.amount_total
        )

    def _loyalty_website_confirm_paid_by_gift_card(self):
        """Confirm a cart its gift card pays in full: the card is debited under its lock, then the
        order is confirmed; refused (nothing taken) when the card no longer covers it all."""
        self.ensure_one()
        order = self.sudo()
        if order.state != "draft" or not order._loyalty_gift_card_covers_all():
            raise UserError(self.env._("The gift card does not pay all of this order: choose how to pay the rest."))
        order._check_cart_is_ready_to_be_paid()
        order._loyalty_start_payment()
        if order.currency_id.compare_amounts(order.loyalty_gift_card_amount, order.amount_total):
            raise UserError(self.env._("The gift card does not pay all of this order: choose how to pay the rest."))
        order.with_context(send_email=True).action_confirm()

    def _loyalty_website_remove_gift_card(self):
        """Stop paying this cart with its gift card (money already taken goes back to the card)."""
        self.ensure_one()
        order = self.sudo()
        if order.state != "draft":
            raise UserError(self.env._("This order can no longer change."))
        order._loyalty_give_back_gift_card()
        order.loyalty_gift_card_id = False

    def _loyalty_gift_card_cover(self):
        """What the order's gift card pays of it now, in the order's currency: its available
        balance at today's rate (rounded down), at most the order's total."""
        self.ensure_one()
        order = self.sudo()
        card = order.loyalty_gift_card_id
        if not card:
            return 0.0
        if order.loyalty_gift_card_entry_id:
            return order.loyalty_gift_card_amount
        available = card._available_in(order.currency_id, order.company_id)
        return max(0.0, min(available, order.amount_total))

    def _loyalty_debit_gift_card(self, attempt):
        """Take the order's part off its gift card, under the card lock, once per ``attempt``: two
        checkouts cannot spend the same money (the second is refused, nothing paid)."""
        Posting = self.env["loyalty.club.posting"]
        Club = self.env["loyalty.club"]
        for order in self.sudo().filtered(lambda o: o.loyalty_gift_card_id and not o.loyalty_gift_card_entry_id):
            card, currency = order.loyalty_gift_card_id, order.currency_id
            amount = order._loyalty_gift_card_cover()
            if currency.is_zero(amount):
                raise UserError(self.env._("Gift card %s has no money left to pay with.", card._masked()))
            card_amount = Club._convert_amount(amount, currency, card.currency_id, order.company_id)
            if card.currency_id.compare_amounts(card_amount, card.balance) > 0:
                card_amount = card.balance  # what the balance is worth, rounded up by the conversion
            order.loyalty_gift_card_entry_id = Posting._post_gift_card(
                card,
                -card_amount,
                "redeem",
                posting_keys.web_payment(order, attempt, "gift_card_redeem"),
                origin=order,
                branch=order.company_id,
                reason=order.name,
            )
            order.loyalty_gift_card_amount = amount

    def _loyalty_give_back_gift_card(self):
        """Put the money the order took off its gift card back on it, once (payment failed or
        cancelled, order cancelled before it was invoiced)."""
        Posting = self.env["loyalty.club.posting"]
        for order in self.sudo().filtered("loyalty_gift_card_entry_id"):
            entry = order.loyalty_gift_card_entry_id
            attempt = posting_keys.web_payment_attempt(entry.posting_key)
            Posting._post_gift_card(
                entry.gift_card_id,
                -entry.amount,
                "refund",
                posting_keys.web_payment(order, attempt, "gift_card_unredeem"),
                origin=order,
                branch=order.company_id,
                reversed_entry=entry,
                reason=order.name,
            )
            order.loyalty_gift_card_entry_id = False
            order.loyalty_gift_card_amount = 0.0

    def _is_confirmation_amount_reached(self):
        """The gift card's part counts as paid once it is taken off the card: the order is confirmed
        when the payment provider has paid what the card left. (``amount_paid`` stays the sum of
        the transactions: the payment page asks for the order's total, and the transaction created
        then asks the provider for what the card leaves, see ``payment.transaction.create``.)"""
        self.ensure_one()
        gift = self.sudo().loyalty_gift_card_amount
        if not gift:
            return super()._is_confirmation_amount_reached()
        required = self._get_prepayment_required_amount()
        return self.currency_id.compare_amounts(required, self.amount_paid + gift) <= 0

    def _loyalty_settle_gift_card_on(self, invoice):
        """Register the gift card's part of the order on its posted ``invoice`` (the club's gift
        card journal against the receivable: the liability goes down, the revenue stays whole)."""
        self.ensure_one()
        order = self.sudo()
        if not order.loyalty_gift_card_entry_id or order.loyalty_gift_card_payment_id:
            return
        amount = min(order.loyalty_gift_card_amount, invoice.amount_residual)
        if invoice.currency_id.is_zero(amount):
            return
        card = order.loyalty_gift_card_id
        club = order.company_id._loyalty_club_get().sudo()
        order.loyalty_gift_card_payment_id = invoice._loyalty_gift_card_settle(
            club,
            amount,
            self.env._("Gift card %s", card._masked()),
            self.env._("Paid %(amount)s with gift card %(card)s at the web shop.", amount=amount, card=card._masked()),
        )[:1]

    # ------------------------------------------------------------------
    # Gift cards bought on the web shop
    # ------------------------------------------------------------------
    def _loyalty_gift_card_load_sold_cards(self):
        """Gift cards bought on the web shop reach their buyer: each new card gets a PIN, and the
        buyer an e-mail with its code and PIN (sent once, deleted once sent; the PIN is stored
        nowhere else in clear). Cards sold in the back office keep being handed over by staff."""
        result = super()._loyalty_gift_card_load_sold_cards()
        for order in self.sudo().filtered("website_id"):
            lines = order.order_line.filtered(lambda line: line.product_id.loyalty_gift_card)
            cards = lines.loyalty_gift_card_ids.filtered(lambda card: not card.pin_set)
            if cards:
                order._loyalty_mail_bought_gift_cards(cards)
        return result

    def _loyalty_mail_bought_gift_cards(self, cards):
        """Give ``cards`` a PIN each and e-mail their codes and PINs to the order's customer."""
        self.ensure_one()
        partner = self.partner_id
        if not partner.email:
            self.message_post(
                body=self.env._("The gift cards bought have no PIN yet: the customer has no e-mail address.")
            )
            return
        Card = self.env["loyalty.club.gift.card"].sudo()
        lines = []
        for card in cards:
            pin = Card._new_pin()
            card._set_pin(pin)
            lines.append({"code": format_code(card.code), "pin": pin, "card": card})
        env = self.env(context=dict(self.env.context, lang=partner.lang or self.env.lang))
        body = env["ir.qweb"]._render(
            "loyalty_club_website_sale.gift_cards_bought_mail", {"order": self.with_env(env), "cards": lines}
        )
        env["loyalty.club"]._mail_secret(
            self.company_id, partner, env._("Your gift cards from %s", self.company_id.name), body
        )
        self.message_post(
            body=self.env._(
                "The codes and PINs of %(count)s gift card(s) were e-mailed to %(email)s.",
                count=len(cards),
                email=partner.email,
            )
        )

    def _action_cancel(self):
        result = super()._action_cancel()
        for order in self.sudo().filtered("loyalty_gift_card_entry_id"):
            if not order.loyalty_gift_card_payment_id:
                order._loyalty_give_back_gift_card()
        return result
