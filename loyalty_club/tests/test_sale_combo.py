from odoo.tests import tagged

from .test_sale import SaleClubCase


@tagged("post_install", "-at_install")
class TestSaleLinesWithoutOrder(SaleClubCase):
    """Issue 22, item 11: Sales code that computes lines before they belong to an order (the combo
    configurator re-configuring a combo of a saved quotation) works with the club installed."""

    def test_member_discount_of_a_line_without_order(self):
        self.bronze.discount_percent = 10
        line = self.env["sale.order.line"].new({"product_id": self.product.id, "product_uom_qty": 1})
        self.assertFalse(line.order_id)
        line._compute_discount()
        self.assertEqual(line.discount, 0.0, "no order, no member: no member discount")
