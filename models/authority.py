"""Who may change what: the write rules between organisations, in one place (reading: models/scope.py).

Seeing a case is not owning it. Who is party to a case is the coordinating organisation's call; a
record belongs to the organisation that recorded it (`__owner__` on the model), which edits and
deletes it, and the coordinator always may; a party signs for itself; statuses move only by steps.

Each rule is a plain function of the acting member of staff (`Actor`) and a record. The screens
ask them to offer only what is allowed; a flush hook asks them again for every record a request
writes, so no path (a form, a crafted POST, a future API) can write what they refuse.
"""
from dataclasses import dataclass

import sqlalchemy as sa
from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import MANYTOONE, Session

from .agreement import Agreement, Obligation, Signature
from .enums import AgreementStatus, OrganisationKind, SigningParty, TrajectoryStatus
from .organisation import Contact, Organisation
from .tenant import Tenant
from .trajectory import Trajectory

ADMIN, COORDINATOR = "Admin", "Coordinator"
# The coordinating organisation's lead: sees every case, decides who is party to it, may change any record.
LEAD_ROLES = frozenset({ADMIN, COORDINATOR})
# Roles that take part in the municipality's step "financial overview done".
FINANCIAL_ROLES = frozenset({"Caseworker", "Finance"})


class NotAllowed(PermissionError):
    """A write the rules refuse; `message` says why (shown on the form), `field` where."""

    def __init__(self, message, field=None):
        super().__init__(str(message))
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Actor:
    """The member of staff behind a write: their organisation and roles."""

    user_id: int | None
    organisation: Organisation | None
    roles: frozenset

    @property
    def organisation_id(self):
        return self.organisation.id if self.organisation is not None else None

    @property
    def organisation_kind(self):
        return self.organisation.kind if self.organisation is not None else None

    @property
    def leads(self) -> bool:
        return bool(self.roles & LEAD_ROLES)


def actor_of(user) -> Actor | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Actor(user.id, getattr(user, "organisation", None), frozenset(r.name for r in user.roles or ()))


def current_actor() -> Actor | None:
    """The logged-in member of staff of this request; None outside a request (scripts, migrations)."""
    if not has_request_context():
        return None
    return actor_of(getattr(g, "user", None))


# ---- what a model declares ----------------------------------------------------------------------

def owner_column(model):
    """The column naming the organisation that owns a record (`__owner__`), or None."""
    return getattr(model, "__owner__", None)


def reference(record, column_name):
    """The id a foreign-key column holds, or will hold once flushed: a related object set on a new or
    changed record fills its column only during the flush, after the rules are asked."""
    mapper = sa.inspect(type(record))
    for relation in mapper.relationships:
        if relation.direction is MANYTOONE and {c.key for c in relation.local_columns} == {column_name}:
            state = sa.inspect(record)
            if relation.key in state.dict:
                related = state.dict[relation.key]
                return related.id if related is not None else None
    return getattr(record, column_name)


def owner_id(record):
    column = owner_column(type(record))
    return reference(record, column) if column else None


def case_link(model):
    """The relation that places a record in its case (the first step of `__scope__`), if any."""
    declared = getattr(model, "__scope__", None)
    if declared in (None, "public", "self"):
        return None
    return declared.partition(".")[0]


def locked_fields(model) -> tuple:
    """Fields only the lead may change on an existing record: who is party, which case it is in, and what the
    coordinator alone decides (`__coordinator_fields__`, e.g. when a trajectory started)."""
    link = case_link(model)
    return (*getattr(model, "__party_fields__", ()), *((link,) if link else ()),
            *getattr(model, "__coordinator_fields__", ()))


# Who recorded a record is the portal's to say, for everyone.
RECORDER_COLUMNS = ("recorded_by_organisation_id", "recorded_by_user_id")


def step_fields(model) -> tuple:
    return getattr(model, "__step_fields__", ())


# ---- the rules -------------------------------------------------------------------------------------

def _agreement_of(record):
    if isinstance(record, Agreement):
        return record
    return getattr(record, "agreement", None)


def _signed_agreement_locked(actor, record):
    """An agreement offered for signature or in force is no longer changed by a party alone."""
    agreement = _agreement_of(record)
    if agreement is None or actor.leads:
        return None
    if isinstance(record, Signature):
        return _signing_closed(agreement)
    return _agreement_closed(actor, agreement)


def _signing_closed(agreement):
    if agreement.status != AgreementStatus.awaiting_signatures:
        return _l("Signatures are recorded while the agreement awaits them.")
    return None


