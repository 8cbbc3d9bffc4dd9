"""The portal's data model; every table is declared here and carried by Alembic."""
import sqlalchemy as sa
from sqlalchemy.orm import column_property

from .agreement import Agreement, Obligation, Signature
from .audit import AuditAction, AuditEntry, record_access
from .base import Model, db
from .debt import Debt
from .enums import (
    AgreementStatus, Assessment, DebtCategory, DebtStatus, EvictionJudgment, Household,
    ObligationStatus, OrganisationKind, SigningParty, TrajectoryOutcome, TrajectoryStatus,
)
from .evaluation import Evaluation, Intervention
from .organisation import Contact, Organisation
from .tenant import Tenant
from .trajectory import Trajectory, trajectory_organisation
from .user import PortalUser
from .workflow import StatusChange, Step, StepRefused, allowed_steps, current_agreement

# Derived figures are computed by the query that loads the trajectory, never stored.
Trajectory.total_current_debt = column_property(
    sa.select(sa.func.coalesce(sa.func.sum(Debt.current_balance), 0))
    .where(Debt.trajectory_id == Trajectory.id)
    .correlate_except(Debt)
    .scalar_subquery(),
    deferred=True,
    info={"label": "Total current debt"},
)
Trajectory.last_evaluation_held_on = column_property(
    sa.select(sa.func.max(Evaluation.held_date))
    .where(Evaluation.trajectory_id == Trajectory.id)
    .correlate_except(Evaluation)
    .scalar_subquery(),
    deferred=True,
)

__all__ = [
    "db", "Model", "Organisation", "Contact", "Tenant", "Trajectory", "trajectory_organisation",
    "Agreement", "Obligation", "Signature", "Debt", "Evaluation", "Intervention", "PortalUser",
    "AuditAction", "AuditEntry", "record_access", "StatusChange", "Step", "StepRefused", "allowed_steps", "current_agreement",
    "AgreementStatus", "Assessment", "DebtCategory", "DebtStatus", "EvictionJudgment", "Household",
    "ObligationStatus", "OrganisationKind", "SigningParty", "TrajectoryOutcome", "TrajectoryStatus",
]
