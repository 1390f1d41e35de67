import logging
from datetime import date, datetime, time

from dateutil.relativedelta import relativedelta

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

SETTLEMENT_STATES = [
    ("balanced", "Nothing to bill"),
    ("unbilled", "To bill"),
    ("draft", "Draft"),
    ("posted", "Posted"),
    ("cancel", "Cancelled"),
]


class LoyaltyClubCoalitionSettlement(models.Model):
    """What the club and one coalition partner owe each other for a month: the points members
    redeemed there (the club owes their value) and earned there (the partner owes it), booked as a
    draft vendor bill (the club owes) or customer invoice (the partner owes).

    One settlement per partner and month (unique), and each transaction belongs to one settlement
    only (the database refuses to move a settled one): running the job again settles nothing twice.
    Transactions that reach the server after their month was settled go into the next month's.
    """

    _name = "loyalty.club.coalition.settlement"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Coalition Partner Settlement"
    _order = "date_from desc, id desc"
    _check_company_auto = True

    name = fields.Char(required=True, readonly=True)
    coalition_partner_id = fields.Many2one(
        "loyalty.club.coalition.partner", "Partner", required=True, index=True, ondelete="restrict", readonly=True
    )
    partner_id = fields.Many2one("res.partner", "Partner business", required=True, readonly=True)
    club_id = fields.Many2one("loyalty.club", required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id", readonly=True)
    date_from = fields.Date("Month", required=True, readonly=True)
    date_to = fields.Date("Until", required=True, readonly=True)
    transaction_ids = fields.One2many(
        "loyalty.club.coalition.transaction", "settlement_id", "Transactions", readonly=True
    )
    points_redeemed = fields.Integer(readonly=True)
    points_earned = fields.Integer(readonly=True)
    amount_redeemed = fields.Monetary("Club owes", readonly=True, help="Value of the points redeemed at the partner.")
    amount_earned = fields.Monetary("Partner owes", readonly=True, help="Value of the points earned at the partner.")
    amount_net = fields.Monetary(
        "Balance", readonly=True, help="What the club owes the partner (negative: what the partner owes the club)."
    )
    move_id = fields.Many2one("account.move", "Bill or invoice", readonly=True, copy=False, ondelete="set null")
    state = fields.Selection(SETTLEMENT_STATES, compute="_compute_state")

    _sql_constraints = [
        (
            "month_unique",
            "unique(coalition_partner_id, date_from)",
            "This partner's month is already settled.",
        ),
    ]

    @api.depends("move_id.state", "amount_net")
    def _compute_state(self):
        for settlement in self:
            if settlement.move_id:
                settlement.state = settlement.move_id.state
            elif settlement.currency_id.is_zero(settlement.amount_net):
                settlement.state = "balanced"
            else:
                settlement.state = "unbilled"  # its bill or invoice was deleted: still owed

    # ------------------------------------------------------------------
    # Settling (server only)
    # ------------------------------------------------------------------
    @api.model
    def _settle(self, coalitions, month):
        """Settle the month of ``month`` (any date in it) with each of ``coalitions``: the partner's
        transactions of that month and before that no settlement took yet, each partner under its
        row lock. A month settled before is left alone; a month without transactions gives none.

        :returns: the new settlements (sudo)
        """
        month_start = fields.Date.to_date(month).replace(day=1)
        if month_start >= date.today().replace(day=1):
            raise ValidationError(self.env._("Only a month that is over can be settled."))
        settlements = self.sudo().browse()
        for coalition in coalitions.sudo():
            settlement = self._settle_one(coalition, month_start)
            if settlement:
                settlements |= settlement
        return settlements

    @api.model
    def _settle_one(self, coalition, month_start):
        Settlement = self.sudo()
        Transaction = self.env["loyalty.club.coalition.transaction"].sudo()
        self.env["loyalty.club.posting"]._lock_rows(coalition)
        if Settlement.search_count([("coalition_partner_id", "=", coalition.id), ("date_from", "=", month_start)]):
            return Settlement
        next_month = month_start + relativedelta(months=1)
        until = datetime.combine(next_month, time.min)
        Transaction.flush_model()
        pending = Transaction.search(
            [
                ("coalition_partner_id", "=", coalition.id),
                ("settlement_id", "=", False),
                ("state", "=", "done"),
                ("date", "<", until),
            ]
        )
        if not pending:
            return Settlement
        settlement = Settlement.create(
            {
                "name": self.env._(
                    "%(partner)s, %(month)s", partner=coalition.name, month=month_start.strftime("%Y-%m")
                ),
                "coalition_partner_id": coalition.id,
                "partner_id": coalition.partner_id.id,
                "club_id": coalition.club_id.id,
                "company_id": coalition.company_id.id,
                "date_from": month_start,
                "date_to": next_month - relativedelta(days=1),
            }
        )
        # Only transactions no settlement took: the database refuses to move a settled one.
        rows = self.env.execute_query(
            SQL(
                """UPDATE loyalty_club_coalition_transaction SET settlement_id = %(settlement)s
                    WHERE id = ANY(%(ids)s) AND settlement_id IS NULL AND state = 'done'
                RETURNING kind, points, value""",
                settlement=settlement.id,
                ids=pending.ids,
            )
        )
        Transaction.invalidate_model(["settlement_id"])
        currency = coalition.currency_id
        points = {"redeem": 0, "earn": 0}
        amounts = {"redeem": 0, "earn": 0}
        for kind, count, value in rows:
            points[kind] += count
            amounts[kind] += value  # numeric: Decimal sums, exact
        redeemed = currency.round(float(amounts["redeem"]))
        earned = currency.round(float(amounts["earn"]))
        settlement.write(
            {
                "points_redeemed": points["redeem"],
                "points_earned": points["earn"],
                "amount_redeemed": redeemed,
                "amount_earned": earned,
                "amount_net": currency.round(float(amounts["redeem"] - amounts["earn"])),
            }
        )
        if not currency.is_zero(settlement.amount_net):
            settlement.move_id = settlement._make_move()
        return settlement

    def _make_move(self):
        """The draft vendor bill (the club owes the partner) or customer invoice (the partner owes
        the club) of this settlement, in the company's currency, without taxes."""
        self.ensure_one()
        owes = self.currency_id.compare_amounts(self.amount_net, 0) > 0
        sign = 1 if owes else -1
        coalition = self.coalition_partner_id
        fmt = self.env["loyalty.club"]._format_points
        lines = []
        for points, amount, label in (
            (self.points_redeemed, self.amount_redeemed, self.env._("%s club points redeemed by members")),
            (self.points_earned, -self.amount_earned, self.env._("%s club points earned by members")),
        ):
            if not points:
                continue
            line = {
                "name": f"{self.name}: {label % fmt(points)}",
                "quantity": 1,
                "price_unit": sign * amount,
                "tax_ids": [Command.clear()],
            }
            # a club that books its points: paying the partner for redeemed points offsets the
            # release of the liability on the redemption account
            account = coalition.account_id or coalition.club_id.points_redemption_account_id
            if account:
                line["account_id"] = account.id
            lines.append(Command.create(line))
        Move = self.env["account.move"].sudo().with_company(self.company_id)
        try:
            return Move.create(
                {
                    "move_type": "in_invoice" if owes else "out_invoice",
                    "partner_id": self.partner_id.id,
                    "company_id": self.company_id.id,
                    "currency_id": self.currency_id.id,
                    "invoice_date": self.date_to,
                    "ref": self.name,
                    "invoice_origin": self.name,
                    "invoice_line_ids": lines,
                }
            )
        except (UserError, ValidationError) as error:
            raise UserError(
                self.env._(
                    "The settlement %(name)s could not be billed: %(error)s", name=self.name, error=error.args[0]
                )
            ) from error

    @api.model
    def _cron_settle_last_month(self):
        """Monthly job: settle last month with every partner (an archived one too: what was booked
        there is still owed), each in a savepoint (one partner that cannot be billed does not stop
        the others; it is settled at the next run)."""
        month = date.today().replace(day=1) - relativedelta(months=1)
        done = self.sudo().browse()
        Coalition = self.env["loyalty.club.coalition.partner"].sudo().with_context(active_test=False)
        for coalition in Coalition.search(
            [("transaction_ids", "any", [("settlement_id", "=", False), ("state", "=", "done")])]
        ):
            try:
                with self.env.cr.savepoint():
                    done |= self._settle(coalition, month)
            except UserError as error:
                _logger.warning("loyalty_club: partner %s not settled: %s", coalition.id, error.args[0])
        return done

    def action_make_move(self):
        """Bill a settlement again (club managers) whose bill or invoice an accountant deleted or
        cancelled: the same amounts, a new draft; a settlement still billed is left alone."""
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise AccessError(self.env._("Only club managers can bill settlements with partners."))
        self.check_access("read")
        for settlement in self.sudo():
            self.env["loyalty.club.posting"]._lock_rows(settlement)  # a double click bills once
            if settlement.state not in ("unbilled", "cancel"):
                raise UserError(
                    self.env._(
                        "The settlement %(name)s has nothing to bill again (%(state)s).",
                        name=settlement.name,
                        state=dict(SETTLEMENT_STATES)[settlement.state],
                    )
                )
            settlement.move_id = settlement._make_move()
        return self.action_view_move() if len(self) == 1 else True

    def action_view_move(self):
        """The settlement's bill or invoice."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": self.move_id.id,
            "view_mode": "form",
        }