def _agreement_closed(actor, agreement):
    if not actor.leads and agreement.status != AgreementStatus.draft:
        return _l("This agreement is no longer a draft: only the coordinating organisation can change it now.")
    return None


def sign_refusal(actor, agreement, party, organisation_id):
    """Why `actor` may not record `party`'s signature on `agreement` (None: they may). A party signs for itself."""
    if actor.leads:
        return None
    if party == SigningParty.tenant:
        counsellor = agreement.trajectory.counsellor if agreement is not None else None
        if counsellor is None or counsellor.organisation_id != actor.organisation_id:
            return _l("The tenant's signature is recorded by the coordinating organisation or the counsellor's "
                      "organisation.")
    elif organisation_id is None or organisation_id != actor.organisation_id:
        return _l("Only an organisation itself, or the coordinating organisation on its behalf, can record its "
                  "signature.")
    return _signing_closed(agreement) if agreement is not None else None


def signing_refusal(actor, signature):
    return sign_refusal(actor, signature.agreement, signature.party, reference(signature, "organisation_id"))


def obligation_refusal(actor, agreement, party, organisation_id):
    """Why `actor` may not record an obligation of `party` on `agreement` (None: they may)."""
    if actor.leads:
        return None
    if party != SigningParty.tenant and organisation_id != actor.organisation_id:
        return _l("You can record obligations of your own organisation and of the tenant; the coordinating "
                  "organisation records those of other parties.")
    return _agreement_closed(actor, agreement) if agreement is not None else None


def _obligation_refusal(actor, obligation):
    return obligation_refusal(actor, obligation.agreement, obligation.party, reference(obligation, "organisation_id"))


def add_refusal(actor, record):
    """Why `actor` may not add this new record (None: they may)."""
    if actor.leads:
        return None
    own = actor.organisation_id
    if own is None:
        return _l("Your account belongs to no organisation, so it cannot record anything.")
    if isinstance(record, Organisation):
        return _l("Only the coordinating organisation adds organisations.")
    if isinstance(record, Tenant):
        if actor.organisation_kind != OrganisationKind.housing_corporation or (
                reference(record, "housing_corporation_id") != own):
            return _l("A tenant is registered by its own housing corporation or by the coordinating organisation.")
    if isinstance(record, Trajectory):
        tenant = record.tenant
        if actor.organisation_kind != OrganisationKind.housing_corporation or (
                reference(record, "referring_organisation_id") != own) or (
                tenant is not None and reference(tenant, "housing_corporation_id") != own):
            return _l("A housing corporation refers its own tenants; who else takes part is the coordinating "
                      "organisation's call.")
        if record.coordinator is not None or record.counsellor is not None or any(
                o.id != own for o in record.involved_organisations):
            return _l("Who is party to a case is decided by the coordinating organisation.")
    if isinstance(record, Contact) and reference(record, "organisation_id") != own:
        return _l("You can add contacts of your own organisation only.")
    if isinstance(record, Agreement):
        trajectory = record.trajectory
        if trajectory is not None and any(a is not record and a.status not in AgreementStatus.closed_statuses()
                                          for a in trajectory.agreements):
            return _l("This case already has an agreement that is being drawn up, signed or in force: a new "
                      "version is the coordinating organisation's to draw up.")
    if isinstance(record, Signature):
        return signing_refusal(actor, record)
    if isinstance(record, Obligation):
        return _obligation_refusal(actor, record)
    if isinstance(record, Agreement):
        return None
    return None


def may_add_model(actor, model) -> bool:
    """Whether `actor` can add any record of this kind at all (the "add" button and page)."""
    if actor is None:
        return False
    if actor.leads:
        return True
    if actor.organisation is None or model is Organisation:
        return False
    if model in (Tenant, Trajectory):
        return actor.organisation_kind == OrganisationKind.housing_corporation
    return True


def ownership_refusal(actor, record):
    """Why `actor` may not change or delete this existing record (None: they may). The owner is the one the
    record had when it was loaded: a write that makes it one's own does not make it one's own."""
    if actor.leads:
        return None
    column = owner_column(type(record))
    owner = committed(record, column) if column else None
    if owner is None or owner != actor.organisation_id:
        return _l("This record belongs to another organisation: only that organisation or the coordinating "
                  "organisation can change it.")
    return _signed_agreement_locked(actor, record)


