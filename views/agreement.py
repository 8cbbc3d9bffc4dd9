"""Screens for agreements (woonbegeleidingsovereenkomsten), their obligations and signatures."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from models import (
    Agreement, AgreementStatus, AgreementStep, Obligation, Signature, SigningParty, StepRefused, Trajectory, authority,
    allowed_agreement_steps,
)

from .base import CONFLICT_MESSAGE, DomainError, PortalInterface, PortalModelView
from .fields import After, NotInFuture

# The status moves only by the agreement's steps (AgreementView.step), never in its form.
AGREEMENT_FIELDS = [
    "trajectory", "agreement_version", "rental_contract_number", "drawn_up_on", "valid_from",
    "valid_until", "notes",
]
# What each step's button says.
STEP_LABELS = {
    AgreementStatus.awaiting_signatures: _l("Offer for signature"),
    AgreementStatus.draft: _l("Back to draft"),
    AgreementStatus.in_force: _l("Put in force"),
    AgreementStatus.ended: _l("End the agreement"),
}


class ObligationView(PortalModelView):
    # The agreement's status decides whether its party may still change a row (models.authority): loaded with the page.
    datamodel = PortalInterface(Obligation, load_options=[joinedload(Obligation.organisation), joinedload(Obligation.agreement)])
    menu_entry = "AgreementView"
    order_columns = ["party", "due_date", "status"]
    base_order = ("due_date", "asc")

    def validate_item(self, item, form):
        _check_party(item, "organisation", form)


class SignatureView(PortalModelView):
    datamodel = PortalInterface(Signature, load_options=[joinedload(Signature.organisation), joinedload(Signature.agreement)])
    menu_entry = "AgreementView"

    # Who recorded it shows whether a party signed itself or the coordinator recorded it on its behalf.
    list_columns = ["party", "organisation", "signed_by", "signed_on", "recorded_by_organisation"]
    show_columns = ["agreement", "party", "organisation", "signed_by", "signed_on", "recorded_by_organisation"]
    order_columns = ["party", "signed_by", "signed_on"]
    base_order = ("signed_on", "asc")
    validators_columns = {"signed_on": [NotInFuture()]}

    def validate_item(self, item, form):
        _check_party(item, "organisation", form)
        if item.id is None and item.agreement.status != AgreementStatus.awaiting_signatures:
            raise DomainError(_l("Signatures are recorded while the agreement awaits them: offer it for signature "
                                 "first."), "agreement")
        trajectory = item.agreement.trajectory
        if item.party == SigningParty.organisation and item.organisation not in trajectory.parties:
            raise DomainError(
                _l("%(org)s is not involved in this trajectory, so it cannot sign its agreement.",
                   org=item.organisation.name),
                "organisation",
            )
        for other in item.agreement.signatures:
            if other is not item and other.id != item.id and other.party == item.party and (
                other.organisation_id == (item.organisation.id if item.organisation else None)
            ):
                raise DomainError(_l("This party has already signed this agreement."), "party")


def _check_party(item, field, form):
    if field not in form and item.party == SigningParty.tenant:
        # The organisation was the user's own by default (models.authority.fixed_on_form): the tenant has none.
        item.organisation = None
    if item.party == SigningParty.organisation and item.organisation is None:
        raise DomainError(_l("Choose the organisation."), field)
    if item.party == SigningParty.tenant and item.organisation is not None:
        raise DomainError(_l("Leave the organisation empty when the party is the tenant."), field)


class AgreementView(PortalModelView):
    datamodel = PortalInterface(
        Agreement,
        load_options=[
            joinedload(Agreement.trajectory).joinedload(Trajectory.tenant),
            selectinload(Agreement.signatures),
            # "Still to sign" reads the trajectory's parties: referring and involved organisations.
            joinedload(Agreement.trajectory).joinedload(Trajectory.referring_organisation),
            joinedload(Agreement.trajectory).selectinload(Trajectory.involved_organisations),
        ],
    )
    add_title = _l("Draw up agreement")
    edit_title = _l("Edit agreement")

    label_columns = {"missing_signatures": _l("Still to sign")}
    list_columns = ["trajectory", "agreement_version", "drawn_up_on", "status", "missing_signatures"]
    show_columns = AGREEMENT_FIELDS + ["missing_signatures"]
    add_columns = edit_columns = AGREEMENT_FIELDS
    search_columns = ["status", "drawn_up_on", "rental_contract_number"]
    order_columns = ["agreement_version", "drawn_up_on", "status"]
    base_order = ("drawn_up_on", "desc")
    validators_columns = {"valid_until": [After("valid_from")]}
    related_views = [ObligationView, SignatureView]
    show_template = "portal/agreement_show.html"
    # Who takes which step is models.authority.AGREEMENT_STEP_TAKERS's call.
    restricted_permissions = {"can_step": ("Coordinator", "Caseworker")}

    @staticmethod
    def steps_for(actor, agreement) -> list:
        """[(target, label)] of the steps this user may take on the agreement now, and that the policy allows."""
        return [(target, STEP_LABELS[target]) for target in allowed_agreement_steps(agreement)
                if authority.may_take_agreement_step(actor, agreement, target) and _passes(agreement, target)]

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        may_step = self.appbuilder.sm.has_access("can_step", self.class_permission_name)
        widgets["agreement_steps"] = self.steps_for(self.actor(), item) if may_step else []
        widgets["agreement"] = item
        return widgets

    @expose("/step/<pk>/<target>", methods=["POST"])
    @has_access
    def step(self, pk, target):
        """Take one of the agreement's steps; a refusal says what is missing, nothing changes."""
        agreement = self.datamodel.get(pk, self._base_filters)
        if agreement is None or target not in AgreementStatus.__members__:
            abort(404)
        step = AgreementStep(agreement, AgreementStatus(target), actor=self.actor())
        if not authority.may_take_agreement_step(self.actor(), agreement, step.target):
            abort(403)
        session = self.datamodel.session
        try:
            step.run()
            session.commit()
        except StepRefused as error:
            session.rollback()
            flash(str(error), "danger")
        except StaleDataError:
            session.rollback()
            flash(str(CONFLICT_MESSAGE), "danger")
        else:
            flash(_l("The agreement is now: %(status)s.", status=step.target.label), "success")
        back = request.form.get("next")
        if back == "trajectory":
            return redirect(url_for("TrajectoryView.show", pk=agreement.trajectory_id))
        return redirect(url_for(".show", pk=agreement.id))


def _passes(agreement, target) -> bool:
    """Whether the step's guards let it be taken now (a button that can only be refused is not offered)."""
    try:
        AgreementStep(agreement, target).validate()
    except StepRefused:
        return False
    return True
