"""The database handle, shared column types and mixins for every portal model."""
import enum

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.utils.legacy import get_sqla_class
from sqlalchemy.ext.compiler import compiles
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import declared_attr, relationship

db = get_sqla_class()()

# Named constraints let later migrations alter tables, SQLite's batch mode included.
Model.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = sa.Numeric(12, 2)
# The longest text a form takes for a Text column, which has no length of its own: far more than any
# note needs, and a stop to a whole document pasted into a field.
TEXT_MAX_LENGTH = 10_000


class LabelledEnum(str, enum.Enum):
    """An enum whose value is the stored key and whose label is translated when shown."""

    @classmethod
    def labels(cls) -> dict:
        raise NotImplementedError

    @classmethod
    def badges(cls) -> dict:
        """A status's colour where a glance at it helps (Bootstrap's label colours); none by default."""
        return {}

    @property
    def label(self):
        return self.labels()[self]

    @property
    def badge(self):
        return self.badges().get(self)

    def __str__(self) -> str:
        return str(self.label)


def enum_column(enum_class, **kwargs):
    """A column that stores an enum's key as text, so new members need no type change."""
    return sa.Column(
        sa.Enum(
            enum_class,
            native_enum=False,
            length=32,
            values_callable=lambda members: [m.value for m in members],
            validate_strings=True,
        ),
        **kwargs,
    )


class add_months(sa.sql.expression.FunctionElement):
    """`date + n months` in SQL, clamped to the month's last day as dateutil's relativedelta does."""

    type = sa.Date()
    inherit_cache = True
    name = "add_months"


@compiles(add_months, "postgresql")
def _add_months_postgresql(element, compiler, **kw):
    day, months = list(element.clauses)
    return f"CAST(({compiler.process(day, **kw)} + make_interval(months => {compiler.process(months, **kw)})) AS DATE)"


@compiles(add_months, "sqlite")
def _add_months_sqlite(element, compiler, **kw):
    day, months = (compiler.process(c, **kw) for c in element.clauses)
    # SQLite's '+N months' overflows (31 Jan + 1 month = 3 March): step to the target month, then clamp the day.
    last_day = f"CAST(strftime('%d', date({day}, 'start of month', '+' || ({months} + 1) || ' months', '-1 day')) AS INTEGER)"
    return (
        f"date({day}, 'start of month', '+' || {months} || ' months', "
        f"'+' || (min(CAST(strftime('%d', {day}) AS INTEGER), {last_day}) - 1) || ' days')"
    )


def trigram_index(name, column):
    """An index for "contains" searches (ILIKE '%text%'), which PostgreSQL reads through pg_trgm;
    SQLite has no such index and scans, fast enough at a region's size (benchmarks/pages.py)."""
    return sa.Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}).ddl_if(
        dialect="postgresql")


def built_on(schema_object, dialect_name: str) -> bool:
    """Whether a schema object is built on this dialect (an index declared with `ddl_if`), so that
    Alembic compares a database only with what it can hold (migrations/env.py, tests/test_migrations.py)."""
    condition = getattr(schema_object, "_ddl_if", None)
    return condition is None or condition.dialect in (None, dialect_name)


class VersionedMixin:
    """Optimistic locking: an UPDATE whose row changed since it was read fails."""

    @declared_attr
    def version(cls):
        return sa.Column(sa.Integer, nullable=False, default=1, server_default="1")

    @declared_attr
    def __mapper_args__(cls):
        return {"version_id_col": cls.version}


class RecordedMixin:
    """A record inside a case that belongs to the organisation that recorded it (models.authority).

    Set by the portal when the record is first saved, never by a form: that organisation edits and
    deletes it, the coordinating organisation always may.
    """

    __owner__ = "recorded_by_organisation_id"

    @declared_attr
    def recorded_by_organisation_id(cls):
        # No ON DELETE (migration 0010): an organisation that recorded case records stays.
        return sa.Column(sa.Integer, sa.ForeignKey("organisation.id"), index=True,
                         info={"label": _l("Recorded by"), "set_by_portal": True})

    @declared_attr
    def recorded_by_user_id(cls):
        # An account that recorded case records is deactivated, not deleted: the record keeps who it was.
        return sa.Column(sa.Integer, sa.ForeignKey("ab_user.id"), info={"set_by_portal": True})

    @declared_attr
    def recorded_by_organisation(cls):
        return relationship("Organisation", foreign_keys=[cls.recorded_by_organisation_id],
                            info={"label": _l("Recorded by")})

    @declared_attr
    def recorded_by_user(cls):
        return relationship("PortalUser", foreign_keys=[cls.recorded_by_user_id], info={"label": _l("Recorded by user")})


__all__ = ["db", "Model", "Money", "LabelledEnum", "enum_column", "VersionedMixin", "add_months", "trigram_index",
           "built_on", "RecordedMixin"]
