from odoo import fields, models


class LoyaltyClub(models.Model):
    _inherit = "loyalty.club"

    website_pin_policy = fields.Selection(
        [
            ("not_owner", "Unless the signed-in customer owns the card"),
            ("always", "Always"),
        ],
        "Ask the PIN on the web shop",
        required=True,
        default="not_owner",
        help="When members use their points in the web shop's cart. By default a signed-in customer "
        "spends the points of their own card without typing its PIN (their account's password "
        "already proved who they are); a contact spending a card of its company types the card's PIN.",
    )
