"""The portal's data model; every table is declared here and carried by Alembic."""
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
from .settings import PolicySettings, StoredPolicy, policy
from .tenant import Tenant
from .trajectory import Trajectory, trajectory_organisation
from .user import PortalUser
from .workflow import AgreementStep, StatusChange, Step, StepRefused, allowed_agreement_steps, allowed_steps, current_agreement

from . import authority  # noqa: E402,F401  (refuses, at every flush, what the write rules refuse)
from . import derived  # noqa: E402,F401  (keeps the session's copies of the stored figures fresh)
from . import registry  # noqa: E402  (the entities, as their models declare them)

__all__ = [
    "db", "Model", "registry", "Organisation", "Contact", "Tenant", "Trajectory", "trajectory_organisation",
    "Agreement", "Obligation", "Signature", "Debt", "Evaluation", "Intervention", "PortalUser",
    "PolicySettings", "StoredPolicy", "policy",
    "AuditAction", "AuditEntry", "record_access", "StatusChange", "Step", "AgreementStep", "allowed_agreement_steps", "StepRefused", "allowed_steps", "current_agreement",
    "AgreementStatus", "Assessment", "DebtCategory", "DebtStatus", "EvictionJudgment", "Household",
    "ObligationStatus", "OrganisationKind", "SigningParty", "TrajectoryOutcome", "TrajectoryStatus",
]
