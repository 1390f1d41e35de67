"""Reading one row of an import file: cells to checked values, or the row's problems."""

from odoo.exceptions import ValidationError
from odoo.tools import email_normalize

from ..models.loyalty_club_card import LEGACY_NUMBER_MAX_LENGTH, LEGACY_NUMBER_MIN_LENGTH
from ..models.loyalty_club_posting import MAX_POINTS_PER_POSTING
from ..tools.card_number import is_valid_card_number
from ..tools.import_file import cell_text, compact_number, parse_date, parse_whole_number


class ImportRowParser:
    """Parsing and checking of import rows (contact, card number, opening balance, tier, PIN,
    duplicates within the file), the first half of the import runner (:class:`ImportRun`).
    Uses the runner's ``club``, ``pin_length``, ``tiers``, ``today``, ``keep_legacy`` and
    ``seen_*`` maps, and records problems through its ``_problem``."""

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
