from odoo import fields, models


class LoyaltyClubImportLine(models.TransientModel):
    """One problem found in a row of a member import file (an error skips the row, a warning
    does not)."""

    _name = "loyalty.club.import.line"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Member Import Problem"
    _order = "line_number, id"

    wizard_id = fields.Many2one("loyalty.club.import.wizard", required=True, index=True, ondelete="cascade")
    line_number = fields.Integer("Line", readonly=True, help="Line of the file (1 = the header row).")
    column = fields.Char(readonly=True)
    severity = fields.Selection(
        [("error", "Error: row skipped"), ("warning", "Warning: row imported")], required=True, readonly=True
    )
    message = fields.Char("Problem", readonly=True)
    value = fields.Char(readonly=True, help="The value of the cell (never shown for a PIN).")
    row_values = fields.Text("Row", readonly=True, help="The row's cells (without the PIN), for the error report.")