def may_edit(actor, record) -> bool:
    return actor is not None and ownership_refusal(actor, record) is None


def delete_refusal(actor, record):
    """Why `actor` may not delete this record (None: they may)."""
    if actor.leads:
        return None
    if isinstance(record, Tenant):
        return _l("Only the coordinating organisation deletes a tenant.")
    if isinstance(record, Trajectory):
        if record.status != TrajectoryStatus.referred or owner_id(record) != actor.organisation_id:
            return _l("Only the coordinating organisation deletes a trajectory; the referring organisation may "
                      "withdraw its referral while it is still referred.")
        return None
    refusal = ownership_refusal(actor, record)
    # Asked only of one's own contacts (one query each): the database would take the case's contact away.
    if refusal is None and isinstance(record, Contact) and _is_case_party(record):
        return _l("This contact is coordinator or counsellor of a case: who is party to a case is the coordinating "
                  "organisation's call.")
    return refusal


def _is_case_party(contact) -> bool:
    session = sa.inspect(contact).session
    return session is not None and session.execute(sa.select(sa.func.count()).where(sa.or_(
        Trajectory.coordinator_id == contact.id, Trajectory.counsellor_id == contact.id))).scalar() > 0


def may_delete(actor, record) -> bool:
    return actor is not None and delete_refusal(actor, record) is None


def committed(record, column_name):
    """The value a column had when the record was loaded, before anything this flush will write."""
    history = sa.inspect(record).attrs[column_name].history
    if history.deleted:
        return history.deleted[0]
    return history.unchanged[0] if history.unchanged else getattr(record, column_name)


def changed_fields(record) -> set:
    """The columns and many-to-many relations of a record that this flush changes; a many-to-one relation
    set to another record counts as a change of its column (which the flush fills in only later)."""
    state = sa.inspect(record)
    changed = set()
    for attribute in state.mapper.column_attrs:
        if attribute.key != "version" and state.attrs[attribute.key].history.has_changes():
            changed.add(attribute.key)
    for relation in state.mapper.relationships:
        if not state.attrs[relation.key].history.has_changes():
            continue
        if relation.secondary is not None:
            changed.add(relation.key)
        elif relation.direction is MANYTOONE:
            for column in relation.local_columns:
                if reference(record, column.key) != committed(record, column.key):
                    changed.add(column.key)
    return changed


def _names_changed(model, fields, changed):
    """Those of `fields` (relations or columns) that are among the changed columns."""
    mapper = sa.inspect(model)
    found = []
    for name in fields:
        if name in mapper.relationships and mapper.relationships[name].secondary is None:
            columns = {c.key for c in mapper.relationships[name].local_columns}
        else:
            columns = {name}
        if columns & changed:
            found.append(name)
    return found


def update_refusal(actor, record, changed=None):
    """Why `actor` may not save these changes to an existing record (None: they may)."""
    model = type(record)
    changed = changed_fields(record) if changed is None else changed
    moved = _names_changed(model, step_fields(model), changed)
    if moved:
        return NotAllowed(_l("A status changes only through its steps, never in a form."), moved[0])
    if changed & set(RECORDER_COLUMNS):
        return NotAllowed(_l("Who recorded a record is set by the portal and cannot be changed."))
    refusal = ownership_refusal(actor, record)
    if refusal is not None:
        return NotAllowed(refusal)
    if not actor.leads:
        locked = _names_changed(model, locked_fields(model), changed)
        if locked:
            return NotAllowed(_l("Only the coordinating organisation can change who is party to a case, move a "
                                 "record to another case, or change when a trajectory started."), locked[0])
        if isinstance(record, Signature):
            refusal = signing_refusal(actor, record)
        elif isinstance(record, Obligation):
            refusal = _obligation_refusal(actor, record)
        if refusal is not None:
            return NotAllowed(refusal, "organisation")
    return None


def fixed_on_form(actor, model, record=None) -> dict:
    """Fields `actor` may not choose on this add (record None) or edit form, with the value they keep."""
    if actor is None or actor.leads:
        return {}
    own_party = getattr(model, "__own_party_field__", None)
    fixed = {own_party: actor.organisation} if own_party else {}
    if record is not None:
        return {**{name: getattr(record, name) for name in locked_fields(model)}, **fixed}
    if model is Trajectory:
        return {"referring_organisation": actor.organisation, "involved_organisations": [], "coordinator": None,
                "counsellor": None, **{name: None for name in Trajectory.__coordinator_fields__}}
    if model is Tenant:
        return {"housing_corporation": actor.organisation}
    if model is Contact:
        return {"organisation": actor.organisation}
    return fixed


