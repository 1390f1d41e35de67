"""The import runner: one pass over an import file, batch by batch (parse, check, write)."""

import json
import logging
import time

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..models.loyalty_club_card import IMPORT_CONTEXT_KEY
from ..tools import posting_keys
from ..tools.import_file import FileFormatError, cell_text, iter_rows
from .loyalty_club_import_row_parser import ImportRowParser

_logger = logging.getLogger(__name__)

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


class ImportRun(ImportRowParser):
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
                    [("posting_key", "in", [posting_keys.import_opening(card_id) for card_id in card_ids])],
                    ["card_id", "points"],
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
                    "key": posting_keys.import_opening(card_ids[row["line"]]),
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
