"""The supervised trajectory of two to four years that replaces an eviction."""
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import relationship

from .base import Model, Money, VersionedMixin, add_months, enum_column
from .enums import EvictionJudgment, TrajectoryOutcome, TrajectoryStatus
from .settings import policy

trajectory_organisation = sa.Table(
    "trajectory_organisation",
    Model.metadata,
    sa.Column(
        "trajectory_id", sa.Integer, sa.ForeignKey("trajectory.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "organisation_id",
        sa.Integer,
        sa.ForeignKey("organisation.id", ondelete="RESTRICT"),
        primary_key=True,
        index=True,
    ),
    # The scope's "involved in" branch: an organisation's trajectories from the index alone.
    sa.Index("ix_trajectory_organisation_organisation_trajectory", "organisation_id", "trajectory_id"),
    # How an organisation's delete refusal counts its rows (models.registry.plural_label).
    info={"label": _l("Involved organisation"), "plural": _l("trajectories it is involved in")},
)


class Trajectory(VersionedMixin, Model):
    """One tenant's Laatste Kans case, from referral to its end and relapse follow-up."""

    __tablename__ = "trajectory"
    __label__ = _l("Trajectory")
    __plural__ = _l("Trajectories")
    __scope__ = "self"
    # A trajectory is known by its tenant: choosing one in a form searches the tenant's name and number.
    __named_by__ = "tenant"
    # Who may change what (models.authority): the referrer owns the case; who is party to it is the
    # coordinating organisation's call; the course moves only by the lifecycle's steps.
    __owner__ = "referring_organisation_id"
    __party_fields__ = ("tenant", "referring_organisation", "involved_organisations", "coordinator", "counsellor")
    __step_fields__ = ("status", "outcome", "actual_end_date")
    # The start counts towards the minimum duration, whose exception is the coordinator's alone.
    __coordinator_fields__ = ("start_date", "planned_end_date")
    # The partner workbook's sheet, in referral order, with two computed columns (reports.partner_workbook).
    __workbook__ = "referral_date"
    __workbook_computed__ = ("referral_reasons", "next_evaluation_date")
    __table_args__ = (
        # The list's order (referral date), alone and after its status filter.
        sa.Index("ix_trajectory_referral_date", "referral_date"),
        sa.Index("ix_trajectory_status_referral_date", "status", "referral_date"),
        # The tenant scope's branch "tenants of the cases the organisation referred", from the index alone.
        sa.Index("ix_trajectory_referrer_tenant", "referring_organisation_id", "tenant_id"),
        # The dashboard's endings per quarter, success rate and relapse follow-ups, from the index alone.
        sa.Index("ix_trajectory_status_end_relapse", "status", "actual_end_date", "relapse"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    tenant_id = sa.Column(
        sa.Integer, sa.ForeignKey("tenant.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    referring_organisation_id = sa.Column(
        sa.Integer, sa.ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    status = enum_column(
        TrajectoryStatus, nullable=False, default=TrajectoryStatus.referred, index=True,
        info={"label": _l("Status"), "list": True},
    )
    referral_date = sa.Column(sa.Date, nullable=False, info={"label": _l("Referral date"), "list": True})
    reason_rent_arrears = sa.Column(sa.Boolean, nullable=False, default=False, info={"label": _l("Rent arrears"), "workbook": False})
    reason_nuisance = sa.Column(sa.Boolean, nullable=False, default=False, info={"label": _l("Nuisance"), "workbook": False})
    reason_damage = sa.Column(sa.Boolean, nullable=False, default=False, info={"label": _l("Damage to the home"), "workbook": False})
    reason_care_avoidance = sa.Column(
        sa.Boolean, nullable=False, default=False, info={"label": _l("Care avoidance"), "workbook": False}
    )
    reason_other = sa.Column(sa.String(255), info={"label": _l("Other reason"), "case_note": True})
    eviction_judgment = enum_column(
        EvictionJudgment, nullable=False, default=EvictionJudgment.none,
        info={"label": _l("Eviction judgment")},
    )
    eviction_judgment_date = sa.Column(sa.Date, info={"label": _l("Eviction judgment date")})
    start_date = sa.Column(sa.Date, info={"label": _l("Start date"), "list": True})
    planned_end_date = sa.Column(sa.Date, info={"label": _l("Planned end date")})
    actual_end_date = sa.Column(sa.Date, info={"label": _l("Actual end date")})
    outcome = enum_column(TrajectoryOutcome, info={"label": _l("Outcome")})
    coordinator_id = sa.Column(sa.Integer, sa.ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    counsellor_id = sa.Column(sa.Integer, sa.ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    relapse_followup_date = sa.Column(sa.Date, info={"label": _l("Followed up on")})
    relapse = sa.Column(sa.Boolean, info={"label": _l("Relapse")})
    relapse_remark = sa.Column(sa.Text, info={"label": _l("Relapse remark"), "case_note": True})
    notes = sa.Column(sa.Text, info={"label": _l("Notes"), "case_note": True})
    # Figures of the trajectory's debts and evaluations, kept by the database itself: triggers on
    # `debt` and `evaluation` (migration 0006) recount them in the same transaction as every write,
    # whoever makes it. Stored, a list can sort by them and the evaluations due can be read from an
    # index; computed per row, both would read every trajectory (figures in benchmarks/README.md).
    # The portal never writes them (models.derived keeps the session's copies fresh); they are marked
    # `kept_by_database`.
    total_current_debt = sa.Column(Money, nullable=False, default=0, server_default="0",
                                   info={"label": _l("Total current debt"), "list": True, "kept_by_database": True})
    total_original_debt = sa.Column(Money, nullable=False, default=0, server_default="0",
                                    info={"label": _l("Total original debt"), "workbook": False, "kept_by_database": True})
    last_evaluation_held_on = sa.Column(sa.Date, info={"label": _l("Last evaluation held on"), "workbook": False, "kept_by_database": True})

    tenant = relationship("Tenant", back_populates="trajectories", info={"label": _l("Tenant"), "list": True})
    referring_organisation = relationship(
        "Organisation", foreign_keys=[referring_organisation_id],
        info={"label": _l("Referring organisation"), "list": True},
    )
    involved_organisations = relationship(
        "Organisation", secondary=trajectory_organisation, order_by="Organisation.name",
        backref="involved_in_trajectories", info={"label": _l("Involved organisations"), "list": True},
    )
    # Staff of the partners by name: on screen and in exports, not in the workbook taken to the meeting.
    coordinator = relationship("Contact", foreign_keys=[coordinator_id],
                               info={"label": _l("Coordinator"), "workbook": False})
    counsellor = relationship("Contact", foreign_keys=[counsellor_id], info={"label": _l("Counsellor"), "workbook": False})
    agreements = relationship(
        "Agreement", back_populates="trajectory", order_by="Agreement.agreement_version.desc()"
    )
    debts = relationship("Debt", back_populates="trajectory", order_by="Debt.id")
    evaluations = relationship(
        "Evaluation", back_populates="trajectory", order_by="Evaluation.planned_date"
    )
    status_changes = relationship(
        "StatusChange", back_populates="trajectory", order_by="StatusChange.changed_at.desc()"
    )

    @hybrid_property
    def relapse_followup_due(self):
        """When to ask whether a completed trajectory's tenant relapsed: the end plus the follow-up period."""
        if self.status != TrajectoryStatus.completed or self.actual_end_date is None:
            return None
        return self.actual_end_date + relativedelta(months=policy().relapse_followup_months)

    @relapse_followup_due.expression
    def relapse_followup_due(cls):
        due = add_months(cls.actual_end_date, policy().relapse_followup_months)
        return sa.case((cls.status == TrajectoryStatus.completed, due), else_=None)

    @property
    def parties(self) -> list:
        """The organisations that sign the agreement: the referring corporation and every involved one."""
        involved = list(self.involved_organisations)
        if self.referring_organisation is not None and self.referring_organisation not in involved:
            involved.insert(0, self.referring_organisation)
        return involved

    REASON_COLUMNS = ("reason_rent_arrears", "reason_nuisance", "reason_damage", "reason_care_avoidance")

    @property
    def referral_reasons(self) -> str:
        """The reasons for referral as one readable line."""
        return self.describe_reasons(*(getattr(self, name) for name in self.REASON_COLUMNS), self.reason_other)

    @classmethod
    def describe_reasons(cls, *flags_then_other) -> str:
        """The reasons line from the values of REASON_COLUMNS and `reason_other`, in that order."""
        *flags, other = flags_then_other
        reasons = [str(cls.__mapper__.columns[name].info["label"]) for name, flag in zip(cls.REASON_COLUMNS, flags) if flag]
        if other:
            reasons.append(other)
        return ", ".join(reasons)

    @hybrid_property
    def next_evaluation_date(self):
        """Last held evaluation (or the start) plus the evaluation interval, while running.

        Read from the setting each time, so a new interval moves every due date without a migration.
        """
        if self.status != TrajectoryStatus.running:
            return None
        base = self.evaluation_base_date
        if base is None:
            return None
        return base + relativedelta(months=policy().evaluation_interval_months)

    @next_evaluation_date.expression
    def next_evaluation_date(cls):
        due = add_months(cls.evaluation_base_date, policy().evaluation_interval_months)
        return sa.case((cls.status == TrajectoryStatus.running, due), else_=None)

    @hybrid_property
    def evaluation_base_date(self):
        """The date the evaluation interval counts from: the last held evaluation, or the start."""
        return self.last_evaluation_held_on or self.start_date

    @evaluation_base_date.expression
    def evaluation_base_date(cls):
        # The same expression as the index ix_trajectory_status_evaluation_base, so queries can use it.
        return sa.func.coalesce(cls.last_evaluation_held_on, cls.start_date)

    @hybrid_property
    def display_name(self) -> str:
        tenant = self.tenant
        if tenant is None:
            return f"#{self.id}"
        return f"{tenant.client_number} – {tenant.full_name}"

    @display_name.expression
    def display_name(cls):
        from .tenant import Tenant

        return (
            sa.select(Tenant.client_number + " – " + Tenant.first_name + " " + Tenant.last_name)
            .where(Tenant.id == cls.tenant_id)
            .scalar_subquery()
        )

    def __str__(self) -> str:
        return self.display_name


# The evaluations due, in due order, from the index alone (reports.kpi.evaluations_due); with the
# referring organisation, a corporation's count needs no table row either.
sa.Index("ix_trajectory_status_evaluation_base", Trajectory.status, Trajectory.evaluation_base_date,
         Trajectory.referring_organisation_id)
# Lists sorted by the total debt.
sa.Index("ix_trajectory_total_current_debt", Trajectory.total_current_debt)
