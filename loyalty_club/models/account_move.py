from collections import defaultdict
from decimal import Decimal

from odoo import fields, models
from odoo.exceptions import UserError

from ..tools import posting_keys


class AccountMove(models.Model):
    _name = "account.move"
    # loyalty_post_count keys the club postings of each posting of a credit note: only the server
    # counts (see loyalty.club.protected.mixin)
    _inherit = ["account.move", "loyalty.club.protected.mixin"]

    loyalty_post_count = fields.Integer(
        "Club posting cycle",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="How many times this credit note was posted: keeps the club postings of each posting apart.",
    )

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        refunds = posted.filtered(lambda move: move.move_type == "out_refund").sudo()
        for refund in refunds:
            refund.loyalty_post_count += 1
        refunds._loyalty_sync_credited_sales()
        return posted

    def button_draft(self):
        # button_cancel of a posted move resets it to draft first, so both come through here
        self.filtered(lambda move: move.state == "posted")._loyalty_check_not_points_booking()
        undone = self.filtered(lambda move: move.move_type == "out_refund" and move.state == "posted").sudo()
        result = super().button_draft()
        undone._loyalty_sync_credited_sales()
        return result

    def write(self, vals):
        # a user's write of the state (over RPC); server code writing it with sudo is trusted
        if vals.get("state", "posted") != "posted" and not self.env.su:
            self.filtered(lambda move: move.state == "posted")._loyalty_check_not_points_booking()
        return super().write(vals)

    def _reverse_moves(self, default_values_list=None, cancel=False):
        self._loyalty_check_not_points_booking()
        return super()._reverse_moves(default_values_list=default_values_list, cancel=cancel)

    def _loyalty_check_not_points_booking(self):
        """Refuse to reset, cancel or reverse a journal entry that books the club's points ledger
        (``loyalty.club.accounting.batch``): its ledger rows are booked once, so the entry undone
        would leave the liability account short with nothing to book it again. Points are
        corrected in the club (an adjustment is booked the next night); a value or breakage
        change is booked as a change in estimate."""
        if not self:
            return
        batch = self.env["loyalty.club.accounting.batch"].sudo().search([("move_id", "in", self.ids)], limit=1)
        if batch:
            raise UserError(
                self.env._(
                    "The journal entry %(move)s books the club's points ledger (%(batch)s) and cannot be "
                    "reset, cancelled or reversed: the points it books would not be booked again. Correct "
                    "the points in the club instead (an adjustment is booked the next night).",
                    move=batch.move_id.display_name,
                    batch=batch.display_name,
                )
            )

    def _loyalty_sync_credited_sales(self):
        """Bring the points and the gift cards of the sale lines these credit notes credit in line
        with the credit notes posted now: posting one takes back its part, resetting it to draft or
        cancelling it gives back what it took, posting it again books the difference. The keys
        carry the credit note's posting cycle."""
        for move in self:
            sale_lines = move.invoice_line_ids.sale_line_ids
            move._loyalty_sync_credited_points(sale_lines)
            move._loyalty_sync_credited_gift_cards(sale_lines.filtered("loyalty_is_gift_card"))

    def _loyalty_credit_lines(self, sale_lines):
        """Product lines of the posted credit notes that credit ``sale_lines``."""
        return self.env["account.move.line"].search(
            [
                ("sale_line_ids", "in", sale_lines.ids),
                ("move_id.move_type", "=", "out_refund"),
                ("move_id.state", "=", "posted"),
                ("display_type", "=", "product"),
            ]
        )

    def _loyalty_credited_amounts(self, sale_lines, amount):
        """{sale line: what the posted credit notes credit of it, in the order's currency at the
        order's date rate}; ``amount(sale_line, credit_line)`` is a credit line's amount in its
        own currency (a credit line of several sale lines is split over them)."""
        credited = defaultdict(float)
        for credit in self._loyalty_credit_lines(sale_lines):
            targets = credit.sale_line_ids & sale_lines
            for line in targets:
                order = line.order_id
                value = amount(line, credit) / len(targets)
                credited[line] += self.env["loyalty.club"]._convert_amount(
                    value, credit.currency_id, order.currency_id, order.company_id, order.date_order
                )
        return credited

    def _loyalty_sync_credited_points(self, sale_lines):
        """Take back (or give back) the points of the credited sale lines in proportion to the part
        of each line's earning base the posted credit notes credit (the club's earning base on the
        credit lines, untaxed or taxed per its setting, and its one reversal rule)."""
        self.ensure_one()
        sale_lines = sale_lines.filtered(lambda line: line.loyalty_points)
        for order in sale_lines.order_id:
            earned = order._loyalty_earn_entries()[-1:]
            if not earned:
                continue
            club = earned.club_id
            lines = sale_lines.filtered(lambda line, order=order: line.order_id == order)
            credited = self._loyalty_credited_amounts(
                lines,
                lambda line, credit, club=club: line._loyalty_club_base_of(
                    club, credit.price_unit, credit.quantity, credit.discount, credit.tax_ids, credit.currency_id
                ),
            )
            targets = {}
            for line in lines:
                base = line.loyalty_earning_base or line._loyalty_club_base(club)
                share = Decimal(repr(credited[line])) / Decimal(repr(base)) if base > 0 else Decimal(0)
                targets[line] = club._points_to_reverse(line.loyalty_points, 0, share)
            cycle = self.loyalty_post_count
            order._loyalty_apply_reversal_targets(
                targets,
                posting_keys.credit_note(self, order, cycle, "reverse"),
                origin=self,
                restore_key=posting_keys.credit_note(self, order, cycle, "restore"),
            )

    def _loyalty_sync_credited_gift_cards(self, sale_lines):
        """Take back the money of the gift cards sold on the credited lines, a card per whole unit
        the posted credit notes credit (all of them together, by amount: full cards first), or load
        again the cards this credit note took back when it is reset to draft or cancelled."""
        self.ensure_one()
        credited = self._loyalty_credited_amounts(sale_lines, lambda line, credit: credit.price_total)
        for sale_line in sale_lines:
            sold = int(sale_line.product_uom_qty)
            if sold <= 0 or sale_line.currency_id.compare_amounts(sale_line.price_total, 0) <= 0:
                continue
            unit_amount = Decimal(repr(sale_line.price_total)) / sold
            rounding = Decimal(repr(sale_line.currency_id.rounding))
            units = min(sold, int((Decimal(repr(credited[sale_line])) + rounding / 2) / unit_amount))
            unloaded = sold - len(sale_line._loyalty_gift_card_loads_in_force())
            if units > unloaded:
                sale_line._loyalty_gift_card_unload(units - unloaded, self)
            elif units < unloaded:
                sale_line._loyalty_gift_card_reload(unloaded - units, self)

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

    def _loyalty_gift_card_club(self):
        """The club whose gift card journal settles this move, as superuser (its journal and
        accounts: billing users need no club rights to be paid by a card); refused without one."""
        club = self.company_id._loyalty_club_get().sudo()
        if not club.gift_card_journal_id:
            raise UserError(self.env._("Set up gift cards on the club first (gift card journal)."))
        return club

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
