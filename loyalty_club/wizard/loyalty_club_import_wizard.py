import base64
import hashlib
import json
import logging
import threading
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, email_normalize

from ..models.loyalty_club_card import IMPORT_CONTEXT_KEY, LEGACY_NUMBER_MAX_LENGTH, LEGACY_NUMBER_MIN_LENGTH
from ..models.loyalty_club_posting import MAX_POINTS_PER_POSTING
from ..tools.card_number import is_valid_card_number
from ..tools.import_file import (
    FileFormatError,
    cell_text,
    compact_number,
    header_key,
    iter_rows,
    parse_date,
    parse_whole_number,
    write_csv,
    write_xlsx,
)

_logger = logging.getLogger(__name__)

COLUMN_KEYS = ("name", "phone", "email", "birthday", "card_number", "points", "points_expiry", "tier", "pin")
# Other titles a spreadsheet commonly uses for a column.
COLUMN_SYNONYMS = {"mobile": "phone", "mail": "email", "card": "card_number", "balance": "points"}
TEXT_COLUMNS = ("phone", "card_number", "pin")  # formatted as text in the XLSX template
COUNTERS = (
    "row_count",
    "rows_done",
    "error_count",
    "warning_count",
    "new_partner_count",
    "matched_partner_count",
    "new_card_count",
    "existing_card_count",
    "opening_count",
    "opening_points",
    "unchanged_count",
)
# Tables an import fills; see refresh_statistics().
IMPORT_TABLES = ("res_partner", "loyalty_club_card", "loyalty_club_entry", "loyalty_club_tier_history")


def refresh_statistics(cr, tables=IMPORT_TABLES):
    """ANALYZE the tables a bulk import is filling.

    PostgreSQL plans with the statistics of the last (auto)analyze, which cannot see the rows of
    a transaction still running: a table that was empty then looks empty while the import has
    put thousands of rows in it, and the planner picks sequential scans (for the foreign key
    checks of every insert too), so each batch gets slower than the one before. ANALYZE in the
    same transaction counts the transaction's own rows, like Odoo does for the currency table.
    """
    cr.execute(SQL("ANALYZE %s", SQL(", ").join(SQL.identifier(table) for table in tables)))


# Context of everything an import creates: no mail tracking or creation messages (that is what
# Odoo's own import does), and the club's "import" mode (see IMPORT_CONTEXT_KEY).
IMPORT_CONTEXT = {
    IMPORT_CONTEXT_KEY: True,
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
    "mail_notrack": True,
}


