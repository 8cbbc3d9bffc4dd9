"""Subject access (inzageverzoek, AVG art. 15): everything the portal holds about one tenant."""
import json

import sqlalchemy as sa

from models import AuditEntry, Tenant
from models.audit import json_value

from .xlsx import Column, XlsxWorkbook


def _columns(model) -> list:
    return [attribute.key for attribute in sa.inspect(model).column_attrs
            if isinstance(attribute.columns[0], sa.Column)]


def _row(record) -> dict:
    return {name: getattr(record, name) for name in _columns(type(record))}


def collect(session, tenant: Tenant) -> dict:
    """{section: [rows as dicts]}: the tenant, every case record, and the audit trail about them."""
    trajectories = list(tenant.trajectories)
    agreements = [a for t in trajectories for a in t.agreements]
    evaluations = [e for t in trajectories for e in t.evaluations]
    sections = {
        "tenant": [_row(tenant)],
        "trajectories": [{**_row(t), "involved_organisations": [o.name for o in t.involved_organisations]}
                         for t in trajectories],
        "status_changes": [_row(c) for t in trajectories for c in t.status_changes],
        "agreements": [_row(a) for a in agreements],
        "obligations": [_row(o) for a in agreements for o in a.obligations],
        "signatures": [_row(s) for a in agreements for s in a.signatures],
        "debts": [_row(d) for t in trajectories for d in t.debts],
        "evaluations": [_row(e) for e in evaluations],
        "interventions": [_row(i) for e in evaluations for i in e.interventions],
    }
    records = {"tenant": [tenant.id]}
    for table, section in (("trajectory", "trajectories"), ("status_change", "status_changes"),
                           ("agreement", "agreements"), ("obligation", "obligations"), ("signature", "signatures"),
                           ("debt", "debts"), ("evaluation", "evaluations"), ("intervention", "interventions")):
        records[table] = [row["id"] for row in sections[section]]
    about = sa.or_(*(sa.and_(AuditEntry.record_type == table, AuditEntry.record_id.in_(ids))
                     for table, ids in records.items() if ids))
    sections["audit_trail"] = [
        _row(entry) for entry in session.execute(sa.select(AuditEntry).where(about).order_by(AuditEntry.at))
        .scalars()
    ]
    return sections


def as_json(sections: dict) -> bytes:
    return json.dumps(sections, default=json_value, ensure_ascii=False, indent=2).encode("utf-8")


def as_workbook(sections: dict):
    """One sheet per section, a column per field, as the raw values the portal stores."""
    book = XlsxWorkbook()
    for name, rows in sections.items():
        keys = list(rows[0]) if rows else ["id"]
        columns = [Column(key, (lambda k: lambda row: row.get(k))(key)) for key in keys]
        book.add_sheet(name.replace("_", " "), columns, rows)
    return book.save()

