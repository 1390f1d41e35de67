from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools.append_only import create_append_only_trigger
from ..tools.ledger_chain import create_chain_trigger

ENTRY_KINDS = [
    ("earn", "Earned"),
    ("redeem", "Redeemed"),
    ("expire", "Expired"),
    ("adjust", "Adjustment"),
    ("reverse", "Reversal"),
    ("transfer", "Transfer"),
    ("bonus", "Bonus"),
    ("opening", "Opening balance (imported)"),
]

# Columns the database refuses to change once an entry exists. Only points_remaining
# (how much of an earned lot is still unspent) moves, and only within [0, points], with
# points_returned (how much was given back to the lot after being spent); partner_id moves only
# in a contact merge (see tools/append_only.py).
IMMUTABLE_COLUMNS = (
    "card_id",
    "partner_id",
    "club_id",
    "company_id",
    "branch_id",
    "pos_config_id",
    "kind",
    "points",
    "date",
    "posting_key",
    "origin_model",
    "origin_id",
    "reason",
    "reversed_entry_id",
    "lot_id",
    "expiry_date",
    "pending_until",
    "amount",
    "purchase_count",
    "qualifying",
    "user_id",
    "create_uid",
    "create_date",
)
# Columns each entry's hash chains (tools/ledger_chain.py): the booked columns but the contact,
# which a contact merge moves to the surviving contact (the card stays, and is chained).
CHAINED_COLUMNS = tuple(column for column in IMMUTABLE_COLUMNS if column != "partner_id")


