from odoo import Command

from .test_sale import SaleClubCase


class SaleMoneyCase(SaleClubCase):
    """Helpers for the money paths of Sales and invoices (issue 22)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.untaxed = cls._create_product(name="Carpet", lst_price=100.0, invoice_policy="order", taxes_id=False)

    def _priced_order(self, lines, partner=None, **values):
        """A quotation of ``lines`` [(product, quantity, unit price, discount %)]."""
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.member).id,
                "order_line": [
                    Command.create(
                        {"product_id": product.id, "product_uom_qty": qty, "price_unit": price, "discount": discount}
                    )
                    for product, qty, price, discount in lines
                ],
                **values,
            }
        )

    def _invoice(self, order):
        invoice = order._create_invoices()
        invoice.action_post()
        return invoice

    def _refund(self, invoice, changes=None, keep=None, post=True):
        """A credit note of ``invoice``: ``changes`` {index of its product line: values},
        ``keep`` the indexes of the product lines to keep (default: all)."""
        refund = invoice._reverse_moves()
        lines = refund.invoice_line_ids
        commands = [Command.update(lines[index].id, values) for index, values in (changes or {}).items()]
        if keep is not None:
            commands += [Command.delete(line.id) for index, line in enumerate(lines) if index not in keep]
        if commands:
            refund.write({"invoice_line_ids": commands})
        if post:
            refund.action_post()
        return refund

    def _replace(self, card=None):
        wizard = self.env["loyalty.club.card.replace.wizard"].create({"card_id": (card or self.card).id})
        return self.env["loyalty.club.card"].browse(wizard.action_replace()["res_id"])

    def assertLedgerMatches(self, order, net, cards=None):
        """The order's counters, its lines' counters and the ledger agree: ``net`` points earned
        less taken back, each card's balance the sum of its entries."""
        order.invalidate_recordset()
        order.order_line.invalidate_recordset()
        self.assertEqual(order.loyalty_points_net, net)
        earned = order._loyalty_earn_entries()[-1:]
        taken = self.Posting._taken_back(earned) if earned else 0
        self.assertEqual(sum(order.order_line.mapped("loyalty_points_reversed")), taken, "line counters = ledger")
        self.assertEqual((earned.points or 0) - taken, net)
        for line in order.order_line:
            self.assertTrue(0 <= line.loyalty_points_reversed <= line.loyalty_points)
        self.assertFalse(self.Posting._audit_balances(cards or self.card))
