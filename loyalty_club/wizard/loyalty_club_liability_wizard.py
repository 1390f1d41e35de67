from odoo import Command, api, fields, models


class LoyaltyClubLiabilityWizard(models.TransientModel):
    """Outstanding liability as of a past date, computed with one set-based query over the ledger."""

    _name = "loyalty.club.liability.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Liability As Of"

    date = fields.Date("As of", required=True, default=fields.Date.context_today)
    company_ids = fields.Many2many(
        "res.company",
        string="Companies",
        default=lambda self: self.env.companies,
        domain=lambda self: [("id", "in", self.env.user.company_ids.ids)],
        help="Companies or branches to include (with their branches).",
    )
    line_ids = fields.One2many("loyalty.club.liability.line", "wizard_id", "Liability", readonly=True)

    def action_compute(self):
        self.ensure_one()
        Report = self.env["loyalty.club.liability.report"]
        rows = Report._liability_as_of(self.date, self.company_ids or self.env.companies)
        Report._add_booked_as_of(self.date, rows)
        self.sudo().line_ids = [Command.clear()] + [Command.create(row) for row in rows]
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Liability as of %s", self.date),
        }


class LoyaltyClubLiabilityLine(models.TransientModel):
    _name = "loyalty.club.liability.line"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Liability As Of: Line"
    _order = "company_id, branch_id, source"

    wizard_id = fields.Many2one("loyalty.club.liability.wizard", required=True, ondelete="cascade")
    source = fields.Selection(selection="_selection_source", readonly=True)
    company_id = fields.Many2one("res.company", "Club company", readonly=True)
    branch_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    points = fields.Integer("Outstanding points", readonly=True)
    value = fields.Monetary("Liability", readonly=True)
    booked = fields.Boolean("Booked in accounting", readonly=True)
    expected = fields.Monetary(
        "Liability to book",
        readonly=True,
        help="For points: the outstanding points at the accounting value of a point less the breakage "
        "of the branch's last journal entry; for gift cards: their balance.",
    )
    account_balance = fields.Monetary("Account balance", readonly=True, help="Balance of the liability account.")
    difference = fields.Monetary(readonly=True, help="Account balance less the liability to book.")

    @api.model
    def _selection_source(self):
        return self.env["loyalty.club.liability.report"]._fields["source"].selection