class LoyaltyClubImportWizard(models.TransientModel):
    """Import members, cards and opening balances from a CSV or XLSX file.

    *Check* (dry run) reads the whole file and lists every row's problems without writing
    anything; *Import* then creates or updates the contacts, cards, PINs (hashed) and one opening
    balance entry per card, exactly once: importing the same file again changes nothing. Rows are
    processed in batches with their database matches fetched per batch, so 100,000 rows never sit
    in the ORM cache; big files are imported by a scheduled job that commits each batch.
    """

    _name = "loyalty.club.import.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Import Club Members"
    # An import of a big file runs in the background; its result stays readable for a day.
    _transient_max_hours = 24.0

    club_id = fields.Many2one(
        "loyalty.club",
        required=True,
        default=lambda self: self.env.company.root_id._loyalty_club_get(),
    )
    company_id = fields.Many2one(related="club_id.company_id")
    import_file = fields.Binary("File", attachment=False, help="CSV or XLSX; its first row names the columns.")
    filename = fields.Char("File name")
    file_checksum = fields.Char("File checksum", readonly=True)
    header_json = fields.Text("Column titles", readonly=True)
    keep_legacy_numbers = fields.Boolean(
        "Keep legacy card numbers",
        help="Import card numbers without a valid check digit as they are, flagged as legacy numbers "
        "(found by exact match only). Otherwise such rows are errors.",
    )
    batch_size = fields.Integer("Rows per batch", default=1000, required=True)
    state = fields.Selection(
        [("upload", "Upload"), ("checked", "Checked"), ("running", "Importing"), ("done", "Done")],
        default="upload",
        required=True,
        readonly=True,
    )
    native_loyalty_installed = fields.Boolean("Odoo Loyalty installed", compute="_compute_native_loyalty_installed")

    row_count = fields.Integer("Rows", readonly=True)
    rows_done = fields.Integer("Rows processed", readonly=True)
    progress = fields.Float("Progress (%)", compute="_compute_progress")
    error_count = fields.Integer("Rows with errors", readonly=True)
    warning_count = fields.Integer("Rows with warnings", readonly=True)
    new_partner_count = fields.Integer("New contacts", readonly=True)
    matched_partner_count = fields.Integer("Existing contacts", readonly=True)
    new_card_count = fields.Integer("New cards", readonly=True)
    existing_card_count = fields.Integer("Existing cards", readonly=True)
    opening_count = fields.Integer("Opening balances", readonly=True)
    opening_points = fields.Integer("Opening points", readonly=True)
    unchanged_count = fields.Integer(
        "Already imported", readonly=True, help="Rows whose member, card and opening balance exist already."
    )
    stop_reason = fields.Char("Stopped because", readonly=True)

    line_ids = fields.One2many("loyalty.club.import.line", "wizard_id", "Problems", readonly=True)
    error_report = fields.Binary("Error report", readonly=True, attachment=False)
    error_report_name = fields.Char("Error report file name", readonly=True)
    template_file = fields.Binary("Template", readonly=True, attachment=False)
    template_name = fields.Char("Template file name", readonly=True)

    _sql_constraints = [("batch_size_positive", "CHECK(batch_size > 0)", "The batch size must be positive.")]

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------
    def _compute_native_loyalty_installed(self):
        for wizard in self:
            wizard.native_loyalty_installed = "loyalty.card" in self.env

    @api.depends("rows_done", "row_count")
    def _compute_progress(self):
        for wizard in self:
            wizard.progress = 100.0 * wizard.rows_done / wizard.row_count if wizard.row_count else 0.0

    # ------------------------------------------------------------------
    # Columns
    # ------------------------------------------------------------------
    @api.model
    def _column_labels(self):
        """Column key -> title in the user's language (the template's header)."""
        return {
            "name": self.env._("Name"),
            "phone": self.env._("Phone"),
            "email": self.env._("E-mail"),
            "birthday": self.env._("Birthday"),
            "card_number": self.env._("Card number"),
            "points": self.env._("Opening points"),
            "points_expiry": self.env._("Points expire on"),
            "tier": self.env._("Tier"),
            "pin": self.env._("PIN"),
        }

    @api.model
    def _column_aliases(self):
        """Comparable title -> column key: technical keys, English titles, titles in the user's
        language and a few synonyms are all understood."""
        aliases = {header_key(key): key for key in COLUMN_KEYS}
        aliases.update({header_key(word): key for word, key in COLUMN_SYNONYMS.items()})
        for labels in (self.with_context(lang="en_US")._column_labels(), self._column_labels()):
            aliases.update({header_key(label): key for key, label in labels.items()})
        return aliases

    def _read_header(self, cells):
        """{column key: index} of the header row; a missing name column or a column given twice
        is refused."""
        aliases = self._column_aliases()
        columns, unknown = {}, []
        for index, title in enumerate(cells):
            text = cell_text(title)
            if not text:
                continue
            key = aliases.get(header_key(text))
            if not key:
                unknown.append(text)
            elif key in columns:
                raise UserError(self.env._("The column %s appears twice in the file.", text))
            else:
                columns[key] = index
        if "name" not in columns:
            raise UserError(
                self.env._(
                    "The file has no %(name)s column. Its first row must name the columns, as in the template "
                    "(%(columns)s).",
                    name=self._column_labels()["name"],
                    columns=", ".join(self._column_labels().values()),
                )
            )
        return columns, unknown

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def _check_manager(self):
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise UserError(self.env._("Only club managers can import members."))

    def _file_data(self):
        self.ensure_one()
        if not self.import_file:
            raise UserError(self.env._("Choose a CSV or XLSX file to import."))
        return base64.b64decode(self.import_file)

    def action_check(self):
        """Dry run: read the whole file, count what an import would do and list every row's
        problems (with its line number). Writes nothing but this wizard's own result."""
        self.ensure_one()
        self._check_manager()
        if self.state not in ("upload", "checked"):
            raise UserError(self.env._("This file was imported already; start a new import."))
        data = self._file_data()
        self._clear_results()
        run = _ImportRun(self, commit=False)
        run.execute(data)
        self.sudo().write(
            {
                "state": "checked",
                "file_checksum": hashlib.sha256(data).hexdigest(),
                "rows_done": 0,
                **run.counter_values(),
            }
        )
        self._build_error_report()
        return self._reopen()

    def action_import(self):
        """Import the rows the check found valid (checked again against the database now).

        A file of one batch is imported at once; a bigger one by the scheduled job *Customer
        Club: import members*, which commits after each batch and shows its progress here.
        """
        self.ensure_one()
        self._check_manager()
        if self.state != "checked":
            raise UserError(self.env._("Check the file first: the import runs on a checked file."))
        if hashlib.sha256(self._file_data()).hexdigest() != self.file_checksum:
            raise UserError(self.env._("The file changed after it was checked; check it again."))
        self.sudo().write({"state": "running", "stop_reason": False, **dict.fromkeys(COUNTERS[1:], 0)})
        if self.row_count <= self.batch_size:
            self._process_import()
        else:
            self.env.ref("loyalty_club.ir_cron_loyalty_club_import_members")._trigger()
        return self._reopen()

    def action_refresh(self):
        """Show the progress of a running import."""
        return self._reopen()

    def action_restart(self):
        """Start over with another file."""
        self.ensure_one()
        if self.state == "running":
            raise UserError(self.env._("The import is running; wait until it is done."))
        self._clear_results()
        self.sudo().write({"state": "upload", "import_file": False, "filename": False, "file_checksum": False})
        return self._reopen()

    def action_discard(self):
        """Close the wizard and forget the file."""
        self.filtered(lambda wizard: wizard.state != "running").write({"import_file": False})
        return {"type": "ir.actions.act_window_close"}

    def action_download_csv_template(self):
        """A CSV template with the columns and two example rows."""
        return self._download_template("csv")

    def action_download_xlsx_template(self):
        """An XLSX template with the columns (phone, card number and PIN formatted as text)."""
        return self._download_template("xlsx")

    def action_open_native_migration(self):
        """Open the migration from Odoo's Loyalty app."""
        return self.env["loyalty.club.native.migration.wizard"]._open_for_club(self.club_id)

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Import members"),
        }

    def _clear_results(self):
        self.env["loyalty.club.import.line"].search([("wizard_id", "in", self.ids)]).unlink()
        self.sudo().write({"error_report": False, "error_report_name": False, **dict.fromkeys(COUNTERS, 0)})

    # ------------------------------------------------------------------
    # Template and error report
    # ------------------------------------------------------------------
    def _template_rows(self):
        tier = self.club_id.tier_ids.sorted("threshold")[:1].name or ""
        return [
            ["Sara Ahmadi", "0912 000 0000", "sara.ahmadi@example.com", "1990-05-17", "", 1200, "", tier, ""],
            ["Reza Karimi", "+98 935 000 0000", "", "1370/05/12", "", 0, "", "", ""],
        ]

    def _template_content(self, file_format):
        """Bytes of the template in ``"csv"`` or ``"xlsx"``."""
        labels = self._column_labels()
        header = [labels[key] for key in COLUMN_KEYS]
        rows = self._template_rows()
        if file_format == "xlsx":
            return write_xlsx(header, rows, text_columns={COLUMN_KEYS.index(key) for key in TEXT_COLUMNS})
        return write_csv([header, *rows])

    def _download_template(self, file_format):
        self.ensure_one()
        name = f"{self.env._('club_members')}.{file_format}"
        self.sudo().write(
            {"template_file": base64.b64encode(self._template_content(file_format)), "template_name": name}
        )
        return self._download_action("template_file", "template_name")

    def _download_action(self, field, filename_field):
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/?model={self._name}&id={self.id}&field={field}"
            f"&filename_field={filename_field}&download=true",
            "target": "self",
        }

    def _build_error_report(self):
        """CSV of the rows with errors: their line, their cells (the PIN left out) and the
        problems, to fix and import again."""
        self.ensure_one()
        self.env["loyalty.club.import.line"].flush_model()
        self.env.cr.execute(
            """SELECT line_number, array_agg(message ORDER BY id), (array_agg(row_values ORDER BY id)
                          FILTER (WHERE row_values IS NOT NULL))[1]
                 FROM loyalty_club_import_line
                WHERE wizard_id = %s AND severity = 'error'
             GROUP BY line_number ORDER BY line_number""",
            [self.id],
        )
        rows = self.env.cr.fetchall()
        if not rows:
            self.sudo().write({"error_report": False, "error_report_name": False})
            return
        header = json.loads(self.header_json or "[]")
        table = [[self.env._("Line"), *header, self.env._("Problems")]]
        for line_number, messages, row_values in rows:
            cells = json.loads(row_values) if row_values else []
            cells += [""] * (len(header) - len(cells))
            table.append([line_number, *cells[: len(header)], " | ".join(messages)])
        base = (self.filename or "members").rsplit(".", 1)[0]
        self.sudo().write(
            {
                "error_report": base64.b64encode(write_csv(table)),
                "error_report_name": f"{base}-{self.env._('errors')}.csv",
            }
        )

    # ------------------------------------------------------------------
    # Import (the scheduled job's work)
    # ------------------------------------------------------------------
    def _process_import(self, time_budget=None, auto_commit=False):
        """Import from the row after the last one processed, batch by batch, until the end of the
        file or until ``time_budget`` seconds have passed.

        :param auto_commit: commit after each batch (the scheduled job): an interrupted import
            keeps what it did, and importing the file again completes it (exactly once).
        :returns: True when the file is done
        """
        self.ensure_one()
        if self.state != "running":
            return True
        run = _ImportRun(self, commit=True, auto_commit=auto_commit, time_budget=time_budget)
        finished = run.execute(self._file_data(), start=self.rows_done)
        if finished:
            self._finish_import()
        return finished

    def _finish_import(self):
        self._build_error_report()
        # The file (and the PINs in it) is not kept.
        self.sudo().write({"state": "done", "import_file": False})
        self._notify_done()

    def _notify_done(self):
        message = self.env._(
            "%(file)s: %(rows)s rows, %(cards)s new cards, %(points)s opening points, %(errors)s rows with errors.",
            file=self.filename or self.env._("Member import"),
            rows=self.row_count,
            cards=self.new_card_count,
            points=self.opening_points,
            errors=self.error_count,
        )
        self.env["bus.bus"]._sendone(
            self.create_uid.partner_id,
            "simple_notification",
            {"type": "info", "title": self.env._("Member import finished"), "message": message, "sticky": True},
        )

    @api.model
    def _cron_process_imports(self, time_budget=120):
        """Scheduled job: go on with the oldest running import for about ``time_budget`` seconds,
        as the manager who started it, committing each batch; Odoo calls again while rows remain."""
        wizard = self.sudo().search([("state", "=", "running")], order="id", limit=1)
        if not wizard:
            self.env["ir.cron"]._notify_progress(done=0, remaining=0)
            return
        wizard = wizard.with_user(wizard.create_uid).with_company(wizard.club_id.company_id)
        before = wizard.rows_done
        # Odoo's test runner and pytest-odoo both flag the thread: a test's cursor is never committed
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        try:
            wizard._process_import(time_budget=time_budget, auto_commit=auto_commit)
        except Exception as error:
            _logger.exception("loyalty_club: member import %s stopped", wizard.id)
            if auto_commit:
                self.env.cr.rollback()
            wizard.invalidate_recordset()
            wizard.sudo().write(
                {
                    "state": "done",
                    "import_file": False,
                    "stop_reason": self.env._(
                        "The import stopped after %(rows)s rows: %(error)s. Import the same file again to "
                        "complete it; rows already imported are skipped.",
                        rows=wizard.rows_done,
                        error=error,
                    ),
                }
            )
            wizard._build_error_report()
        remaining = sum(
            max(0, running.row_count - running.rows_done) for running in self.sudo().search([("state", "=", "running")])
        )
        self.env["ir.cron"]._notify_progress(done=max(0, wizard.rows_done - before), remaining=remaining)

    @api.autovacuum
    def _gc_import_files(self):
        """A file (it may hold PINs) left on a wizard nobody imported does not stay a day."""
        cutoff = fields.Datetime.now() - timedelta(hours=1)
        self.search([("import_file", "!=", False), ("state", "!=", "running"), ("write_date", "<", cutoff)]).write(
            {"import_file": False}
        )

    # ------------------------------------------------------------------
    # Tiers (shared with the migration from Odoo's Loyalty)
    # ------------------------------------------------------------------
    @api.model
    def _apply_imported_tiers(self, cards, explicit=None, note=None):
        """Set the tier of imported ``cards``: the one the file gives (``explicit``: {card id:
        tier}), else the tier their ledger qualifies for when it is higher (never a downgrade).
        Recorded in the tier history as an import, for the whole batch at once; the member gets
        no message."""
        explicit = explicit or {}
        computed = cards.filtered(lambda card: card.id not in explicit)
        metrics = computed._tier_metric_values()
        tiers_by_club = {club: club.tier_ids for club in cards.club_id}
        targets = {}
        for card in cards:
            tier = explicit.get(card.id)
            if tier is None:
                tier = card._qualified_tier(metrics.get(card.id, 0.0), tiers_by_club[card.club_id])
                if not tier or (card.tier_id and tier.threshold <= card.tier_id.threshold):
                    continue
            targets[card] = tier
        self.env["loyalty.club.card"]._change_tiers(targets, "import", note)


