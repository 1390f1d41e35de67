from odoo import fields, models


class BarcodeRule(models.Model):
    _inherit = "barcode.rule"

    type = fields.Selection(
        selection_add=[("loyalty_club_card", "Club card")],
        ondelete={"loyalty_club_card": "set default"},
    )
