"""Screens for debts and expected costs."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from models import Debt, Trajectory

from .base import DomainError, PortalInterface, PortalModelView

FIELDS = [
    "trajectory", "creditor", "category", "status", "original_amount", "current_balance",
    "monthly_payment", "is_expected_cost", "registered_on", "notes",
]


class DebtView(PortalModelView):
    datamodel = PortalInterface(Debt, load_options=[joinedload(Debt.trajectory).joinedload(Trajectory.tenant)])
    list_title = _l("Debts")
    show_title = _l("Debt")
    add_title = _l("Add debt")
    edit_title = _l("Edit debt")
    write_roles = ("Caseworker", "Finance")

    list_columns = ["trajectory", "creditor", "category", "status", "original_amount", "current_balance", "monthly_payment"]
    show_columns = add_columns = edit_columns = FIELDS
    search_columns = ["creditor", "category", "status", "current_balance", "is_expected_cost"]
    order_columns = ["creditor", "category", "status", "original_amount", "current_balance"]
    base_order = ("current_balance", "desc")

    def validate_item(self, item, form):
        if item.monthly_payment and item.current_balance is not None and item.monthly_payment > max(
            item.current_balance, item.original_amount or 0
        ):
            raise DomainError(_l("The monthly payment cannot exceed the debt."), "monthly_payment")

    def record_name(self):
        return _l("The debt")
