import os
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from .test_sale_money import SaleMoneyCase

# Sales fuzzing builds an order, an invoice and credit notes per example: a fortieth of the
# ledger fuzz's examples (50 by default); LOYALTY_FUZZ_SALE_EXAMPLES sets it directly.
EXAMPLES = int(
    os.environ.get("LOYALTY_FUZZ_SALE_EXAMPLES", max(1, int(os.environ.get("LOYALTY_FUZZ_EXAMPLES", "2000")) // 40))
)

STEPS = st.lists(
    st.one_of(
        # credit note of one line: quantity and unit price in quarters of the sold ones
        st.tuples(st.just("credit"), st.integers(0, 1), st.integers(1, 4), st.integers(1, 4)),
        st.tuples(st.just("reset"), st.integers(0, 5)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("repost"), st.integers(0, 5), st.integers(1, 4)),
        st.tuples(st.just("replace")),
        st.tuples(st.just("spend"), st.integers(1, 60)),
        st.tuples(st.just("cancel_order")),
    ),
    min_size=1,
    max_size=8,
)
LINES = [(3, 100.0), (2, 35.0)]  # (quantity, unit price) of the two untaxed lines
SEED = 40


@tagged("post_install", "-at_install")
class TestSaleFuzz(SaleMoneyCase):
    """Property-based: random credit notes (by quantity and by price), credit notes reset to draft,
    cancelled and posted again, lost cards replaced, points spent and invoiced orders cancelled, on
    orders in the company's currency or a second one whose rate does not divide evenly. After every
    step the ledger is true (balances = sums of entries, reversals within what was earned), the
    order's counters equal the ledger, and each line's points taken back are what the club's one
    reversal rule gives for the part of it the posted credit notes credit."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Currency = cls.env["res.currency"].with_context(active_test=False)
        cls.second = Currency.search([("name", "=", "XTS")]) or Currency.create(
            {"name": "XTS", "symbol": "X", "rounding": 0.01}
        )
        cls.second.write(
            {
                "active": True,
                "rate_ids": [
                    Command.clear(),
                    Command.create({"name": "2000-01-01", "rate": 0.37, "company_id": cls.env.company.id}),
                ],
            }
        )
        cls.second_list = cls.env["product.pricelist"].create({"name": "Second", "currency_id": cls.second.id})

    def _member_cards(self):
        return self.env["loyalty.club.card"].search([("partner_id", "=", self.member.id)])

    def _expected_reversed(self, order):
        """Points each line should have taken back: the reversal rule on the credited share, from
        the posted credit notes (an oracle of its own: untaxed lines, amount = quantity x price)."""
        expected = {}
        for line in order.order_line:
            credit_lines = self.env["account.move.line"].search(
                [
                    ("sale_line_ids", "in", line.ids),
                    ("move_id.move_type", "=", "out_refund"),
                    ("move_id.state", "=", "posted"),
                    ("display_type", "=", "product"),
                ]
            )
            credited = sum(Decimal(repr(c.quantity)) * Decimal(repr(c.price_unit)) for c in credit_lines)
            sold = Decimal(repr(line.product_uom_qty)) * Decimal(repr(line.price_unit))
            expected[line] = self.club._points_to_reverse(line.loyalty_points, 0, credited / sold)
        return expected

    def _check(self, order, spent):
        cards = self._member_cards()
        self.assertFalse(self.Posting._audit_balances(cards), "balance = sum of the entries")
        earned = order._loyalty_earn_entries()[-1:]
        taken = self.Posting._taken_back(earned) if earned else 0
        self.assertTrue(0 <= taken <= (earned.points or 0), "reversals within what was earned")
        order.invalidate_recordset()
        order.order_line.invalidate_recordset()
        self.assertEqual(order.loyalty_points_net, (earned.points or 0) - taken, "order counters = ledger")
        expected = self._expected_reversed(order)
        for line in order.order_line:
            self.assertEqual(line.loyalty_points_reversed, expected[line], "the one reversal rule")
        self.assertEqual(sum(cards.mapped("balance")), SEED + (earned.points or 0) - taken - spent)
        active = cards.filtered(lambda card: card.state == "active")
        self.assertEqual(len(active), 1)
        self.assertFalse((cards - active).filtered("balance"), "replaced cards keep nothing, not even a debt")

    def _apply(self, step, order, invoice, refunds, spent):
        kind = step[0]
        if kind == "credit":
            _kind, index, quarters_qty, quarters_price = step
            qty, price = LINES[index]
            refund = invoice._reverse_moves()
            keep = refund.invoice_line_ids[index]
            refund.write(
                {
                    "invoice_line_ids": [Command.delete(line.id) for line in refund.invoice_line_ids - keep]
                    + [
                        Command.update(
                            keep.id, {"quantity": qty * quarters_qty / 4, "price_unit": price * quarters_price / 4}
                        )
                    ]
                }
            )
            refund.action_post()
            refunds.append(refund)
        elif kind in ("reset", "cancel", "repost") and refunds:
            refund = refunds[step[1] % len(refunds)]
            if kind == "reset" and refund.state == "posted":
                refund.button_draft()
            elif kind == "cancel" and refund.state != "cancel":
                refund.button_cancel()
            elif kind == "repost" and refund.state != "posted":
                if refund.state == "cancel":
                    refund.button_draft()
                line = refund.invoice_line_ids
                line.quantity = line.quantity * step[2] / 2 or 1
                refund.action_post()
        elif kind == "replace":
            active = self.card._active_successor()
            self.env["loyalty.club.card.replace.wizard"].create({"card_id": active.id}).action_replace()
        elif kind == "spend":
            active = self.card._active_successor()
            if active.balance >= step[1]:
                self.Posting._post(active, -step[1], "redeem", f"fuzz-sale:spend:{len(active.entry_ids)}")
                return spent + step[1]
        elif kind == "cancel_order":
            order.with_context(disable_cancel_warning=True).action_cancel()
        return spent

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(second_currency=st.booleans(), steps=STEPS)
    def test_random_credit_notes_keep_points_and_ledger_true(self, second_currency, steps):
        with self.env.cr.savepoint() as example:
            self.Posting._post(self.card, SEED, "adjust", "fuzz-sale:seed")
            order = self._priced_order(
                [(self.untaxed, qty, price, 0) for qty, price in LINES],
                **({"pricelist_id": self.second_list.id} if second_currency else {}),
            )
            order.action_confirm()
            invoice = self._invoice(order)
            refunds, spent = [], 0
            self._check(order, spent)
            for step in steps:
                try:
                    with self.env.cr.savepoint():
                        spent = self._apply(step, order, invoice, refunds, spent)
                except UserError:
                    self.env.invalidate_all(flush=False)
                self._check(order, spent)
            self.env.flush_all()
            example.rollback()
            self.env.invalidate_all(flush=False)
