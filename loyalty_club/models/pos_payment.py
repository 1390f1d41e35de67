from odoo import api, fields, models


class PosPayment(models.Model):
    _name = "pos.payment"
    _inherit = ["pos.payment", "loyalty.club.protected.mixin"]
    _loyalty_protected_fields = frozenset(
        {"loyalty_gift_card_id", "loyalty_gift_card_balance", "loyalty_gift_card_new_code"}
    )
    # the till sends back what it loaded: dropped, never written (the server computes them)
    _loyalty_protected_drop = True

    loyalty_gift_card_id = fields.Many2one(
        "loyalty.club.gift.card", "Gift card", readonly=True, copy=False, index="btree_not_null"
    )
    loyalty_gift_card_display = fields.Char(
        "Gift card number", compute="_compute_loyalty_gift_card_display", help="Masked code, for receipts."
    )
    loyalty_gift_card_balance = fields.Monetary(
        "Gift card balance after", readonly=True, copy=False, help="Balance left on the gift card after this payment."
    )
    loyalty_gift_card_new_code = fields.Char(
        "New gift card code", readonly=True, copy=False, help="Code of the new card a refund was put on."
    )

    @api.depends("loyalty_gift_card_id")
    def _compute_loyalty_gift_card_display(self):
        for payment in self:
            card = payment.loyalty_gift_card_id.sudo()
            payment.loyalty_gift_card_display = card._masked() if card else False

    @api.model
    def _load_pos_data_fields(self, config_id):
        fields_list = super()._load_pos_data_fields(config_id)
        if not fields_list:
            return fields_list
        return [
            *fields_list,
            "loyalty_gift_card_display",
            "loyalty_gift_card_balance",
            "loyalty_gift_card_new_code",
        ]
