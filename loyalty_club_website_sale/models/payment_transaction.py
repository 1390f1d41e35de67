from odoo import api, models

# states of a transaction that may still pay its order
LIVE_STATES = ("draft", "pending", "authorized", "done")


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    @api.model_create_multi
    def create(self, vals_list):
        """A payment of an order that uses club points spends them as it starts (under the card
        lock, once per attempt): a refusal stops the payment before any money moves."""
        transactions = super().create(vals_list)
        transactions.filtered(lambda tx: tx.operation != "validation").sale_order_ids.filtered(
            lambda order: order.state in ("draft", "sent")
        )._loyalty_spend_for_payment()
        return transactions

    def _set_canceled(self, state_message=None, extra_allowed_states=()):
        transactions = super()._set_canceled(state_message=state_message, extra_allowed_states=extra_allowed_states)
        transactions._loyalty_give_back_points()
        return transactions

    def _set_error(self, state_message, extra_allowed_states=()):
        transactions = super()._set_error(state_message, extra_allowed_states=extra_allowed_states)
        transactions._loyalty_give_back_points()
        return transactions

    def _loyalty_give_back_points(self):
        """The payment failed or was cancelled: its unconfirmed orders give back the club points
        their payment spent, unless another payment of the order is still under way."""
        for order in self.sale_order_ids.sudo().filtered(
            lambda order: order.state in ("draft", "sent") and order.loyalty_payment_entry_id
        ):
            if not order.transaction_ids.filtered(lambda tx: tx.state in LIVE_STATES):
                order._loyalty_give_back_payment_points()
