"""The one base class of every portal screen: scoping, field hiding, labels, safe saving.

A subclass only declares (`datamodel`, columns, filters, order, related views). Everything a
view must never forget — the organisation scope on every query, hiding special-category
fields, labels and formats derived from the model, optimistic locking, and writes that
either succeed whole or change nothing — happens here, once, in one module per concern:

- views/interface.py: the data interface (every query scoped, lists paged in three statements);
- views/listing.py: the list page and its request arguments;
- views/forms.py: forms derived from the model's columns;
- views/autocomplete.py: relations to case tables chosen by typing;
- views/saving.py: add and edit, all or nothing, with optimistic locking;
- views/deleting.py: delete, refused while other records need the record;
- views/export.py: the list as .xlsx;
- views/fab_contract.py: the Flask-AppBuilder internals these build on (tests/test_fab_contract.py).
"""
import sqlalchemy as sa
from flask import abort, request
from flask_appbuilder import ModelView

from models import AuditAction, AuditEntry, authority, record_access, registry
from models.scope import is_declared

from .autocomplete import AutocompleteMixin
from .declared import default_columns, default_titles
from .deleting import DeletingMixin, linked_records, records_label
from .export import ExportMixin, slug
from .forms import FormMixin, _merge_filters
from .formatting import formatter_for, show_text
from .history import ChangeDescriber
from .interface import SORTED_WALK_FROM, PortalInterface, ScopeFilter, security_manager
from .listing import ListingMixin, PortalListWidget, refusing_bad_filter_values, reject_malformed_list_arguments
from .saving import CONFLICT_MESSAGE, DomainError, SavingMixin
from .widgets import PortalShowWidget

__all__ = [
    "CONFLICT_MESSAGE", "DomainError", "PortalInterface", "PortalListWidget", "PortalModelView", "ScopeFilter",
    "SORTED_WALK_FROM", "linked_records", "model_labels", "records_label", "refusing_bad_filter_values",
    "reject_malformed_list_arguments", "security_manager", "sensitive_columns", "slug",
]


def model_labels(model) -> dict:
    """Labels declared once, on the model's columns and relationships (`info["label"]`)."""
    return registry.field_labels(model)


def sensitive_columns(model) -> set:
    """Special-category fields, as the model declares them (models.registry)."""
    return set(registry.Entity(model).sensitive)


class PortalModelView(ListingMixin, FormMixin, AutocompleteMixin, SavingMixin, DeletingMixin, ExportMixin, ModelView):
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
    add_template = "portal/add.html"
    edit_template = "portal/edit.html"
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
        # What the view does not say itself follows the model's declarations (views.declared).
        for attribute, value in {**default_columns(model), **default_titles(model)}.items():
            if not getattr(type(self), attribute, None):
                setattr(self, attribute, value)
        # Fresh dicts per view: FAB fills these in place, a shared one would leak between views.
        self.label_columns = {**model_labels(model), **(type(self).label_columns or {})}
        self.description_columns = {**registry.field_descriptions(model), **(type(self).description_columns or {})}
        self.base_filters = [["id", ScopeFilter, None], *(type(self).base_filters or [])]
        self.search_columns = [c for c in self.search_columns if c not in self._sensitive]
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
        self._finish_forms()

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

    # ---- the record's page -------------------------------------------------------------

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

    # ---- FAB's other ways in, closed or scoped ------------------------------------------

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
