"""A form of a PortalModelView: validators, choice fields and inputs derived from the model's columns.

A view declares only exceptions (`validators_columns`, its own extra fields); every text gets
its length and control-character checks, every number its finite check, a nullable boolean a
yes/no/unknown choice, an enum a safe select, a date the browser's picker, an amount Dutch and
English notation, and every relation to a case table the user's scope.
"""
from datetime import date

import sqlalchemy as sa
from flask_appbuilder.fields import QuerySelectMultipleField
from wtforms import BooleanField, DateField, DecimalField, HiddenField, TextAreaField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, ValidationError
from flask_babel import lazy_gettext as _l

from models.base import TEXT_MAX_LENGTH

from .fields import (
    AmountField, EmailAddress, EnumSelectField, FiniteAmount, MaxLength, NoControlCharacters, SaneDate, WholeNumber,
    YesNoUnknownField, lf_line_breaks,
)
from .formatting import show_date, show_text
from .interface import ScopeFilter
from .widgets import DateInput, PortalFormWidget

def _only_offered_choices(form, field):
    """FAB's multi-select silently drops ids it does not offer (out of scope, made up): refuse them."""
    field.data  # resolving the ids is what marks unknown ones
    if getattr(field, "_invalid_formdata", False):
        raise ValidationError(_l("Not a valid choice."))


def _use_portal_inputs(form_class):
    """Date fields get the browser's date picker (views.widgets.DateInput); amounts read Dutch and
    English notation (views.fields.AmountField); text areas store LF line breaks
    (views.fields.lf_line_breaks). Each is a new field on this form class, in the same
    place: a view's declared extra field is shared by its forms and stays as declared."""
    for name in dir(form_class):
        field = getattr(form_class, name, None)
        if not isinstance(field, UnboundField):
            continue
        if issubclass(field.field_class, DateField):
            kwargs = {**field.kwargs, "widget": DateInput()}
            portal = UnboundField(field.field_class, *field.args, name=field.name, **kwargs)
        elif field.field_class is DecimalField:
            portal = UnboundField(AmountField, *field.args, name=field.name, **field.kwargs)
        elif issubclass(field.field_class, TextAreaField):
            kwargs = {**field.kwargs, "filters": [*field.kwargs.get("filters", ()), lf_line_breaks]}
            portal = UnboundField(field.field_class, *field.args, name=field.name, **kwargs)
        else:
            continue
        portal.creation_counter = field.creation_counter
        setattr(form_class, name, portal)


def _merge_filters(scoped: dict, declared) -> dict:
    """The scope filter of a relation field always stays; a view's own filters narrow it further."""
    declared = declared or {}
    return {key: [*scoped.get(key, []), *declared.get(key, [])] for key in {*scoped, *declared}}


class FormMixin:
    """Forms of a PortalModelView, built by Flask-AppBuilder from the declarations derived here."""

    add_widget = edit_widget = PortalFormWidget

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

    def _scoped_relation_filters(self):
        mapper = sa.inspect(self.datamodel.obj)
        return {
            rel.key: [["id", ScopeFilter, None]]
            for rel in mapper.relationships
            if rel.key in self._form_columns() | set(self.search_columns or [])
            and getattr(rel.mapper.class_, "__scope__", "public") != "public"
        }

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

    def _fix_fields(self, form, fixed):
        """Take the fields the user may not choose out of the form; what they keep is shown as text."""
        for name in fixed:
            if name in form:
                del form[name]
        return {name: show_date(value) if isinstance(value, date) else show_text(value) for name, value in fixed.items()}

    def _finish_forms(self):
        """The forms FAB built, with the portal's inputs and, on edit, the version the user opened."""
        self.edit_form = type("VersionedEditForm", (self.edit_form,), {"row_version": HiddenField()})
        for form in (self.add_form, self.edit_form):
            _use_portal_inputs(form)

    def _form_widgets(self, kind, form, exclude_cols=None, readonly=None) -> dict:
        """The add or edit form (`kind`) without the fields hidden from this user, with read-only values as text.

        FAB's own `_get_add_widget`/`_get_edit_widget` are called only by its `_add`/`_edit`, which the
        portal replaces (views/saving.py); this is what those call instead."""
        columns, fieldsets = getattr(self, f"{kind}_columns"), getattr(self, f"{kind}_fieldsets")
        widget = getattr(self, f"{kind}_widget")
        return {kind: widget(
            form=form,
            include_cols=self._visible(columns),
            exclude_cols=exclude_cols or [],
            fieldsets=self._visible_fieldsets(fieldsets),
            readonly=readonly or {},
            label_columns=self.label_columns,
        )}
