from collections import defaultdict
from decimal import ROUND_DOWN, Decimal

from odoo import fields, models
from odoo.exceptions import UserError


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        refunds = posted.filtered(lambda move: move.move_type == "out_refund").sudo()
        refunds._loyalty_reverse_credited_points()
        refunds._loyalty_unload_credited_gift_cards()
        return posted

    def _loyalty_unload_credited_gift_cards(self):
        """Take back the money of gift cards sold on credited sale lines: as many cards as whole
        units credited so far on each line (all credit notes together), each card once."""
        AccountMoveLine = self.env["account.move.line"]
        for move in self:
            sale_lines = move.invoice_line_ids.sale_line_ids.filtered("loyalty_is_gift_card")
            for sale_line in sale_lines:
                credited = 0.0
                for credit in AccountMoveLine.search(
                    [
                        ("sale_line_ids", "in", sale_line.ids),
                        ("move_id.move_type", "=", "out_refund"),
                        ("move_id.state", "=", "posted"),
                        ("display_type", "=", "product"),
                    ]
                ):
                    credited += credit.product_uom_id._compute_quantity(credit.quantity, sale_line.product_uom)
                loads = sale_line._loyalty_gift_card_loads_in_force()
                unloaded_units = int(sale_line.product_uom_qty) - len(loads)
                units = int(min(credited, sale_line.product_uom_qty)) - unloaded_units
                if units > 0:
                    sale_line._loyalty_gift_card_unload(units, move)

    def _loyalty_reverse_credited_points(self):
        """Take back the points earned on credited sale lines, in proportion to the credited quantity.

        Works on the cumulative credited quantity of each line, so a second credit note takes back
        the rest and the total never exceeds what the line earned.
        """
        AccountMoveLine = self.env["account.move.line"]
        for move in self:
            sale_lines = move.invoice_line_ids.sale_line_ids.filtered(
                lambda line: line.loyalty_points > line.loyalty_points_reversed
            )
            if not sale_lines:
                continue
            credited = defaultdict(float)
            for credit in AccountMoveLine.search(
                [
                    ("sale_line_ids", "in", sale_lines.ids),
                    ("move_id.move_type", "=", "out_refund"),
                    ("move_id.state", "=", "posted"),
                    ("display_type", "=", "product"),
                ]
            ):
                for line in credit.sale_line_ids & sale_lines:
                    credited[line] += credit.product_uom_id._compute_quantity(credit.quantity, line.product_uom)
            for order in sale_lines.order_id:
                targets = {}
                for line in sale_lines.filtered(lambda sl, order=order: sl.order_id == order):
                    ordered = line.product_uom_qty
                    if not ordered or credited[line] >= ordered:
                        targets[line] = line.loyalty_points
                    else:
                        share = Decimal(line.loyalty_points) * Decimal(repr(credited[line])) / Decimal(repr(ordered))
                        targets[line] = int(share.to_integral_value(rounding=ROUND_DOWN))
                fully_credited = all(
                    targets.get(sale_line, sale_line.loyalty_points_reversed) >= sale_line.loyalty_points
                    for sale_line in order.order_line
                )
                order._loyalty_reverse_lines(
                    targets,
                    f"account.move:{move.id}:{order.id}:reverse",
                    origin=move,
                    purchase_count=-1 if fully_credited else 0,
                )

    def action_loyalty_pay_with_gift_card(self):
        """Open the wizard paying this invoice with a gift card."""
        self.ensure_one()
        if self.move_type != "out_invoice" or self.state != "posted":
            raise UserError(self.env._("Only posted customer invoices can be paid with a gift card."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Pay with gift card"),
            "res_model": "loyalty.club.gift.card.payment.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_id": self.id},
        }

    def action_loyalty_refund_to_gift_card(self):
        """Open the wizard refunding this credit note to a gift card that paid the invoice."""
        self.ensure_one()
        if self.move_type != "out_refund" or self.state != "posted":
            raise UserError(self.env._("Only posted customer credit notes can be refunded to a gift card."))
        if not self._loyalty_gift_cards_that_paid():
            raise UserError(self.env._("No gift card paid the credited invoice."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Refund to gift card"),
            "res_model": "loyalty.club.gift.card.refund.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_id": self.id},
        }

    def _loyalty_gift_card_redeem_entries(self, cards=None):
        """Gift card payments of the invoice this credit note reverses (optionally of ``cards``)."""
        self.ensure_one()
        invoice = self.reversed_entry_id
        if not invoice:
            return self.env["loyalty.club.gift.card.entry"]
        domain = [("origin_model", "=", "account.move"), ("origin_id", "=", invoice.id), ("kind", "=", "redeem")]
        if cards is not None:
            domain.append(("gift_card_id", "in", cards.ids))
        return self.env["loyalty.club.gift.card.entry"].sudo().search(domain, order="id")

    def _loyalty_gift_cards_that_paid(self):
        """Gift cards that paid the invoice this credit note reverses."""
        return self._loyalty_gift_card_redeem_entries().gift_card_id

    def _loyalty_gift_card_refundable(self, card):
        """What ``card`` paid on the credited invoice, less what was refunded to it since (by any
        credit note of that invoice): the most a refund to this card may credit."""
        self.ensure_one()
        redeems = self._loyalty_gift_card_redeem_entries(card)
        refunds = (
            self.env["loyalty.club.gift.card.entry"]
            .sudo()
            .search([("kind", "=", "refund"), ("reversed_entry_id", "in", redeems.ids)])
        )
        return card.currency_id.round(-sum(redeems.mapped("amount")) - sum(refunds.mapped("amount")))

    def _loyalty_gift_card_settle(self, club, amount, communication, message):
        """Register ``amount`` on the club's gift card journal against this invoice or credit
        note (inbound for an invoice, outbound for a credit note: the liability account on the
        other side) and log ``message`` in its chatter. :returns: the payments"""
        self.ensure_one()
        journal = club.gift_card_journal_id
        if self.move_type == "out_refund":
            method_line = journal.outbound_payment_method_line_ids[:1]
        else:
            method_line = journal.inbound_payment_method_line_ids[:1]
        if not method_line.payment_account_id:
            method_line.sudo().payment_account_id = club.gift_card_account_id
        register = (
            self.env["account.payment.register"]
            .sudo()
            .with_context(active_model="account.move", active_ids=self.ids)
            .create(
                {
                    "journal_id": journal.id,
                    "payment_method_line_id": method_line.id,
                    "amount": amount,
                    "currency_id": self.currency_id.id,
                    "payment_date": fields.Date.context_today(self),
                    "communication": communication,
                }
            )
        )
        payments = register._create_payments()
        self.message_post(body=message)
        return payments
