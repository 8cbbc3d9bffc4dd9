"""Subject access (inzageverzoek, AVG art. 15): everything the portal holds about one tenant.

Its sections are the case's entities as the registry knows them (models.registry): a new entity
inside a case is in the export without a line here.
"""
import json

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import MANYTOMANY

from models import AuditEntry, Tenant, Trajectory, registry
from models.audit import json_value

from .xlsx import Column, XlsxWorkbook

AUDIT_TRAIL = "audit_trail"


def _columns(model) -> list:
    return [attribute.key for attribute in sa.inspect(model).column_attrs
            if isinstance(attribute.columns[0], sa.Column)]


def _row(record) -> dict:
    row = {name: getattr(record, name) for name in _columns(type(record))}
    # Lists of other records (a trajectory's involved organisations) by their names.
    for relationship in sa.inspect(type(record)).relationships:
        if relationship.direction is MANYTOMANY and "label" in relationship.info:
            row[relationship.key] = [str(other) for other in getattr(record, relationship.key)]
    return row


def collect(session, tenant: Tenant) -> dict:
    """{table: [rows as dicts]}: the tenant, every record of its case, and the audit trail about them."""
    trajectory_ids = sa.select(Trajectory.id).where(Trajectory.tenant_id == tenant.id)
    sections = {}
    for entity in registry.case_entities():
        if entity.model is Tenant:
            records = [tenant]
        else:
            model = entity.model
            records = session.execute(sa.select(model).where(entity.in_trajectories(trajectory_ids))
                                      .order_by(model.id)).scalars().all()
        sections[entity.name] = [_row(record) for record in records]
    about = sa.or_(*(sa.and_(AuditEntry.record_type == table, AuditEntry.record_id.in_([row["id"] for row in rows]))
                     for table, rows in sections.items() if rows))
    sections[AUDIT_TRAIL] = [
        _row(entry) for entry in session.execute(sa.select(AuditEntry).where(about).order_by(AuditEntry.at))
        .scalars()
    ]
    return sections


def section_title(name) -> str:
    return str(_l("Audit trail")) if name == AUDIT_TRAIL else registry.plural_label(name).capitalize()


def as_json(sections: dict) -> bytes:
    return json.dumps(sections, default=json_value, ensure_ascii=False, indent=2).encode("utf-8")


def as_workbook(sections: dict):
    """One sheet per section, a column per field, as the raw values the portal stores."""
    book = XlsxWorkbook()
    for name, rows in sections.items():
        keys = list(rows[0]) if rows else ["id"]
        columns = [Column(key, (lambda k: lambda row: row.get(k))(key)) for key in keys]
        book.add_sheet(section_title(name), columns, rows)
    return book.save()
