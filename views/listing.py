"""A list page: its search and paging arguments checked, filters per request, rows paged and scoped.

Flask-AppBuilder keeps one search-filter object per view and shares it between concurrent
requests (upstream #2366), and feeds paging and search arguments to int(), OFFSET and list
indexes unchecked: here every request builds its own filters, and arguments that do not fit
answer 400 with the reason.
"""
import logging
import re
from contextlib import contextmanager

import sqlalchemy as sa
from flask import abort, current_app, request
from flask_appbuilder.urltools import get_filter_args, get_order_args, get_page_args, get_page_size_args
from flask_appbuilder.widgets import ListWidget
from flask_babel import lazy_gettext as _l

from .paging import Pager, count_limit, page_arguments

log = logging.getLogger(__name__)

SEARCH_MAX_LENGTH = 500
LIST_ARGUMENT = re.compile(r"^(page|psize|last)_\w+$")
FILTER_ARGUMENT = re.compile(r"_flt_([0-9]+)_([A-Za-z0-9_]+)")
MAX_PAGE_SIZE = 100


@contextmanager
def refusing_bad_filter_values(session):
    """A filter value the column cannot hold (`status=nonsense`, a date that is not one) answers 400."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        raise  # the database is away: the outage page, not the user's fault
    except (sa.exc.StatementError, LookupError, ValueError, OverflowError) as error:
        session.rollback()
        log.info("Refused list filter: %s", error)
        abort(400, description=str(_l("A search value does not fit its field; change the search and try again.")))


def _routed_view():
    """The Flask-AppBuilder view this request goes to, or None."""
    name = (request.endpoint or "").split(".", 1)[0]
    return next((view for view in current_app.appbuilder.baseviews if view.endpoint == name), None)


def _filter_argument_fits(name) -> bool:
    """Whether a search argument `_flt_<position>_<column>` can be read. FAB finds it anywhere in the
    name, takes any digit, even "٩", as the position and indexes the column's filter types with it
    unchecked (IndexError, a 500 on the list, its export and the add form)."""
    match = FILTER_ARGUMENT.fullmatch(name)
    if match is None:
        return False
    datamodel = getattr(_routed_view(), "datamodel", None)
    position, column = int(match[1]), match[2]
    if datamodel is None or column not in datamodel.get_columns_list():
        return True  # nothing reads it here, or FAB ignores the unknown column
    return position < len(datamodel.filter_converter_class(datamodel).convert(column) or [])


def _paging_argument_fits(name, value) -> bool:
    """A page number, page size or position FAB can use: plain digits, in range."""
    if not (value.isascii() and value.isdigit()) or int(value) > 10**6:
        return False
    return not name.startswith("psize_") or 0 < int(value) <= MAX_PAGE_SIZE


def reject_malformed_list_arguments():
    """Paging arguments FAB would feed to int() or to OFFSET unchecked, and search arguments it would
    index out of range with, answer 400 with the reason, not 500."""
    for name, value in request.args.items():
        if "_flt_" in name:
            fits = _filter_argument_fits(name)
        elif LIST_ARGUMENT.match(name):
            fits = _paging_argument_fits(name, value)
        else:
            continue
        if not fits:
            abort(400, description=str(_l(
                "The address holds a list setting that does not fit this list (%(name)s). Open the list again "
                "from the menu and search with its form.", name=name[:80])))
        if "_flt_" in name and len(value) > SEARCH_MAX_LENGTH:
            # SQLite refuses a LIKE pattern of some 50,000 characters as "too complex": no search needs that much.
            abort(400, description=str(_l("A search value may be at most %(count)s characters long.",
                                          count=SEARCH_MAX_LENGTH)))


class PortalListWidget(ListWidget):
    """FAB's list table with the portal's pager (views/paging.py)."""

    template = "portal/widgets/list.html"


class ListingMixin:
    """The list page of a PortalModelView."""

    list_widget = PortalListWidget

    def _request_filters(self, disallow_if_not_in_search=True):
        """This request's search filters; FAB's shared `self._filters` would mix concurrent requests."""
        filters = self.datamodel.get_filters(self.search_columns)
        get_filter_args(filters, disallow_if_not_in_search=disallow_if_not_in_search)
        return filters

    def _list(self, **kwargs):
        order_column, order_direction = get_order_args().get(type(self).__name__, ("", ""))
        filters = self._request_filters()
        with refusing_bad_filter_values(self.datamodel.session):
            widgets = self._get_list_widget(
                filters=filters, order_column=order_column, order_direction=order_direction,
                page=get_page_args().get(type(self).__name__), page_size=get_page_size_args().get(type(self).__name__),
                **kwargs,
            )
        self.update_redirect()
        widgets["search"] = self.search_widget(
            route_base=self.route_base, form=self.search_form.refresh(), include_cols=self.search_columns,
            exclude_cols=[], filters=filters,
        )
        return widgets

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="",
                         page=None, page_size=None, widgets=None, **kwargs):
        widgets = widgets or {}
        page_size = page_size or self.page_size
        if not order_column and self.base_order:
            order_column, order_direction = self.base_order
        if order_column and order_column not in self._visible(self.order_columns):
            order_column, order_direction = "", ""
        joined_filters = filters.get_joined_filters(self._base_filters)
        view_name = type(self).__name__
        _, from_end, count_all = page_arguments(view_name)
        listing = self.datamodel.list_page(
            joined_filters, order_column, order_direction, page=page, page_size=page_size,
            count_limit=None if count_all else count_limit(page, from_end, page_size), from_end=from_end,
        )
        rows = listing.rows
        # In a record's related list (a trajectory's debts) the column naming that record says nothing.
        parent = {f.column_name for f in filters.filters if f.is_related_view}
        columns = [c for c in self._visible(self.list_columns) if c not in parent]
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns,
            include_columns=columns,
            value_columns=self.datamodel.get_values(rows, columns),
            order_columns=self._visible(self.order_columns),
            formatters_columns={**self.formatters_columns, **self.list_masks},
            page=listing.page,
            page_size=page_size,
            count=listing.count,
            pager=Pager(listing, view_name),
            pks=self.datamodel.get_keys(rows),
            row_rights=self.row_rights(rows),
            may_add=self.may_add(),
            actions=actions or self.actions,
            filters=filters,
            modelview_name=self.__class__.__name__,
            **kwargs,
        )
        return widgets
