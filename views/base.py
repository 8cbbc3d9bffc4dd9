"""The one base class of every portal screen: scoping, field hiding, labels, safe saving.

A subclass only declares (`datamodel`, columns, filters, order, related views). Everything a
view must never forget — the organisation scope on every query, hiding special-category
fields, labels and formats derived from the model, optimistic locking, and writes that
either succeed whole or change nothing — happens here, once.
"""
import logging
import re
from contextlib import contextmanager, nullcontext
from functools import partial
from operator import attrgetter, itemgetter
from urllib.parse import urlsplit

import sqlalchemy as sa
from datetime import date

from flask import abort, current_app, flash, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import ModelView, expose, has_access, permission_name
from flask_appbuilder.models.filters import BaseFilter, Filters
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.urltools import get_filter_args, get_order_args, get_page_args, get_page_size_args
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.hybrid import HybridExtensionType
from sqlalchemy.orm import MANYTOONE, joinedload
from sqlalchemy.orm.exc import StaleDataError
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.widgets import ListWidget
from wtforms import BooleanField, DateField, DecimalField, HiddenField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, Optional, ValidationError

from models import AuditAction, AuditEntry, authority, record_access
from models.authority import NotAllowed
from models.base import TEXT_MAX_LENGTH
from models.scope import is_broad, is_declared, limit_query, scope_joined, scope_per_row, visible_clause
from reports.xlsx import XLSX_MIMETYPE, Column, XlsxWorkbook

from .autocomplete import AutocompleteField
from .fields import (
    AmountField, EmailAddress, EnumSelectField, FiniteAmount, MaxLength, NoControlCharacters, SaneDate, WholeNumber,
    YesNoUnknownField,
)
from .formatting import formatter_for, show_date, show_text
from .history import ChangeDescriber
from .layout import safe_next
from .paging import ListPage, Pager, count_limit, page_arguments
from .widgets import DateInput, PortalFormWidget, PortalShowWidget

log = logging.getLogger(__name__)

CONFLICT_MESSAGE = _l(
    "Someone else saved this record after you opened it. Your changes were not saved: "
    "reload the page to see the current version, then make your changes again."
)


class DomainError(ValueError):
    """A rule of the process that a save breaks; shown on the form, next to `field` if given."""

    def __init__(self, message, field=None):
        super().__init__(str(message))
        self.message = message
        self.field = field


def security_manager():
    from flask import current_app

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
            query = self._apply_inner_all(self.session.query(self.obj.id), filters, aliases_mapping={})
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
            query = self._apply_inner_all(
                self.session.query(self.obj.id), filters, order_column, direction, aliases_mapping={}
            )
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
        mapper = sa.inspect(self.obj)
        if name in mapper.column_attrs:
            return getattr(self.obj, name)
        if name in mapper.relationships:
            relation = mapper.relationships[name]
            target = relation.mapper.class_
            if not hasattr(target, "display_name"):
                return None
            if relation.direction is MANYTOONE:
                (local_column,) = relation.local_columns
                return sa.select(target.display_name).where(target.id == local_column).scalar_subquery()
            if relation.secondary is not None:
                return (
                    sa.select(sa.func.aggregate_strings(target.display_name, ", "))
                    .select_from(target).join(relation.secondary, relation.secondaryjoin)
                    .where(relation.primaryjoin).scalar_subquery()
                )
            return None
        descriptor = mapper.all_orm_descriptors.get(name)
        if descriptor is not None and descriptor.extension_type is HybridExtensionType.HYBRID_PROPERTY:
            return getattr(self.obj, name)
        return None

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
        # FAB's uses the legacy Query.get: its warning walks the whole call stack, 1-2 ms per related list.
        return self.session.get(self.get_related_model(col_name), value)


AUTOCOMPLETE_LIMIT = 20


def _matching_tenant(model, pattern):
    """Records whose tenant's client number or name contains `pattern`, following the model's way to its case."""
    from models import Tenant, Trajectory

    if model is Tenant:
        return Tenant.display_name.ilike(pattern, escape="\\")
    if model is Trajectory:
        return Trajectory.tenant_id.in_(sa.select(Tenant.id).where(_matching_tenant(Tenant, pattern)))
    relation = getattr(model, model.__scope__.partition(".")[0]).property
    (local_column,) = relation.local_columns
    target = relation.mapper.class_
    return local_column.in_(sa.select(target.id).where(_matching_tenant(target, pattern)))


