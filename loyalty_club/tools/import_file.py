"""Reading spreadsheet files (CSV or XLSX) row by row, without loading them whole into memory,
and parsing the cells of a member import (dates, whole numbers, card numbers).

Pure Python: no Odoo here, so every function is easy to test; messages are the caller's job.
"""

import csv
import io
import re
from datetime import date, datetime

from .card_number import normalize_digits
from .jalali import jalali_to_gregorian

XLSX_MAGIC = b"PK\x03\x04"
CSV_DELIMITERS = ",;\t|"
# Thousands separators a spreadsheet may leave in a number: "1,200", "1 200", Arabic U+066C.
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,\u066c\u00a0 ]\d{3})+$")
_DATE_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DATE_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
# Years below this are read as Solar Hijri (Jalali) years, e.g. 1370/05/12.
JALALI_YEAR_LIMIT = 1700


class FileFormatError(Exception):
    """The file cannot be read as CSV or XLSX (the message is for the log, not the user)."""


def file_kind(data, filename=""):
    """``"xlsx"`` or ``"csv"``, from the content first (an XLSX is a zip), then the name."""
    if data[:4] == XLSX_MAGIC:
        return "xlsx"
    if (filename or "").lower().endswith((".xlsx", ".xlsm")):
        return "xlsx"
    return "csv"


def decode_text(data):
    """Text of a CSV file: UTF-8 (with or without BOM), else Windows-1256 (Persian Excel)."""
    for encoding in ("utf-8-sig", "cp1256"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            last_error = error
    raise FileFormatError(str(last_error))


def iter_rows(data, filename=""):
    """``(line number, [cell values])`` for each non-empty row of the first sheet.

    CSV cells are strings; XLSX cells are what openpyxl reads (str, int, float, datetime,
    None). Line numbers are those a spreadsheet shows (1 = header row), so a user can find
    a reported row. Rows are read lazily (openpyxl read-only mode, csv reader).
    """
    if file_kind(data, filename) == "xlsx":
        yield from _iter_xlsx(data)
    else:
        yield from _iter_csv(data)


def _iter_csv(data):
    text = decode_text(data)
    first_line = text.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=CSV_DELIMITERS)
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield reader.line_num, cells
    except csv.Error as error:
        raise FileFormatError(str(error)) from error


def _iter_xlsx(data):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # zipfile, XML or openpyxl errors: not a readable workbook
        raise FileFormatError(str(error)) from error
    try:
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            if any(cell not in (None, "") and str(cell).strip() for cell in cells):
                yield number, list(cells)
    finally:
        workbook.close()


def cell_text(value):
    """A cell as stripped text: whole floats lose their ``.0``, dates become ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def header_key(text):
    """Comparable form of a column title: lower case, single spaces, no ``_`` or ``-``."""
    return " ".join(re.split(r"[\s_\-]+", cell_text(text).casefold())).strip()


def parse_date(value):
    """A date from a cell: a spreadsheet date, ``YYYY-MM-DD`` (also with ``/`` or ``.``) or
    ``DD/MM/YYYY``; Persian digits are fine and years before 1700 are Solar Hijri.

    :returns: ``datetime.date``, or ``None`` when the value is not a valid date
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = normalize_digits(cell_text(value))
    match = _DATE_YMD.match(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
    else:
        match = _DATE_DMY.match(text)
        if not match:
            return None
        day, month, year = (int(part) for part in match.groups())
    if year < JALALI_YEAR_LIMIT:
        if not (1 <= month <= 12 and 1 <= day <= (31 if month <= 6 else 30)):
            return None
        year, month, day = jalali_to_gregorian(year, month, day)
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_whole_number(value):
    """A whole number from a cell (``"1200"``, ``1200.0``, ``"1,200"``, Persian digits).

    :returns: ``int``; ``None`` for an empty cell
    :raises ValueError: not a whole number
    """
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    text = normalize_digits(cell_text(value))
    if not text:
        return None
    if _THOUSANDS.match(text):
        text = re.sub(r"[,\u066c\u00a0 ]", "", text)
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"[+-]?\d+\.0*", text):
        return int(text.split(".")[0])
    raise ValueError(value)


def compact_number(value):
    """A card number or PIN as typed in a sheet: ASCII digits, without spaces or hyphens."""
    return re.sub(r"[\s\-]", "", normalize_digits(cell_text(value)))


def write_csv(rows):
    """CSV bytes (UTF-8 with BOM, so Excel reads Persian text) of ``rows`` (lists of cells)."""
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerows(rows)
    return stream.getvalue().encode("utf-8-sig")


def write_xlsx(header, rows, text_columns=()):
    """XLSX bytes of one sheet: a bold ``header`` row, then ``rows``. Columns whose index is
    in ``text_columns`` are formatted as text, so Excel keeps leading zeros and long numbers."""
    import xlsxwriter

    stream = io.BytesIO()
    workbook = xlsxwriter.Workbook(stream, {"in_memory": True})
    sheet = workbook.add_worksheet()
    bold = workbook.add_format({"bold": True})
    text = workbook.add_format({"num_format": "@"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for index, title in enumerate(header):
        sheet.write_string(0, index, title, bold)
        sheet.set_column(index, index, 20, text if index in text_columns else None)
    for row_index, row in enumerate(rows, start=1):
        for index, value in enumerate(row):
            if index in text_columns or isinstance(value, str):
                sheet.write_string(row_index, index, str(value), text if index in text_columns else None)
            elif isinstance(value, date):
                sheet.write_datetime(row_index, index, value, day)
            else:
                sheet.write(row_index, index, value)
    workbook.close()
    return stream.getvalue()
