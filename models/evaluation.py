"""The quarterly evaluation of a running trajectory."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import relationship

from .base import Model, RecordedMixin, VersionedMixin, enum_column, trigram_index
from .enums import Assessment


class Evaluation(RecordedMixin, VersionedMixin, Model):
    """One evaluation: planned, and once held, its assessment and findings."""

    __tablename__ = "evaluation"
    __label__ = _l("Evaluation")
    __plural__ = _l("Evaluations")
    __scope__ = "trajectory"
    __workbook__ = "planned_date"
    __table_args__ = (
        # From the index alone: a trajectory's last held evaluation (Trajectory.last_evaluation_held_on,
        # the next due date), and the count of an organisation's evaluations with a given assessment.
        sa.Index("ix_evaluation_trajectory_held", "trajectory_id", "held_date", "assessment"),
        # The list filtered by assessment, in its order (planned date).
        sa.Index("ix_evaluation_assessment_planned", "assessment", "planned_date"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    trajectory_id = sa.Column(
        sa.Integer, sa.ForeignKey("trajectory.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    planned_date = sa.Column(sa.Date, nullable=False, index=True, info={"label": _l("Planned date"), "list": True})
    held_date = sa.Column(sa.Date, info={"label": _l("Held on"), "list": True})
    participants = sa.Column(sa.String(500), info={"label": _l("Participants"), "case_note": True})
    assessment = enum_column(Assessment, info={"label": _l("Assessment"), "list": True})
    rent_paid = sa.Column(sa.Boolean, info={"label": _l("Rent paid"), "list": True})
    new_debts = sa.Column(sa.Boolean, info={"label": _l("New debts")})
    nuisance_reports = sa.Column(sa.Integer, info={"label": _l("Nuisance reports")})
    obligations_kept = sa.Column(sa.Boolean, info={"label": _l("Obligations kept"), "list": True})
    interventions_agreed = sa.Column(sa.Text, info={"label": _l("Interventions agreed"), "case_note": True})
    notes = sa.Column(sa.Text, info={"label": _l("Notes"), "case_note": True})

    trajectory = relationship("Trajectory", back_populates="evaluations", info={"label": _l("Trajectory"), "list": True})
    interventions = relationship(
        "Intervention", back_populates="evaluation", order_by="Intervention.due_date",
        info={"label": _l("Interventions")},
    )

    def __str__(self) -> str:
        return f"{self.trajectory} – {self.planned_date:%d-%m-%Y}" if self.planned_date else str(self.trajectory)


class Intervention(RecordedMixin, VersionedMixin, Model):
    """Immediate action after an evaluation found problems: what, who is responsible, by when."""

    __tablename__ = "intervention"
    __label__ = _l("Intervention")
    __plural__ = _l("Interventions")
    __scope__ = "evaluation.trajectory"
    # The open interventions, most urgent first (dashboard); the descriptions the list searches.
    __table_args__ = (
        sa.Index("ix_intervention_open_due", "closed_on", "due_date"),
        trigram_index("ix_intervention_description_trgm", "description"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    evaluation_id = sa.Column(
        sa.Integer, sa.ForeignKey("evaluation.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    description = sa.Column(sa.Text, nullable=False, info={"label": _l("Intervention"), "list": True, "case_note": True})
    responsible_organisation_id = sa.Column(
        sa.Integer, sa.ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    due_date = sa.Column(sa.Date, nullable=False, index=True, info={"label": _l("Due date"), "list": True})
    closed_on = sa.Column(sa.Date, index=True, info={"label": _l("Closed on"), "list": True})
    result = sa.Column(sa.Text, info={"label": _l("Result"), "case_note": True})

    evaluation = relationship("Evaluation", back_populates="interventions", info={"label": _l("Evaluation"), "list": True})
    responsible_organisation = relationship("Organisation", foreign_keys=[responsible_organisation_id], info={"label": _l("Responsible organisation"), "list": True})

    @property
    def is_open(self) -> bool:
        return self.closed_on is None

    def __str__(self) -> str:
        return (self.description or "")[:60]
