"""An audit entry's changes as staff read them: field labels, words and formatted values, not keys.

The trail stores what changed as JSON (`models.audit.json_value`: enum keys, ISO dates, exact
amounts, foreign-key ids, lists of names). Shown raw, a history would read
`household: single → couple` or `involved_organisations: ['A', 'B']`.
"""
import json
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import MANYTOONE

from models import registry
from models.audit import SENSITIVE_PLACEHOLDER
from models.scope import visible_clause

from .formatting import formatter_for, show_date, show_text

EMPTY = "—"


def record_type_label(table_name) -> str:
    """A table name as a word ("trajectory" → "Traject"), as its model declares it."""
    return registry.type_label(table_name)


def model_for_table(table_name):
    found = registry.entity(table_name)
    return found.model if found is not None else None


class ChangeDescriber:
    """Describes the changes of entries about one model, for a user with the given case scope."""

    def __init__(self, session, scope, labels=None):
        self.session = session
        self.scope = scope
        self.labels = labels or {}

    def __call__(self, entry) -> list:
        """[(label, old, new)] of the entry's update, each value as text ("—" for none)."""
        if not entry.changes:
            return []
        model = model_for_table(entry.record_type)
        try:
            changes = json.loads(entry.changes)
        except ValueError:
            return []
        return [(self._label(model, key), self._value(model, key, old), self._value(model, key, new))
                for key, (old, new) in changes.items()]

    def _label(self, model, key) -> str:
        from .base import model_labels

        if key in self.labels:
            return str(self.labels[key])
        if model is None:
            return key
        labels = model_labels(model)
        if key in labels:
            return str(labels[key])
        relation = self._relation_of(model, key)
        if relation is not None and relation.key in labels:
            return str(labels[relation.key])
        return key

    @staticmethod
    def _relation_of(model, key):
        """The many-to-one relation whose foreign-key column is `key` (e.g. `housing_corporation_id`)."""
        mapper = sa.inspect(model)
        if key not in mapper.column_attrs:
            return None
        column = mapper.column_attrs[key].columns[0]
        for relation in mapper.relationships:
            if relation.direction is MANYTOONE and column in relation.local_columns:
                return relation
        return None

    def _value(self, model, key, value) -> str:
        if value in (None, ""):
            return EMPTY
        if value == SENSITIVE_PLACEHOLDER:
            return str(_l("(changed)"))
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or EMPTY
        if model is None:
            return str(value)
        mapper = sa.inspect(model)
        relation = self._relation_of(model, key)
        if relation is not None:
            return self._related(relation.mapper.class_, value)
        if key not in mapper.column_attrs:
            return show_text(value)
        column = mapper.column_attrs[key].columns[0]
        return self._typed(column, value)

    def _typed(self, column, value) -> str:
        column_type = column.type
        try:
            if isinstance(column_type, sa.DateTime):
                moment = datetime.fromisoformat(value)
                return f"{show_date(moment)} {moment:%H:%M}"
            if isinstance(column_type, sa.Date):
                return show_date(date.fromisoformat(value))
            if isinstance(column_type, sa.Numeric):
                value = Decimal(str(value))
        except (TypeError, ValueError, InvalidOperation):
            return str(value)
        return formatter_for(column, markup=False)(value) or EMPTY

    def _related(self, target, pk) -> str:
        """The related record's name, if the user may see it; else only that there is one."""
        record = self.session.query(target).filter(target.id == pk, visible_clause(target, self.scope)).one_or_none()
        return str(record) if record is not None else f"#{pk}"
