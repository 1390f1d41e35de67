import logging
from collections import defaultdict

from odoo import Command, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools import posting_keys

_logger = logging.getLogger(__name__)


class PosOrder(models.Model):
    """Point of Sale orders: gift cards sold as a product, redeemed as a tender, refunded to the card."""

    _inherit = "pos.order"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------
    # Gift cards (sold as a product, redeemed as a tender, refunded to the card)
    # ------------------------------------------------------------------
    def _loyalty_gift_card_process(self, client, when, reviewed=False):
        """Book the paid order's gift card movements exactly once (keys of the order's POS uuid):
        money spent from cards (their holds captured), given back to them by a refund, loaded by
        sold cards."""
        self.ensure_one()
        self._loyalty_gift_card_book_payments(client.get("gift_payments") or {}, when, reviewed)
        self._loyalty_gift_card_load_sold_cards(client.get("codes") or {})

    def _loyalty_gift_card_book_payments(self, client_payments, when, reviewed=False):
        payments = self.payment_ids.filtered("payment_method_id.loyalty_gift_card")
        if not payments:
            return
        config = self.config_id
        currency = self.currency_id
        Card = self.env["loyalty.club.gift.card"].sudo()
        Posting = self.env["loyalty.club.posting"]
        spent = payments.filtered(lambda p: currency.compare_amounts(p.amount, 0) > 0)
        given_back = payments - spent
        holds = self.env["loyalty.club.hold"].sudo().search([("payment_uuid", "in", [p.uuid for p in spent if p.uuid])])
        by_payment = {hold.payment_uuid: hold for hold in holds}
        by_card = defaultdict(lambda: self.env["pos.payment"])
        # what each card gives, in its own currency (a card of another currency than the till's
        # gives what its holds converted at the day's rate)
        card_amounts = defaultdict(float)
        for payment in spent:
            hold = by_payment.get(payment.uuid)
            card = hold.gift_card_id if hold else Card
            claimed = client_payments.get(payment.uuid)
            if reviewed and not hold:
                card = config._loyalty_gift_card(claimed)
                if not card:
                    raise UserError(self.env._("A gift card payment names no active gift card of this shop's club."))
                card._check_spendable(self.company_id, currency)
                by_card[card] |= payment
                card_amounts[card] += card.club_id._convert_amount(
                    payment.amount, currency, card.currency_id, self.company_id, self.date_order
                )
                continue
            if not card or (claimed and claimed != card.id):
                raise UserError(
                    self.env._("A gift card payment has no hold: the card's PIN was not checked at the till.")
                )
            if hold.order_uuid != self.uuid or card.club_id != config.company_id._loyalty_club_get():
                raise UserError(self.env._("A gift card payment uses a hold made for another order or shop."))
            if hold.state == "captured" and hold.pos_order_id != self:
                raise UserError(
                    self.env._("A gift card payment uses a hold already captured by order %s.", hold.pos_order_id.name)
                )
            held_currency, held = hold._payment_value()
            if held_currency != currency or currency.compare_amounts(payment.amount, held):
                raise UserError(
                    self.env._(
                        "A gift card payment of %(paid)s differs from the %(held)s held for it.",
                        paid=currency.round(payment.amount),
                        held=held,
                    )
                )
            by_card[card] |= payment
            card_amounts[card] += hold.amount
        # Lock every card first (id order), then check and spend: two tills cannot overdraw.
        Posting._lock_rows(Card.browse([card.id for card in by_card]))
        for card, card_payments in by_card.items():
            amount = card.currency_id.round(card_amounts[card])
            card_holds = holds.filtered(lambda hold, card=card: hold.gift_card_id == card)
            Posting._post_gift_card(
                card,
                -amount,
                "redeem",
                self._loyalty_club_key(posting_keys.pos_gift_redeem(card)),
                origin=self,
                branch=self.company_id,
                pos_config=config,
                reason=self.name,
                holds=card_holds.filtered(lambda hold: hold.state == "held"),
                valid_at=when,
            )
            card_holds._close("captured", self)
            card_payments.write(
                {
                    "loyalty_gift_card_id": card.id,
                    "loyalty_gift_card_balance": card._available_in(currency, self.company_id, held=0.0),
                }
            )
        if given_back:
            self._loyalty_gift_card_refund_payments(given_back)

    def _loyalty_gift_card_refund_payments(self, payments):
        """A refund paid out with the 'Gift card' method credits the cards that paid the refunded
        order (at most what they paid, less earlier refunds), or a new card for the rest. A card
        of another currency than the till's gets back its own money in the proportion the
        refund takes of what it paid (the rate of the sale, not today's)."""
        currency = self.currency_id
        Posting = self.env["loyalty.club.posting"]
        refunded = self.lines.refunded_orderline_id.order_id
        to_give = currency.round(-sum(payments.mapped("amount")))
        paid_by = defaultdict(lambda: self.env["pos.payment"])
        for original in refunded.payment_ids.filtered("loyalty_gift_card_id"):
            paid_by[original.pos_order_id, original.loyalty_gift_card_id] |= original
        for (order, paying_card), originals in paid_by.items():
            if not currency.compare_amounts(to_give, 0) > 0:
                break
            card = paying_card.sudo()
            card_currency = card.currency_id
            redeem_entry, room = self._loyalty_gift_card_refund_room(order, card)
            if room is None:
                continue
            redeemed = -redeem_entry.amount
            paid = sum(originals.mapped("amount"))
            if order.currency_id == currency and paid > 0:
                room_here = currency.round(room * paid / redeemed)
            else:
                room_here = card.club_id._convert_amount(room, card_currency, currency, self.company_id)
            amount_here = min(room_here, to_give)
            if currency.compare_amounts(amount_here, 0) <= 0:
                continue
            if currency.compare_amounts(amount_here, room_here) == 0:
                amount = room
            else:
                amount = card_currency.round(room * amount_here / room_here)
            Posting._post_gift_card(
                card,
                amount,
                "refund",
                # one refund order refunds lines of one sale only (Odoo refuses mixing orders)
                self._loyalty_club_key(posting_keys.pos_gift_refund(card)),
                origin=self,
                branch=self.company_id,
                pos_config=self.config_id,
                reversed_entry=redeem_entry,
                reason=self.name,
            )
            payments[:1].write(
                {
                    "loyalty_gift_card_id": card.id,
                    "loyalty_gift_card_balance": card._available_in(currency, self.company_id, held=0.0),
                }
            )
            to_give = currency.round(to_give - amount_here)
        if currency.compare_amounts(to_give, 0) > 0:
            self._loyalty_gift_card_refund_to_new_card(payments, to_give)

    def _loyalty_gift_card_refund_room(self, order, card):
        """``(redeem_entry, room)``: the redemption of gift card ``card`` by the refunded ``order``
        and what a refund may still give back to it (card currency); room None when nothing."""
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        redeem_entry = Entry.search(
            [("posting_key", "=", order._loyalty_club_key(posting_keys.pos_gift_redeem(card)))], limit=1
        )
        already = sum(
            Entry.search(
                [
                    ("gift_card_id", "=", card.id),
                    ("kind", "=", "refund"),
                    ("reversed_entry_id", "=", redeem_entry.id),
                ]
            ).mapped("amount")
        )
        room = card.currency_id.round(-redeem_entry.amount - already)
        if not redeem_entry or card.currency_id.compare_amounts(room, 0) <= 0:
            return redeem_entry, None
        if card.state not in ("active", "used") or (
            card.date_expiry and card.date_expiry < fields.Date.context_today(self)
        ):
            return redeem_entry, None  # an expired or blocked card gets nothing back: a new card takes it
        return redeem_entry, room

    def _loyalty_gift_card_refund_to_new_card(self, payments, to_give):
        """Load ``to_give`` (the till's currency) of a refund on a new gift card, once per order."""
        currency = self.currency_id
        key = self._loyalty_club_key(posting_keys.POS_GIFT_REFUND_NEW)
        card = self._loyalty_gift_card_new_card(key)
        self.env["loyalty.club.posting"]._post_gift_card(
            card,
            card.club_id._convert_amount(to_give, currency, card.currency_id, self.company_id, self.date_order),
            "load",
            key,
            origin=self,
            branch=self.company_id,
            pos_config=self.config_id,
            reason=self.name,
        )
        payments[-1:].write(
            {
                "loyalty_gift_card_id": card.id,
                "loyalty_gift_card_balance": card._available_in(currency, self.company_id, held=0.0),
                "loyalty_gift_card_new_code": card.code_display,
            }
        )

    def _loyalty_gift_card_new_card(self, posting_key):
        """A new gift card of the shop's club for ``posting_key``, holding the club's currency like
        the cards Sales issues (a till in another currency loads it converted at the order's rate;
        no PIN yet: the service desk gives it one with *New PIN*); the card of that key if it was
        posted."""
        existing = self.env["loyalty.club.gift.card.entry"].sudo().search([("posting_key", "=", posting_key)], limit=1)
        if existing:
            return existing.gift_card_id
        club = self.company_id._loyalty_club_get()
        if not club:
            raise UserError(self.env._("This shop's company has no customer club: it cannot issue gift cards."))
        return (
            self.env["loyalty.club.gift.card"].sudo()._issue(club, partner=self.partner_id or None, with_pin=False)[0]
        )

    def _loyalty_gift_card_load_sold_cards(self, client_codes):
        """Each paid gift card line loads its card: the pre-printed card scanned on the line, or
        a new card per unit. Keys: order uuid + line uuid + unit, so it happens once."""
        lines = self.lines.filtered(lambda line: line.product_id.loyalty_gift_card)
        if not lines:
            return
        currency = self.currency_id
        config = self.config_id
        Card = self.env["loyalty.club.gift.card"].sudo()
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        Posting = self.env["loyalty.club.posting"]
        club = self.company_id._loyalty_club_get()
        for line in lines:
            if line.qty < 0 or line.refunded_orderline_id:
                raise UserError(
                    self.env._("Sold gift cards cannot be refunded at the till; block the card in the back office.")
                )
            if line.qty != int(line.qty):
                raise UserError(self.env._("Gift cards are sold by the unit."))
            units = int(line.qty)
            # what the server computes from the unit price, never the total the till sent
            total = line._loyalty_club_server_totals()[1]
            amount = currency.round(total / units) if units else 0.0
            if currency.compare_amounts(amount, 0) <= 0:
                raise UserError(self.env._("A gift card must be sold for a positive amount."))
            code = client_codes.get(line.uuid)
            if code and units != 1:
                raise UserError(self.env._("A scanned gift card is sold one per line."))
            cards = Card.browse()
            for unit in range(units):
                key = self._loyalty_club_key(posting_keys.pos_gift_load(line, unit))
                existing = Entry.search([("posting_key", "=", key)], limit=1)
                if existing:
                    card = existing.gift_card_id
                elif code:
                    try:
                        card = Card.with_company(self.company_id)._find_by_code(code)
                    except ValidationError:
                        card = Card.browse()
                    if not card or card.club_id != club:
                        raise UserError(self.env._("Gift card %s is not a card of this shop's club.", code))
                else:
                    card = self._loyalty_gift_card_new_card(key)
                Posting._post_gift_card(
                    card,
                    # a pre-printed card of another currency is loaded with the price at the order's rate
                    club._convert_amount(amount, currency, card.currency_id, self.company_id, self.date_order),
                    "load",
                    key,
                    origin=self,
                    branch=self.company_id,
                    pos_config=config,
                    reason=self.name,
                )
                cards |= card
            line.write(
                {
                    "loyalty_gift_card_ids": [Command.set(cards.ids)],
                    "loyalty_gift_card_codes": ", ".join(cards.mapped("code_display")),
                }
            )
