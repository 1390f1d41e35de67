from odoo import api, models

# states of a transaction that may still pay its order
LIVE_STATES = ("draft", "pending", "authorized", "done")


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    @api.model_create_multi
    def create(self, vals_list):
        """A payment of an order that uses club points or a gift card takes them as it starts
        (under the card locks, once per attempt; a refusal stops the payment before any money
        moves) and asks the provider only for what the gift card leaves to pay."""
        for vals in vals_list:
            if vals.get("operation") == "validation" or not vals.get("sale_order_ids"):
                continue
            orders = self.new({"sale_order_ids": vals["sale_order_ids"]}).sale_order_ids._origin
            orders = orders.sudo().filtered(lambda order: order.state in ("draft", "sent"))
            if not orders:
                continue
            orders._loyalty_start_payment()
            if len(orders) == 1 and orders.loyalty_gift_card_entry_id:
                vals["amount"] = orders._loyalty_left_to_pay()
        return super().create(vals_list)

    def _set_canceled(self, state_message=None, extra_allowed_states=()):
        transactions = super()._set_canceled(state_message=state_message, extra_allowed_states=extra_allowed_states)
        transactions._loyalty_give_back()
        return transactions

    def _set_error(self, state_message, extra_allowed_states=()):
        transactions = super()._set_error(state_message, extra_allowed_states=extra_allowed_states)
        transactions._loyalty_give_back()
        return transactions

    def _loyalty_give_back(self):
        """The payment failed or was cancelled: its unconfirmed orders give back the club points
        and the gift card money it took, unless another payment of the order is still under way."""
        for order in self.sale_order_ids.sudo().filtered(
            lambda order: (
                order.state in ("draft", "sent")
                and (order.loyalty_payment_entry_id or order.loyalty_gift_card_entry_id)
            )
        ):
            if not order.transaction_ids.filtered(lambda tx: tx.state in LIVE_STATES):
                order._loyalty_give_back_payment_points()
                order._loyalty_give_back_gift_card()
