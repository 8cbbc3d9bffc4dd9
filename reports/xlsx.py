"""The one module that writes Excel: real types, safe text, streamed row by row.

XlsxWriter in constant-memory mode flushes every row to a temporary file as soon as the next
one starts, and the finished workbook is a temporary file the response streams, so memory does
not grow with the number of rows. Typed and formatted, it is still faster than openpyxl's
write-only mode writing untyped cells (benchmarks/export_bench.py; figures in benchmarks/README.md).
"""
import enum
import re
import tempfile
from datetime import date, datetime
from decimal import Decimal
from itertools import islice

import xlsxwriter

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "dd-mm-yyyy"
MONEY_FORMAT = '"€" #,##0.00;[Red]"€" -#,##0.00'
# OWASP CSV/formula injection: text starting with these is written as plain text, never a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ILLEGAL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
SAMPLE_ROWS = 50
WIDTHS = {"date": 12, "money": 14, "number": 10, "text": 12}
MAX_WIDTH = 60


class Column:
    """One column of a sheet: its header and how to read a row's value."""

    def __init__(self, header, read, yes_no=("Yes", "No")):
        self.header = str(header)
        self.read = read
        self.yes_no = yes_no


def plain_value(value, yes_no=("Yes", "No")):
    """A Python value as Excel should hold it: dates, numbers and words, never objects."""
    if value is None:
        return None
    if isinstance(value, bool):
        return yes_no[0] if value else yes_no[1]
    if isinstance(value, enum.Enum):
        return str(value)
    if isinstance(value, (date, datetime, Decimal, int, float)):
        return value
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _kind(value) -> str:
    if isinstance(value, (date, datetime)):
        return "date"
    if isinstance(value, Decimal):
        return "money"
    if isinstance(value, (int, float)):
        return "number"
    return "text"


class XlsxWorkbook:
    """A workbook built sheet by sheet from iterables of rows, saved to a temporary file."""

    def __init__(self):
        self.target = tempfile.TemporaryFile(suffix=".xlsx")
        self.workbook = xlsxwriter.Workbook(
            self.target, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
        )
        add = self.workbook.add_format
        self.formats = {
            "header": add({"bold": True, "font_color": "#FFFFFF", "bg_color": "#2F5496", "valign": "vcenter"}),
            "date": add({"num_format": DATE_FORMAT}),
            "money": add({"num_format": MONEY_FORMAT}),
            "quoted": add({"quote_prefix": True}),
            "title": add({"bold": True, "font_size": 12}),
            "label": add({"bold": True}),
        }
        # Enum labels are translated once per workbook, not once per cell.
        self._labels = {}

    def add_sheet(self, title, columns, rows, freeze_header=True):
        """Write `rows` (objects or tuples) through `columns`; returns the number of data rows."""
        sheet = self.workbook.add_worksheet(_sheet_title(title))
        values = ([self._plain(column.read(row), column.yes_no) for column in columns] for row in rows)
        sample = list(islice(values, SAMPLE_ROWS))
        self._set_widths(sheet, columns, sample)
        if freeze_header:
            sheet.freeze_panes(1, 0)
        for index, column in enumerate(columns):
            sheet.write_string(0, index, column.header, self.formats["header"])
        write = self._write
        count = 0
        for row in _chain(sample, values):
            count += 1
            for index, value in enumerate(row):
                write(sheet, count, index, value)
        if columns:
            sheet.autofilter(0, 0, count, len(columns) - 1)
        return count

    def add_key_values(self, title, rows):
        """A small sheet of labelled figures (a summary): bold labels, titles, no filter."""
        sheet = self.workbook.add_worksheet(_sheet_title(title))
        sheet.set_column(0, 0, 48)
        sheet.set_column(1, 6, 18)
        for number, row in enumerate(rows):
            if not row:
                continue
            if len(row) == 1:
                sheet.write_string(number, 0, str(row[0]), self.formats["title"])
                continue
            sheet.write_string(number, 0, str(self._plain(row[0])), self.formats["label"])
            for index, value in enumerate(row[1:], start=1):
                self._write(sheet, number, index, self._plain(value))

    def save(self):
        """The finished workbook as an open temporary file, positioned at its start."""
        self.workbook.close()
        self.target.seek(0)
        return self.target

    def _plain(self, value, yes_no=("Yes", "No")):
        if isinstance(value, enum.Enum):
            label = self._labels.get(value)
            if label is None:
                label = self._labels[value] = str(value)
            return label
        return plain_value(value, yes_no)

    def _write(self, sheet, row, column, value):
        kind = type(value)
        if value is None:
            return
        if kind is str:
            if ILLEGAL_CHARACTERS.search(value):
                value = ILLEGAL_CHARACTERS.sub("", value)
            if value.startswith(FORMULA_TRIGGERS):
                sheet.write_string(row, column, value, self.formats["quoted"])
            else:
                sheet.write_string(row, column, value)
        elif kind is Decimal:
            sheet.write_number(row, column, float(value), self.formats["money"])
        elif kind is date or kind is datetime:
            sheet.write_datetime(row, column, value, self.formats["date"])
        elif kind is int or kind is float:
            sheet.write_number(row, column, value)
        else:
            sheet.write_string(row, column, str(value))

    @staticmethod
    def _set_widths(sheet, columns, sample):
        for index, column in enumerate(columns):
            kinds = {_kind(row[index]) for row in sample if row[index] is not None}
            longest = max((len(str(row[index])) for row in sample if row[index] is not None), default=0)
            base = max(WIDTHS[k] for k in kinds) if kinds else WIDTHS["text"]
            width = min(MAX_WIDTH, max(base, len(column.header) + 4, longest + 2 if "text" in kinds else 0))
            sheet.set_column(index, index, width)


def _chain(first, rest):
    yield from first
    yield from rest


def _sheet_title(title) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", str(title))[:31]
