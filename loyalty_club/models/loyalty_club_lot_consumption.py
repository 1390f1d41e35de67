from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools.append_only import create_append_only_trigger

# What a consumption row records once and for all; only points_returned moves (up to points).
CONSUMPTION_IMMUTABLE_COLUMNS = ("debit_entry_id", "lot_id", "company_id", "points")


class LoyaltyClubLotConsumption(models.Model):
    """Which lots a debit took its points from, and how many of them were given back since.

    Written by the posting service only (set-based SQL, in the transaction and under the card
    lock of the debit). A give-back (a credit whose ``reversed_entry`` is the debit: a cancelled
    or refunded redemption) returns the points to these lots, with their own expiry, instead of
    opening a new lot with a fresh validity. Debits booked before this table existed have no
    rows: their give-backs open a new lot, as before.
    """

    _name = "loyalty.club.lot.consumption"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Lot Consumption"
    _order = "id"
    _log_access = False

    debit_entry_id = fields.Many2one(
        "loyalty.club.entry", "Debit", required=True, index=True, ondelete="restrict", readonly=True
    )
    lot_id = fields.Many2one("loyalty.club.entry", required=True, ondelete="restrict", readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    points = fields.Integer("Points taken", required=True, readonly=True)
    points_returned = fields.Integer("Points given back", readonly=True)

    _sql_constraints = [
        ("points_positive", "CHECK(points > 0)", "A consumption takes at least one point."),
        (
            "returned_in_range",
            "CHECK(COALESCE(points_returned, 0) BETWEEN 0 AND points)",
            "A lot gets back at most what was taken from it.",
        ),
    ]

    def init(self):
        """The table is append-only too: only ``points_returned`` changes."""
        create_append_only_trigger(self.env.cr, self._table, CONSUMPTION_IMMUTABLE_COLUMNS)

    @api.model_create_multi
    def create(self, vals_list):  # pylint: disable=method-required-super
        raise UserError(self.env._("Lot consumptions are recorded by the club's posting service only."))

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(self.env._("Lot consumptions are recorded by the club's posting service only."))

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        """Lot consumptions are never deleted (the database trigger refuses it too)."""
        raise UserError(self.env._("Lot consumptions are recorded by the club's posting service only."))
