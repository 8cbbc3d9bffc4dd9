"""Screens for debts and expected costs."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from models import Debt, Trajectory

from .base import DomainError, PortalInterface, PortalModelView

class DebtView(PortalModelView):
    datamodel = PortalInterface(Debt, load_options=[joinedload(Debt.trajectory).joinedload(Trajectory.tenant)])
    write_roles = ("Caseworker", "Finance")

    order_columns = ["creditor", "category", "status", "original_amount", "current_balance"]
    base_order = ("current_balance", "desc")

    def validate_item(self, item, form):
        if item.monthly_payment and item.current_balance is not None and item.monthly_payment > max(
            item.current_balance, item.original_amount or 0
        ):
            raise DomainError(_l("The monthly payment cannot exceed the debt."), "monthly_payment")
