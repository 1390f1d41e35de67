from odoo import api, fields, models
from odoo.exceptions import ValidationError


class PosPaymentMethod(models.Model):
    _inherit = "pos.payment.method"

    loyalty_club_points = fields.Boolean(
        "Club points",
        help="Members pay with their club points: the cashier enters the amount, the member's PIN "
        "is checked and the server spends the points when the order is synced.",
    )

    @api.model
    def _load_pos_data_fields(self, config_id):
        return [*super()._load_pos_data_fields(config_id), "loyalty_club_points"]

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
