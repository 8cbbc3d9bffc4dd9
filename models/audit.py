"""The audit trail: who created, changed, deleted, opened or exported what, and when.

Changes are written by a session hook in the same transaction as the change itself, so a
change without its audit entry cannot be committed. Entries are never updated or deleted.
"""
import enum
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import sqlalchemy as sa
from flask import has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from .base import LabelledEnum, Model, enum_column

SENSITIVE_PLACEHOLDER = "(changed)"
IGNORED_ATTRIBUTES = {"version"}


class AuditAction(LabelledEnum):
    create = "create"
    update = "update"
    delete = "delete"
    view = "view"
    export = "export"
    workbook = "workbook"
    subject_access = "subject_access"
    anonymise = "anonymise"

    @classmethod
    def labels(cls):
        return {
            cls.create: _l("Created"), cls.update: _l("Changed"), cls.delete: _l("Deleted"),
            cls.view: _l("Opened"), cls.export: _l("Exported"), cls.workbook: _l("Workbook made"),
            cls.subject_access: _l("Subject access export"), cls.anonymise: _l("Anonymised"),
        }

    @classmethod
    def accesses(cls) -> frozenset:
        """The actions that say who read a record (opened or exported it), not how it changed."""
        return frozenset({cls.view, cls.export, cls.workbook, cls.subject_access})


class AuditEntry(Model):
    """One audited event. User and organisation are copied, so the entry outlives the account."""

    __tablename__ = "audit_entry"
    __label__ = _l("Audit entry")
    __plural__ = _l("Audit entries")
    __scope__ = "public"  # who may read the trail is a permission (Coordinator, Admin), not a scope
    __table_args__ = (sa.Index("ix_audit_entry_record", "record_type", "record_id", "at"),)

    id = sa.Column(sa.Integer, primary_key=True)
    at = sa.Column(sa.DateTime, nullable=False, index=True, info={"label": _l("When")})
    user_id = sa.Column(sa.Integer, sa.ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    username = sa.Column(sa.String(128), index=True, info={"label": _l("User")})
    organisation_name = sa.Column(sa.String(150), info={"label": _l("Organisation")})
    action = enum_column(AuditAction, nullable=False, index=True, info={"label": _l("Action")})
    record_type = sa.Column(sa.String(50), nullable=False, info={"label": _l("Record type")})
    record_id = sa.Column(sa.Integer, info={"label": _l("Record")})
    changes = sa.Column(sa.Text, info={"label": _l("Changes")})
    detail = sa.Column(sa.String(500), info={"label": _l("Detail")})

    @property
    def change_list(self) -> list:
        """[(field, old, new)] of an update, for display."""
        if not self.changes:
            return []
        return [(field, values[0], values[1]) for field, values in json.loads(self.changes).items()]

    def __str__(self) -> str:
        return f"{self.at:%d-%m-%Y %H:%M} {self.username or '-'} {self.action.value} {self.record_type} {self.record_id or ''}"


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _actor():
    """(user id, username, organisation name) of the person behind the current request, if any."""
    if not has_request_context():
        return None, "system", None
    from flask import g

    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None, None, None
    organisation = getattr(user, "organisation", None)
    return user.id, user.username, organisation.name if organisation else None


def json_value(value):
    """A stored value as JSON can hold it: enums by key, dates in ISO form, amounts as exact text."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return sorted(str(v) for v in value)
    return value


def audited(obj) -> bool:
    return isinstance(obj, Model) and getattr(type(obj), "__scope__", None) is not None and not isinstance(obj, AuditEntry)


def _changes(obj) -> dict:
    """{field: [old, new]} of a pending update; sensitive values are only said to have changed."""
    state = sa.inspect(obj)
    changes = {}
    for attribute in state.mapper.column_attrs:
        column = attribute.columns[0]
        if attribute.key in IGNORED_ATTRIBUTES or not isinstance(column, sa.Column):
            continue  # the row version, and derived figures (they are not stored)
        history = state.attrs[attribute.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if json_value(old) in (None, "") and json_value(new) in (None, "") or json_value(old) == json_value(new):
            continue
        if column.info.get("sensitive"):
            old = SENSITIVE_PLACEHOLDER if old not in (None, "") else None
            new = SENSITIVE_PLACEHOLDER if new not in (None, "") else None
        changes[attribute.key] = [json_value(old), json_value(new)]
    for relation in state.mapper.relationships:
        if relation.secondary is None:
            continue  # a many-to-one change shows as its foreign-key column above
        history = state.attrs[relation.key].history
        if history.added or history.deleted:
            changes[relation.key] = [json_value([*history.unchanged, *history.deleted]),
                                     json_value([*history.unchanged, *history.added])]
    return changes


@event.listens_for(Session, "before_flush")
def _collect(session, flush_context, instances):
    """Remember what this flush changes while the attribute history still says so."""
    pending = session.info.setdefault("audit_pending", [])
    for obj in session.dirty:
        if audited(obj) and session.is_modified(obj, include_collections=True):
            changes = _changes(obj)
            if changes:
                pending.append((AuditAction.update, obj, changes))
    for obj in session.deleted:
        if audited(obj):
            pending.append((AuditAction.delete, obj, None))
    for obj in session.new:
        if audited(obj):
            pending.append((AuditAction.create, obj, None))
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry):
            raise PermissionError("Audit entries cannot be changed or deleted.")


@event.listens_for(Session, "after_flush")
def _write(session, flush_context):
    """Insert the entries with the flush's own connection: same transaction, or neither."""
    pending = session.info.pop("audit_pending", [])
    if not pending:
        return
    user_id, username, organisation = _actor()
    at = _now()
    rows = [
        {
            "at": at, "user_id": user_id, "username": username, "organisation_name": organisation,
            "action": action.value, "record_type": obj.__tablename__, "record_id": sa.inspect(obj).identity[0]
            if sa.inspect(obj).identity else getattr(obj, "id", None),
            "changes": json.dumps(changes, ensure_ascii=False, default=str) if changes else None, "detail": None,
        }
        for action, obj, changes in pending
    ]
    session.connection().execute(sa.insert(AuditEntry.__table__), rows)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop("audit_pending", None)


def record_access(session, action: AuditAction, record_type: str, record_id=None, detail=None) -> None:
    """An access entry (opened, exported, workbook), committed at once, whatever the page does next.

    Call it before a long read (an export's streaming query): SQLite lets no writer commit while
    another connection of the same thread still holds a read.
    """
    user_id, username, organisation = _actor()
    # Its own connection and transaction: the page's session stays as it was.
    with session.get_bind().begin() as connection:
        connection.execute(sa.insert(AuditEntry.__table__).values(
            at=_now(), user_id=user_id, username=username, organisation_name=organisation, action=action.value,
            record_type=record_type, record_id=record_id, detail=(detail or "")[:500] or None,
        ))