def _tenant_loads(model):
    """Eager loads along the model's way to its tenant, whose name and client number label the record."""
    from models import Trajectory

    if model is Trajectory:
        return [joinedload(Trajectory.tenant)]
    if getattr(model, "__scope__", "self") == "self":
        return []
    load = None
    current = model
    for name in model.__scope__.split("."):
        attribute = getattr(current, name)
        load = joinedload(attribute) if load is None else load.joinedload(attribute)
        current = attribute.property.mapper.class_
    return [load.joinedload(Trajectory.tenant)] if current is Trajectory else [load]


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
    except (sa.exc.StatementError, LookupError, ValueError) as error:
        session.rollback()
        log.info("Refused list filter: %s", error)
        abort(400, description=str(_l("A search value does not fit its field; change the search and try again.")))


def slug(text) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "export"


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


def _only_offered_choices(form, field):
    """FAB's multi-select silently drops ids it does not offer (out of scope, made up): refuse them."""
    field.data  # resolving the ids is what marks unknown ones
    if getattr(field, "_invalid_formdata", False):
        raise ValidationError(_l("Not a valid choice."))


def _use_portal_inputs(form_class):
    """Date fields get the browser's date picker (views.widgets.DateInput); amounts read Dutch and
    English notation (views.fields.AmountField)."""
    for name in dir(form_class):
        field = getattr(form_class, name, None)
        if not isinstance(field, UnboundField):
            continue
        if issubclass(field.field_class, DateField):
            field.kwargs["widget"] = DateInput()
        elif field.field_class is DecimalField:
            field.field_class = AmountField


def _merge_filters(scoped: dict, declared) -> dict:
    """The scope filter of a relation field always stays; a view's own filters narrow it further."""
    declared = declared or {}
    return {key: [*scoped.get(key, []), *declared.get(key, [])] for key in {*scoped, *declared}}


def model_labels(model) -> dict:
    """Labels declared once, on the model's columns and relationships (`info["label"]`)."""
    labels = {}
    for prop in sa.inspect(model).attrs:
        info = dict(prop.info)
        column = getattr(prop, "columns", [None])[0]
        if isinstance(column, sa.Column):
            info = {**column.info, **info}
        if "label" in info:
            labels[prop.key] = info["label"]
    return labels


def sensitive_columns(model) -> set:
    return {
        c.key for c in sa.inspect(model).column_attrs
        if isinstance(c.columns[0], sa.Column) and c.columns[0].info.get("sensitive")
    }


class PortalListWidget(ListWidget):
    """FAB's list table with the portal's pager (views/paging.py)."""

    template = "portal/widgets/list.html"


