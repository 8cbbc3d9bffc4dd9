"""Who may change what, written from the policy (README "Who may change what") in plain Python.

An independent ground truth for tests/test_authority_matrix.py and tests/test_fuzz_forms.py: it
reads the rows as they are and decides from the rules' own words, never from models/authority.py.
"""
from dataclasses import dataclass

from models import (
    Agreement, AgreementStatus, Contact, Debt, Evaluation, Intervention, Obligation, Organisation, OrganisationKind,
    PortalUser, Signature, SigningParty, Tenant, Trajectory, TrajectoryStatus, db,
)

LEAD_ROLES = {"Admin", "Coordinator"}
CASE_RECORDS = {Agreement, Obligation, Signature, Debt, Evaluation, Intervention}
# Which kinds of record each role may write at all (the roles table of the README).
WRITABLE_BY_ROLE = {
    "Admin": CASE_RECORDS | {Tenant, Trajectory, Organisation, Contact},
    "Coordinator": CASE_RECORDS | {Tenant, Trajectory, Organisation, Contact},
    "Caseworker": CASE_RECORDS | {Tenant, Trajectory, Contact},
    "Finance": {Debt},
    "Viewer": set(),
}


@dataclass
class Account:
    username: str
    user_id: int
    organisation_id: int | None
    organisation_kind: OrganisationKind | None
    roles: set

    @property
    def leads(self) -> bool:
        return bool(self.roles & LEAD_ROLES)

    def writes(self, model) -> bool:
        return any(model in WRITABLE_BY_ROLE.get(role, set()) for role in self.roles)


def account(username) -> Account:
    user = db.session.execute(db.select(PortalUser).filter_by(username=username)).scalar_one()
    organisation = user.organisation
    return Account(username, user.id, organisation.id if organisation else None,
                   organisation.kind if organisation else None, {r.name for r in user.roles})


def owning_organisation(record):
    """The organisation a record belongs to: the tenant's corporation, the referrer, the contact's, the recorder."""
    if isinstance(record, Tenant):
        return record.housing_corporation_id
    if isinstance(record, Trajectory):
        return record.referring_organisation_id
    if isinstance(record, Contact):
        return record.organisation_id
    if isinstance(record, Organisation):
        return record.id
    return record.recorded_by_organisation_id


def _agreement(record):
    return record if isinstance(record, Agreement) else getattr(record, "agreement", None)


def may_edit(acc: Account, record) -> bool:
    """Edit a record the account can see (visibility is the read matrix's)."""
    if not acc.writes(type(record)):
        return False
    if acc.leads:
        return True
    if acc.organisation_id is None or owning_organisation(record) != acc.organisation_id:
        return False
    agreement = _agreement(record)
    if isinstance(record, Signature):
        return agreement.status == AgreementStatus.awaiting_signatures
    if agreement is not None:
        return agreement.status == AgreementStatus.draft
    return True


def may_delete(acc: Account, record) -> bool:
    if not acc.writes(type(record)):
        return False
    if acc.leads:
        return True
    if isinstance(record, Tenant):
        return False
    if isinstance(record, Trajectory):
        return record.referring_organisation_id == acc.organisation_id and record.status == TrajectoryStatus.referred
    if isinstance(record, Contact) and db.session.execute(db.select(Trajectory).where(
            (Trajectory.coordinator_id == record.id) | (Trajectory.counsellor_id == record.id))).first():
        return False  # taking a case's coordinator or counsellor away changes who is party to it
    return may_edit(acc, record)


def may_add_agreement(acc: Account, trajectory) -> bool:
    """A new version while another is being drawn up, signed or in force is the coordinator's to draw up."""
    return acc.leads or all(a.status in (AgreementStatus.ended, AgreementStatus.superseded)
                            for a in trajectory.agreements)


def may_change_parties(acc: Account) -> bool:
    """Who is party to a case, and which case a record is in: the lead's call alone."""
    return acc.leads


def may_sign(acc: Account, agreement, party, organisation_id) -> bool:
    if not acc.writes(Signature) or agreement.status != AgreementStatus.awaiting_signatures:
        return False
    if acc.leads:
        return True
    if party == SigningParty.tenant:
        counsellor = agreement.trajectory.counsellor
        return counsellor is not None and counsellor.organisation_id == acc.organisation_id
    return organisation_id == acc.organisation_id


def may_take_step(acc: Account, trajectory, target) -> bool:
    """Only the coordinator moves a case, but the municipality may close its financial overview."""
    if acc.leads:
        return True
    return (target == TrajectoryStatus.agreement and acc.organisation_kind == OrganisationKind.municipality
            and bool(acc.roles & {"Caseworker", "Finance"})
            and acc.organisation_id in {o.id for o in trajectory.involved_organisations})


def may_take_agreement_step(acc: Account, agreement, target) -> bool:
    """Offering for signature and back to draft: the drafter or the coordinator; in force and ending: the coordinator."""
    if target in (AgreementStatus.in_force, AgreementStatus.ended):
        return acc.leads
    if target not in (AgreementStatus.awaiting_signatures, AgreementStatus.draft):
        return False  # "superseded" is no step: a newer version coming into force does it
    return acc.leads or bool(acc.roles & {"Caseworker"} and agreement.recorded_by_organisation_id == acc.organisation_id)


def may_add(acc: Account, model) -> bool:
    if not acc.writes(model):
        return False
    if acc.leads:
        return True
    if acc.organisation_id is None or model is Organisation:
        return False
    if model in (Tenant, Trajectory):
        return acc.organisation_kind == OrganisationKind.housing_corporation
    return True
