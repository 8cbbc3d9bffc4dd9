"""The trajectory's lifecycle: explicit steps, each guarded by the policy, each recorded.

A step is a small command: `validate()` raises StepRefused naming what is missing, `run()`
changes the trajectory and writes its StatusChange. Views and scripts call `take_step`.
"""
from datetime import date, datetime, timezone

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import relationship

from .base import TEXT_MAX_LENGTH, Model, enum_column
from .enums import AgreementStatus, EvictionJudgment, TrajectoryOutcome, TrajectoryStatus as Status

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
    __scope__ = "trajectory"

    id = sa.Column(sa.Integer, primary_key=True)
    trajectory_id = sa.Column(
        sa.Integer, sa.ForeignKey("trajectory.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    changed_at = sa.Column(sa.DateTime, nullable=False, info={"label": _l("When")})
    changed_by_id = sa.Column(sa.Integer, sa.ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    from_status = enum_column(Status, info={"label": _l("From")})
    to_status = enum_column(Status, nullable=False, info={"label": _l("To")})
    remark = sa.Column(sa.Text, info={"label": _l("Remark")})
    override_reason = sa.Column(sa.Text, info={"label": _l("Reason for the exception")})

    trajectory = relationship("Trajectory", back_populates="status_changes", info={"label": _l("Trajectory")})
    changed_by = relationship("PortalUser", info={"label": _l("By")})


class Step:
    """Move one trajectory to `target`; `validate()` first, then `run()`."""

    # The longest remark or reason (the form states it).
    max_text = TEXT_MAX_LENGTH

    def __init__(self, trajectory, target: Status, user=None, remark=None, outcome=None,
                 override_reason=None, may_override=False, today=None, minimum_years=2):
        self.trajectory = trajectory
        self.target = target
        self.user = user
        self.remark = (remark or "").strip() or None
        self.outcome = outcome
        self.override_reason = (override_reason or "").strip() or None
        self.may_override = may_override
        self.today = today or date.today()
        self.minimum_years = minimum_years

    def validate(self):
        trajectory, target = self.trajectory, self.target
        if max(len(self.remark or ""), len(self.override_reason or "")) > self.max_text:
            raise StepRefused(_l("Use at most %(maximum)s characters for the remark and the reason.",
                                 maximum=self.max_text))
        if target not in allowed_steps(trajectory):
            raise StepRefused(_l("A trajectory that is %(now)s cannot go to %(target)s.",
                                 now=trajectory.status.label, target=target.label))
        if target == Status.agreement and trajectory.eviction_judgment not in (
            EvictionJudgment.requested, EvictionJudgment.obtained
        ):
            raise StepRefused(_l("Record the eviction judgment as requested or obtained first: it is what "
                                 "makes this the last chance."))
        if target == Status.running:
            agreement = current_agreement(trajectory)
            if agreement is None:
                raise StepRefused(_l("Draw up the agreement first."))
            if agreement.missing_signatures:
                raise StepRefused(_l("The agreement still needs the signature of: %(parties)s.",
                                     parties=", ".join(agreement.missing_signatures)))
        if target == Status.completed:
            self._check_minimum_duration()
        if target == Status.ended_early and self.outcome not in EARLY_OUTCOMES:
            raise StepRefused(_l("Choose why the trajectory ended early."))

    def _check_minimum_duration(self):
        start = self.trajectory.start_date
        earliest = start + relativedelta(years=self.minimum_years) if start else None
        if earliest is not None and earliest <= self.today:
            return
        if not self.may_override:
            raise StepRefused(_l("A trajectory can be completed from %(date)s (at least %(years)s years after the "
                                 "start); only a coordinator can make an exception, with a reason.",
                                 date=earliest.strftime("%d-%m-%Y") if earliest else "?", years=self.minimum_years))
        if not self.override_reason:
            raise StepRefused(_l("Give the reason for completing before the minimum duration."))

    def run(self):
        self.validate()
        trajectory, previous = self.trajectory, self.trajectory.status
        if self.target == Status.running:
            trajectory.start_date = trajectory.start_date or self.today
            current_agreement(trajectory).status = AgreementStatus.in_force
        if self.target in (Status.completed, Status.ended_early):
            trajectory.actual_end_date = self.today
            trajectory.outcome = TrajectoryOutcome.completed if self.target == Status.completed else self.outcome
            agreement = current_agreement(trajectory)
            if agreement is not None:
                agreement.status = AgreementStatus.ended
        trajectory.status = self.target
        trajectory.status_changes.append(StatusChange(
            changed_at=datetime.now(timezone.utc).replace(tzinfo=None), changed_by=self.user,
            from_status=previous, to_status=self.target, remark=self.remark,
            override_reason=self.override_reason if self.target == Status.completed else None,
        ))
        return trajectory


def allowed_steps(trajectory) -> list:
    """The steps the lifecycle offers from the trajectory's status (guards not yet checked)."""
    if trajectory.status not in Status.open_statuses():
        return []
    return [NEXT_STEP[trajectory.status], Status.ended_early]


def current_agreement(trajectory):
    """The newest agreement version that has not ended."""
    return next((a for a in trajectory.agreements if a.status != AgreementStatus.ended), None)