class PortalModelView(ModelView):
    """Base of every case screen; see the module docstring."""

    page_size = 25
    # Roles (besides Admin and Coordinator) that may add, edit and delete here.
    write_roles = ("Caseworker",)
    # Roles that may read here; None: every role.
    read_roles = None
    # Opening a record's page writes an access entry (for special-category data: tenants).
    audit_views = False
    show_template = "portal/show.html"
    list_template = "portal/list.html"
    list_widget = PortalListWidget
    add_template = "portal/add.html"
    edit_template = "portal/edit.html"
    add_widget = edit_widget = PortalFormWidget
    show_widget = PortalShowWidget
    # A screen without a menu entry of its own names the view it belongs under in the menu.
    menu_entry = None
    # Columns a list (and its export) shows only partly, e.g. {"bsn": mask_bsn}; the record's page in full.
    list_masks = {}

    def __init__(self, **kwargs):
        model = self.datamodel.obj
        if not is_declared(model):
            raise LookupError(f"{type(self).__name__}: {model.__name__} declares no __scope__")
        self._sensitive = sensitive_columns(model)
        # Fresh dicts per view: FAB fills these in place, a shared one would leak between views.
        self.label_columns = {**model_labels(model), **(type(self).label_columns or {})}
        self.base_filters = [["id", ScopeFilter, None], *(type(self).base_filters or [])]
        self.search_columns = [c for c in (type(self).search_columns or []) if c not in self._sensitive]
        self.order_columns = [c for c in (type(self).order_columns or []) if c not in self._sensitive]
        self.search_exclude_columns = [*self._sensitive, *(type(self).search_exclude_columns or [])]
        self.formatters_columns = {**self._default_formatters(), **(type(self).formatters_columns or {})}
        self.validators_columns = self._default_validators()
        enum_fields = {**self._choice_fields(), **self._autocomplete_fields()}
        self.add_form_extra_fields = {**enum_fields, **(type(self).add_form_extra_fields or {})}
        self.edit_form_extra_fields = {**enum_fields, **(type(self).edit_form_extra_fields or {})}
        scoped = self._scoped_relation_filters()
        self.add_form_query_rel_fields = _merge_filters(scoped, type(self).add_form_query_rel_fields)
        self.edit_form_query_rel_fields = _merge_filters(scoped, type(self).edit_form_query_rel_fields)
        self.search_form_query_rel_fields = _merge_filters(scoped, type(self).search_form_query_rel_fields)
        super().__init__(**kwargs)

    # ---- declarations derived from the model -------------------------------------------

    def _columns_shown(self):
        return set(self.list_columns or []) | set(self.show_columns or [])

    def _default_formatters(self):
        mapper = sa.inspect(self.datamodel.obj)
        formatters = {}
        for name in self._columns_shown() | set(self.label_columns):
            if name in mapper.column_attrs:
                formatters[name] = formatter_for(mapper.column_attrs[name].columns[0])
            else:
                formatters[name] = show_text
        return formatters

    def _form_columns(self):
        return set(self.add_columns or []) | set(self.edit_columns or [])

    def _default_validators(self):
        mapper = sa.inspect(self.datamodel.obj)
        declared = type(self).validators_columns or {}
        validators = {}
        for name in self._form_columns() | set(declared):
            extra, last = [], []
            if name in mapper.column_attrs:
                column = mapper.column_attrs[name].columns[0]
                column_type = column.type
                if isinstance(column_type, (sa.String, sa.Text)) and not isinstance(column_type, sa.Enum):
                    extra.append(NoControlCharacters())
                    # The column's own length, a Text column's the portal's limit for free text; checked
                    # last, on the text as the view's own validators leave it (a postcode is normalised).
                    last.append(MaxLength(column_type.length or TEXT_MAX_LENGTH))
                    if column.info.get("format") == "email":
                        extra.append(EmailAddress())
                    if not column.nullable:
                        # FAB's InputRequired accepts "   " for a required text; DataRequired does not.
                        extra.insert(0, DataRequired())
                elif isinstance(column_type, sa.Numeric):
                    extra.append(FiniteAmount())
                elif isinstance(column_type, sa.Integer):
                    extra.append(WholeNumber())
                elif isinstance(column_type, sa.Date):
                    extra.append(SaneDate())
            validators[name] = [*extra, *declared.get(name, []), *last]
        return validators

    def _choice_fields(self):
        mapper = sa.inspect(self.datamodel.obj)
        fields = {}
        for name in self._form_columns():
            if name not in mapper.column_attrs:
                continue
            column = mapper.column_attrs[name].columns[0]
            if isinstance(column.type, sa.Boolean) and column.nullable:
                # An unanswered question (relapse? rent paid?) must not turn into "no" on the next save.
                fields[name] = YesNoUnknownField(
                    self.label_columns.get(name, name),
                    description=(self.description_columns or {}).get(name, ""),
                )
            elif isinstance(column.type, sa.Boolean):
                # FAB makes a NOT NULL boolean "required", so an unticked box could never be saved.
                fields[name] = BooleanField(
                    self.label_columns.get(name, name),
                    description=(self.description_columns or {}).get(name, ""),
                )
            elif isinstance(column.type, sa.Enum) and column.type.enum_class is not None:
                fields[name] = EnumSelectField(
                    column.type.enum_class,
                    label=self.label_columns.get(name, name),
                    validators=list(self.validators_columns.get(name, [])),
                    required=not column.nullable,
                    description=(self.description_columns or {}).get(name, ""),
                )
        return fields

    def _autocomplete_fields(self):
        """Relations to case tables (they grow with the caseload) are chosen by typing, not from a list of all."""
        mapper = sa.inspect(self.datamodel.obj)
        fields = {}
        for rel in mapper.relationships:
            if rel.key not in self._form_columns() or rel.direction is not MANYTOONE:
                continue
            if getattr(rel.mapper.class_, "__scope__", "public") == "public":
                continue
            (column,) = rel.local_columns
            fields[rel.key] = AutocompleteField(
                self.label_columns.get(rel.key, rel.key),
                validators=[Optional()] if column.nullable else [DataRequired()],
                description=(self.description_columns or {}).get(rel.key, ""),
                lookup=partial(self._related_in_scope, rel.key),
                endpoint=f"{type(self).__name__}.autocomplete",
            )
        self._autocomplete = set(fields)
        return fields

    def _related_filters(self, name):
        """The filters a form's choice of `name` must pass: the scope, and the view's own for that field."""
        interface = self.datamodel.get_related_interface(name)
        return interface, interface.get_filters().add_filter_list(self.add_form_query_rel_fields.get(name, []))

    def _related_in_scope(self, name, pk):
        interface, filters = self._related_filters(name)
        return interface.get(pk, filters)

    @expose("/autocomplete/<field>")
    @has_access
    @permission_name("add")
    def autocomplete(self, field):
        """The first records of a form's related field matching `q` (client number or name), as select2 wants them."""
        if field not in self._autocomplete:
            abort(404)
        interface, filters = self._related_filters(field)
        model = interface.obj
        term = (request.args.get("q") or "").strip()[:100]
        query = filters.apply_all(interface.session.query(model))
        if term:
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.filter(_matching_tenant(model, f"%{escaped}%"))
        rows = query.options(*_tenant_loads(model)).order_by(model.id.desc()).limit(AUTOCOMPLETE_LIMIT).all()
        return jsonify({"results": [{"id": row.id, "text": str(row)} for row in rows]})

    def _scoped_relation_filters(self):
        mapper = sa.inspect(self.datamodel.obj)
        return {
            rel.key: [["id", ScopeFilter, None]]
            for rel in mapper.relationships
            if rel.key in self._form_columns() | set(self.search_columns or [])
            and getattr(rel.mapper.class_, "__scope__", "public") != "public"
        }

    # ---- what the current user may see -------------------------------------------------

    def _hidden_now(self) -> set:
        if not self._sensitive or security_manager().sees_sensitive_fields():
            return set()
        return self._sensitive

    def _visible(self, columns):
        hidden = self._hidden_now()
        return [c for c in columns if c not in hidden]

    def _visible_fieldsets(self, fieldsets):
        hidden = self._hidden_now()
        result = []
        for title, spec in fieldsets or []:
            fields = [f for f in spec.get("fields", []) if f not in hidden]
            if fields:
                result.append((title, {**spec, "fields": fields}))
        return result

    def _prepare_form(self, form):
        """This request's form: hidden fields removed, blank text as no value, multi-selects checked."""
        for name in self._hidden_now():
            if name in form:
                del form[name]
        for field in form:
            if isinstance(field.data, str) and not field.data.strip():
                # Whitespace only is no value (WTForms' Optional would otherwise wipe the errors for it).
                field.data = None
            if isinstance(field, QuerySelectMultipleField):
                if field._formdata:
                    field._formdata.discard("")
                field.validators = [*field.validators, _only_offered_choices]
        return form

    # ---- widgets (FAB's, with the hidden columns taken out) ----------------------------

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

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        widgets = widgets or {}
        table = self.datamodel.obj.__tablename__
        if self.audit_views:
            record_access(self.datamodel.session, AuditAction.view, table, item.id)
        widgets["record_name"] = str(item)
        widgets["describe_changes"] = ChangeDescriber(
            self.datamodel.session, security_manager().case_scope(), self.label_columns
        )
        history = sa.select(AuditEntry).where(AuditEntry.record_type == table, AuditEntry.record_id == item.id)
        if not security_manager().sees_access_entries():
            history = history.where(AuditEntry.action.not_in(AuditAction.accesses()))
        widgets["history"] = self.datamodel.session.execute(
            history.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(25)
        ).scalars().all()
        columns = self._visible(self.show_columns)
        widgets["show"] = self.show_widget(
            pk=pk,
            label_columns=self.label_columns,
            include_columns=columns,
            value_columns=self.datamodel.get_values_item(item, columns),
            formatters_columns=self.formatters_columns,
            actions=actions or self.actions,
            fieldsets=self._visible_fieldsets(show_fieldsets or self.show_fieldsets),
            modelview_name=self.__class__.__name__,
            may_edit=authority.may_edit(self.actor(), item),
            may_delete=authority.may_delete(self.actor(), item),
        )
        return widgets

    def _get_add_widget(self, form, exclude_cols=None, widgets=None, readonly=None):
        widgets = widgets or {}
        widgets["add"] = self.add_widget(
            form=form,
            include_cols=self._visible(self.add_columns),
            exclude_cols=exclude_cols or [],
            fieldsets=self._visible_fieldsets(self.add_fieldsets),
            readonly=readonly or {},
            label_columns=self.label_columns,
        )
        return widgets

    def _get_edit_widget(self, form, exclude_cols=None, widgets=None, readonly=None):
        widgets = widgets or {}
        widgets["edit"] = self.edit_widget(
            form=form,
            include_cols=self._visible(self.edit_columns),
            exclude_cols=exclude_cols or [],
            fieldsets=self._visible_fieldsets(self.edit_fieldsets),
            readonly=readonly or {},
            label_columns=self.label_columns,
        )
        return widgets

    # ---- add, edit, delete: all or nothing ---------------------------------------------

    def _init_forms(self):
        super()._init_forms()
        self.edit_form = type("VersionedEditForm", (self.edit_form,), {"row_version": HiddenField()})
        for form in (self.add_form, self.edit_form):
            _use_portal_inputs(form)

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

    def _related_from_url(self, form, filters):
        """A parent chosen by the related list's "add" link (`_flt_0_trajectory=7`), in scope only."""
        for name in filters.get_relation_cols():
            value = filters.get_filter_value(name)
            if isinstance(value, list):
                value = value[0] if len(value) == 1 else None
            interface = self.datamodel.get_related_interface(name)
            related = interface.get(value, interface.get_filters().add_filter_list([["id", ScopeFilter, None]]))
            if related is None:
                abort(404)
            if name in form:
                form[name].data = related

    # ---- who may write what: models.authority decides, the screens offer only that ------------

    @staticmethod
    def actor():
        return authority.current_actor()

    def may_add(self) -> bool:
        return authority.may_add_model(self.actor(), self.datamodel.obj)

    def row_rights(self, rows) -> dict:
        """{pk: (may edit, may delete)} for a page's rows: the buttons a row offers."""
        actor = self.actor()
        return {row.id: (authority.may_edit(actor, row), authority.may_delete(actor, row)) for row in rows}

    def _fix_fields(self, form, fixed):
        """Take the fields the user may not choose out of the form; what they keep is shown as text."""
        for name in fixed:
            if name in form:
                del form[name]
        return {name: show_date(value) if isinstance(value, date) else show_text(value) for name, value in fixed.items()}

    def _refuse_crafted_values(self, form, fixed):
        """A posted value for a field the form does not offer, different from what it keeps, is refused."""
        for name, kept in fixed.items():
            if name not in request.form:
                continue
            posted = {v for v in request.form.getlist(name) if v.strip()}
            if isinstance(kept, (list, tuple, set)):
                same = posted == {str(getattr(v, "id", v)) for v in kept}
            else:
                same = posted == ({str(getattr(kept, "id", kept))} if kept is not None else set())
            if not same:
                self._show_error(form, _l(
                    "%(field)s cannot be changed by your organisation: the coordinating organisation decides it. "
                    "Nothing was saved.", field=self.label_columns.get(name, name)))
                return False
        return True

    def _add(self):
        if not self.may_add():
            abort(403)
        filters = self._request_filters(disallow_if_not_in_search=False)
        exclude_cols = filters.get_relation_cols()
        form = self._prepare_form(self.add_form.refresh())
        fixed = authority.fixed_on_form(self.actor(), self.datamodel.obj)
        readonly = self._fix_fields(form, fixed)
        self._related_from_url(form, filters)
        if request.method == "POST":
            if (form.validate() & self._refuse_crafted_values(form, fixed)
                    and self._save(form, self.datamodel.obj(), is_new=True, fixed=fixed)):
                return None
        else:
            self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols, readonly=readonly)

    def _edit(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        if not authority.may_edit(self.actor(), item):
            abort(403)
        filters = self._request_filters(disallow_if_not_in_search=False)
        exclude_cols = filters.get_relation_cols()
        pk = self.datamodel.get_pk_value(item)
        fixed = authority.fixed_on_form(self.actor(), self.datamodel.obj, item)
        if request.method == "POST":
            form = self._prepare_form(self.edit_form.refresh(request.form))
            readonly = self._fix_fields(form, fixed)
            self._related_from_url(form, filters)
            form._id = pk
            if str(item.version) != (form.row_version.data or ""):
                form.row_version.errors = [CONFLICT_MESSAGE]
                flash(CONFLICT_MESSAGE, "danger")
            elif form.validate() & self._refuse_crafted_values(form, fixed) and self._save(form, item, is_new=False):
                return None
        else:
            form = self._prepare_form(self.edit_form.refresh(obj=item))
            readonly = self._fix_fields(form, fixed)
            form.row_version.data = str(item.version)
            self.prefill_form(form, pk)
            self.update_redirect()
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols, readonly=readonly)
        widgets["record_name"] = str(item)
        return self._get_related_views_widgets(
            item, filters={}, orders={}, pages={}, page_sizes={}, widgets=widgets
        )

    def _save(self, form, item, is_new: bool, fixed=None) -> bool:
        """Populate, check the process rules and commit; on any refusal roll back and say why."""
        session = self.datamodel.session
        try:
            # No autoflush while the form fills the object: a half-checked record must never reach the database.
            with session.no_autoflush:
                self.process_form(form, is_new)
                form.populate_obj(item)
                for name, value in (fixed or {}).items():
                    setattr(item, name, value)
                self.validate_item(item, form)
            if is_new:
                self.pre_add(item)
                session.add(item)
            else:
                self.pre_update(item)
            session.flush()
            self._check_still_in_scope(item)
            session.commit()
        except (DomainError, NotAllowed) as error:
            session.rollback()
            self._show_error(form, error.message, error.field)
            return False
        except StaleDataError:
            session.rollback()
            self._show_error(form, CONFLICT_MESSAGE)
            return False
        except IntegrityError as error:
            session.rollback()
            log.info("Refused save of %s: %s", self.datamodel.obj.__name__, error.orig)
            self._show_error(form, _l("This record conflicts with an existing one (a value that must be unique is already in use)."))
            return False
        except SQLAlchemyError:
            session.rollback()
            log.exception("Database error saving %s", self.datamodel.obj.__name__)
            self._show_error(form, _l("The record could not be saved because of a database error. Nothing was changed."))
            return False
        if is_new:
            self.post_add(item)
            flash(_l("%(record)s was added.", record=self.record_name()), "success")
        else:
            self.post_update(item)
            flash(_l("%(record)s was saved.", record=self.record_name()), "success")
        return True

    def _check_still_in_scope(self, item):
        """A save may not place a record outside the saver's own cases, where they could not see it."""
        model = self.datamodel.obj
        visible = self.datamodel.session.query(model.id).filter(
            model.id == item.id, visible_clause(model, security_manager().case_scope())
        )
        if visible.first() is None:
            raise DomainError(_l(
                "You can only record this for cases your organisation is involved in: "
                "choose your own organisation or a case of yours."
            ))

    @staticmethod
    def _show_error(form, message, field=None):
        if field and field in form:
            form[field].errors = [*form[field].errors, message]
        flash(message, "danger")

    def validate_item(self, item, form):
        """Rules across fields or records; raise DomainError. Subclasses extend."""

    def record_name(self):
        return self.datamodel.obj.__name__

    def post_delete_redirect(self):
        """Back to the page the delete was made from (a list, another record's page showing it in a
        related list); from the deleted record's own pages, to the page before them, as FAB does."""
        referrer = urlsplit(request.referrer or "")
        pk = (request.view_args or {}).get("pk")
        own_pages = {url_for(f"{self.endpoint}.{name}", pk=pk) for name in ("show", "edit")} if pk else set()
        back = safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
        if back and referrer.netloc == request.host and referrer.path not in own_pages:
            return redirect(back)
        return super().post_delete_redirect()

    def _delete(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        if not authority.may_delete(self.actor(), item):
            abort(403)
        blockers = linked_records(item)
        if blockers:
            flash(
                _l("%(record)s cannot be deleted: it still has %(linked)s. Remove or move those first.",
                   record=str(item), linked=", ".join(blockers)),
                "danger",
            )
            return
        session = self.datamodel.session
        try:
            self.pre_delete(item)
            session.delete(item)
            session.commit()
        except (DomainError, NotAllowed) as error:
            session.rollback()
            flash(error.message, "danger")
            return
        except SQLAlchemyError:
            session.rollback()
            log.exception("Database error deleting %s %s", self.datamodel.obj.__name__, pk)
            flash(_l("The record could not be deleted because other records still refer to it."), "danger")
            return
        self.post_delete(item)
        flash(_l("%(record)s was deleted.", record=self.record_name()), "success")

    # ---- Excel export of exactly what the list shows ---------------------------------

    # Columns of the export; by default the list's own, so a field added to a list is exported too.
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
        names = self._visible(self.export_columns or self.list_columns)
        record_access(self.datamodel.session, AuditAction.export, self.datamodel.obj.__tablename__,
                      detail=request.query_string.decode(errors="replace") or None)
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
        # The list's export shows what the list shows; declared export columns say themselves what they hold.
        masks = {} if self.export_columns else self.list_masks
        columns = [Column(_l("No."), itemgetter(0) if positional else attrgetter("id"))]
        for index, name in enumerate(names, start=1):
            read = itemgetter(index) if positional else attrgetter(name)
            if name in masks:
                read = _masked(read, masks[name])
            columns.append(Column(self.label_columns.get(name, name), read, yes_no))
        return columns

    def download(self, filename):
        # The portal stores no uploaded files; FAB's generic download route stays closed.
        abort(404)

    # Bulk actions load rows by id without filters in FAB; every action goes through the scope.
    def action(self, name, pk):
        if self.datamodel.get(pk, self._base_filters) is None:
            abort(404)
        return super().action(name, pk)

    def action_post(self):
        for pk in request.form.getlist("rowid"):
            if self.datamodel.get(pk, self._base_filters) is None:
                abort(404)
        return super().action_post()


def _masked(read, mask):
    return lambda row: mask(read(row)) or None


RECORD_NAMES = {
    "organisation": _l("organisations"),
    "contact": _l("contacts"),
    "tenant": _l("tenants"),
    "trajectory": _l("trajectories"),
    "trajectory_organisation": _l("trajectories it is involved in"),
    "status_change": _l("status changes"),
    "intervention": _l("interventions"),
    "agreement": _l("agreements"),
    "obligation": _l("obligations"),
    "signature": _l("signatures"),
    "debt": _l("debts"),
    "evaluation": _l("evaluations"),
    "ab_user": _l("user accounts"),
}


def linked_records(item) -> list:
    """What still refers to `item` through a foreign key that does not cascade, as "3 debts"."""
    table = item.__table__
    session = sa.inspect(item).session
    found = []
    for other in table.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is not table or (fk.ondelete or "").upper() in ("CASCADE", "SET NULL"):
                continue
            count = session.execute(
                sa.select(sa.func.count()).select_from(other).where(fk.parent == getattr(item, fk.column.key))
            ).scalar()
            if count:
                found.append(f"{count} {RECORD_NAMES.get(other.name, other.name)}")
    return found
