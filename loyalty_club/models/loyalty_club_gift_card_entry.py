from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools.append_only import create_append_only_trigger
from ..tools.ledger_chain import create_chain_trigger

GIFT_ENTRY_KINDS = [
    ("load", "Activation / load"),
    ("redeem", "Redemption"),
    ("refund", "Refund to card"),
    ("expire", "Expiry"),
    ("adjust", "Adjustment"),
]
# Nothing of a gift card entry ever changes once booked.
GIFT_ENTRY_COLUMNS = (
    "gift_card_id",
    "company_id",
    "branch_id",
    "pos_config_id",
    "currency_id",
    "kind",
    "amount",
    "balance_after",
    "date",
    "posting_key",
    "origin_model",
    "origin_id",
    "reason",
    "reversed_entry_id",
    "user_id",
    "create_uid",
    "create_date",
)


class LoyaltyClubGiftCardEntry(models.Model):
    """One append-only movement of money on a gift card; its balance is the sum of these."""

    _name = "loyalty.club.gift.card.entry"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Gift Card Ledger Entry"
    _order = "date desc, id desc"
    _check_company_auto = True

    gift_card_id = fields.Many2one(
        "loyalty.club.gift.card", "Gift card", required=True, index=True, ondelete="restrict", readonly=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    branch_id = fields.Many2one("res.company", readonly=True, help="Company or branch where the movement happened.")
    pos_config_id = fields.Many2one("pos.config", "Point of Sale", readonly=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    kind = fields.Selection(GIFT_ENTRY_KINDS, required=True, readonly=True, index=True)
    amount = fields.Monetary(required=True, readonly=True)
    balance_after = fields.Monetary("Balance after", readonly=True)
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now, index=True)
    posting_key = fields.Char(required=True, readonly=True, copy=False)
    origin_model = fields.Char(readonly=True)
    origin_id = fields.Many2oneReference("Origin record ID", model_field="origin_model", readonly=True)
    origin_reference = fields.Reference(
        selection="_selection_origin_reference", compute="_compute_origin_reference", string="Origin"
    )
    reason = fields.Char(readonly=True)
    reversed_entry_id = fields.Many2one(
        "loyalty.club.gift.card.entry", "Reverses", readonly=True, index="btree_not_null"
    )
    user_id = fields.Many2one("res.users", "Author", readonly=True, default=lambda self: self.env.user)
    chain_digest = fields.Char(
        "Chain hash",
        readonly=True,
        copy=False,
        help="SHA-256 of the booked columns chained to the card's previous entry, set by the database.",
    )

    _sql_constraints = [
        ("posting_key_unique", "unique(posting_key)", "This gift card movement was already posted."),
        ("amount_not_zero", "CHECK(amount <> 0)", "A gift card movement moves some money."),
        ("balance_after_not_negative", "CHECK(balance_after >= 0)", "A gift card balance cannot go below zero."),
    ]

    def init(self):
        """The triggers that make the ledger append-only and chain its entries (tamper-evident)."""
        create_append_only_trigger(self.env.cr, self._table, GIFT_ENTRY_COLUMNS, fill_once_columns=("chain_digest",))
        create_chain_trigger(self.env.cr, self._table, "gift_card_id", GIFT_ENTRY_COLUMNS)

    @api.model
    def _selection_origin_reference(self):
        return self.env["loyalty.club.entry"]._selection_origin_reference()

    @api.depends("origin_model", "origin_id")
    def _compute_origin_reference(self):
        for entry in self:
            if entry.origin_model and entry.origin_id and entry.origin_model in self.env:
                entry.origin_reference = f"{entry.origin_model},{entry.origin_id}"
            else:
                entry.origin_reference = False

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.context.get("loyalty_club_posting"):
            raise UserError(self.env._("Gift card entries are created by the club's posting service only."))
        return super().create(vals_list)

    def write(self, vals):
        if vals:
            raise UserError(self.env._("Gift card entries cannot be modified; post a correcting entry instead."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("Gift card entries cannot be deleted; post a correcting entry instead."))
