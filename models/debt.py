"""Debts and expected costs from the municipality's financial overview."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import relationship

from .base import Model, Money, VersionedMixin, enum_column
from .enums import DebtCategory, DebtStatus


class Debt(VersionedMixin, Model):
    """One debt (or an expected future cost) of the tenant within a trajectory."""

    __tablename__ = "debt"
    __scope__ = "trajectory"

    id = sa.Column(sa.Integer, primary_key=True)
    trajectory_id = sa.Column(
        sa.Integer, sa.ForeignKey("trajectory.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    creditor = sa.Column(sa.String(150), nullable=False, info={"label": _l("Creditor")})
    category = enum_column(DebtCategory, nullable=False, index=True, info={"label": _l("Category")})
    status = enum_column(
        DebtStatus, nullable=False, default=DebtStatus.inventoried, index=True, info={"label": _l("Status")}
    )
    original_amount = sa.Column(Money, nullable=False, info={"label": _l("Original amount")})
    current_balance = sa.Column(Money, nullable=False, info={"label": _l("Current balance")})
    monthly_payment = sa.Column(Money, info={"label": _l("Monthly payment")})
    is_expected_cost = sa.Column(
        sa.Boolean, nullable=False, default=False, info={"label": _l("Expected future cost")}
    )
    registered_on = sa.Column(sa.Date, info={"label": _l("Registered on")})
    notes = sa.Column(sa.Text, info={"label": _l("Notes")})

    trajectory = relationship("Trajectory", back_populates="debts", info={"label": _l("Trajectory")})

    def __str__(self) -> str:
        return f"{self.creditor} ({self.category})"
