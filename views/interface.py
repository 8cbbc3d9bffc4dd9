"""The data interface of the portal's views: every query scoped, any list paged in three statements.

`PortalInterface` is Flask-AppBuilder's SQLAlchemy interface with eager loads per view, primary
keys that tolerate nonsense, and lists that count only as far as their pager reaches
(views/paging.py). `ScopeFilter` puts the user's organisation scope (models/scope.py) on a query.
"""
from contextlib import nullcontext

import sqlalchemy as sa
from flask import current_app
from flask_appbuilder.models.filters import BaseFilter, Filters
from flask_appbuilder.models.sqla.interface import SQLAInterface

from models import registry
from models.scope import is_broad, limit_query, scope_joined, scope_per_row

from .paging import ListPage


def security_manager():
    return current_app.appbuilder.sm


class ScopeFilter(BaseFilter):
    """Limits any query of a model to the current user's organisation scope."""

    name = "scope"
    arg_name = "scope"

    def apply(self, query, value):
        # Every case: no WHERE at all, so a count is the database's plain count of the table.
        return limit_query(query, self.model, security_manager().case_scope())


# From this many rows, a page walks the sort index rather than sorting every row in scope.
SORTED_WALK_FROM = 1000


class PortalInterface(SQLAInterface):
    """FAB's data interface, with eager loading per view and tolerant primary keys."""

    def __init__(self, obj, session=None, load_options=(), show_options=()):
        super().__init__(obj, session=session)
        # Eager loads for a list page's rows, and for one record's page (its related records).
        self.load_options = tuple(load_options)
        self.show_options = tuple(show_options)

    def query(self, filters=None, order_column="", order_direction="", page=None,
              page_size=None, select_columns=None, outer_default_load=False):
        """FAB's (count, rows), the count exact; the portal's own lists use `list_page`."""
        if not page_size:
            # Every row (the choices of a form's or search filter's dropdown): one statement, no count.
            query = self.apply_all(self.session.query(self.obj).options(*self.load_options), filters,
                                   order_column or "id", order_direction or "asc")
            rows = query.all()
            return len(rows), rows
        listing = self.list_page(filters, order_column, order_direction, page, page_size)
        return listing.count, listing.rows

    def list_page(self, filters, order_column="", order_direction="", page=None, page_size=None,
                  count_limit=None, from_end=None) -> ListPage:
        """One page of rows in three statements at any size: the count, the page's ids, those rows.

        The count is exact up to `count_limit` (None: always exact). Paging over the ids alone
        lets the database walk the sort index (covering: it holds the id) and skip rows without
        joining or computing anything for them; related rows and derived columns
        (`load_options`) are then built for the page's rows only.
        """
        # A record's related list (one trajectory's debts) has few rows, and a broad scope many
        # (models.scope.is_broad): both are checked row by row; a narrow scope starts from its cases.
        related_list = filters is not None and any(f.is_related_view for f in filters.filters)
        per_row = related_list or is_broad(self.session, security_manager().case_scope())
        if not order_column:
            # Paging needs one fixed order, and "last page" its exact reverse.
            order_column, order_direction = "id", "asc"
        count = self.count(filters, None if related_list else count_limit, per_row)
        exact = count_limit is None or related_list or count <= count_limit
        if from_end and exact:
            page, from_end = max(0, -(-count // page_size) - from_end) if page_size else 0, None
        ids, has_more = self.page_ids(filters, order_column, order_direction, page, page_size,
                                      count if exact else None, per_row, from_end)
        rows = []
        if ids:
            loaded = {row.id: row for row in
                      self.session.query(self.obj).options(*self.load_options).filter(self.obj.id.in_(ids))}
            rows = [loaded[i] for i in ids if i in loaded]
        return ListPage(rows=rows, count=count if exact else count_limit, exact=exact,
                        page=None if from_end else (page or 0), from_end=from_end, page_size=page_size or len(rows),
                        has_more=has_more)

    def count(self, filters, limit=None, per_row=False) -> int:
        """The rows the filters allow, counted up to `limit` + 1 (None: all of them).

        Row by row (`scope_per_row`), or from the visible cases down their foreign-key indexes
        (`scope_joined`): either way the count stops once it has enough.
        """
        with scope_per_row() if per_row else scope_joined():
            query = self.apply_all(self.session.query(self.obj.id), filters)
        if limit is not None:
            query = query.limit(limit + 1)
        return self.session.query(sa.func.count()).select_from(query.subquery()).scalar()

    def _has_sort_index(self, column_name) -> bool:
        """Whether an index of the table starts with this column, so that a page can be read in its order."""
        column = self.obj.__table__.columns.get(column_name) if column_name else None
        if column is None:
            return False
        return column.primary_key or any(
            next(iter(index.columns), None) is column for index in self.obj.__table__.indexes
        )

    def page_ids(self, filters, order_column, order_direction, page, page_size, count, per_row=False,
                 from_end=None):
        """(the ids on one page in order, whether rows follow it).

        `count` is None when the list has more rows than were counted. Every order ends with the
        primary key, so the reversed order is exactly the reverse: a page counted from the end
        (`from_end`, 1 = the last) is read from the other end, and so is a page past the middle
        of a counted list: the last page costs what the first does, not a walk over every row before it.
        """
        start = (page or 0) * page_size if page_size else 0
        if page_size and count is not None and start >= count:
            return [], False
        if from_end and page_size:
            reverse, skip = True, (from_end - 1) * page_size
        elif count is not None and page_size:
            reverse = start + page_size / 2 > count / 2
            skip = count - start - min(page_size, count - start) if reverse else start
        else:
            reverse, skip = False, start
        direction = ("asc" if order_direction == "desc" else "desc") if reverse else order_direction
        # Many rows in scope and an index in the page's order: walk it and test the scope per row, even
        # for a narrow scope; sorting every visible row for one page would cost more.
        many = count is None or count >= SORTED_WALK_FROM
        per_row = per_row or (many and self._has_sort_index(order_column))
        with scope_per_row() if per_row else nullcontext():
            query = self.apply_all(self.session.query(self.obj.id), filters, order_column, direction)
        if not page_size:
            return [i for (i,) in query], False
        limit = page_size if count is None else min(page_size, count - start)
        # One row more than the page tells whether another page follows, without counting.
        found = [i for (i,) in query.offset(skip).limit(limit + 1)]
        has_more = len(found) > limit
        found = found[:limit]
        if reverse:
            found.reverse()
            has_more = bool(from_end and from_end > 1) or (count is not None and start + page_size < count)
        elif count is not None:
            has_more = start + page_size < count
        return found, has_more

    def stream(self, filters, order_column="", order_direction="", batch=1000):
        """Every record the filters allow, in order, fetched in batches rather than all at once."""
        query = self.session.query(self.obj).options(*self.load_options)
        return self.apply_all(query, filters, order_column, order_direction).yield_per(batch)

    def stream_values(self, expressions, filters, order_column="", order_direction="", batch=2000):
        """Rows of (id, *expressions) the filters allow, in order: values, no objects to build."""
        query = self.session.query(self.obj.id, *expressions)
        return self.apply_all(query, filters, order_column, order_direction).yield_per(batch)

    def sql_expression(self, name):
        """The SQL that yields what a list column shows, or None when only Python can compute it."""
        return registry.field_expression(self.obj, name)

    def get(self, id, filters=None, select_columns=None, outer_default_load=False):
        try:
            if not 0 < int(id) < 2**31:
                return None
        except (TypeError, ValueError):
            return None
        if not self.show_options or select_columns:
            return super().get(id, filters, select_columns, outer_default_load)
        # As FAB's get, with the record page's eager loads.
        one = filters.copy() if filters else Filters(self.filter_converter_class, self)
        one.add_filter(self.get_pk_name(), self.FilterEqual, id)
        return self.apply_all(self.session.query(self.obj).options(*self.show_options), one).one_or_none()

    def get_related_obj(self, col_name, value):
        # FAB's uses the legacy Query.get, whose deprecation warning walks the whole call stack each time.
        return self.session.get(self.get_related_model(col_name), value)
