"""Debts and expected costs from the municipality's financial overview."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import relationship

from .base import Model, RecordedMixin, Money, VersionedMixin, enum_column, trigram_index
from .enums import DebtCategory, DebtStatus


class Debt(RecordedMixin, VersionedMixin, Model):
    """One debt (or an expected future cost) of the tenant within a trajectory."""

    __tablename__ = "debt"
    __label__ = _l("Debt")
    __plural__ = _l("Debts")
    __scope__ = "trajectory"
    __workbook__ = "category"
    # From the index alone: a trajectory's total debt (Trajectory.total_current_debt), the debt totals
    # of a set of trajectories (reports.kpi.debt_totals), and the count of an organisation's debts
    # with a given status (the scope and the list's status filter meet).
    __table_args__ = (
        sa.Index("ix_debt_trajectory_status_amounts", "trajectory_id", "status", "current_balance", "original_amount"),
        trigram_index("ix_debt_creditor_trgm", "creditor"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    trajectory_id = sa.Column(
        sa.Integer, sa.ForeignKey("trajectory.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    creditor = sa.Column(sa.String(150), nullable=False, info={
        # A creditor may be a person: erased with the case notes, but the partners' debt sheet names it.
        "label": _l("Creditor"), "list": True, "case_note": True, "workbook": True,
    })
    category = enum_column(DebtCategory, nullable=False, index=True, info={"label": _l("Category"), "list": True})
    status = enum_column(
        DebtStatus, nullable=False, default=DebtStatus.inventoried, index=True, info={"label": _l("Status"), "list": True}
    )
    original_amount = sa.Column(Money, nullable=False, info={"label": _l("Original amount"), "list": True})
    current_balance = sa.Column(Money, nullable=False, index=True, info={
        "label": _l("Current balance"), "list": True,
        "description": _l("What is still owed today; the original amount stays as inventoried."),
    })
    monthly_payment = sa.Column(Money, info={"label": _l("Monthly payment"), "list": True})
    is_expected_cost = sa.Column(sa.Boolean, nullable=False, default=False, info={
        "label": _l("Expected future cost"),
        "description": _l("A cost still to come (e.g. a final energy bill), not yet a debt."),
    })
    registered_on = sa.Column(sa.Date, info={"label": _l("Registered on")})
    notes = sa.Column(sa.Text, info={"label": _l("Notes"), "case_note": True})

    trajectory = relationship("Trajectory", back_populates="debts", info={"label": _l("Trajectory"), "list": True})

    def __str__(self) -> str:
        return f"{self.creditor} ({self.category})"
