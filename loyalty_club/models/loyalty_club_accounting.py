from datetime import timedelta
from decimal import Decimal

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

# Codes of the accounts the setup creates (or finds) in the club's company. CLUBPTS is also the
# account the till's "Club points" payment method books redeemed points on (loyalty_club_pos.py).
POINTS_ACCOUNTS = {
    "points_liability_account_id": ("CLUBLIAB", "liability_current"),
    "points_revenue_account_id": ("CLUBDEF", "income"),
    "points_redemption_account_id": ("CLUBPTS", "expense"),
    "points_expense_account_id": ("CLUBBON", "expense"),
    "points_opening_account_id": ("CLUBOPEN", "equity"),
}
BREAKAGE_HISTORY_MONTHS = 24


class LoyaltyClub(models.Model):
    # one subject per file: the club model is extended here for its points in the general ledger
    _inherit = "loyalty.club"  # pylint: disable=consider-merging-classes-inherited

    points_accounting = fields.Boolean(
        "Book points in accounting",
        help="Book the points liability (IFRS 15 deferred revenue) in the general ledger: a nightly job "
        "books what the ledger moved, one journal entry per day and branch (or per order).",
    )
    points_accounting_start = fields.Date(
        "Booked since",
        readonly=True,
        copy=False,
        help="Day the club began booking its points; what was outstanding before is booked by one "
        "opening entry on the day before.",
    )
    points_booked_until = fields.Datetime(
        "Points booked until",
        readonly=True,
        copy=False,
        help="Every ledger entry dated before this instant is in a journal entry (set by the nightly job).",
    )
    points_journal_id = fields.Many2one(
        "account.journal",
        "Points journal",
        check_company=True,
        domain="[('type', '=', 'general')]",
        help="Miscellaneous journal of the points' journal entries.",
    )
    points_liability_account_id = fields.Many2one(
        "account.account",
        "Points liability account",
        check_company=True,
        help="Credited by the points the club owes its members (deferred revenue), debited when they "
        "are redeemed, expire or are taken back.",
    )
    points_revenue_account_id = fields.Many2one(
        "account.account",
        "Deferred revenue account",
        check_company=True,
        help="Revenue account debited by the part of a sale deferred for the points it earns, and "
        "credited when they expire or are taken back.",
    )
    points_redemption_account_id = fields.Many2one(
        "account.account",
        "Redemption account",
        check_company=True,
        help="Credited when points are redeemed and debited when a redemption is given back: the "
        "account the till's 'Club points' payment method and the reward products debit, so the "
        "redemption and the release of the liability cancel out.",
    )
    points_expense_account_id = fields.Many2one(
        "account.account",
        "Granted points account",
        check_company=True,
        help="Expense of points given without a sale: bonuses, manual adjustments, card transfers.",
    )
    points_opening_account_id = fields.Many2one(
        "account.account",
        "Opening account",
        check_company=True,
        help="Counterpart of the opening entry (the points outstanding when accounting began) and of "
        "imported opening balances.",
    )
    points_accounting_value = fields.Monetary(
        "Accounting value of a point",
        compute="_compute_points_accounting_value",
        store=True,
        readonly=False,
        precompute=True,
        help="What one point is worth in the books, in the company's currency. Follows the club's "
        "value of a point unless set; a change is booked as a change in estimate by the next entry.",
    )
    points_breakage = fields.Float(
        "Expected breakage (%)",
        digits=(5, 2),
        default=0.0,
        help="Share of the points expected never to be redeemed. The liability booked is the points' "
        "value less this share; a change is booked as a change in estimate by the next entry.",
    )
    points_accounting_grouping = fields.Selection(
        [("day", "One entry per day and branch"), ("order", "One entry per order")],
        "Journal entries",
        default="day",
        required=True,
    )

    _sql_constraints = [
        (
            "points_breakage_range",
            "CHECK(points_breakage >= 0 AND points_breakage < 100)",
            "The expected breakage is a percentage from 0 to less than 100.",
        ),
        (
            "points_accounting_value_positive",
            "CHECK(points_accounting_value IS NULL OR points_accounting_value >= 0)",
            "The accounting value of a point cannot be negative.",
        ),
    ]

    @api.constrains("points_breakage", "points_accounting_value")
    def _check_points_valuation(self):
        for club in self:
            if not 0 <= club.points_breakage < 100:
                raise ValidationError(self.env._("The expected breakage is a percentage from 0 to less than 100."))
            if club.points_accounting_value < 0:
                raise ValidationError(self.env._("The accounting value of a point cannot be negative."))

    @api.depends("point_value")
    def _compute_points_accounting_value(self):
        for club in self:
            club.points_accounting_value = club.point_value

    @api.constrains("points_accounting", *POINTS_ACCOUNTS, "points_journal_id")
    def _check_points_accounting(self):
        for club in self.filtered("points_accounting"):
            missing = [
                club._fields[name]._description_string(self.env)
                for name in ("points_journal_id", *POINTS_ACCOUNTS)
                if not club[name]
            ]
            if missing:
                raise ValidationError(
                    self.env._(
                        "To book the points of %(club)s in accounting, set: %(fields)s (or use the setup button).",
                        club=club.name,
                        fields=", ".join(missing),
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        clubs = super().create(vals_list)
        clubs._start_points_accounting()
        return clubs

    def write(self, vals):
        result = super().write(vals)
        if vals.get("points_accounting"):
            self._start_points_accounting()
        return result

    def _start_points_accounting(self):
        """The first day of booking is the day accounting is switched on (the opening entry books
        what was outstanding before)."""
        for club in self.filtered(lambda club: club.points_accounting and not club.points_accounting_start):
            club.sudo().points_accounting_start = fields.Date.context_today(club)

    def action_setup_points_accounting(self):
        """Create (or find) the points journal and accounts in the club's company and switch the
        booking of points on."""
        self.ensure_one()
        company = self.company_id
        Account = self.env["account.account"].sudo().with_company(company)
        names = {
            "points_liability_account_id": self.env._("Club points outstanding"),
            "points_revenue_account_id": self.env._("Revenue deferred for club points"),
            "points_redemption_account_id": self.env._("Club points redeemed"),
            "points_expense_account_id": self.env._("Club points granted"),
            "points_opening_account_id": self.env._("Club points before accounting"),
        }
        values = {}
        for field_name, (code, account_type) in POINTS_ACCOUNTS.items():
            if self[field_name]:
                continue
            account = Account.search([("code", "=", code), ("company_ids", "in", company.ids)], limit=1)
            values[field_name] = (
                account
                or Account.create(
                    {
                        "name": names[field_name],
                        "code": code,
                        "account_type": account_type,
                        "company_ids": [Command.set(company.ids)],
                    }
                )
            ).id
        if not self.points_journal_id:
            Journal = self.env["account.journal"].sudo().with_context(active_test=False).with_company(company)
            taken = set(Journal.search([("company_id", "=", company.id)]).mapped("code"))
            code = next(code for code in ["CLPTS", *(f"CLPT{n}" for n in range(2, 10))] if code not in taken)
            values["points_journal_id"] = Journal.create(
                {"name": self.env._("Club points"), "type": "general", "code": code, "company_id": company.id}
            ).id
        self.sudo().write({**values, "points_accounting": True})
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "The points of %s are booked in accounting from today; the nightly job books the opening entry.",
                    self.name,
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_compute_breakage(self):
        """Set the expected breakage from the last 24 months: expired points out of the points that
        left the cards by redemption or expiry."""
        self.ensure_one()
        since = fields.Datetime.now() - timedelta(days=round(BREAKAGE_HISTORY_MONTHS * 30.44))
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT COALESCE(-SUM(points) FILTER (WHERE kind = 'expire'), 0),
                          COALESCE(-SUM(points) FILTER (WHERE kind = 'redeem'), 0)
                     FROM loyalty_club_entry
                    WHERE club_id = %s AND date >= %s AND kind IN ('expire', 'redeem')""",
                self.id,
                since,
            )
        )
        expired, redeemed = self.env.cr.fetchone()
        if expired + redeemed <= 0:
            raise UserError(
                self.env._(
                    "No point was redeemed or expired in %s months: set the breakage by hand.", BREAKAGE_HISTORY_MONTHS
                )
            )
        breakage = Decimal(expired) * 100 / Decimal(expired + redeemed)
        self.points_breakage = float(breakage.quantize(Decimal("0.01")))
        return True

    def _points_accounting_unit(self):
        """Value booked per outstanding point (Decimal): the accounting value less the breakage."""
        self.ensure_one()
        value = Decimal(repr(self.points_accounting_value or 0))
        breakage = Decimal(repr(self.points_breakage or 0))
        return value * (100 - breakage) / 100

    def action_open_points_batches(self):
        """Journal entries of the club's points."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_accounting_batch_action")
        action["domain"] = [("club_id", "=", self.id)]
        return action
