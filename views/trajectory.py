"""Screens for trajectories, the heart of the portal."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload, undefer

from models import Trajectory

from .agreement import AgreementView
from .base import DomainError, PortalInterface, PortalModelView
from .debt import DebtView
from .evaluation import EvaluationView
from .fields import After
from .formatting import show_date, show_money

REFERRAL = [
    "tenant", "referring_organisation", "referral_date", "reason_rent_arrears", "reason_nuisance",
    "reason_damage", "reason_care_avoidance", "reason_other",
]
PARTIES = ["involved_organisations", "coordinator", "counsellor"]
COURSE = [
    "status", "eviction_judgment", "eviction_judgment_date", "start_date", "planned_end_date",
    "actual_end_date", "outcome",
]
FOLLOW_UP = ["relapse_followup_date", "relapse", "relapse_remark", "notes"]
DERIVED = ["total_current_debt", "next_evaluation_date"]


class TrajectoryView(PortalModelView):
    datamodel = PortalInterface(
        Trajectory,
        load_options=[
            joinedload(Trajectory.tenant),
            joinedload(Trajectory.referring_organisation),
            selectinload(Trajectory.involved_organisations),
            undefer(Trajectory.total_current_debt),
            undefer(Trajectory.last_evaluation_held_on),
        ],
    )
    list_title = show_title = _l("Trajectories")
    add_title = _l("Refer a tenant")
    edit_title = _l("Edit trajectory")
    show_template = "portal/trajectory_show.html"

    label_columns = {
        "total_current_debt": _l("Total current debt"),
        "next_evaluation_date": _l("Next evaluation"),
        "referral_reasons": _l("Referral reasons"),
    }
    list_columns = [
        "tenant", "status", "referring_organisation", "involved_organisations", "referral_date",
        "start_date", "total_current_debt", "next_evaluation_date",
    ]
    show_columns = REFERRAL + PARTIES + COURSE + DERIVED + FOLLOW_UP
    show_fieldsets = [
        (_l("Referral"), {"fields": REFERRAL}),
        (_l("Parties"), {"fields": PARTIES}),
        (_l("Course"), {"fields": COURSE + DERIVED}),
        (_l("Relapse follow-up and notes"), {"fields": FOLLOW_UP}),
    ]
    add_columns = edit_columns = REFERRAL + PARTIES + COURSE + FOLLOW_UP
    add_fieldsets = edit_fieldsets = show_fieldsets[:2] + [
        (_l("Course"), {"fields": COURSE}), show_fieldsets[3],
    ]
    search_columns = ["status", "referring_organisation", "referral_date", "start_date", "eviction_judgment"]
    order_columns = ["status", "referral_date", "start_date", "total_current_debt"]
    base_order = ("referral_date", "desc")
    formatters_columns = {
        "total_current_debt": show_money,
        "next_evaluation_date": show_date,
    }
    validators_columns = {
        "planned_end_date": [After("start_date")],
        "actual_end_date": [After("start_date")],
    }
    related_views = [AgreementView, DebtView, EvaluationView]

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["current_agreement"] = item.agreements[0] if item.agreements else None
        return widgets

    def validate_item(self, item, form):
        if item.outcome is not None and item.status not in (item.status.completed, item.status.ended_early):
            raise DomainError(_l("An outcome is only recorded when the trajectory has ended."), "outcome")

    def record_name(self):
        return _l("The trajectory")
