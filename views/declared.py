"""What a screen shows when its view says nothing: derived from the model's declarations.

A view names only its exceptions (fieldsets, a computed column, a narrower search); every other
field follows its column's `info` (models.registry), so a column added to a model is on the
record's page, in its forms, in search and in the list's export without editing any view.
"""
from flask_babel import LazyString, gettext

from models import registry

# The fields a model's screens show by default, per list of a FAB view.
PLACES = {"list_columns": "list", "search_columns": "search"}


def record_fields(model) -> list:
    """Every field a record's page shows: its columns and labelled relationships, not what the
    portal keeps itself (keys, versions, who recorded it)."""
    return registry.declared_fields(model, "show")


def form_fields(model) -> list:
    """The fields a form edits: the record's fields minus what only the database or a lifecycle step sets."""
    column_info = {c.key: c.info for c in model.__table__.columns}
    steps = set(getattr(model, "__step_fields__", ()))
    return [name for name in record_fields(model)
            if name not in steps and not column_info.get(name, {}).get("kept_by_database")]


def default_columns(model) -> dict:
    """{FAB attribute: names} for a view of `model` that declares none of its own."""
    fields = {attribute: registry.declared_fields(model, place) for attribute, place in PLACES.items()}
    fields["show_columns"] = record_fields(model)
    fields["add_columns"] = fields["edit_columns"] = form_fields(model)
    return fields


def export_fields(model, list_columns) -> list:
    """The list's export: what the list shows, then every other field declared for export."""
    declared = registry.declared_fields(model, "export")
    return [*list_columns, *(name for name in declared if name not in list_columns)]


def _lowered(text):
    return str(text).lower()


def _sentence(text) -> str:
    return text[:1].upper() + text[1:]


def default_titles(model) -> dict:
    """A view's titles from the entity's labels, for views that do not word their own."""
    entity = registry.entity(model)
    if entity is None:
        return {}
    return {
        "list_title": entity.plural,
        "show_title": entity.label,
        "add_title": LazyString(lambda: _sentence(gettext("Add %(entity)s", entity=_lowered(entity.label)))),
        "edit_title": LazyString(lambda: _sentence(gettext("Edit %(entity)s", entity=_lowered(entity.label)))),
    }
