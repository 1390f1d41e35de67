from odoo import Command, models
from odoo.exceptions import UserError, ValidationError

from ..tools import posting_keys


class SaleOrder(models.Model):
    """Sales orders: the gift cards they sell, loaded once when the order is confirmed."""

    _inherit = "sale.order"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------
    # Gift cards sold on the order
    # ------------------------------------------------------------------
    def _loyalty_gift_card_load_sold_cards(self):
        """Each confirmed gift card line loads its cards once: the pre-printed card of the line's
        code, or a new card per unit. Keys: line + unit (+ reload count after a cancellation took
        the money back), so re-confirming never loads twice. New cards hold the club's currency;
        an order in another currency loads the value of the line at the order's date rate."""
        Card = self.env["loyalty.club.gift.card"].sudo()
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        Posting = self.env["loyalty.club.posting"]
        for order in self:
            lines = order.order_line.filtered(lambda line: line.product_id.loyalty_gift_card and not line.display_type)
            if not lines:
                continue
            club = order.company_id._loyalty_club_get()
            if not club:
                raise UserError(self.env._("The company has no customer club: it cannot sell gift cards."))
            currency = order.currency_id
            for line in lines:
                qty = line.product_uom_qty
                if qty <= 0 or qty != int(qty):
                    raise UserError(self.env._("Gift cards are sold by the unit (line %s).", line.name))
                units = int(qty)
                amount = currency.round(line.price_total / units)
                if currency.compare_amounts(amount, 0) <= 0:
                    raise UserError(self.env._("A gift card must be sold for a positive amount."))
                Club = self.env["loyalty.club"]
                if line.loyalty_gift_card_code and units != 1:
                    raise UserError(self.env._("A pre-printed gift card is sold one per line."))
                cards = Card.browse()
                for unit in range(units):
                    key, existing = line._loyalty_gift_card_load_key(unit)
                    if existing:
                        cards |= existing.gift_card_id
                        continue
                    previous = Entry.search(
                        [
                            ("posting_key", "=like", posting_keys.sale_gift_load_like(line, unit)),
                            ("kind", "=", "load"),
                        ],
                        limit=1,
                    )
                    if previous and not line.loyalty_gift_card_code:
                        # confirmed again after a cancellation took the money back: same card
                        card = previous.gift_card_id
                    elif line.loyalty_gift_card_code:
                        try:
                            card = Card._find_by_code(line.loyalty_gift_card_code)
                        except ValidationError as error:
                            raise UserError(
                                self.env._("Line %(line)s: %(error)s", line=line.name, error=error.args[0])
                            ) from error
                        if not card or card.club_id != club or card.currency_id not in (currency | club.currency_id):
                            raise UserError(
                                self.env._(
                                    "Gift card %s is not a card of this company's club in the order's or the "
                                    "club's currency.",
                                    line.loyalty_gift_card_code,
                                )
                            )
                    else:
                        card = Card._issue(
                            club,
                            amount=club._to_club_currency(amount, currency, order.company_id, order.date_order),
                            currency=club.currency_id,
                            partner=order.partner_id,
                            with_pin=False,
                        )[0]
                    loaded = Club._convert_amount(
                        amount, currency, card.currency_id, order.company_id, order.date_order
                    )
                    Posting._post_gift_card(
                        card, loaded, "load", key, origin=order, branch=order.company_id, reason=order.name
                    )
                    cards |= card
                line.sudo().loyalty_gift_card_ids = [Command.set(cards.ids)]

    def action_view_gift_cards(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_gift_card_action")
        action["domain"] = [("id", "in", self.order_line.loyalty_gift_card_ids.ids)]
        return action
