"""Choosing a case record in a form by typing a few letters, instead of from a list of all of them.

A form field for a many-to-one relation to a case table (tenant, trajectory, agreement, evaluation:
tables that grow with the caseload) would otherwise render one `<option>` per record in scope,
which at production scale makes a debt form too large and slow to use (figures in
benchmarks/README.md). This field renders only the record
chosen so far; the browser asks the view's `autocomplete` endpoint for the records matching what
the user types (select2's ajax mode, already shipped with Flask-AppBuilder), and a posted id is
looked up again, within the user's scope, so a crafted POST cannot pick a record outside it.
What the user types is matched against the name of the record that names the chosen one (a
debt's case is known by its tenant): see `_naming_relation`.
"""
from functools import partial

import sqlalchemy as sa
from flask import abort, current_app, jsonify, request, url_for
from flask_appbuilder import expose, has_access, permission_name
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy.orm import MANYTOONE, joinedload
from wtforms import Field
from wtforms.validators import DataRequired, Optional, StopValidation
from wtforms.widgets import html_params

SCRIPT = "autocomplete.js"
AUTOCOMPLETE_LIMIT = 20


class AutocompleteWidget:
    """A `<select>` holding only the chosen record; static/autocomplete.js turns it into a search box."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        options = ['<option value=""></option>']
        if field.data is not None:
            options.append(f'<option value="{escape(field.data.id)}" selected>{escape(str(field.data))}</option>')
        attributes = html_params(
            name=field.name, class_="portal-autocomplete form-control",
            data_url=url_for(field.endpoint, field=field.short_name),
            data_placeholder=str(_l("Type to search")), required=field.flags.required, **kwargs,
        )
        script = html_params(src=url_for("static", filename=SCRIPT), defer=True, nonce=_nonce())
        return Markup(f'<select {attributes}>{"".join(options)}</select><script {script}></script>')


def _nonce():
    """This response's Content-Security-Policy nonce, as FAB's templates put it on their scripts (if any)."""
    nonce = current_app.jinja_env.globals.get("csp_nonce")
    return nonce() if nonce else False


class AutocompleteField(Field):
    """A related record, chosen by id; `lookup(id)` returns it if the user may choose it, else None."""

    widget = AutocompleteWidget()

    def __init__(self, label=None, validators=None, lookup=None, endpoint=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.lookup = lookup
        self.endpoint = endpoint
        self._submitted = None

    def _value(self):
        return str(self.data.id) if self.data is not None else ""

    def process_formdata(self, valuelist):
        # No value posted (the field left out of a form opened from a related list): keep what is set.
        if not valuelist:
            return
        value = (valuelist[0] or "").strip()
        if value in ("", "__None"):
            self.data = None
            return
        self._submitted = value
        self.data = self.lookup(value)

    def pre_validate(self, form):
        if self._submitted is not None and self.data is None:
            raise StopValidation(_l("Not a valid choice."))


def _naming_relation(model):
    """The relation towards the record whose name names `model`'s records (a debt is known by its
    case's tenant): declared on the model (`__named_by__`), else the first step to its case; None
    when the record names itself (`display_name`)."""
    declared = getattr(model, "__named_by__", None)
    if declared:
        return declared
    scope = getattr(model, "__scope__", "self")
    return None if scope in ("self", "public") else scope.partition(".")[0]


def matching_name(model, pattern):
    """Records whose naming record's name (a tenant's client number or name) contains `pattern`."""
    name = _naming_relation(model)
    if name is None:
        return model.display_name.ilike(pattern, escape="\\")
    relation = getattr(model, name).property
    (local_column,) = relation.local_columns
    target = relation.mapper.class_
    return local_column.in_(sa.select(target.id).where(matching_name(target, pattern)))


def naming_loads(model) -> list:
    """Eager loads along the model's way to the record that names it, so that str(row) needs no query."""
    load, current = None, model
    while (name := _naming_relation(current)) is not None:
        attribute = getattr(current, name)
        load = joinedload(attribute) if load is None else load.joinedload(attribute)
        current = attribute.property.mapper.class_
    return [] if load is None else [load]


class AutocompleteMixin:
    """Form fields of a PortalModelView for relations to case tables, and the endpoint they ask."""

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
            query = query.filter(matching_name(model, f"%{escaped}%"))
        rows = query.options(*naming_loads(model)).order_by(model.id.desc()).limit(AUTOCOMPLETE_LIMIT).all()
        return jsonify({"results": [{"id": row.id, "text": str(row)} for row in rows]})
