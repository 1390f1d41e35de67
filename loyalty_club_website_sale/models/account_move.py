from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        """A posted invoice of a web order paid in part with a gift card gets that part registered
        on the club's gift card journal (the liability goes down; the revenue stays whole)."""
        posted = super()._post(soft=soft)
        for invoice in posted.filtered(lambda move: move.move_type == "out_invoice"):
            for order in invoice.line_ids.sale_line_ids.order_id.sudo().filtered("loyalty_gift_card_entry_id"):
                order._loyalty_settle_gift_card_on(invoice)
        return posted
