"""The trajectory's lifecycle: explicit steps, each guarded by the policy, each recorded.

A step is a small command: `validate()` raises StepRefused naming what is missing, `run()`
changes the trajectory and writes its StatusChange. Views and scripts call `take_step`.
"""
from datetime import date, datetime, timezone

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import relationship

from . import authority
from .base import TEXT_MAX_LENGTH, Model, enum_column
from .enums import AgreementStatus, EvictionJudgment, TrajectoryOutcome, TrajectoryStatus as Status
from .settings import policy

NEXT_STEP = {
    Status.referred: Status.intake,
    Status.intake: Status.financial_overview,
    Status.financial_overview: Status.agreement,
    Status.agreement: Status.running,
    Status.running: Status.completed,
}
EARLY_OUTCOMES = [o for o in TrajectoryOutcome if o != TrajectoryOutcome.completed]


class StepRefused(ValueError):
    """The policy does not allow this step now; the message says what is missing."""


class StatusChange(Model):
    """One step in a trajectory's history: who, when, from, to, and why."""

    __tablename__ = "status_change"
    __label__ = _l("Status change")
    __plural__ = _l("Status changes")
    __scope__ = "trajectory"

    id = sa.Column(sa.Integer, primary_key=True)
    trajectory_id = sa.Column(
        sa.Integer, sa.ForeignKey("trajectory.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    changed_at = sa.Column(sa.DateTime, nullable=False, info={"label": _l("When")})
    changed_by_id = sa.Column(sa.Integer, sa.ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    from_status = enum_column(Status, info={"label": _l("From")})
    to_status = enum_column(Status, nullable=False, info={"label": _l("To")})
    remark = sa.Column(sa.Text, info={"label": _l("Remark"), "case_note": True})
    override_reason = sa.Column(sa.Text, info={"label": _l("Reason for the exception"), "case_note": True})

    trajectory = relationship("Trajectory", back_populates="status_changes", info={"label": _l("Trajectory")})
    changed_by = relationship("PortalUser", info={"label": _l("By")})


class Step:
    """Move one trajectory to `target`; `validate()` first, then `run()`."""

    # The longest remark or reason (the form states it).
    max_text = TEXT_MAX_LENGTH

    def __init__(self, trajectory, target: Status, user=None, remark=None, outcome=None,
                 override_reason=None, may_override=False, today=None, minimum_months=None, actor=None):
        self.trajectory = trajectory
        # Who takes the step (models.authority); None for a script acting for the coordinator.
        self.actor = actor
        self.target = target
        self.user = user
        self.remark = (remark or "").strip() or None
        self.outcome = outcome
        self.override_reason = (override_reason or "").strip() or None
        self.may_override = may_override
        self.today = today or date.today()
        self._minimum_months = minimum_months

    @property
    def minimum_months(self) -> int:
        """The minimum duration: as given, else the policy's (read only by a step that needs it)."""
        if self._minimum_months is None:
            self._minimum_months = policy().minimum_duration_months
        return self._minimum_months

    def validate(self):
        trajectory, target = self.trajectory, self.target
        if max(len(self.remark or ""), len(self.override_reason or "")) > self.max_text:
            raise StepRefused(_l("Use at most %(maximum)s characters for the remark and the reason.",
                                 maximum=self.max_text))
        if target not in allowed_steps(trajectory):
            raise StepRefused(_l("A trajectory that is %(now)s cannot go to %(target)s.",
                                 now=trajectory.status.label, target=target.label))
        if self.actor is not None and not authority.may_take_step(self.actor, trajectory, target):
            raise StepRefused(_l("Your organisation cannot take this step: it is the coordinating organisation's."))
        if target == Status.agreement and trajectory.eviction_judgment not in (
            EvictionJudgment.requested, EvictionJudgment.obtained
        ):
            raise StepRefused(_l("Record the eviction judgment as requested or obtained first: it is what "
                                 "makes this the last chance."))
        if target == Status.running:
            agreement = current_agreement(trajectory)
            if agreement is None:
                raise StepRefused(_l("Draw up the agreement first."))
            if agreement.status == AgreementStatus.draft:
                raise StepRefused(_l("Offer the agreement for signature first."))
            if agreement.missing_signatures:
                raise StepRefused(_l("The agreement still needs the signature of: %(parties)s.",
                                     parties=", ".join(agreement.missing_signatures)))
            refusal = planned_end_refusal(trajectory.start_date or self.today, trajectory.planned_end_date)
            if refusal:
                raise StepRefused(refusal)
        if target == Status.completed:
            self._check_minimum_duration()
        if target == Status.ended_early and self.outcome not in EARLY_OUTCOMES:
            raise StepRefused(_l("Choose why the trajectory ended early."))

    def _check_minimum_duration(self):
        start = self.trajectory.start_date
        earliest = start + relativedelta(months=self.minimum_months) if start else None
        if earliest is not None and earliest <= self.today:
            return
        if not self.may_override:
            raise StepRefused(_l("A trajectory can be completed from %(date)s (at least %(months)s months after the "
                                 "start); only a coordinator can make an exception, with a reason.",
                                 date=earliest.strftime("%d-%m-%Y") if earliest else "?", months=self.minimum_months))
        if not self.override_reason:
            raise StepRefused(_l("Give the reason for completing before the minimum duration."))

    def run(self):
        self.validate()
        trajectory, previous = self.trajectory, self.trajectory.status
        agreement = current_agreement(trajectory)
        if self.target == Status.running:
            trajectory.start_date = trajectory.start_date or self.today
            agreement.status = AgreementStatus.in_force
        if self.target in (Status.completed, Status.ended_early):
            trajectory.actual_end_date = self.today
            trajectory.outcome = TrajectoryOutcome.completed if self.target == Status.completed else self.outcome
            # Every version still open ends with the case (a newer draft as well as the one in force).
            ending = [a for a in trajectory.agreements if a.status not in AgreementStatus.closed_statuses()]
            for open_agreement in ending:
                open_agreement.status = AgreementStatus.ended
        trajectory.status = self.target
        change = StatusChange(
            changed_at=datetime.now(timezone.utc).replace(tzinfo=None), changed_by=self.user,
            from_status=previous, to_status=self.target, remark=self.remark,
            override_reason=self.override_reason if self.target == Status.completed else None,
        )
        trajectory.status_changes.append(change)
        _allow(trajectory, *trajectory.agreements, change)
        return trajectory


def planned_end_refusal(start, planned_end):
    """Why a planned end date is refused (beyond the policy's maximum duration), or None."""
    if start is None or planned_end is None:
        return None
    months = policy().maximum_duration_months
    latest = start + relativedelta(months=months)
    if planned_end <= latest:
        return None
    return _l("The planned end date lies at most %(months)s months after the start: %(date)s at the latest.",
              months=months, date=latest.strftime("%d-%m-%Y"))


def allowed_steps(trajectory) -> list:
    """The steps the lifecycle offers from the trajectory's status (guards not yet checked)."""
    if trajectory.status not in Status.open_statuses():
        return []
    return [NEXT_STEP[trajectory.status], Status.ended_early]


def current_agreement(trajectory):
    """The newest agreement version that has not ended."""
    return next((a for a in trajectory.agreements if a.status not in AgreementStatus.closed_statuses()), None)


def _allow(*records):
    """The step was checked (validate): its changes pass the flush's write rules."""
    records = [r for r in records if r is not None]
    session = next((sa.inspect(r).session for r in records if sa.inspect(r).session is not None), None)
    if session is not None:
        authority.allow_step(session, *records)


# The agreement's own steps: which status may follow which.
AGREEMENT_STEPS = {
    AgreementStatus.draft: [AgreementStatus.awaiting_signatures],
    AgreementStatus.awaiting_signatures: [AgreementStatus.in_force, AgreementStatus.draft],
    AgreementStatus.in_force: [AgreementStatus.ended],
}


class AgreementStep:
    """Move one agreement to `target` (offer for signature, back to draft, in force, ended)."""

    def __init__(self, agreement, target: AgreementStatus, actor=None):
        self.agreement = agreement
        self.target = target
        self.actor = actor

    def validate(self):
        agreement, target = self.agreement, self.target
        if target not in AGREEMENT_STEPS.get(agreement.status, []):
            raise StepRefused(_l("An agreement that is %(now)s cannot become %(target)s.",
                                 now=agreement.status.label, target=target.label))
        if self.actor is not None and not authority.may_take_agreement_step(self.actor, agreement, target):
            raise StepRefused(_l("Your organisation cannot take this step: it is the coordinating organisation's."))
        if target == AgreementStatus.draft and agreement.signatures:
            raise StepRefused(_l("Parties have signed already: draw up a new version instead."))
        if target == AgreementStatus.in_force:
            if agreement.missing_signatures:
                raise StepRefused(_l("The agreement still needs the signature of: %(parties)s.",
                                     parties=", ".join(agreement.missing_signatures)))
            if agreement.trajectory.status != Status.running:
                raise StepRefused(_l("The first agreement comes into force when the trajectory starts."))

    def run(self):
        self.validate()
        agreement = self.agreement
        replaced = []
        if self.target == AgreementStatus.in_force:
            # A new version replaces the one in force: one agreement is in force at a time.
            replaced = [a for a in agreement.trajectory.agreements
                        if a is not agreement and a.status == AgreementStatus.in_force]
            for older in replaced:
                older.status = AgreementStatus.superseded
        agreement.status = self.target
        _allow(agreement, *replaced)
        return agreement


def allowed_agreement_steps(agreement) -> list:
    return list(AGREEMENT_STEPS.get(agreement.status, []))
