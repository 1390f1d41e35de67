import logging
from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

ENTRY_REL = "loyalty_club_accounting_batch_entry_rel"
# journal entries a club books per call of the nightly job (it is called again for the rest)
BOOKING_LIMIT = 1000
# origins that get a journal entry of their own when the club books per order
ORDER_MODELS = ("sale.order", "pos.order", "account.move")
# counterpart of the liability, per side of a ledger movement (fields of loyalty.club)
SIDE_ACCOUNT_FIELDS = {
    "revenue": "points_revenue_account_id",
    "redemption": "points_redemption_account_id",
    "expense": "points_expense_account_id",
    "opening": "points_opening_account_id",
}
# Side of each ledger row e (r: the entry it reverses, l: the lot it expires). Points a sale
# earned defer its revenue (and come back to it when they expire or are taken back); redemptions
# release the liability against the redemption account; points given without a sale are an
# expense; imported opening balances and what was outstanding before accounting began go to the
# opening account.
ENTRY_SIDE = SQL("""CASE
    WHEN e.kind = 'opening' OR (e.kind = 'reverse' AND r.kind = 'opening') THEN 'opening'
    WHEN e.kind = 'redeem' OR (e.kind = 'reverse' AND r.kind = 'redeem') THEN 'redemption'
    WHEN e.kind IN ('bonus', 'adjust', 'transfer')
      OR (e.kind = 'reverse' AND r.kind IN ('bonus', 'adjust', 'transfer'))
      OR (e.kind = 'expire' AND l.kind IN ('bonus', 'adjust')) THEN 'expense'
    ELSE 'revenue' END""")


