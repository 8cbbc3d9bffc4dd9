"""Screens for the quarterly evaluations."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from models import Evaluation, Trajectory

from .base import PortalInterface, PortalModelView
from .fields import NotInFuture

FIELDS = [
    "trajectory", "planned_date", "held_date", "participants", "assessment", "rent_paid",
    "new_debts", "nuisance_reports", "obligations_kept", "interventions_agreed", "notes",
]


class EvaluationView(PortalModelView):
    datamodel = PortalInterface(
        Evaluation, load_options=[joinedload(Evaluation.trajectory).joinedload(Trajectory.tenant)]
    )
    list_title = show_title = _l("Evaluations")
    add_title = _l("Add evaluation")
    edit_title = _l("Edit evaluation")

    list_columns = ["trajectory", "planned_date", "held_date", "assessment", "rent_paid", "obligations_kept"]
    show_columns = add_columns = edit_columns = FIELDS
    search_columns = ["planned_date", "held_date", "assessment"]
    order_columns = ["planned_date", "held_date", "assessment"]
    base_order = ("planned_date", "desc")
    validators_columns = {"held_date": [NotInFuture()]}

    def record_name(self):
        return _l("The evaluation")