class _ImportRun:
    """One pass over an import file: parsing and checking rows batch by batch, then (when
    ``commit``) writing each valid batch. Counters and problems go back to the wizard."""

    def __init__(self, wizard, commit, auto_commit=False, time_budget=None):
        self.wizard = wizard
        self.env = wizard.env
        self.commit = commit
        self.auto_commit = auto_commit
        self.deadline = time.monotonic() + time_budget if time_budget else None
        self.club = wizard.club_id
        self.company = self.club.company_id
        self.wizard_id = wizard.id
        self.batch_size = wizard.batch_size
        self.keep_legacy = wizard.keep_legacy_numbers
        self.filename = wizard.filename or ""
        self.counters = {key: wizard[key] for key in COUNTERS} if commit else dict.fromkeys(COUNTERS, 0)
        self.pin_length = self.club.pin_length
        self.today = fields.Date.context_today(wizard)
        self.tiers = self._tier_names()
        # within the file (dry run): first line of each phone, card number and e-mail
        self.seen_phones, self.seen_numbers, self.seen_emails, self.seen_partners = {}, {}, {}, {}
        # import: lines the check found wrong are skipped
        self.skip_lines = set()
        if commit:
            self.skip_lines = set(
                self.env["loyalty.club.import.line"]
                .search([("wizard_id", "=", self.wizard_id), ("severity", "=", "error")])
                .mapped("line_number")
            )
        self.columns = {}
        self.header = []
        self.lines = []
        # rows written by this run, and when the statistics were last refreshed
        self.rows_written = 0
        self.analyzed_at = None

    def _tier_names(self):
        tiers = {}
        for lang in ("en_US", self.env.lang or "en_US"):
            for tier in self.club.with_context(lang=lang).tier_ids:
                tiers[tier.name.strip().casefold()] = tier.id
        return tiers

    def counter_values(self):
        return dict(self.counters)

    # --------------------------------------------------------------
    def execute(self, data, start=0):
        """Process the rows after ``start`` (rows processed so far); True when the file is done."""
        try:
            rows = iter_rows(data, self.filename)
            header = next(rows, None)
            if header is None:
                raise UserError(self.env._("The file is empty."))
            self.header = [cell_text(cell) for cell in header[1]]
            self.columns, unknown = self.wizard._read_header(header[1])
            if not self.commit:
                self.wizard.sudo().header_json = json.dumps(self.header, ensure_ascii=False)
                for title in unknown:
                    self._problem(header[0], None, "warning", self.env._("Unknown column %s: ignored.", title), title)
            batch, index = [], 0
            for line_number, cells in rows:
                index += 1
                if index <= start:
                    continue
                batch.append((line_number, cells))
                if len(batch) >= self.batch_size:
                    self._process_batch(batch)
                    batch = []
                    if self.deadline and time.monotonic() > self.deadline:
                        return False
            if batch:
                self._process_batch(batch)
            if not self.commit:
                self.counters["row_count"] = index
            return True
        except FileFormatError as error:
            _logger.info("loyalty_club: unreadable import file %s: %s", self.filename, error)
            raise UserError(
                self.env._("%s cannot be read: save it as CSV (UTF-8) or XLSX and try again.", self.filename or "")
            ) from error

    def _process_batch(self, batch):
        started = time.monotonic()
        rows = []
        for line_number, cells in batch:
            if line_number in self.skip_lines:
                self.counters["error_count"] += 1
                continue
            row = self._parse_row(line_number, cells)
            if not self.commit:
                self._check_duplicates_in_file(row)
            rows.append(row)
        self._resolve(rows)
        valid = [row for row in rows if not row["errors"]]
        if self.commit and valid:
            self._commit_valid(valid)
            self.rows_written += len(valid)
            # after the first batch, then each time the run has doubled what it wrote
            if self.analyzed_at is None or self.rows_written >= 2 * self.analyzed_at:
                self.env.flush_all()
                refresh_statistics(self.env.cr)
                self.analyzed_at = self.rows_written
        for row in rows:
            self._count(row)
        self._flush_problems()
        self.counters["rows_done"] += len(batch)
        if self.commit:
            self.wizard.sudo().write(self.counter_values())
        self.env.flush_all()
        # nothing of this batch stays in the cache: memory stays flat over 100,000 rows
        self.env.invalidate_all()
        if self.auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        _logger.info(
            "loyalty_club: member import %s (%s): %s rows processed (%.1fs for this batch)",
            self.wizard_id,
            "import" if self.commit else "check",
            self.counters["rows_done"],
            time.monotonic() - started,
        )

    # --------------------------------------------------------------
    # Problems and counters
    # --------------------------------------------------------------
    def _problem(self, line_number, row, severity, message, value=None, column=None):
        labels = self.wizard._column_labels()
        values = {
            "wizard_id": self.wizard_id,
            "line_number": line_number,
            "column": labels.get(column, column) if column else False,
            "severity": severity,
            "message": message,
            "value": cell_text(value)[:200] if value is not None and column != "pin" else False,
        }
        if row is not None:
            row["errors" if severity == "error" else "warnings"].append(message)
            if severity == "warning" and self.commit:
                return  # listed by the check already
            if severity == "error" and not row.get("reported"):
                row["reported"] = True
                pin_index = self.columns.get("pin")
                cells = ["" if index == pin_index else cell_text(cell) for index, cell in enumerate(row["cells"])]
                values["row_values"] = json.dumps(cells, ensure_ascii=False)
        self.lines.append(values)

    def _flush_problems(self):
        if self.lines:
            self.env["loyalty.club.import.line"].sudo().create(self.lines)
            self.lines = []

    def _count(self, row):
        counters = self.counters
        if row["errors"]:
            counters["error_count"] += 1
            return
        if row["warnings"]:
            counters["warning_count"] += 1
        counters["matched_partner_count" if row["partner"] else "new_partner_count"] += 1
        counters["existing_card_count" if row["card"] else "new_card_count"] += 1
        if row["post_opening"]:
            counters["opening_count"] += 1
            counters["opening_points"] += row["points"]
        elif row["card"] and (not row["points"] or row["opening_done"]):
            counters["unchanged_count"] += 1

    # --------------------------------------------------------------
    # Parsing one row
    # --------------------------------------------------------------
    def _cell(self, cells, key):
        index = self.columns.get(key)
        return cells[index] if index is not None and index < len(cells) else None

    def _parse_row(self, line_number, cells):
        """The row's values, parsed and checked one by one (``row["errors"]``, ``row["warnings"]``)."""
        row = {
            "line": line_number,
            "cells": cells,
            "errors": [],
            "warnings": [],
            "partner": None,
            "card": None,
            "post_opening": False,
            "opening_done": False,
        }
        self._parse_contact(row)
        self._parse_card_number(row)
        self._parse_opening(row)
        self._parse_tier_and_pin(row)
        if not (row["phone"] or row["email"] or row["number"]) and not row["errors"]:
            self._row_problem(
                row,
                None,
                self.env._("Give a phone, an e-mail or a card number: without one the member cannot be found again."),
            )
        return row

    def _row_problem(self, row, column, message, value=None, severity="error"):
        self._problem(row["line"], row, severity, message, value, column)

    def _parse_contact(self, row):
        row["name"] = cell_text(self._cell(row["cells"], "name"))
        if not row["name"]:
            self._row_problem(row, "name", self.env._("The name is missing."))
        phone = cell_text(self._cell(row["cells"], "phone"))
        row["phone"] = False
        if phone:
            try:
                row["phone"] = self.env["loyalty.club.card"]._normalize_phone(phone, self.company)
            except ValidationError:
                self._row_problem(row, "phone", self.env._("%s is not a valid phone number.", phone), phone)
        email = cell_text(self._cell(row["cells"], "email"))
        row["email"] = False
        if email:
            row["email"] = email_normalize(email)
            if not row["email"]:
                self._row_problem(row, "email", self.env._("%s is not a valid e-mail address.", email), email)
        row["birthday"] = self._parse_date_cell(row, "birthday")
        if row["birthday"] and row["birthday"] > self.today:
            self._row_problem(row, "birthday", self.env._("The birthday is in the future."), row["birthday"])

    def _parse_card_number(self, row):
        raw_number = self._cell(row["cells"], "card_number")
        number = compact_number(raw_number)
        row["number"], row["legacy"] = False, False
        if not number:
            return
        if not number.isascii() or not number.isdigit():
            self._row_problem(
                row,
                "card_number",
                self.env._("Card number %s: only digits are allowed.", cell_text(raw_number)),
                raw_number,
            )
        elif is_valid_card_number(number):
            row["number"] = number
        elif self.keep_legacy and LEGACY_NUMBER_MIN_LENGTH <= len(number) <= LEGACY_NUMBER_MAX_LENGTH:
            row["number"], row["legacy"] = number, True
            self._row_problem(
                row,
                "card_number",
                self.env._("Card number %s has no valid check digit: kept as a legacy number.", number),
                number,
                severity="warning",
            )
        else:
            self._row_problem(
                row,
                "card_number",
                self.env._(
                    'Card number %s is not valid (wrong length or check digit). Tick "Keep legacy card '
                    'numbers" to import numbers from another system as they are.',
                    number,
                ),
                number,
            )

    def _parse_opening(self, row):
        raw_points = self._cell(row["cells"], "points")
        row["points"] = 0
        try:
            points = parse_whole_number(raw_points) or 0
        except ValueError:
            message = self.env._("Opening points must be a whole number, not %s.", cell_text(raw_points))
            self._row_problem(row, "points", message, raw_points)
        else:
            if points < 0:
                self._row_problem(
                    row, "points", self.env._("The opening balance cannot be negative (%s).", points), raw_points
                )
            elif points > MAX_POINTS_PER_POSTING:
                self._row_problem(
                    row, "points", self.env._("The opening balance is too large (%s points).", points), raw_points
                )
            else:
                row["points"] = points
        row["expiry"] = self._parse_date_cell(row, "points_expiry")
        if row["expiry"] and row["expiry"] <= self.today:
            self._row_problem(row, "points_expiry", self.env._("The points' expiry date has passed."), row["expiry"])

    def _parse_tier_and_pin(self, row):
        tier_name = cell_text(self._cell(row["cells"], "tier"))
        row["tier"] = False
        if tier_name:
            row["tier"] = self.tiers.get(tier_name.casefold())
            if not row["tier"]:
                known = ", ".join(self.club.tier_ids.mapped("name")) or self.env._("none")
                self._row_problem(
                    row,
                    "tier",
                    self.env._("Unknown tier %(tier)s (this club's tiers: %(tiers)s).", tier=tier_name, tiers=known),
                    tier_name,
                )
        pin = compact_number(self._cell(row["cells"], "pin"))
        row["pin"] = False
        if pin:
            # the message never repeats the PIN, and the PIN cell is never stored
            if not pin.isascii() or not pin.isdigit() or len(pin) != self.pin_length:
                self._row_problem(row, "pin", self.env._("The PIN must be exactly %s digits.", self.pin_length))
            else:
                row["pin"] = pin

    def _parse_date_cell(self, row, key):
        raw = self._cell(row["cells"], key)
        if not cell_text(raw):
            return False
        value = parse_date(raw)
        if not value:
            self._row_problem(row, key, self.env._("%s is not a date (use YYYY-MM-DD).", cell_text(raw)), raw)
            return False
        return value

    def _check_duplicates_in_file(self, row):
        """The same phone, card number or e-mail twice in the file: the later rows are errors.

        An e-mail counts only when one of the two rows has no phone (rows without a phone are
        matched by e-mail; two members with phones may share an address)."""
        line = row["line"]
        if row["phone"]:
            first = self.seen_phones.setdefault(row["phone"], line)
            if first != line:
                self._problem(line, row, "error", self.env._("Same phone as line %s.", first), row["phone"], "phone")
        if row["number"]:
            first = self.seen_numbers.setdefault(row["number"], line)
            if first != line:
                self._problem(
                    line, row, "error", self.env._("Same card number as line %s.", first), row["number"], "card_number"
                )
        if row["email"]:
            first, first_has_phone = self.seen_emails.setdefault(row["email"], (line, bool(row["phone"])))
            if first != line and not (first_has_phone and row["phone"]):
                self._problem(line, row, "error", self.env._("Same e-mail as line %s.", first), row["email"], "email")

    # --------------------------------------------------------------
    # Matching with the database (one set of queries per batch)
    # --------------------------------------------------------------
    def _prefetch(self, rows):
        env = self.env
        phones = {row["phone"] for row in rows if row["phone"]}
        emails = {row["email"] for row in rows if row["email"]}
        numbers = {row["number"] for row in rows if row["number"]}
        partner_fields = ["phone_sanitized", "email_normalized", "phone", "mobile", "email", "loyalty_birthday"]
        company_domain = ["|", ("company_id", "=", False), ("company_id", "child_of", self.company.id)]
        Partner = env["res.partner"].with_context(active_test=True)
        partners = {}
        if phones:
            for values in Partner.search_read(
                [("phone_sanitized", "in", list(phones)), *company_domain], partner_fields
            ):
                partners[values["id"]] = values
        if emails:
            for values in Partner.search_read(
                [("email_normalized", "in", list(emails)), *company_domain], partner_fields
            ):
                partners[values["id"]] = values
        cards_by_number = {}
        if numbers:
            # sudo: a number taken in another company's club must be reported, not crash the import
            for values in (
                env["loyalty.club.card"]
                .sudo()
                .search_read([("number", "in", list(numbers))], ["number", "club_id", "partner_id", "state", "pin_set"])
            ):
                cards_by_number[values["number"]] = values
        card_partner_ids = {
            values["partner_id"][0] for values in cards_by_number.values() if values["club_id"][0] == self.club.id
        }
        missing = card_partner_ids - set(partners)
        if missing:
            for values in Partner.sudo().search_read([("id", "in", list(missing))], partner_fields):
                partners[values["id"]] = values
        cards_by_partner = {}
        if partners:
            for values in env["loyalty.club.card"].search_read(
                [("club_id", "=", self.club.id), ("partner_id", "in", list(partners)), ("state", "!=", "lost")],
                ["number", "partner_id", "state", "pin_set"],
                order="id desc",
            ):
                cards_by_partner.setdefault(values["partner_id"][0], []).append(values)
        card_ids = {values["id"] for values in cards_by_number.values()}
        card_ids |= {values["id"] for cards in cards_by_partner.values() for values in cards}
        openings = {}
        if card_ids:
            entries = (
                env["loyalty.club.entry"]
                .sudo()
                .search_read(
                    [("posting_key", "in", [_opening_key(card_id) for card_id in card_ids])], ["card_id", "points"]
                )
            )
            openings = {values["card_id"][0]: values["points"] for values in entries}
        by_phone, by_email = {}, {}
        for values in partners.values():
            if values["phone_sanitized"] in phones:
                by_phone.setdefault(values["phone_sanitized"], []).append(values)
            if values["email_normalized"] in emails:
                by_email.setdefault(values["email_normalized"], []).append(values)
        return {
            "partners": partners,
            "by_phone": by_phone,
            "by_email": by_email,
            "cards_by_number": cards_by_number,
            "cards_by_partner": cards_by_partner,
            "openings": openings,
        }

    def _pick(self, candidates, known, row, column):
        """The one contact among ``candidates`` (matched on ``column``); several: the one that
        holds a card of the club, else the row is an error."""
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        with_card = [values for values in candidates if values["id"] in known["cards_by_partner"]]
        if len(with_card) == 1:
            return with_card[0]
        if column == "phone":
            message = self.env._(
                "%s contacts have this phone; add the card number to tell which one is the member.", len(candidates)
            )
        else:
            message = self.env._(
                "%s contacts have this e-mail; add the phone or card number to tell which one is the member.",
                len(candidates),
            )
        self._problem(row["line"], row, "error", message, row[column], column)
        return None

    def _resolve(self, rows):
        """Find each valid row's contact, card and opening balance in the database."""
        candidates = [row for row in rows if not row["errors"]]
        if not candidates:
            return
        known = self._prefetch(candidates)
        for row in candidates:
            self._resolve_row(row, known)

    def _resolve_row(self, row, known):
        """Set the row's existing contact and card (None: to create) and whether its opening
        balance is to post, or report why the row cannot be imported."""
        card = self._card_by_number(row, known)
        if row["errors"]:
            return
        partner = known["partners"].get(card["partner_id"][0]) if card else self._partner_of_row(row, known)
        if row["errors"]:
            return
        if partner:
            first = self.seen_partners.setdefault(partner["id"], row["line"])
            if first != row["line"]:
                self._row_problem(row, None, self.env._("Same member as line %s.", first))
                return
            card = card or self._card_of_partner(row, partner, known)
            if row["errors"]:
                return
        if card and row["points"]:
            existing = known["openings"].get(card["id"])
            if existing is not None and existing != row["points"]:
                message = self.env._(
                    "Card %(card)s already has an opening balance of %(existing)s points; this row gives %(points)s.",
                    card=card["number"],
                    existing=existing,
                    points=row["points"],
                )
                self._row_problem(row, "points", message, row["points"])
                return
            row["opening_done"] = existing is not None
        row["partner"] = partner
        row["card"] = card
        row["post_opening"] = bool(row["points"]) and not row["opening_done"]

    def _card_by_number(self, row, known):
        """The club's active card with the row's number (None if the number is new)."""
        card = known["cards_by_number"].get(row["number"]) if row["number"] else None
        if not card:
            return None
        number = row["number"]
        if card["club_id"][0] != self.club.id:
            self._row_problem(
                row, "card_number", self.env._("Card number %s is already used by another club.", number), number
            )
        elif card["state"] != "active":
            self._row_problem(
                row, "card_number", self.env._("Card %s is not active (blocked, lost or expired).", number), number
            )
        else:
            owners = known["by_phone"].get(row["phone"], []) if row["phone"] else []
            if owners and card["partner_id"][0] not in {values["id"] for values in owners}:
                self._row_problem(
                    row,
                    "phone",
                    self.env._("Card %s belongs to another contact than this phone.", number),
                    row["phone"],
                )
        return card

    def _partner_of_row(self, row, known):
        """The existing contact of the row: by normalised phone, then by e-mail (None: new)."""
        partner = None
        if row["phone"]:
            partner = self._pick(known["by_phone"].get(row["phone"], []), known, row, "phone")
        if partner is None and row["email"] and not row["errors"]:
            matches = known["by_email"].get(row["email"], [])
            if row["phone"]:
                # an e-mail does not match a contact whose phone says it is someone else
                matches = [values for values in matches if values["phone_sanitized"] in (False, row["phone"])]
            partner = self._pick(matches, known, row, "email")
        return partner

    def _card_of_partner(self, row, partner, known):
        """The member's active card in the club (None: a new card is issued)."""
        cards = known["cards_by_partner"].get(partner["id"], [])
        active = [values for values in cards if values["state"] == "active"]
        if active:
            card = active[0]
            if row["number"] and row["number"] != card["number"]:
                self._row_problem(
                    row, "card_number", self.env._("This member already has card %s.", card["number"]), row["number"]
                )
            return card
        if cards:
            self._row_problem(row, None, self.env._("This member's card %s is blocked or expired.", cards[0]["number"]))
        return None

    # --------------------------------------------------------------
    # Writing (import only)
    # --------------------------------------------------------------
    def _commit_valid(self, rows):
        """Write the batch at once; if something fails, write it row by row so that only the
        failing rows are skipped (and reported)."""
        try:
            with self.env.cr.savepoint():
                self._write_rows(rows)
            return
        except Exception:
            _logger.info("loyalty_club: member import %s: a batch failed, retrying row by row", self.wizard_id)
        self.env.invalidate_all()
        for row in rows:
            try:
                with self.env.cr.savepoint():
                    self._write_rows([row])
            except (UserError, ValidationError) as error:
                self.env.invalidate_all()
                self._problem(row["line"], row, "error", str(error.args[0] if error.args else error))
            except Exception:
                _logger.exception("loyalty_club: member import %s: line %s failed", self.wizard_id, row["line"])
                self.env.invalidate_all()
                self._problem(row["line"], row, "error", self.env._("Unexpected error (see the server log)."))

    def _write_rows(self, rows):
        env = self.env(context=dict(self.env.context, **IMPORT_CONTEXT))
        # Members are contacts: a club manager creates them and fills their empty fields (name,
        # phone, e-mail, birthday, country) without needing Odoo's "Contact Creation" right.
        Partner = env["res.partner"].sudo()
        Card = env["loyalty.club.card"]
        Posting = env["loyalty.club.posting"]
        country = self.company.country_id or self.company.root_id.country_id
        partner_ids = {}
        new_rows = [row for row in rows if not row["partner"]]
        if new_rows:
            created = Partner.create(
                [
                    {
                        "name": row["name"],
                        "phone": row["phone"],
                        "email": row["email"],
                        "loyalty_birthday": row["birthday"],
                        "country_id": country.id,
                    }
                    for row in new_rows
                ]
            )
            partner_ids.update({row["line"]: partner.id for row, partner in zip(new_rows, created, strict=True)})
        for row in rows:
            if row["partner"]:
                partner_ids[row["line"]] = row["partner"]["id"]
                updates = self._partner_updates(row)
                if updates:
                    Partner.browse(row["partner"]["id"]).write(updates)
        card_ids = {row["line"]: row["card"]["id"] for row in rows if row["card"]}
        new_card_rows = [row for row in rows if not row["card"]]
        if new_card_rows:
            numbers = iter(Card._generate_numbers(self.club, sum(1 for row in new_card_rows if not row["number"])))
            created = Card.create(
                [
                    {
                        "partner_id": partner_ids[row["line"]],
                        "club_id": self.club.id,
                        "number": row["number"] or next(numbers),
                        "legacy_number": row["legacy"],
                    }
                    for row in new_card_rows
                ]
            )
            card_ids.update({row["line"]: card.id for row, card in zip(new_card_rows, created, strict=True)})
        for row in rows:
            if row["pin"]:
                card = Card.browse(card_ids[row["line"]])
                if not card.pin_set:
                    card._set_pin(row["pin"])
        Posting._post_openings(
            [
                {
                    "card": Card.browse(card_ids[row["line"]]),
                    "points": row["points"],
                    "key": _opening_key(card_ids[row["line"]]),
                    "origin": Card.browse(card_ids[row["line"]]),
                    "reason": self.env._(
                        "Opening balance imported from %(file)s, line %(line)s", file=self.filename, line=row["line"]
                    ),
                    "branch": self.company,
                    "expiry_date": row["expiry"] or None,
                }
                for row in rows
                if row["post_opening"]
            ]
        )
        cards = Card.browse([card_ids[row["line"]] for row in rows])
        Tier = env["loyalty.club.tier"]
        explicit = {card_ids[row["line"]]: Tier.browse(row["tier"]) for row in rows if row["tier"]}
        env["loyalty.club.import.wizard"]._apply_imported_tiers(cards, explicit, self.env._("Imported"))

    def _partner_updates(self, row):
        """Fields of an existing contact the row fills in: only empty ones, nothing is overwritten."""
        partner = row["partner"]
        updates = {}
        if row["phone"] and not (partner["phone"] or partner["mobile"]):
            updates["phone"] = row["phone"]
        if row["email"] and not partner["email"]:
            updates["email"] = row["email"]
        if row["birthday"] and not partner["loyalty_birthday"]:
            updates["loyalty_birthday"] = row["birthday"]
        return updates


def _opening_key(card_id):
    """Posting key of a card's one opening balance (import or migration from a file)."""
    return f"import:opening:{card_id}"
