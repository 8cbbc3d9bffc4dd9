"""Screens for the quarterly evaluations, the interventions they lead to, and what is due."""
from datetime import date, timedelta

from flask import request
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, DatePickerWidget, Select2Widget
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from wtforms import DateField, TextAreaField
from wtforms.validators import Optional

from models import Assessment, Evaluation, Intervention, Organisation, Trajectory, db
from models.settings import policy
from reports import kpi

from .base import DomainError, PortalInterface, PortalModelView, security_manager
from .declared import form_fields
from .fields import NoControlCharacters, NotInFuture, SaneDate

FIELDS = form_fields(Evaluation)
# "Serious problems" needs an intervention; the form lets staff record the first one with the evaluation.
FIRST_INTERVENTION = ["intervention_description", "intervention_organisation", "intervention_due_date"]
FIRST_INTERVENTION_FIELDS = {
    "intervention_description": TextAreaField(
        _l("Intervention"), validators=[NoControlCharacters(), Optional()], widget=BS3TextAreaFieldWidget(),
        description=_l("Required when the assessment is “serious problems”: what will be done now."),
    ),
    "intervention_organisation": QuerySelectField(
        _l("Responsible organisation"), query_func=lambda: db.session.query(Organisation).order_by(Organisation.name).all(),
        get_pk_func=lambda organisation: organisation.id, allow_blank=True, widget=Select2Widget(),
        validators=[Optional()],
    ),
    "intervention_due_date": DateField(
        _l("Intervention due date"), format="%Y-%m-%d", widget=DatePickerWidget(), validators=[Optional(), SaneDate()],
    ),
}


class InterventionView(PortalModelView):
    datamodel = PortalInterface(
        Intervention,
        load_options=[joinedload(Intervention.responsible_organisation),
                      joinedload(Intervention.evaluation).joinedload(Evaluation.trajectory).joinedload(Trajectory.tenant)],
    )
    order_columns = ["due_date", "closed_on"]
    base_order = ("due_date", "asc")
    validators_columns = {"closed_on": [NotInFuture()]}


class EvaluationView(PortalModelView):
    datamodel = PortalInterface(
        Evaluation, load_options=[joinedload(Evaluation.trajectory).joinedload(Trajectory.tenant)]
    )
    add_columns = edit_columns = FIELDS + FIRST_INTERVENTION
    add_fieldsets = edit_fieldsets = [
        (_l("Evaluation"), {"fields": FIELDS}),
        (_l("Intervention"), {"fields": FIRST_INTERVENTION}),
    ]
    add_form_extra_fields = edit_form_extra_fields = FIRST_INTERVENTION_FIELDS
    order_columns = ["planned_date", "held_date", "assessment"]
    base_order = ("planned_date", "desc")
    validators_columns = {"held_date": [NotInFuture()]}
    related_views = [InterventionView]

    def validate_item(self, item, form):
        description = (form.intervention_description.data or "").strip()
        if description:
            organisation, due = form.intervention_organisation.data, form.intervention_due_date.data
            if organisation is None:
                raise DomainError(_l("Choose the organisation responsible for the intervention."), "intervention_organisation")
            if due is None:
                raise DomainError(_l("Give the intervention a due date."), "intervention_due_date")
            item.interventions.append(Intervention(description=description, responsible_organisation=organisation,
                                                   due_date=due))
        if item.assessment == Assessment.serious_problems and not item.interventions:
            raise DomainError(_l("Serious problems need at least one intervention: record what will be done, "
                                 "by whom and when."), "intervention_description")
        if item.assessment is not None and item.held_date is None:
            raise DomainError(_l("An assessment is given when the evaluation is held: fill in the date it was held."),
                              "held_date")


class EvaluationsDueView(BaseView):
    """Running trajectories whose evaluation is overdue or due soon, most urgent first."""

    route_base = "/evaluations-due"
    default_view = "list"
    page_size = 50

    @expose("/")
    @has_access
    def list(self):
        today = date.today()
        settings = policy()
        days, interval = settings.evaluation_due_soon_days, settings.evaluation_interval_months
        scope = security_manager().case_scope()
        due = kpi.evaluations_due(db.session, scope, today + timedelta(days=days), interval)
        count = due.order_by(None).count()
        overdue = kpi.evaluations_overdue(db.session, scope, today, interval)
        pages = max(1, -(-count // self.page_size))
        page = max(0, min(request.args.get("page", 0, type=int), pages - 1))
        rows = (due.options(joinedload(Trajectory.tenant), joinedload(Trajectory.coordinator),
                            joinedload(Trajectory.referring_organisation))
                .offset(page * self.page_size).limit(self.page_size).all())
        return self.render_template(
            "portal/evaluations_due.html", title=_l("Evaluations due"), rows=rows, today=today, count=count,
            overdue=overdue, page=page, pages=pages, days=days,
        )
