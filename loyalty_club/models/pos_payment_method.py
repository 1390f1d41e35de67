from odoo import api, fields, models
from odoo.exceptions import ValidationError


class PosPaymentMethod(models.Model):
    _inherit = "pos.payment.method"

    loyalty_club_points = fields.Boolean(
        "Club points",
        help="Members pay with their club points: the cashier enters the amount, the member's PIN "
        "is checked and the server spends the points when the order is synced.",
    )

    loyalty_gift_card = fields.Boolean(
        "Gift card",
        help="Customers pay with a gift card: the cashier scans or types its code, the customer types the "
        "PIN, and the server spends the amount from the card when the order is synced.",
    )

    @api.model
    def _load_pos_data_fields(self, config_id):
        return [*super()._load_pos_data_fields(config_id), "loyalty_club_points", "loyalty_gift_card"]

    @api.constrains("loyalty_gift_card", "loyalty_club_points", "journal_id", "split_transactions")
    def _check_loyalty_gift_card(self):
        for method in self.filtered("loyalty_gift_card"):
            if method.loyalty_club_points or method.type != "bank" or method.split_transactions:
                raise ValidationError(
                    self.env._(
                        "Payment method %s pays with gift cards: give it a bank-type journal, no customer "
                        "account, and do not make it a club points method too.",
                        method.name,
                    )
                )

    @api.constrains("loyalty_club_points", "journal_id", "split_transactions")
    def _check_loyalty_club_points(self):
        for method in self.filtered("loyalty_club_points"):
            if method.type != "bank" or method.split_transactions or method.use_payment_terminal:
                raise ValidationError(
                    self.env._(
                        "Payment method %s pays with club points: give it a bank-type journal and no "
                        "terminal or customer account.",
                        method.name,
                    )
                )
