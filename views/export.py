"""The Excel export of a list: exactly what the list shows, every page of it, in its order and scope.

Columns fall back to the list's own, headers to its labels, masks to its masks, and the rows
come from the same filtered, searched, scoped query: screen and file never disagree.
"""
import re
from urllib.parse import urlencode
from datetime import date
from operator import attrgetter, itemgetter

from flask import request, send_file
from flask_appbuilder import expose, has_access
from flask_appbuilder.urltools import get_order_args
from flask_babel import lazy_gettext as _l

from models import AuditAction, record_access
from reports.xlsx import XLSX_MIMETYPE, Column, XlsxWorkbook

from .declared import export_fields
from .listing import refusing_bad_filter_values


EXPORT_ARGUMENT = re.compile(r"^_(flt_\d+|oc|od)_\w+$")


def slug(text) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "export"


class ExportMixin:
    """The export endpoint of a PortalModelView."""

    # Columns of the export; by default the list's own, then every other field declared for export
    # (views.declared), so a field added to the model is exported too.
    export_columns = None

    @expose("/export/xlsx/")
    @has_access
    def export_xlsx(self):
        """The list as .xlsx: same filters, search and order as the page, all pages, scoped."""
        filters = self._request_filters()
        order_column, order_direction = get_order_args().get(type(self).__name__, ("", ""))
        if order_column not in self._visible(self.order_columns):
            order_column, order_direction = self.base_order or ("", "")
        filters = filters.get_joined_filters(self._base_filters)
        names = self._visible(self.export_columns or export_fields(self.datamodel.obj, self.list_columns))
        record_access(self.datamodel.session, AuditAction.export, self.datamodel.obj.__tablename__,
                      detail=_what_was_exported())
        expressions = [self.datamodel.sql_expression(name) for name in names]
        book = XlsxWorkbook()
        if all(expression is not None for expression in expressions):
            # Values straight from SQL: the same rows, without building an object per row.
            rows = self.datamodel.stream_values(expressions, filters, order_column, order_direction)
            columns = self.export_table_columns(names, positional=True)
        else:
            rows = self.datamodel.stream(filters, order_column, order_direction)
            columns = self.export_table_columns(names)
        with refusing_bad_filter_values(self.datamodel.session):
            book.add_sheet(self.list_title, columns, rows)
        self.datamodel.session.expunge_all()
        return send_file(
            book.save(), mimetype=XLSX_MIMETYPE, as_attachment=True,
            download_name=f"{slug(self.list_title)}-{date.today().isoformat()}.xlsx",
        )

    def export_table_columns(self, names, positional=False) -> list:
        """The record number, then the given columns with their labels; read by position or attribute."""
        yes_no = (str(_l("Yes")), str(_l("No")))
        # A column the list shows only partly is exported as partly; declared export columns say themselves what they hold.
        masks = {} if self.export_columns else self.list_masks
        columns = [Column(_l("No."), itemgetter(0) if positional else attrgetter("id"))]
        for index, name in enumerate(names, start=1):
            read = itemgetter(index) if positional else attrgetter(name)
            if name in masks:
                read = _masked(read, masks[name])
            columns.append(Column(self.label_columns.get(name, name), read, yes_no))
        return columns


def _what_was_exported():
    """The export's filters, search and order for the trail: only the arguments that chose the rows,
    so that no padding can push them out of the entry's length."""
    chosen = [(name, value) for name, value in request.args.items(multi=True) if EXPORT_ARGUMENT.match(name)]
    return urlencode(sorted(chosen)) or None


def _masked(read, mask):
    return lambda row: mask(read(row)) or None