class LoyaltyClubAccountingBatch(models.Model):
    """Ledger entries of one day and branch (or one order) booked by one journal entry.

    Each batch covers its ledger rows (a row is covered once: a unique index on the relation) and
    keeps the club's outstanding points and booked liability of its branch after it, so the next
    batch books the change that brings the liability account to *outstanding points x value of a
    point x (1 - breakage)*, to the cent: a change of the value or of the breakage is booked as a
    change in estimate by the next batch.
    """

    _name = "loyalty.club.accounting.batch"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Points Journal Entry"
    _order = "date desc, id desc"
    _check_company_auto = True

    club_id = fields.Many2one("loyalty.club", required=True, readonly=True, index=True, ondelete="restrict")
    company_id = fields.Many2one("res.company", "Club company", required=True, readonly=True)
    branch_id = fields.Many2one("res.company", required=True, readonly=True, help="Company or branch booked.")
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date("Day", required=True, readonly=True, help="Day of the ledger entries covered.")
    kind = fields.Selection([("opening", "Opening"), ("day", "Day"), ("order", "Order")], required=True, readonly=True)
    origin_model = fields.Char(readonly=True)
    origin_id = fields.Many2oneReference("Origin record ID", model_field="origin_model", readonly=True)
    move_id = fields.Many2one("account.move", "Journal entry", readonly=True, index="btree_not_null")
    entry_ids = fields.Many2many(
        "loyalty.club.entry", ENTRY_REL, "batch_id", "entry_id", "Ledger entries", readonly=True
    )
    entry_count = fields.Integer("Ledger entries covered", readonly=True)
    points = fields.Integer(readonly=True, help="Net points of the ledger entries covered.")
    outstanding_points = fields.Integer(
        "Outstanding points after", readonly=True, help="Points of the branch booked so far, this batch included."
    )
    point_value = fields.Monetary("Accounting value of a point", readonly=True)
    breakage = fields.Float("Breakage (%)", digits=(5, 2), readonly=True)
    amount = fields.Monetary("Liability change", readonly=True, help="Credit (positive) or debit of the liability.")
    balance = fields.Monetary(
        "Liability after", readonly=True, help="Liability booked for the branch after this batch."
    )

    def init(self):
        self.env.cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (entry_id)",
                SQL.identifier(f"{ENTRY_REL}_entry_unique"),
                SQL.identifier(ENTRY_REL),
            )
        )

    @api.depends("date", "branch_id", "kind")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for batch in self:
            batch.display_name = f"{kinds.get(batch.kind, '')} {batch.date or ''} {batch.branch_id.name or ''}".strip()

    def write(self, vals):
        if not self.env.su:
            raise UserError(self.env._("Points journal entries are made by the nightly job only."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        """A booked batch stays: its ledger rows would be booked again."""
        raise UserError(self.env._("Points journal entries cannot be deleted; correct the points in the club instead."))

    def action_view_entries(self):
        """Ledger entries this batch booked."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_entry_action")
        action.update(domain=[("accounting_batch_ids", "in", self.ids)], context={"create": False})
        return action

    # ---------------------------------------------------------------- booking

    @api.model
    def _cron_book_points(self, limit=BOOKING_LIMIT):
        """Book, for every club that books its points, the ledger entries dated before today (UTC),
        at most ``limit`` journal entries per club and call: Odoo calls the job again until
        everything is booked (a club booking per order may have thousands a day)."""
        until = datetime.combine(fields.Date.today(), time.min)
        done = left = 0
        for club in self.env["loyalty.club"].sudo().search([("points_accounting", "=", True)]):
            try:
                with self.env.cr.savepoint():
                    batches, club_left = self._book_club_groups(club, until, limit)
                done, left = done + len(batches), left + club_left
            except (UserError, ValidationError) as error:
                _logger.warning("loyalty_club: points of club %s not booked: %s", club.id, error)
        self.env["ir.cron"]._notify_progress(done=done, remaining=left)

    @api.model
    def _book_club_points(self, club, until=None):
        """Book the ledger entries of ``club`` dated before ``until`` (a datetime, UTC; default the
        start of today) that no batch covers yet: one batch and journal entry per day and branch
        (or per order), never twice (a unique index, and the club row locked by the run).

        :returns: the batches created
        """
        return self._book_club_groups(club, until)[0]

    @api.model
    def _book_club_groups(self, club, until=None, limit=None):
        """:meth:`_book_club_points`, at most ``limit`` journal entries (the first days, branches
        and orders): returns ``(batches, groups left for the next call)``."""
        club = club.sudo()
        if not club.points_accounting:
            return self.browse(), 0
        until = until or datetime.combine(fields.Date.today(), time.min)
        cr = self.env.cr
        # one run per club at a time; a run that waited finds the club row changed by the one it
        # waited for and fails with a serialization error that Odoo retries on a fresh snapshot
        cr.execute(SQL("SELECT id FROM loyalty_club WHERE id = %s FOR NO KEY UPDATE", club.id))
        self.env.flush_all()
        scope = self._uncovered_entries(club, until)
        cr.execute(
            SQL(
                """SELECT branch_id, day, origin_model, origin_id, side, kind, SUM(points), COUNT(*)
                     FROM (%s) rows
                 GROUP BY branch_id, day, origin_model, origin_id, side, kind
                 ORDER BY day, branch_id, origin_model NULLS FIRST, origin_id NULLS FIRST, side, kind""",
                scope,
            )
        )
        groups = defaultdict(list)
        for branch_id, day, origin_model, origin_id, side, kind, points, count in cr.fetchall():
            groups[branch_id, day, origin_model, origin_id].append((side, kind, int(points), count))
        left = max(len(groups) - limit, 0) if limit else 0
        if left:
            groups = dict(islice(groups.items(), limit))
        if not left:
            club.points_booked_until = max(until, club.points_booked_until or until)
            club.flush_recordset(["points_booked_until"])
        # the club row changes with every run (a run waiting for this one must see it changed)
        cr.execute(SQL("UPDATE loyalty_club SET write_date = now() AT TIME ZONE 'UTC' WHERE id = %s", club.id))
        if not groups:
            return self.browse(), 0
        batches = self._create_batches(club, groups)
        cr.execute(
            SQL(
                """INSERT INTO %(rel)s (batch_id, entry_id)
                   SELECT g.batch_id, rows.id
                     FROM (%(scope)s) rows
                     JOIN unnest(%(batch)s::int[], %(branch)s::int[], %(day)s::date[], %(model)s::varchar[],
                                 %(origin)s::int[]) AS g(batch_id, branch_id, day, origin_model, origin_id)
                       ON g.branch_id = rows.branch_id AND g.day = rows.day
                      AND g.origin_model IS NOT DISTINCT FROM rows.origin_model
                      AND g.origin_id IS NOT DISTINCT FROM rows.origin_id""",
                rel=SQL.identifier(ENTRY_REL),
                scope=scope,
                batch=[batch.id for batch in batches],
                branch=[key[0] for key in groups],
                day=[key[1] for key in groups],
                model=[key[2] for key in groups],
                origin=[key[3] for key in groups],
            )
        )
        expected = sum(count for lines in groups.values() for *_rest, count in lines)
        if cr.rowcount != expected:
            raise UserError(self.env._("The ledger changed while its points were booked; the job will try again."))
        batches.invalidate_recordset(["entry_ids"])
        return batches, left

    @api.model
    def _uncovered_entries(self, club, until):
        """SELECT of the club's ledger rows dated before ``until`` that no batch covers, with their
        branch, day, origin (per-order booking) and side. Rows dated before the club began booking
        go to the opening (the day before it began). After the first run, only rows created since
        the day before the previous run's limit are looked at (a backdated row, a till's order
        synced late, is still created after it), so the nightly job reads one day of the ledger.
        A row booked in a company that is not the club's nor one of its branches is booked in
        the club's company."""
        start = datetime.combine(club.points_accounting_start, time.min)
        per_order = club.points_accounting_grouping == "order"
        origin_model = (
            SQL("CASE WHEN e.date >= %s AND e.origin_model IN %s THEN e.origin_model END", start, ORDER_MODELS)
            if per_order
            else SQL("NULL::varchar")
        )
        origin_id = (
            SQL("CASE WHEN e.date >= %s AND e.origin_model IN %s THEN e.origin_id END", start, ORDER_MODELS)
            if per_order
            else SQL("NULL::int")
        )
        since = (
            SQL("AND e.create_date >= %s", club.points_booked_until - timedelta(days=1))
            if club.points_booked_until
            else SQL()
        )
        return SQL(
            """SELECT e.id, e.points, e.kind AS entry_kind,
                      CASE WHEN starts_with(bc.parent_path, cc.parent_path) THEN bc.id ELSE cc.id END AS branch_id,
                      CASE WHEN e.date < %(start)s THEN %(opening_day)s ELSE e.date::date END AS day,
                      %(origin_model)s AS origin_model, %(origin_id)s AS origin_id,
                      CASE WHEN e.date < %(start)s THEN 'opening' ELSE %(side)s END AS side,
                      CASE WHEN e.date < %(start)s THEN 'opening' ELSE e.kind END AS kind
                 FROM loyalty_club_entry e
                 JOIN res_company cc ON cc.id = e.company_id
                 JOIN res_company bc ON bc.id = COALESCE(e.branch_id, e.company_id)
            LEFT JOIN loyalty_club_entry r ON r.id = e.reversed_entry_id
            LEFT JOIN loyalty_club_entry l ON l.id = e.lot_id AND e.kind = 'expire'
                WHERE e.club_id = %(club)s AND e.date < %(until)s %(since)s
                  AND NOT EXISTS (SELECT 1 FROM %(rel)s b WHERE b.entry_id = e.id)""",
            start=start,
            opening_day=club.points_accounting_start - timedelta(days=1),
            origin_model=origin_model,
            origin_id=origin_id,
            side=ENTRY_SIDE,
            club=club.id,
            until=until,
            since=since,
            rel=SQL.identifier(ENTRY_REL),
        )

    @api.model
    def _create_batches(self, club, groups):
        """One batch (and journal entry, unless it books nothing) per group of ``groups``:
        ``{(branch id, day, origin model, origin id): [(side, kind, points, count)]}``, in order."""
        currency = club.company_id.currency_id
        unit = club._points_accounting_unit()
        start = club.points_accounting_start
        last = self._last_batches(club)
        origin_names = self._origin_names(groups)
        move_dates = {}
        batch_values, move_values = [], []
        for (branch_id, day, origin_model, origin_id), lines in groups.items():
            points = sum(line[2] for line in lines)
            outstanding_before, balance_before = last.get(branch_id, (0, 0.0))
            outstanding = outstanding_before + points
            balance = self._round(currency, Decimal(outstanding) * unit)
            change = currency.round(balance - balance_before)
            kind = "opening" if day < start else ("order" if origin_model else "day")
            branch = self.env["res.company"].browse(branch_id)
            batch_values.append(
                {
                    "club_id": club.id,
                    "company_id": club.company_id.id,
                    "branch_id": branch_id,
                    "date": day,
                    "kind": kind,
                    "origin_model": origin_model,
                    "origin_id": origin_id,
                    "entry_count": sum(line[3] for line in lines),
                    "points": points,
                    "outstanding_points": outstanding,
                    "point_value": club.points_accounting_value,
                    "breakage": club.points_breakage,
                    "amount": change,
                    "balance": balance,
                }
            )
            label = origin_names.get((origin_model, origin_id)) if origin_model else None
            if (branch_id, day) not in move_dates:
                move_dates[branch_id, day] = self._move_date(club, branch, day)
            move_values.append(
                self._move_values(club, branch, day, kind, lines, unit, change, move_dates[branch_id, day], label)
            )
            last[branch_id] = (outstanding, balance)
        moves = self.env["account.move"].sudo().create([values for values in move_values if values])
        moves.action_post()
        moves_iter = iter(moves)
        for values, move in zip(batch_values, move_values, strict=True):
            values["move_id"] = next(moves_iter).id if move else False
        return self.sudo().create(batch_values)

    @api.model
    def _origin_names(self, groups):
        """``{(model, id): name}`` of the orders of ``groups`` (one read per model)."""
        ids_by_model = defaultdict(list)
        for _branch_id, _day, origin_model, origin_id in groups:
            if origin_model:
                ids_by_model[origin_model].append(origin_id)
        names = {}
        for model, ids in ids_by_model.items():
            for origin in self.env[model].sudo().browse(ids).exists():
                names[model, origin.id] = origin.display_name
        return names

    @api.model
    def _last_batches(self, club):
        """``{branch id: (outstanding points, liability booked)}`` after the club's last batches."""
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (branch_id) branch_id, outstanding_points, balance
                     FROM loyalty_club_accounting_batch
                    WHERE club_id = %s
                 ORDER BY branch_id, id DESC""",
                club.id,
            )
        )
        return {branch_id: (points, float(balance or 0)) for branch_id, points, balance in self.env.cr.fetchall()}

    @api.model
    def _round(self, currency, value):
        """``value`` (Decimal) rounded half up to the currency's precision, as a float for the ORM."""
        step = Decimal(repr(currency.rounding))
        return float((value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)

    @api.model
    def _move_values(self, club, branch, day, kind, lines, unit, change, move_date, origin_name=None):
        """Values of the journal entry of one batch (``{}`` when it books nothing): a line per
        side and kind of movement, the liability's change, and the change in estimate or rounding
        that brings the liability to the outstanding points' booked value."""
        currency = club.company_id.currency_id
        kinds = dict(self.env["loyalty.club.entry"]._fields["kind"]._description_selection(self.env))
        kinds["opening"] = self.env._("Outstanding before accounting")
        move_lines = []
        booked = 0.0
        for side, entry_kind, points, _count in lines:
            amount = self._round(currency, Decimal(points) * unit)
            booked += amount
            move_lines.append(
                self._move_line(
                    club[SIDE_ACCOUNT_FIELDS[side]],
                    -amount,
                    self.env._("%(kind)s: %(points)s points", kind=kinds.get(entry_kind, entry_kind), points=points),
                )
            )
        estimate = currency.round(change - booked)
        if not currency.is_zero(estimate):
            move_lines.append(
                self._move_line(
                    club.points_revenue_account_id, -estimate, self.env._("Change in estimate and rounding")
                )
            )
        move_lines.append(
            self._move_line(club.points_liability_account_id, change, self.env._("Club points outstanding"))
        )
        move_lines = [line for line in move_lines if not currency.is_zero(line[2]["debit"] - line[2]["credit"])]
        if not move_lines:
            return {}
        journal = club.points_journal_id
        label = (
            self.env._("Club points outstanding before %s", club.points_accounting_start)
            if kind == "opening"
            else self.env._("Club points of %(day)s, %(branch)s", day=day, branch=branch.name)
        )
        if origin_name:
            label = self.env._("Club points of %s", origin_name)
        return {
            "move_type": "entry",
            "journal_id": journal.id,
            "company_id": branch.id,
            "date": move_date,
            "ref": label,
            "line_ids": move_lines,
        }

    @api.model
    def _move_date(self, club, branch, day):
        """Date of the journal entry of ``day``: the day, or the first day after a lock date."""
        lock_dates = branch._get_violated_lock_dates(day, False, club.points_journal_id)
        return lock_dates[-1][0] + timedelta(days=1) if lock_dates else day

    @api.model
    def _move_line(self, account, credit, name):
        """A journal item crediting ``credit`` (debiting when negative) on ``account``."""
        return (
            0,
            0,
            {"account_id": account.id, "name": name, "credit": max(credit, 0.0), "debit": max(-credit, 0.0)},
        )
