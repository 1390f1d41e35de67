from odoo import Command, fields, models
from odoo.exceptions import UserError, ValidationError


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    loyalty_gift_card_code = fields.Char(
        "Gift card code",
        copy=False,
        help="Code of a pre-printed gift card to load; leave empty to issue new cards.",
    )
    loyalty_gift_card_ids = fields.Many2many(
        "loyalty.club.gift.card", string="Gift cards loaded", readonly=True, copy=False
    )
    loyalty_is_gift_card = fields.Boolean(related="product_id.loyalty_gift_card", string="Is a gift card")


class SaleOrder(models.Model):
    _inherit = "sale.order"

    loyalty_gift_card_count = fields.Integer(compute="_compute_loyalty_gift_card_count")

    def _compute_loyalty_gift_card_count(self):
        for order in self:
            order.loyalty_gift_card_count = len(order.order_line.loyalty_gift_card_ids)

    def _action_confirm(self):
        result = super()._action_confirm()
        self.sudo()._loyalty_gift_card_load_sold_cards()
        return result

    def _loyalty_gift_card_load_sold_cards(self):
        """Each confirmed gift card line loads its cards once: the pre-printed card of the line's
        code, or a new card per unit. Keys: line + unit, so re-confirming never loads twice."""
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
                if line.loyalty_gift_card_code and units != 1:
                    raise UserError(self.env._("A pre-printed gift card is sold one per line."))
                cards = Card.browse()
                for unit in range(units):
                    key = f"sale.order.line:{line.id}:{unit}:gift_load"
                    existing = Entry.search([("posting_key", "=", key)], limit=1)
                    if existing:
                        cards |= existing.gift_card_id
                        continue
                    if line.loyalty_gift_card_code:
                        try:
                            card = Card._find_by_code(line.loyalty_gift_card_code)
                        except ValidationError as error:
                            raise UserError(
                                self.env._("Line %(line)s: %(error)s", line=line.name, error=error.args[0])
                            ) from error
                        if not card or card.club_id != club or card.currency_id != currency:
                            raise UserError(
                                self.env._(
                                    "Gift card %s is not a card of this company's club in the order's currency.",
                                    line.loyalty_gift_card_code,
                                )
                            )
                    else:
                        card = Card._issue(
                            club, amount=amount, currency=currency, partner=order.partner_id, with_pin=False
                        )[0]
                    Posting._post_gift_card(
                        card, amount, "load", key, origin=order, branch=order.company_id, reason=order.name
                    )
                    cards |= card
                line.loyalty_gift_card_ids = [Command.set(cards.ids)]

    def action_view_gift_cards(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_gift_card_action")
        action["domain"] = [("id", "in", self.order_line.loyalty_gift_card_ids.ids)]
        return action
