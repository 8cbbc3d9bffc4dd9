"""The one module that writes Excel: real types, safe text, streamed through write-only mode.

Rows go straight to openpyxl's write-only worksheets (temporary files on disk), and the
finished workbook is a temporary file the response streams, so memory does not grow with the
number of rows.
"""
import enum
import re
from copy import copy
import tempfile
from datetime import date, datetime
from decimal import Decimal
from itertools import islice

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "DD-MM-YYYY"
MONEY_FORMAT = '"€" #,##0.00;[Red]"€" -#,##0.00'
# OWASP CSV/formula injection: text starting with these is written as plain text, never a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ILLEGAL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
SAMPLE_ROWS = 50
WIDTHS = {"date": 12, "money": 14, "number": 10, "text": 12}
MAX_WIDTH = 60

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="2F5496")


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
        self.workbook = Workbook(write_only=True)
        # Enum labels are translated once per workbook, not once per cell.
        self._labels = {}

    def add_sheet(self, title, columns, rows, freeze_header=True):
        """Write `rows` (objects) through `columns`; returns the number of data rows."""
        sheet = self.workbook.create_sheet(title=_sheet_title(title))
        values = ([self._plain(column.read(row), column.yes_no) for column in columns] for row in rows)
        sample = list(islice(values, SAMPLE_ROWS))
        self._set_widths(sheet, columns, sample)
        if freeze_header:
            sheet.freeze_panes = "A2"
        sheet.append([self._header_cell(sheet, column.header) for column in columns])
        templates = self._templates(sheet)
        cell = self._cell
        count = 0
        for row in _chain(sample, values):
            sheet.append([cell(sheet, value, templates) for value in row])
            count += 1
        if columns:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
        return count

    def add_key_values(self, title, rows):
        """A small two-or-more-column sheet (a summary): bold first column, no filter."""
        sheet = self.workbook.create_sheet(title=_sheet_title(title))
        sheet.column_dimensions["A"].width = 48
        for column in "BCDEFG":
            sheet.column_dimensions[column].width = 18
        for row in rows:
            if row and row[0] is not None and len(row) == 1:
                cell = WriteOnlyCell(sheet, value=str(row[0]))
                cell.font = Font(bold=True, size=12)
                sheet.append([cell])
                continue
            templates = self._templates(sheet)
            cells = [self._cell(sheet, self._plain(value), templates) for value in row[1:]]
            if row:
                label = WriteOnlyCell(sheet, value=self._plain(row[0]))
                label.font = Font(bold=True)
                cells.insert(0, label)
            sheet.append(cells)

    def save(self):
        """The finished workbook as an open temporary file, positioned at its start."""
        target = tempfile.TemporaryFile(suffix=".xlsx")
        self.workbook.save(target)
        target.seek(0)
        return target

    @staticmethod
    def _header_cell(sheet, header):
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center")
        return cell

    def _plain(self, value, yes_no=("Yes", "No")):
        if isinstance(value, enum.Enum):
            label = self._labels.get(value)
            if label is None:
                label = self._labels[value] = str(value)
            return label
        return plain_value(value, yes_no)

    @staticmethod
    def _templates(sheet):
        """Styled cells to copy: a date, an amount and protected text, their styles registered once."""
        date_cell, money_cell, text_cell = (WriteOnlyCell(sheet) for _ in range(3))
        date_cell.number_format = DATE_FORMAT
        money_cell.number_format = MONEY_FORMAT
        text_cell.quotePrefix = True
        return {"date": date_cell._style, "money": money_cell._style, "text": text_cell._style}

    @staticmethod
    def _cell(sheet, value, templates):
        """Plain values pass through; dates, amounts and formula-like text get a styled cell."""
        kind = type(value)
        if kind is str:
            if ILLEGAL_CHARACTERS.search(value):
                value = ILLEGAL_CHARACTERS.sub("", value)
            if not value.startswith(FORMULA_TRIGGERS):
                return value
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            cell._style = copy(templates["text"])
            return cell
        if kind is Decimal or kind is date or kind is datetime:
            cell = WriteOnlyCell(sheet, value=value)
            cell._style = copy(templates["money" if kind is Decimal else "date"])
            return cell
        return value

    @staticmethod
    def _set_widths(sheet, columns, sample):
        for index, column in enumerate(columns):
            kinds = {_kind(row[index]) for row in sample if row[index] is not None}
            longest = max((len(str(row[index])) for row in sample if row[index] is not None), default=0)
            base = max(WIDTHS[k] for k in kinds) if kinds else WIDTHS["text"]
            width = min(MAX_WIDTH, max(base, len(column.header) + 4, longest + 2 if "text" in kinds else 0))
            sheet.column_dimensions[get_column_letter(index + 1)].width = width


def _chain(first, rest):
    yield from first
    yield from rest


def _sheet_title(title) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", str(title))[:31]
