"""Screens for trajectories, the heart of the portal."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from models import (
    authority, Agreement, SigningParty, Evaluation, Intervention, Obligation, StatusChange, Step, StepRefused, Trajectory, TrajectoryOutcome,
    TrajectoryStatus, allowed_steps,
)
from models.workflow import EARLY_OUTCOMES, planned_end_refusal

from .agreement import AgreementView
from .base import CONFLICT_MESSAGE, DomainError, PortalInterface, PortalModelView
from .debt import DebtView
from .evaluation import EvaluationView
from .fields import After, NotInFuture
from .formatting import show_date, show_money_cell

REFERRAL = [
    "tenant", "referring_organisation", "referral_date", "reason_rent_arrears", "reason_nuisance",
    "reason_damage", "reason_care_avoidance", "reason_other",
]
PARTIES = ["involved_organisations", "coordinator", "counsellor"]
COURSE = [
    "status", "eviction_judgment", "eviction_judgment_date", "start_date", "planned_end_date",
    "actual_end_date", "outcome",
]
# Status, outcome and end date change only through the lifecycle steps, never in the edit form.
COURSE_EDITABLE = ["eviction_judgment", "eviction_judgment_date", "start_date", "planned_end_date"]
FOLLOW_UP = ["relapse_followup_date", "relapse", "relapse_remark", "notes"]
DERIVED = ["total_current_debt", "next_evaluation_date", "relapse_followup_due"]


class TrajectoryView(PortalModelView):
    datamodel = PortalInterface(
        Trajectory,
        load_options=[
            joinedload(Trajectory.tenant),
            joinedload(Trajectory.referring_organisation),
            selectinload(Trajectory.involved_organisations),
        ],
        # The record page reads the agreements (signatures, obligations), every evaluation's
        # interventions and the status history: loaded per relation, not per evaluation.
        show_options=[
            selectinload(Trajectory.agreements).selectinload(Agreement.signatures),
            selectinload(Trajectory.agreements).selectinload(Agreement.obligations).joinedload(Obligation.organisation),
            selectinload(Trajectory.evaluations).selectinload(Evaluation.interventions)
            .joinedload(Intervention.responsible_organisation),
            selectinload(Trajectory.status_changes).joinedload(StatusChange.changed_by),
        ],
    )
    add_title = _l("Refer a tenant")
    edit_title = _l("Edit trajectory")
    show_template = "portal/trajectory_show.html"

    # Derived columns that are no model column; the stored figures take their labels from the model.
    label_columns = {
        "next_evaluation_date": _l("Next evaluation"),
        "referral_reasons": _l("Referral reasons"),
        "relapse_followup_due": _l("Relapse follow-up due"),
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
    add_columns = REFERRAL + PARTIES + COURSE_EDITABLE + ["notes"]
    edit_columns = REFERRAL + PARTIES + COURSE_EDITABLE + FOLLOW_UP
    add_fieldsets = show_fieldsets[:2] + [(_l("Course"), {"fields": COURSE_EDITABLE + ["notes"]})]
    edit_fieldsets = show_fieldsets[:2] + [(_l("Course"), {"fields": COURSE_EDITABLE}), show_fieldsets[3]]
    search_columns = ["status", "referring_organisation", "referral_date", "start_date", "eviction_judgment"]
    order_columns = ["status", "referral_date", "start_date", "total_current_debt"]
    base_order = ("referral_date", "desc")
    formatters_columns = {
        "total_current_debt": show_money_cell,
        "next_evaluation_date": show_date,
        "relapse_followup_due": show_date,
    }
    validators_columns = {
        "planned_end_date": [After("start_date")],
        "relapse_followup_date": [NotInFuture()],
    }
    related_views = [AgreementView, DebtView, EvaluationView]
    # Each step says itself who may take it (models.authority.TRAJECTORY_STEP_TAKERS); the
    # municipality's Finance staff close their financial overview.
    restricted_permissions = {"can_step": ("Coordinator", "Caseworker", "Finance")}

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["current_agreement"] = item.agreements[0] if item.agreements else None
        widgets["trajectory"] = item
        actor = self.actor()
        sm = self.appbuilder.sm
        widgets["steps"] = [target for target in allowed_steps(item) if authority.may_take_step(actor, item, target)] \
            if sm.has_access("can_step", self.class_permission_name) else []
        agreement = widgets["current_agreement"]
        widgets["agreement_steps"] = AgreementView.steps_for(actor, agreement) if agreement is not None else []
        widgets["may_add_obligation"] = agreement is not None and sm.has_access("can_add", "ObligationView") and (
            authority.obligation_refusal(actor, agreement, SigningParty.tenant, None) is None)
        widgets["may_add_signature"] = agreement is not None and sm.has_access("can_add", "SignatureView") and any(
            authority.sign_refusal(actor, agreement, party, organisation) is None
            for party, organisation in ((SigningParty.tenant, None), (SigningParty.organisation, actor.organisation_id)))
        widgets["open_interventions"] = [
            intervention for evaluation in item.evaluations for intervention in evaluation.interventions
            if intervention.is_open
        ]
        return widgets

    def validate_item(self, item, form):
        recorded = item.relapse is not None or item.relapse_remark or item.relapse_followup_date
        if recorded and item.status != TrajectoryStatus.completed:
            raise DomainError(_l("A relapse follow-up is recorded only for a completed trajectory."), "relapse")
        if item.relapse is not None and item.relapse_followup_date is None:
            raise DomainError(_l("Give the date of the follow-up."), "relapse_followup_date")
        refusal = planned_end_refusal(item.start_date, item.planned_end_date)
        if refusal:
            raise DomainError(refusal, "planned_end_date")

    @expose("/step/<pk>/<target>", methods=["GET", "POST"])
    @has_access
    def step(self, pk, target):
        """Confirm and take one lifecycle step; the guards' refusal is shown, nothing changes."""
        trajectory = self.datamodel.get(pk, self._base_filters)
        if trajectory is None or target not in TrajectoryStatus.__members__:
            abort(404)
        if not authority.may_take_step(self.actor(), trajectory, TrajectoryStatus(target)):
            abort(403)
        sm = self.appbuilder.sm
        step = Step(
            trajectory, TrajectoryStatus(target), user=sm.current_user, actor=self.actor(), remark=request.form.get("remark"),
            outcome=_outcome(request.form.get("outcome")), override_reason=request.form.get("override_reason"),
            may_override=sm.may_override_minimum_duration(),
        )
        refusal = None
        if request.method == "POST":
            try:
                step.run()
                self.datamodel.session.commit()
            except StepRefused as error:
                self.datamodel.session.rollback()
                refusal = str(error)
            except StaleDataError:
                self.datamodel.session.rollback()
                refusal = str(CONFLICT_MESSAGE)
            else:
                flash(_l("The trajectory is now: %(status)s.", status=step.target.label), "success")
                return redirect(url_for(".show", pk=trajectory.id))
            flash(refusal, "danger")
        elif request.method == "GET":
            try:
                step.validate()
            except StepRefused as error:
                refusal = str(error)
        return self.render_template(
            "portal/step_confirm.html", title=_l("Change the status"), trajectory=trajectory, step=step,
            refusal=refusal, outcomes=EARLY_OUTCOMES, needs_override=_needs_override(step),
        )


def _outcome(value):
    try:
        return TrajectoryOutcome(value) if value else None
    except ValueError:
        return None


def _needs_override(step) -> bool:
    """Whether completing now needs a coordinator's exception (the minimum duration is not over)."""
    if step.target != TrajectoryStatus.completed:
        return False
    try:
        Step(step.trajectory, step.target, may_override=False, today=step.today,
             minimum_months=step.minimum_months)._check_minimum_duration()
    except StepRefused:
        return True
    return False