class LoyaltyClubEntry(models.Model):
    """One append-only movement of points on a card; a card's balance is the sum of these."""

    _name = "loyalty.club.entry"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Ledger Entry"
    _order = "date desc, id desc"
    _check_company_auto = True

    card_id = fields.Many2one("loyalty.club.card", required=True, index=True, ondelete="restrict", readonly=True)
    partner_id = fields.Many2one("res.partner", "Member", required=True, index=True, readonly=True)
    club_id = fields.Many2one("loyalty.club", required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    branch_id = fields.Many2one("res.company", readonly=True, help="Company or branch where the movement happened.")
    pos_config_id = fields.Many2one("pos.config", "Point of Sale", readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    kind = fields.Selection(ENTRY_KINDS, required=True, readonly=True, index=True)
    points = fields.Integer(required=True, readonly=True)
    points_remaining = fields.Integer(
        "Unspent points",
        readonly=True,
        help="For a credit: the part not yet spent, expired or transferred (oldest first).",
    )
    expiry_date = fields.Date("Expires on", readonly=True)
    pending_until = fields.Datetime(
        "Pending until",
        readonly=True,
        help="For points earned by a purchase in a club with a pending period: they cannot be spent before this time.",
    )
    points_returned = fields.Integer(
        "Points given back",
        readonly=True,
        help="For a lot: points spent from it and given back to it since (a cancelled or refunded redemption).",
    )
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now, index=True)
    posting_key = fields.Char(
        required=True,
        readonly=True,
        copy=False,
        help="Unique key (origin, line, kind) that makes the posting happen once.",
    )
    origin_model = fields.Char(readonly=True)
    origin_id = fields.Many2oneReference("Origin record ID", model_field="origin_model", readonly=True)
    origin_reference = fields.Reference(
        selection="_selection_origin_reference", compute="_compute_origin_reference", string="Origin"
    )
    reason = fields.Char("Reason as booked", readonly=True)
    reason_note = fields.Char(
        "Reason",
        compute="_compute_reason_note",
        help="The reason of the entry, unless it only repeats the name of its origin.",
    )
    reversed_entry_id = fields.Many2one("loyalty.club.entry", "Reverses", readonly=True, index="btree_not_null")
    lot_id = fields.Many2one(
        "loyalty.club.entry", "Consumed lot", readonly=True, help="For an expiry: the earned lot that expired."
    )
    amount = fields.Monetary(
        "Qualifying spend", readonly=True, help="Spend that produced the entry (negative when reversed); used by tiers."
    )
    purchase_count = fields.Integer("Purchases", readonly=True)
    qualifying = fields.Boolean("Counts for tiers", readonly=True)
    user_id = fields.Many2one("res.users", "Author", readonly=True, default=lambda self: self.env.user)
    accounting_batch_ids = fields.Many2many(
        "loyalty.club.accounting.batch",
        "loyalty_club_accounting_batch_entry_rel",
        "entry_id",
        "batch_id",
        "Booked by",
        readonly=True,
        groups="loyalty_club.group_loyalty_club_user",
        copy=False,
        help="Journal entry of the club's points that booked this movement (when the club books its points).",
    )
    chain_digest = fields.Char(
        "Chain hash",
        readonly=True,
        copy=False,
        help="SHA-256 of the booked columns chained to the card's previous entry, set by the database.",
    )

    _sql_constraints = [
        ("posting_key_unique", "unique(posting_key)", "This movement was already posted."),
        ("points_not_zero", "CHECK(points <> 0)", "A ledger entry moves at least one point."),
        (
            "remaining_in_range",
            "CHECK(points_remaining >= 0 AND points_remaining <= GREATEST(points, 0))",
            "The unspent part of a lot must stay between zero and its points.",
        ),
    ]

    def init(self):
        """Indexes for lots (per card, due lots in the expiry cron's order, pending lots) and tiers,
        and the trigger that makes the ledger append-only."""
        cr = self.env.cr
        cr.execute("""
            CREATE INDEX IF NOT EXISTS loyalty_club_entry_open_lots_idx
                ON loyalty_club_entry (card_id, expiry_date, id) WHERE points_remaining > 0;
            DROP INDEX IF EXISTS loyalty_club_entry_due_lots_idx;
            CREATE INDEX IF NOT EXISTS loyalty_club_entry_due_lots_order_idx
                ON loyalty_club_entry (expiry_date, id) WHERE points_remaining > 0;
            CREATE INDEX IF NOT EXISTS loyalty_club_entry_tier_idx
                ON loyalty_club_entry (partner_id, club_id, date) WHERE qualifying;
            CREATE INDEX IF NOT EXISTS loyalty_club_entry_pending_lots_idx
                ON loyalty_club_entry (card_id, pending_until)
             WHERE points_remaining > 0 AND pending_until IS NOT NULL;
        """)
        create_append_only_trigger(
            cr, self._table, IMMUTABLE_COLUMNS, merge_column="partner_id", fill_once_columns=("chain_digest",)
        )
        create_chain_trigger(cr, self._table, "card_id", CHAINED_COLUMNS)

    @api.model
    def _selection_origin_reference(self):
        return [(model.model, model.name) for model in self.env["ir.model"].sudo().search([])]

    @api.depends("origin_model", "origin_id")
    def _compute_origin_reference(self):
        for entry in self:
            if entry.origin_model and entry.origin_id and entry.origin_model in self.env:
                entry.origin_reference = f"{entry.origin_model},{entry.origin_id}"
            else:
                entry.origin_reference = False

    @api.depends("reason", "origin_model", "origin_id")
    def _compute_reason_note(self):
        """The reason, empty when it is the origin's name (an order's earning booked with the
        order's name as its reason says nothing the Origin column does not)."""
        ids_by_model = {}
        for entry in self:
            if entry.reason and entry.origin_model in self.env and entry.origin_id:
                ids_by_model.setdefault(entry.origin_model, set()).add(entry.origin_id)
        names = {}
        for model, ids in ids_by_model.items():
            # only compared, never shown: the origin's name is read whatever the user may read
            for origin in self.env[model].sudo().browse(ids).exists():
                names[model, origin.id] = (origin.display_name or "").strip()
        for entry in self:
            origin_name = names.get((entry.origin_model, entry.origin_id))
            repeats = entry.reason and origin_name and entry.reason.strip() == origin_name
            entry.reason_note = False if repeats else entry.reason

    @api.depends("kind", "points", "card_id")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for entry in self:
            entry.display_name = f"{kinds.get(entry.kind, '')} {entry.points:+d}"

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.context.get("loyalty_club_posting"):
            raise UserError(self.env._("Ledger entries are created by the club's posting service only."))
        return super().create(vals_list)

    def write(self, vals):
        if set(vals) - {"points_remaining"}:
            raise UserError(self.env._("Ledger entries cannot be modified; post a correcting entry instead."))
        if not self.env.context.get("loyalty_club_posting"):
            raise UserError(self.env._("Ledger entries are changed by the club's posting service only."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        """Ledger entries are never deleted (the database trigger refuses it too)."""
        raise UserError(self.env._("Ledger entries cannot be deleted; post a correcting entry instead."))
