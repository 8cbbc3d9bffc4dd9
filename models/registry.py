"""The portal's entities, as their models declare them: one place that everything per-entity reads.

A model is an entity of the portal when it declares `__label__` and `__plural__`. With `__scope__`
(models.scope) and the `info` of its columns, that is all the rest of the portal needs to know:

- `__label__`, `__plural__`: how the record type reads (audit trail, titles, messages, delete
  refusals, the subject-access export and the partner workbook's sheets);
- `__scope__`: the path to the case it belongs to ("trajectory", "agreement.trajectory");
- `__workbook__`: the column the entity's sheet in the partner workbook is ordered by (no sheet
  without it);
- per column, in `info`: `label`, `description` (help text), `sensitive` (special-category data,
  AVG art. 9), `personal` (identifies the tenant: erased when the tenant's retention ends),
  `case_note` (free text about the case: erased when the case notes' retention ends), and where it
  shows by default (`list`, `search`, `export`, `workbook`; see `shown_in`);
- `__str__`: how one record names itself.

Nothing else in the portal keeps a list of entities: a new model is covered by the audit trail,
retention, subject access, the workbook and the access tests once it declares the above
(tests/test_registry.py walks them).
"""
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import HybridExtensionType
from sqlalchemy.orm import MANYTOMANY, MANYTOONE

from .base import Model

# Where a column appears unless it says otherwise (`info={"list": True}`, `info={"workbook": False}`).
# Lists stay narrow by choice; the record's page and its forms show every column anyway.
DEFAULT_PLACES = {"list": False, "show": True, "search": True, "export": True, "workbook": True}
PLACES = tuple(DEFAULT_PLACES)


@dataclass(frozen=True)
class Entity:
    model: type

    @property
    def name(self) -> str:
        return self.model.__tablename__

    @property
    def label(self):
        return self.model.__label__

    @property
    def plural(self):
        return self.model.__plural__

    @property
    def scope(self) -> str | None:
        return getattr(self.model, "__scope__", None)

    @property
    def case_path(self) -> tuple | None:
        """The relationships from this entity to its trajectory; () for the trajectory, None outside a case."""
        from .trajectory import Trajectory

        if self.model is Trajectory:
            return ()
        if self.scope in (None, "public", "self"):
            return None
        return tuple(self.scope.split("."))

    @property
    def in_case(self) -> bool:
        """Part of a tenant's case: the tenant, its trajectories and every record inside them."""
        from .tenant import Tenant

        return self.model is Tenant or self.case_path is not None

    def columns_with(self, flag) -> tuple:
        return tuple(attribute.key for attribute in _column_attributes(self.model) if attribute.columns[0].info.get(flag))

    @property
    def sensitive(self) -> tuple:
        return self.columns_with("sensitive")

    @property
    def personal(self) -> tuple:
        return self.columns_with("personal")

    @property
    def case_notes(self) -> tuple:
        return self.columns_with("case_note")

    @property
    def workbook_order(self):
        return getattr(self.model, "__workbook__", None)

    def describe(self, record) -> str:
        """A record as a message names it: its type, then its own name (`__str__`)."""
        return f"{self.label} “{record}”"

    def in_trajectories(self, trajectory_ids):
        """A clause: this entity's rows inside the given trajectories (a select of ids)."""
        path = self.case_path
        if path is None:
            raise LookupError(f"{self.model.__name__} is not inside a trajectory")
        from .trajectory import Trajectory

        if not path:
            return Trajectory.id.in_(trajectory_ids)
        return _through(self.model, list(path), trajectory_ids)


def _through(model, path, trajectory_ids):
    """`model`'s rows whose relationship path ends in one of the trajectories, read by foreign keys."""
    relationship = sa.inspect(model).relationships[path[0]]
    (local,) = relationship.local_columns
    target = relationship.mapper.class_
    if len(path) == 1:
        return local.in_(trajectory_ids)
    return local.in_(sa.select(target.id).where(_through(target, path[1:], trajectory_ids)))


def _column_attributes(model):
    return [a for a in sa.inspect(model).column_attrs if isinstance(a.columns[0], sa.Column)]


@cache
def entities() -> tuple:
    """Every entity, in the order of their tables' dependencies (a tenant before its trajectories)."""
    by_table = {mapper.class_.__tablename__: mapper.class_ for mapper in Model.registry.mappers
                if "__label__" in vars(mapper.class_) or hasattr(mapper.class_, "__label__")}
    order = [table.name for table in Model.metadata.sorted_tables]
    return tuple(Entity(by_table[name]) for name in order if name in by_table)


def case_entities() -> tuple:
    return tuple(entity for entity in entities() if entity.in_case)


def entity(model_or_table) -> Entity | None:
    name = model_or_table if isinstance(model_or_table, str) else getattr(model_or_table, "__tablename__", None)
    return next((e for e in entities() if e.name == name), None)


def type_label(table_name) -> str:
    """A record type as staff read it ("trajectory" → "Traject"); an unknown name stays as it is."""
    if table_name in (None, ""):
        return ""
    found = entity(table_name)
    if found is not None:
        return str(found.label)
    return str(_table_info(table_name).get("label", table_name))


