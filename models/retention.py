"""Retention (AVG art. 5(1)(e)): erase what identifies a tenant once their last case is long over.

What identifies the tenant (columns declared `personal`) and every free-text note (`case_note`)
of every entity in the case (models.registry) are erased; statuses, dates, amounts, categories
and assessments stay, so the partners' figures do not change. The audit trail keeps
that a change happened but loses the erased values.
"""
import json
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from . import registry
from .audit import AuditAction, AuditEntry, record_access
from .enums import TrajectoryStatus
from .tenant import Tenant
from .trajectory import Trajectory

ERASED = "(erased)"


@dataclass
class Plan:
    """What a retention run does (or, as a dry run, would do)."""

    tenants: list = field(default_factory=list)  # (tenant id, client number, last end date)
    case_note_records: int = 0

    def summary(self) -> str:
        lines = [f"{len(self.tenants)} tenant(s) to anonymise; {self.case_note_records} case record(s) with notes to erase."]
        lines += [f"  {number} (tenant {tenant_id}), last trajectory ended {ended:%d-%m-%Y}"
                  for tenant_id, number, ended in self.tenants]
        return "\n".join(lines)


def _due_tenants(session, years: int, today: date):
    """Tenants not yet anonymised, with no open trajectory, whose last one ended over `years` ago."""
    cutoff = today - relativedelta(years=years)
    last_end = sa.func.max(Trajectory.actual_end_date)
    open_cases = sa.func.sum(sa.case((Trajectory.status.in_(TrajectoryStatus.open_statuses()), 1), else_=0))
    return session.execute(
        sa.select(Tenant.id, Tenant.client_number, last_end)
        .join(Trajectory, Trajectory.tenant_id == Tenant.id)
        .where(Tenant.anonymised_on.is_(None))
        .group_by(Tenant.id, Tenant.client_number)
        .having(open_cases == 0, last_end < cutoff)
        .order_by(last_end)
    ).all()


def _case_records(session, tenant_ids):
    """{entity: ids} of every record inside these tenants' trajectories that holds case notes."""
    trajectory_ids = sa.select(Trajectory.id).where(Trajectory.tenant_id.in_(tenant_ids))
    return {entity: session.execute(sa.select(entity.model.id).where(entity.in_trajectories(trajectory_ids)))
            .scalars().all()
            for entity in registry.case_entities() if entity.case_path is not None and entity.case_notes}


def _erased_values(model, names) -> dict:
    """What each erased column holds afterwards: what it declares (`erase_to`), else nothing, else a mark."""
    values = {}
    for name in names:
        column = model.__table__.c[name]
        erase_to = column.info.get("erase_to")
        if callable(erase_to):
            values[name] = erase_to(column)
        elif erase_to is not None:
            values[name] = erase_to
        else:
            values[name] = None if column.nullable else ERASED
    return values


def plan(session, years: dict, today=None) -> Plan:
    today = today or date.today()
    result = Plan(tenants=[tuple(row) for row in _due_tenants(session, years["tenant"], today)])
    notes_due = [row[0] for row in _due_tenants(session, years["case_notes"], today)]
    if notes_due:
        result.case_note_records = sum(len(ids) for ids in _case_records(session, notes_due).values())
    return result


def run(session, years: dict, today=None) -> Plan:
    """Anonymise what `plan` lists, in one transaction, with Core updates (no per-row ORM work)."""
    today = today or date.today()
    result = plan(session, years, today)
    tenant_ids = [tenant_id for tenant_id, _, _ in result.tenants]
    notes_due = [row[0] for row in _due_tenants(session, years["case_notes"], today)]
    if tenant_ids:
        tenant = registry.entity(Tenant)
        erased = [*tenant.personal, *tenant.case_notes]
        session.execute(sa.update(Tenant).where(Tenant.id.in_(tenant_ids)).values(
            **_erased_values(Tenant, erased), anonymised_on=today, version=Tenant.version + 1))
        _erase_audit_values(session, tenant.name, tenant_ids, erased)
    if notes_due:
        for entity, ids in _case_records(session, notes_due).items():
            if ids:
                model = entity.model
                session.execute(sa.update(model).where(model.id.in_(ids))
                                .values(**_erased_values(model, entity.case_notes)))
                _erase_audit_values(session, entity.name, ids, entity.case_notes)
    session.commit()
    for tenant_id in tenant_ids:
        record_access(session, AuditAction.anonymise, "tenant", tenant_id, detail="retention")
    return result


def _erase_audit_values(session, table: str, ids, fields) -> None:
    """Keep that these fields changed, drop their values: the trail must not keep what retention erased."""
    entries = session.execute(
        sa.select(AuditEntry.id, AuditEntry.changes)
        .where(AuditEntry.record_type == table, AuditEntry.record_id.in_(ids), AuditEntry.changes.is_not(None))
    ).all()
    for entry_id, changes in entries:
        values = json.loads(changes)
        erased = {name: ([ERASED, ERASED] if name in fields else pair) for name, pair in values.items()}
        if erased != values:
            # The one sanctioned change to the trail, so it goes around the ORM's write guard.
            session.execute(sa.update(AuditEntry.__table__).where(AuditEntry.__table__.c.id == entry_id)
                            .values(changes=json.dumps(erased, ensure_ascii=False)))
