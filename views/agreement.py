"""Screens for agreements (woonbegeleidingsovereenkomsten), their obligations and signatures."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from models import Agreement, Obligation, Signature, SigningParty, Trajectory

from .base import DomainError, PortalInterface, PortalModelView
from .fields import After, NotInFuture

AGREEMENT_FIELDS = [
    "trajectory", "agreement_version", "rental_contract_number", "drawn_up_on", "valid_from",
    "valid_until", "status", "notes",
]


class ObligationView(PortalModelView):
    datamodel = PortalInterface(Obligation, load_options=[joinedload(Obligation.organisation)])
    menu_entry = "AgreementView"
    list_title = _l("Obligations")
    show_title = _l("Obligation")
    add_title = _l("Add obligation")
    edit_title = _l("Edit obligation")

    list_columns = ["party", "organisation", "description", "due_date", "status"]
    show_columns = add_columns = edit_columns = ["agreement", "party", "organisation", "description", "due_date", "status"]
    search_columns = ["party", "status", "due_date"]
    order_columns = ["party", "due_date", "status"]
    base_order = ("due_date", "asc")

    def validate_item(self, item, form):
        _check_party(item, "organisation")

    def record_name(self):
        return _l("The obligation")


class SignatureView(PortalModelView):
    datamodel = PortalInterface(Signature, load_options=[joinedload(Signature.organisation)])
    menu_entry = "AgreementView"
    list_title = _l("Signatures")
    show_title = _l("Signature")
    add_title = _l("Add signature")
    edit_title = _l("Edit signature")

    list_columns = ["party", "organisation", "signed_by", "signed_on"]
    show_columns = add_columns = edit_columns = ["agreement", "party", "organisation", "signed_by", "signed_on"]
    search_columns = ["party", "signed_by", "signed_on"]
    order_columns = ["party", "signed_by", "signed_on"]
    base_order = ("signed_on", "asc")
    validators_columns = {"signed_on": [NotInFuture()]}

    def validate_item(self, item, form):
        _check_party(item, "organisation")
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

    def record_name(self):
        return _l("The signature")


def _check_party(item, field):
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
    list_title = _l("Agreements")
    show_title = _l("Agreement")
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

    def record_name(self):
        return _l("The agreement")
