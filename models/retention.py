"""Retention (AVG art. 5(1)(e)): erase what identifies a tenant once their last case is long over.

Names, contact data, BSN and every free-text note are erased; statuses, dates, amounts,
categories and assessments stay, so the partners' figures do not change. The audit trail keeps
that a change happened but loses the erased values.
"""
import json
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from .agreement import Agreement, Obligation, Signature
from .audit import AuditAction, AuditEntry, record_access
from .debt import Debt
from .enums import TrajectoryStatus
from .evaluation import Evaluation, Intervention
from .tenant import Tenant
from .trajectory import Trajectory
from .workflow import StatusChange

ERASED = "(erased)"
# What identifies the tenant (record type "tenant") and which free text goes ("case_notes").
TENANT_FIELDS = ["first_name", "last_name", "date_of_birth", "bsn", "street", "house_number", "phone", "email",
                 "rental_contract_number", "problem_areas", "psychosocial_notes"]
CASE_NOTES = {
    Trajectory: ["reason_other", "notes", "relapse_remark"],
    Agreement: ["rental_contract_number", "notes"],
    Obligation: ["description"],
    Signature: ["signed_by"],
    Debt: ["creditor", "notes"],
    Evaluation: ["participants", "interventions_agreed", "notes"],
    Intervention: ["description", "result"],
    StatusChange: ["remark", "override_reason"],
}


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
    """(model, id) of every case record of these tenants that can hold free text."""
    trajectory_ids = sa.select(Trajectory.id).where(Trajectory.tenant_id.in_(tenant_ids))
    agreement_ids = sa.select(Agreement.id).where(Agreement.trajectory_id.in_(trajectory_ids))
    evaluation_ids = sa.select(Evaluation.id).where(Evaluation.trajectory_id.in_(trajectory_ids))
    parents = {
        Trajectory: Trajectory.id.in_(trajectory_ids), Agreement: Agreement.id.in_(agreement_ids),
        Obligation: Obligation.agreement_id.in_(agreement_ids), Signature: Signature.agreement_id.in_(agreement_ids),
        Debt: Debt.trajectory_id.in_(trajectory_ids), Evaluation: Evaluation.id.in_(evaluation_ids),
        Intervention: Intervention.evaluation_id.in_(evaluation_ids),
        StatusChange: StatusChange.trajectory_id.in_(trajectory_ids),
    }
    return {model: session.execute(sa.select(model.id).where(clause)).scalars().all() for model, clause in parents.items()}


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
        session.execute(
            sa.update(Tenant).where(Tenant.id.in_(tenant_ids)).values(
                **{name: None for name in TENANT_FIELDS if name not in ("first_name", "last_name")},
                first_name="Geanonimiseerd", last_name=ERASED, anonymised_on=today,
                # The postcode's digits stay: the area counts for the figures, the street does not.
                postcode=sa.func.substr(Tenant.postcode, 1, 4), version=Tenant.version + 1,
            )
        )
        _erase_audit_values(session, "tenant", tenant_ids, [*TENANT_FIELDS, "postcode"])
    if notes_due:
        records = _case_records(session, notes_due)
        for model, ids in records.items():
            if ids:
                fields = CASE_NOTES[model]
                nullable = {name: (ERASED if not model.__table__.c[name].nullable else None) for name in fields}
                session.execute(sa.update(model).where(model.id.in_(ids)).values(**nullable))
                _erase_audit_values(session, model.__tablename__, ids, fields)
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