def plural_label(table_name) -> str:
    """The plural of a record type, for counts ("3 schulden"); an association table says its own."""
    found = entity(table_name)
    if found is not None:
        return str(found.plural).lower()
    return str(_table_info(table_name).get("plural", table_name))


def _table_info(table_name) -> dict:
    table = Model.metadata.tables.get(table_name)
    return dict(table.info) if table is not None else {}


def shown_in(column, place: str) -> bool:
    """Whether a column appears in a list, search, export or workbook by default.

    Columns the portal keeps itself (keys, versions, who recorded it, stored figures) and foreign
    keys (their relationship shows instead) never do by default; special-category data and free-text
    personal data never go into the partner workbook, whatever a column says, nor free-text case notes
    unless they say so. Special-category data is never searched; a list shows it where it says so, to
    the roles that see it (views.base hides it from the others).
    """
    info = column.info
    if place not in DEFAULT_PLACES:
        raise ValueError(place)
    if column.primary_key or column.foreign_keys or column.key == "version" or info.get("set_by_portal"):
        return bool(info.get(place, False))
    if place == "workbook" and (info.get("sensitive") or info.get("personal")):
        return False
    if place == "search" and info.get("sensitive"):
        return False
    if place == "export" and info.get("sensitive"):
        # A bulk export of special-category data only where a view or column asks for it.
        return bool(info.get(place, False))
    if place == "workbook" and info.get("case_note"):
        return bool(info.get(place, False))
    return bool(info.get(place, DEFAULT_PLACES[place]))


def relationship_shown_in(relationship, place: str) -> bool:
    """A labelled many-to-one or many-to-many relationship appears where a column would; one the
    portal sets itself (who recorded a record) only where it says so."""
    if relationship.direction not in (MANYTOONE, MANYTOMANY) or relationship.viewonly:
        return False
    info = relationship.info
    if "label" not in info:
        return False
    if any(column.info.get("set_by_portal") for column in relationship.local_columns):
        return bool(info.get(place, False))
    if place == "search" and getattr(relationship.mapper.class_, "__scope__", None) != "public":
        # Searching by a case record would offer every case as a choice: by their own fields instead.
        return bool(info.get(place, False))
    return bool(info.get(place, DEFAULT_PLACES[place]))


def declared_fields(model, place: str) -> list:
    """The fields shown in `place`, in the model's column order; a relationship takes its foreign
    key's place, a many-to-many one follows the many-to-one relationships before it."""
    mapper = sa.inspect(model)
    by_foreign_key = {}
    for relationship in mapper.relationships:
        if relationship.direction is MANYTOONE:
            for column in relationship.local_columns:
                by_foreign_key.setdefault(column.key, []).append(relationship)
    many_to_many = [r for r in mapper.relationships if r.direction is MANYTOMANY]
    names = []
    for column in model.__table__.columns:
        for relationship in by_foreign_key.get(column.key, []):
            if relationship_shown_in(relationship, place) and relationship.key not in names:
                names.append(relationship.key)
        attribute = mapper.get_property_by_column(column) if column in mapper.columns.values() else None
        if attribute is not None and shown_in(column, place):
            names.append(attribute.key)
    names += [r.key for r in many_to_many if relationship_shown_in(r, place)]
    return names


def field_info(model) -> dict:
    """{field: info} of every column and relationship, a column's `info` with its property's over it."""
    found = {}
    for attribute in sa.inspect(model).attrs:
        info = dict(attribute.info)
        if isinstance(attribute, sa.orm.ColumnProperty) and isinstance(attribute.columns[0], sa.Column):
            info = {**attribute.columns[0].info, **info}
        found[attribute.key] = info
    return found


def field_labels(model) -> dict:
    """{field: label} as the model declares them (`info["label"]`)."""
    return {name: info["label"] for name, info in field_info(model).items() if "label" in info}


def field_label(model, name) -> str:
    """A field's label as its column or relationship declares it; its name otherwise."""
    return field_labels(model).get(name, name)


def field_descriptions(model) -> dict:
    """{field: help text} as columns and relationships declare it (`info["description"]`)."""
    return {name: info["description"] for name, info in field_info(model).items() if "description" in info}


def field_expression(model, name, separator=", "):
    """The SQL that yields what a field shows (a related record by its name, several joined by
    `separator`), or None when only Python can compute it."""
    mapper = sa.inspect(model)
    if name in mapper.column_attrs:
        return getattr(model, name)
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
                sa.select(sa.func.aggregate_strings(target.display_name, separator))
                .select_from(target).join(relation.secondary, relation.secondaryjoin)
                .where(relation.primaryjoin).scalar_subquery()
            )
        return None
    descriptor = mapper.all_orm_descriptors.get(name)
    if descriptor is not None and descriptor.extension_type is HybridExtensionType.HYBRID_PROPERTY:
        return getattr(model, name)
    return None


__all__ = ["field_info", "field_labels", "field_label", "field_descriptions", "field_expression", "Entity", "entities", "case_entities", "entity", "type_label", "plural_label", "shown_in",
           "relationship_shown_in", "declared_fields", "DEFAULT_PLACES", "PLACES"]
