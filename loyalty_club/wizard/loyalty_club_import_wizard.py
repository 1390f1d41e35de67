import base64
import hashlib
import json
import logging
import threading
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools.import_file import (
    cell_text,
    header_key,
    write_csv,
    write_xlsx,
)
from .loyalty_club_import_runner import COUNTERS, ImportRun

_logger = logging.getLogger(__name__)

COLUMN_KEYS = ("name", "phone", "email", "birthday", "card_number", "points", "points_expiry", "tier", "pin")
# Other titles a spreadsheet commonly uses for a column.
COLUMN_SYNONYMS = {"mobile": "phone", "mail": "email", "card": "card_number", "balance": "points"}
TEXT_COLUMNS = ("phone", "card_number", "pin")  # formatted as text in the XLSX template


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
        run = ImportRun(self, commit=False)
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
        run = ImportRun(self, commit=True, auto_commit=auto_commit, time_budget=time_budget)
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
        self.env["loyalty.club.card"]._change_tiers(
            [(card.id, card.tier_id.id or None, tier.id, "import", note) for card, tier in targets.items()],
            notify=False,
        )