# ---- lifecycle steps ---------------------------------------------------------------------------------

def _lead(actor, trajectory):
    return actor.leads


def _lead_or_municipality(actor, trajectory):
    """The municipality, once its financial overview is done, may move the case on to the agreement."""
    return actor.leads or (
        actor.organisation_kind == OrganisationKind.municipality and bool(actor.roles & FINANCIAL_ROLES)
        and actor.organisation_id in {o.id for o in trajectory.involved_organisations}
    )


# Who may take each trajectory step; anything not named here is the lead's alone.
TRAJECTORY_STEP_TAKERS = {
    TrajectoryStatus.intake: _lead,
    TrajectoryStatus.financial_overview: _lead,
    TrajectoryStatus.agreement: _lead_or_municipality,
    TrajectoryStatus.running: _lead,
    TrajectoryStatus.completed: _lead,
    TrajectoryStatus.ended_early: _lead,
}


def may_take_step(actor, trajectory, target) -> bool:
    return actor is not None and TRAJECTORY_STEP_TAKERS.get(target, _lead)(actor, trajectory)


def _lead_or_drafter(actor, agreement):
    return actor.leads or (agreement.recorded_by_organisation_id is not None
                           and agreement.recorded_by_organisation_id == actor.organisation_id)


# Who may take each agreement step (models.workflow.AGREEMENT_STEPS says which exist).
AGREEMENT_STEP_TAKERS = {
    AgreementStatus.awaiting_signatures: _lead_or_drafter,
    AgreementStatus.draft: _lead_or_drafter,
    AgreementStatus.in_force: lambda actor, agreement: actor.leads,
    AgreementStatus.ended: lambda actor, agreement: actor.leads,
}


def may_take_agreement_step(actor, agreement, target) -> bool:
    taker = AGREEMENT_STEP_TAKERS.get(target)
    return actor is not None and taker is not None and taker(actor, agreement)


# ---- the backstop: every write of a request is checked at flush ----------------------------------------

_STEP_OBJECTS = "authority_step_objects"


def allow_step(session, *records):
    """Mark records a step changes or creates, so that the flush check lets those changes through."""
    session.info.setdefault(_STEP_OBJECTS, set()).update(id(record) for record in records)


def _checked(obj) -> bool:
    return getattr(type(obj), "__scope__", None) is not None and getattr(type(obj), "__tablename__", "") != "audit_entry"


@event.listens_for(Session, "before_flush")
def _refuse_what_the_rules_refuse(session, flush_context, instances):
    if not has_request_context():
        return  # scripts and migrations act for the organisation that runs them
    actor = current_actor()
    pending = [obj for obj in (*session.new, *session.dirty, *session.deleted) if _checked(obj)]
    if not pending:
        return
    if actor is None:
        raise NotAllowed(_l("Log in to change case records."))
    stepped = session.info.get(_STEP_OBJECTS, set())
    for obj in session.new:
        if not _checked(obj) or id(obj) in stepped:
            continue
        if hasattr(obj, "recorded_by_organisation_id"):
            # The portal, never the form, says who recorded it.
            obj.recorded_by_organisation_id = actor.organisation_id
            obj.recorded_by_user_id = actor.user_id
        model = type(obj)
        set_steps = [name for name in step_fields(model) if getattr(obj, name) not in (None, _default(model, name))]
        if set_steps:
            raise NotAllowed(_l("A status changes only through its steps, never in a form."), set_steps[0])
        refusal = add_refusal(actor, obj)
        if refusal is not None:
            raise NotAllowed(refusal)
    for obj in session.dirty:
        if not _checked(obj) or id(obj) in stepped or obj in session.deleted:
            continue
        changed = changed_fields(obj)
        if not changed:
            continue  # only a collection of it moved (a child was added): the child is checked itself
        refusal = update_refusal(actor, obj, changed)
        if refusal is not None:
            raise refusal
    for obj in session.deleted:
        if _checked(obj) and id(obj) not in stepped:
            refusal = delete_refusal(actor, obj)
            if refusal is not None:
                raise NotAllowed(refusal)


def _default(model, name):
    column = model.__table__.columns.get(name)
    default = column.default if column is not None else None
    return default.arg if default is not None and default.is_scalar else None


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_steps(session, *args):
    session.info.pop(_STEP_OBJECTS, None)
