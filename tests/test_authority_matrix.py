"""Who may change what, for every registered screen, every account and every write path.

Each attempt (delete, edit of each relationship and status field, add with another organisation's
ids, lifecycle and agreement steps, signatures, bulk actions) is judged against the ground truth of
tests/authority_truth.py, computed from the rows as they are just before it, and checked in the
database afterwards: a refused attempt changes nothing at all. The screens are read from the running
app; a screen without a row in the fixture, or without an example form here, fails the matrix.
"""
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask_appbuilder.baseviews import BaseCRUDView
from flask_appbuilder.security.sqla.models import Group, Permission, PermissionView, Role, User, ViewMenu

import authority_truth as truth
import builders
from conftest import PortalClient, dutch_catalogue, form_values, nl
from models import (
    Agreement, AgreementStatus, AuditEntry, Contact, Debt, Evaluation, Intervention, Model, Obligation, Organisation,
    PortalUser, Signature, SigningParty, Tenant, Trajectory, TrajectoryStatus, db,
)
from test_access_matrix import ground_truth



def _refusals():
    """The coordinator-only refusals in English and, from the catalogue, in Dutch (placeholders left out)."""
    msgids = [m.id for m in dutch_catalogue() if isinstance(m.id, str)
              and ("coordinating organisation" in m.id or "cannot be changed by your organisation" in m.id)]
    texts = [*msgids, *(nl(msgid) for msgid in msgids)]
    return tuple(max(re.split(r"%\(\w+\)s", text), key=len) for text in texts)


REFUSAL_WORDS = _refusals()
# Fields only the coordinator changes on an existing record: who is party, which case it is in, which party it is for.
LOCKED = {
    Trajectory: ["tenant", "referring_organisation", "involved_organisations", "coordinator", "counsellor",
                 "start_date"],
    Tenant: ["housing_corporation"],
    Contact: ["organisation"],
    Agreement: ["trajectory"],
    Debt: ["trajectory"],
    Evaluation: ["trajectory"],
    Intervention: ["evaluation"],
    Obligation: ["agreement", "organisation"],
    Signature: ["agreement", "organisation"],
}
# Fields that move only by steps; a posted value is ignored or refused.
STATUS_FIELDS = {Trajectory: ["status", "outcome", "actual_end_date"], Agreement: ["status"]}
SKIPPED_TABLES = {"audit_entry"}


@pytest.fixture
def cases(app, world):
    """Four cases in every state the rules distinguish, each record recorded by a named organisation."""
    with app.app_context():
        org = builders.organisation
        contacts = {name: Contact(organisation=org(name), name=f"Contact {name}") for name in world}
        db.session.add_all(contacts.values())
        portaal_tenant = builders.tenant("LK-W-0001", "Portaal")
        mitros_tenant = builders.tenant("LK-W-0002", "Mitros", first_name="Bram")
        running = builders.trajectory(
            portaal_tenant, involved=["Het Vierde Huis", "Gemeente Utrecht", "Buurtteam Overvecht"],
            status=TrajectoryStatus.agreement, coordinator=contacts["Het Vierde Huis"],
            counsellor=contacts["Buurtteam Overvecht"], start_date=date.today() - timedelta(days=30))
        referred_by_portaal = builders.trajectory(builders.tenant("LK-W-0003", "Portaal", first_name="Cor"), involved=[],
                                                  status=TrajectoryStatus.referred)
        referred_by_mitros = builders.trajectory(mitros_tenant, involved=["Het Vierde Huis"], status=TrajectoryStatus.referred)
        mitros_running = builders.trajectory(
            builders.tenant("LK-W-0004", "Mitros", first_name="Dirk"),
            involved=["Het Vierde Huis", "Gemeente Utrecht", "Buurtteam Zuidwest", "Portaal"],
            status=TrajectoryStatus.running,
            coordinator=contacts["Het Vierde Huis"], counsellor=contacts["Mitros"],
            start_date=date.today() - timedelta(days=200))
        recorded = []

        def by(name, record):
            recorded.append((record, name))
            return record

        awaiting = by("Het Vierde Huis", builders.agreement(running))
        by("Portaal", _add(Obligation(agreement=awaiting, party=SigningParty.organisation, organisation=org("Portaal"),
                                      description="Huurachterstand bevriezen")))
        by("Het Vierde Huis", _add(Signature(agreement=awaiting, party=SigningParty.tenant, signed_by="A. de Vries",
                                             signed_on=date.today())))
        by("Buurtteam Overvecht", _add(Signature(agreement=awaiting, party=SigningParty.organisation,
                                                 organisation=org("Buurtteam Overvecht"), signed_by="B. Team",
                                                 signed_on=date.today())))
        by("Gemeente Utrecht", builders.debt(running, creditor="Eneco"))
        by("Portaal", builders.debt(running, creditor="Portaal huur", balance="800.00"))
        evaluation = by("Het Vierde Huis", builders.evaluation(running, planned=date.today() - timedelta(days=3)))
        by("Buurtteam Overvecht", _add(Intervention(evaluation=evaluation, description="Budgetcoach",
                                                    responsible_organisation=org("Buurtteam Overvecht"),
                                                    due_date=date.today() + timedelta(days=10))))
        in_force = by("Mitros", builders.agreement(mitros_running, status=AgreementStatus.in_force))
        draft = by("Mitros", builders.agreement(mitros_running, agreement_version=2, status=AgreementStatus.draft))
        by("Mitros", _add(Obligation(agreement=draft, party=SigningParty.tenant, description="Budgetcursus volgen")))
        by("Het Vierde Huis", _add(Obligation(agreement=in_force, party=SigningParty.tenant, description="Huur betalen")))
        by("Gemeente Utrecht", builders.debt(mitros_running, creditor="Belastingdienst"))
        by("Het Vierde Huis", builders.evaluation(mitros_running, planned=date.today() - timedelta(days=40),
                                                  held=date.today() - timedelta(days=40)))
        db.session.flush()
        for record, name in recorded:
            record.recorded_by_organisation_id = world[name]
        db.session.add(PortalUser(username="nobody", first_name="No", last_name="Organisation", email="n@example.nl",
                                  active=True, password=app.config["TEST_PASSWORD_HASH"],
                                  roles=[app.appbuilder.sm.find_role("Caseworker")]))
        db.session.commit()
        ids = {"running": running.id, "referred_by_portaal": referred_by_portaal.id,
               "referred_by_mitros": referred_by_mitros.id, "mitros_running": mitros_running.id}
        db.session.remove()
        return ids


def _add(record):
    db.session.add(record)
    db.session.flush()
    return record


def crud_views(app):
    fab_admin = (User, Role, Group, PermissionView, Permission, ViewMenu)
    return [view for view in app.appbuilder.baseviews
            if isinstance(view, BaseCRUDView) and not issubclass(view.datamodel.obj, fab_admin)]


def snapshot() -> dict:
    """Every case table's rows (the audit trail aside, which grows with every attempt)."""
    with db.engine.connect() as connection:
        return {table.name: sorted(tuple(map(str, row)) for row in connection.execute(sa.select(table)))
                for table in Model.metadata.sorted_tables
                if table.name not in SKIPPED_TABLES and not table.name.startswith("ab_")}


def changed_tables(before, after) -> list:
    return [name for name in before if before[name] != after.get(name)]


class Matrix:
    """One account's attempts and the problems found, each judged against the truth of that moment."""

    def __init__(self, app, username):
        self.app, self.username = app, username
        self.client = PortalClient(app.test_client()).login(username)
        self.client.get("/lang/en")
        self.token = self.client.csrf_token("/partner-workbook/form")
        self.problems = []
        self.attempts = 0
        self.views = {view.datamodel.obj: view for view in crud_views(app)}

    # -- helpers

    def post(self, url, data):
        self.attempts += 1
        return self.client.client.post(url, data={"csrf_token": self.token, **data})

    def account(self):
        return truth.account(self.username)

    def visible(self, model) -> set:
        seen = ground_truth(self.username)[0][model]
        return {r.id for r in db.session.execute(sa.select(model)).scalars() if r.id in seen}

    def problem(self, text):
        self.problems.append(f"{self.username}: {text}")

    def expect_nothing_changed(self, what, response, before, statuses=(403, 404, 200, 302)):
        after = snapshot()
        if response.status_code >= 500 or response.status_code not in statuses:
            self.problem(f"{what}: answered {response.status_code}, expected one of {statuses}")
        moved = changed_tables(before, after)
        if moved:
            self.problem(f"{what}: refused, but changed {moved}")

    def refused_words(self, response) -> bool:
        html = response.get_data(as_text=True)
        return response.status_code in (403, 404) or any(word in html for word in REFUSAL_WORDS)

    # -- write paths

    def deletes(self):
        for model, view in self.views.items():
            with self.app.app_context():
                all_ids = sorted(r.id for r in db.session.execute(sa.select(model)).scalars())
            for pk in all_ids:
                with self.app.app_context():
                    record = db.session.get(model, pk)
                    if record is None:
                        continue
                    visible = pk in self.visible(model)
                    allowed = visible and truth.may_delete(self.account(), record)
                    before = snapshot()
                    db.session.remove()
                response = self.post(f"{view.route_base}/delete/{pk}", {})
                what = f"delete {model.__name__} {pk}"
                with self.app.app_context():
                    if not visible:
                        self.expect_nothing_changed(what, response, before, self._hidden("delete", view))
                    elif not allowed:
                        self.expect_nothing_changed(what, response, before, (403,))
                    elif response.status_code != 302:
                        self.problem(f"{what}: allowed, but answered {response.status_code}")
                    elif db.session.get(model, pk) is not None and "cannot be deleted" not in self._flashes():
                        self.problem(f"{what}: allowed, but the record is still there without a reason")
                    db.session.remove()

    def _flashes(self) -> str:
        return self.client.get("/partner-workbook/form").get_data(as_text=True)

    def _hidden(self, permission, view) -> tuple:
        """What a record outside the account's cases answers: 404, or 403 for every id alike where the role lacks
        the permission for the route altogether (Flask-AppBuilder checks it before looking up the record)."""
        return (404,) if self._can(permission, view) else (403,)

    def _can(self, permission, view) -> bool:
        with self.app.app_context():
            user = db.session.execute(sa.select(PortalUser).filter_by(username=self.username)).scalar_one()
            return any(pv.permission.name == f"can_{permission}" and pv.view_menu.name == view.class_permission_name
                       for role in user.roles for pv in role.permissions) or "Admin" in {r.name for r in user.roles}

    def edits(self):
        for model, fields in {**LOCKED, **{m: [] for m in self.views if m not in LOCKED}}.items():
            view = self.views.get(model)
            if view is None:
                continue
            with self.app.app_context():
                all_ids = sorted(r.id for r in db.session.execute(sa.select(model)).scalars())
            for pk in all_ids:
                with self.app.app_context():
                    record = db.session.get(model, pk)
                    visible = pk in self.visible(model)
                    allowed = visible and truth.may_edit(self.account(), record)
                    alternatives = {name: self._another_value(record, name) for name in fields} if allowed else {}
                    before = snapshot()
                    db.session.remove()
                url = f"{view.route_base}/edit/{pk}"
                if not allowed:
                    # A crafted post with the record's version: never saved.
                    response = self.post(url, {"row_version": "1", "notes": "overgenomen"})
                    with self.app.app_context():
                        self.expect_nothing_changed(f"edit {model.__name__} {pk}", response, before,
                                                    self._hidden("edit", view) if not visible else (403,))
                    continue
                values = form_values(self.client.get(url).get_data(as_text=True))
                for name in STATUS_FIELDS.get(model, []):
                    self._post_status(model, pk, url, values, name)
                for name, value in alternatives.items():
                    if value is not None:
                        self._post_locked(model, pk, url, values, name, value)

    def _another_value(self, record, name):
        """Another id for a relation field: another organisation, contact, tenant or case than it has now; for a
        date, three years earlier."""
        mapper = sa.inspect(type(record))
        if name in mapper.column_attrs:
            current = getattr(record, name) or date.today()
            return (current - timedelta(days=3 * 365)).isoformat()
        relation = mapper.relationships[name]
        target = relation.mapper.class_
        current = getattr(record, name)
        current_ids = {o.id for o in current} if isinstance(current, list) else {getattr(current, "id", None)}
        candidates = [r.id for r in db.session.execute(sa.select(target).order_by(target.id)).scalars()
                      if r.id not in current_ids]
        if not candidates:
            return None
        return [str(candidates[0])] if relation.uselist else str(candidates[-1])

    def _post_status(self, model, pk, url, values, name):
        with self.app.app_context():
            before = snapshot()
            old = getattr(db.session.get(model, pk), name)
            db.session.remove()
        value = {"status": "completed" if model is Trajectory else "in_force", "outcome": "evicted",
                 "actual_end_date": "2026-01-01"}[name]
        self.post(url, {**values, name: value})
        with self.app.app_context():
            now = getattr(db.session.get(model, pk), name)
            if now != old:
                self.problem(f"edit {model.__name__} {pk}: a posted {name} changed it from {old} to {now}")
            db.session.remove()

    def _post_locked(self, model, pk, url, values, name, value):
        with self.app.app_context():
            before = snapshot()
            leads = truth.may_change_parties(self.account())
            db.session.remove()
        current = self.client.get(url)
        fresh = form_values(current.get_data(as_text=True)) if current.status_code == 200 else values
        response = self.post(url, {**fresh, name: value})
        what = f"edit {model.__name__} {pk} {name}={value}"
        with self.app.app_context():
            if not leads:
                if not self.refused_words(response):
                    self.problem(f"{what}: not refused with a message ({response.status_code})")
                self.expect_nothing_changed(what, response, before, (200,))
            elif self.refused_words(response) and response.status_code != 302:
                self.problem(f"{what}: the coordinator was refused")
            db.session.remove()

    def adds(self):
        for model, view in self.views.items():
            examples = ADD_EXAMPLES.get(model)
            if examples is None:
                if model is not AuditEntry:
                    self.problem(f"{view.route_base}: no add example in this matrix; add one to ADD_EXAMPLES")
                continue
            with self.app.app_context():
                acc = self.account()
                may_add = truth.may_add(acc, model)
                cases = examples(self.app)
                db.session.remove()
            for label, data, expected in cases:
                with self.app.app_context():
                    before = snapshot()
                    count = db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()
                    allowed = may_add and expected(self.account())
                    db.session.remove()
                response = self.post(f"{view.route_base}/add", data)
                what = f"add {model.__name__} ({label})"
                with self.app.app_context():
                    added = db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar() - count
                    if allowed and (response.status_code != 302 or added != 1):
                        self.problem(f"{what}: allowed, but answered {response.status_code} and added {added}")
                    elif not allowed:
                        self.expect_nothing_changed(what, response, before, (200, 403) if may_add else (403,))
                    db.session.remove()

    def steps(self):
        with self.app.app_context():
            trajectories = sorted(t.id for t in db.session.execute(sa.select(Trajectory)).scalars())
        for pk in trajectories:
            for target in TrajectoryStatus:
                with self.app.app_context():
                    trajectory = db.session.get(Trajectory, pk)
                    visible = pk in self.visible(Trajectory)
                    allowed = visible and truth.may_take_step(self.account(), trajectory, target)
                    old = trajectory.status
                    before = snapshot()
                    db.session.remove()
                response = self.post(f"/trajectoryview/step/{pk}/{target.value}",
                                     {"outcome": "dropped_out", "override_reason": "Matrix", "remark": "Matrix"})
                what = f"step trajectory {pk} {old.value} -> {target.value}"
                with self.app.app_context():
                    if not allowed:
                        self.expect_nothing_changed(what, response, before, self._hidden(
                            "step", self.views[Trajectory]) if not visible else (403,))
                    elif response.status_code not in (200, 302):
                        self.problem(f"{what}: allowed, but answered {response.status_code}")
                    db.session.remove()
        with self.app.app_context():
            agreements = sorted(a.id for a in db.session.execute(sa.select(Agreement)).scalars())
        for pk in agreements:
            for target in AgreementStatus:
                with self.app.app_context():
                    agreement = db.session.get(Agreement, pk)
                    visible = pk in self.visible(Agreement)
                    allowed = visible and truth.may_take_agreement_step(self.account(), agreement, target)
                    before = snapshot()
                    db.session.remove()
                response = self.post(f"/agreementview/step/{pk}/{target.value}", {})
                what = f"agreement step {pk} -> {target.value}"
                with self.app.app_context():
                    if not visible:
                        self.expect_nothing_changed(what, response, before, self._hidden("step", self.views[Agreement]))
                    elif not allowed:
                        self.expect_nothing_changed(what, response, before, (403,))
                    elif response.status_code != 302:
                        self.problem(f"{what}: allowed, but answered {response.status_code}")
                    db.session.remove()

    def signatures(self):
        """Every party's signature on every agreement awaiting them: only the party itself, or the coordinator."""
        with self.app.app_context():
            agreements = [a.id for a in db.session.execute(sa.select(Agreement)).scalars()]
            organisations = [o.id for o in db.session.execute(sa.select(Organisation)).scalars()]
        for pk in agreements:
            for party, organisation_id in [(SigningParty.tenant, None),
                                           *((SigningParty.organisation, o) for o in organisations)]:
                with self.app.app_context():
                    agreement = db.session.get(Agreement, pk)
                    visible = pk in self.visible(Agreement)
                    parties = {o.id for o in agreement.trajectory.parties}
                    signed = {(s.party, s.organisation_id) for s in agreement.signatures}
                    valid = (party, organisation_id) not in signed and (organisation_id is None or organisation_id in parties)
                    allowed = visible and valid and truth.may_add(self.account(), Signature) and truth.may_sign(
                        self.account(), agreement, party, organisation_id)
                    before = snapshot()
                    db.session.remove()
                data = {"agreement": str(pk), "party": party.value, "organisation": str(organisation_id or ""),
                        "signed_by": "Matrix", "signed_on": date.today().isoformat()}
                response = self.post("/signatureview/add", data)
                what = f"signature on agreement {pk} for {party.value} {organisation_id or ''}"
                with self.app.app_context():
                    if allowed:
                        if response.status_code != 302:
                            self.problem(f"{what}: allowed, but answered {response.status_code}")
                    else:
                        self.expect_nothing_changed(what, response, before, (200, 403))
                    db.session.remove()

    def bulk_actions(self):
        for model, view in self.views.items():
            with self.app.app_context():
                ids = [str(r.id) for r in db.session.execute(sa.select(model)).scalars()]
                before = snapshot()
            response = self.post(f"{view.route_base}/action_post", {"action": "muldelete", "rowid": ids})
            with self.app.app_context():
                self.expect_nothing_changed(f"bulk delete {model.__name__}", response, before, (403, 404, 302))


def _org(name):
    return str(builders.organisation(name).id)


def _tenant_examples(app):
    form = {"client_number": "LK-W-0100", "first_name": "Eva", "last_name": "Nieuw", "postcode": "3511ab",
            "city": "Utrecht", "household": "single"}
    return [
        ("own corporation", {**form, "housing_corporation": _org("Portaal")},
         lambda acc: acc.leads or acc.organisation_id == int(_org("Portaal"))),
        ("another corporation", {**form, "client_number": "LK-W-0101", "housing_corporation": _org("Mitros")},
         lambda acc: acc.leads or acc.organisation_id == int(_org("Mitros"))),
    ]


def _trajectory_examples(app):
    tenant = db.session.execute(sa.select(Tenant).filter_by(client_number="LK-W-0003")).scalar_one()
    form = {"tenant": str(tenant.id), "referral_date": date.today().isoformat(), "eviction_judgment": "none",
            "reason_rent_arrears": "y"}
    portaal = int(_org("Portaal"))
    return [
        ("referred by the tenant's corporation", {**form, "referring_organisation": str(portaal)},
         lambda acc: acc.leads or acc.organisation_id == portaal),
        ("another organisation as referrer", {**form, "referring_organisation": _org("Mitros")}, lambda acc: acc.leads),
        ("a third organisation as party", {**form, "referring_organisation": str(portaal),
                                           "involved_organisations": _org("Mitros")}, lambda acc: acc.leads),
        ("a start date of its own choosing", {**form, "referring_organisation": str(portaal), "start_date": "2020-01-01"},
         lambda acc: acc.leads),
    ] + [
        # A tenant of another corporation, in a case the account takes part in: its corporation refers it.
        (f"the tenant of {name}", {**form, "tenant": str(other.id), "referring_organisation": str(portaal)},
         lambda acc: acc.leads)
        for name, other in [("Mitros", db.session.execute(sa.select(Tenant).filter_by(client_number="LK-W-0004")).scalar_one())]
    ]


def _running_case():
    return db.session.execute(sa.select(Trajectory).join(Tenant).filter(Tenant.client_number == "LK-W-0001")).scalar_one()


def _sees(trajectory):
    """Whether an account sees the case (the read rule), for records added to it."""
    parties = {trajectory.referring_organisation_id, *(o.id for o in trajectory.involved_organisations)}
    return lambda acc: acc.leads or acc.organisation_id in parties


def _case_record_examples(model, form_of):
    def examples(app):
        trajectory = _running_case()
        return [("in a case it can see", form_of(trajectory), _sees(trajectory))]
    return examples


def _obligation_examples(app):
    draft = db.session.execute(sa.select(Agreement).filter_by(status=AgreementStatus.draft)).scalars().first()
    form = {"agreement": str(draft.id), "description": "Matrix", "status": "open"}
    return [
        ("the tenant's", {**form, "party": "tenant"}, _sees(draft.trajectory)),
        ("another party's", {**form, "party": "organisation", "organisation": _org("Gemeente Utrecht")},
         lambda acc: acc.leads),
    ]


def _contact_examples(app):
    return [
        ("own organisation", {"organisation": _org("Portaal"), "name": "Nieuwe collega"},
         lambda acc: acc.leads or acc.organisation_id == int(_org("Portaal"))),
        ("another organisation", {"organisation": _org("Mitros"), "name": "Andermans collega"},
         lambda acc: acc.leads or acc.organisation_id == int(_org("Mitros"))),
    ]


ADD_EXAMPLES = {
    Tenant: _tenant_examples,
    Trajectory: _trajectory_examples,
    Contact: _contact_examples,
    Organisation: lambda app: [("a new organisation", {"name": "Nieuwe partner", "kind": "other"}, lambda acc: acc.leads)],
    Obligation: _obligation_examples,
    # Signatures: every party on every agreement, in Matrix.signatures.
    Signature: lambda app: [],
    Debt: _case_record_examples(Debt, lambda t: {
        "trajectory": str(t.id), "creditor": "Vitens", "category": "water", "status": "inventoried",
        "original_amount": "10.00", "current_balance": "10.00"}),
    Evaluation: _case_record_examples(Evaluation, lambda t: {"trajectory": str(t.id),
                                                             "planned_date": date.today().isoformat()}),
    Intervention: lambda app: [("in a case it can see", {
        "evaluation": str(db.session.execute(sa.select(Evaluation.id).where(Evaluation.trajectory_id == _running_case().id))
                          .scalars().first()),
        "description": "Matrix", "responsible_organisation": _org("Het Vierde Huis"),
        "due_date": (date.today() + timedelta(days=5)).isoformat()}, _sees(_running_case()))],
    Agreement: lambda app: [("a new version while one awaits signatures", {
        "trajectory": str(_running_case().id), "agreement_version": "3", "drawn_up_on": date.today().isoformat()},
        lambda acc: truth.may_add_agreement(acc, _running_case()) and _sees(_running_case())(acc))],
}


ACCOUNTS = ["admin", "coordinator", "portaal", "mitros", "gemeente", "buurtteam", "viewer", "nobody"]


@pytest.mark.parametrize("username", ACCOUNTS)
def test_every_write_path_follows_the_rules(app, cases, username):
    matrix = Matrix(app, username)
    with app.app_context():
        empty = [view.route_base for model, view in matrix.views.items()
                 if model is not AuditEntry and not db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()]
    assert not empty, f"screens without rows in the fixture: {empty}"
    matrix.bulk_actions()
    matrix.adds()
    matrix.signatures()
    matrix.edits()
    matrix.steps()
    matrix.deletes()
    assert matrix.problems == [], "\n".join(matrix.problems)
    assert matrix.attempts > 100
    print(f"{username}: {matrix.attempts} write attempts, each checked in the database")


def test_the_matrix_catches_a_screen_whose_delete_rule_is_removed(app, cases, monkeypatch):
    """Debts deletable by anyone who sees them: the matrix must say so for a neighbourhood team."""
    from models import authority

    rule = authority.delete_refusal
    monkeypatch.setattr(authority, "delete_refusal",
                        lambda actor, record: None if isinstance(record, Debt) else rule(actor, record))
    matrix = Matrix(app, "buurtteam")
    matrix.deletes()
    assert any("delete Debt" in p for p in matrix.problems), matrix.problems


def test_the_matrix_catches_a_screen_whose_party_rule_is_removed(app, cases, monkeypatch):
    """Trajectory parties changeable by their referrer: the matrix must say so for Portaal."""
    from models import authority

    monkeypatch.setattr(authority, "locked_fields", lambda model: ())
    monkeypatch.setattr(authority, "fixed_on_form", lambda actor, model, record=None: {})
    matrix = Matrix(app, "portaal")
    matrix.edits()
    assert any("edit Trajectory" in p and "involved_organisations" in p for p in matrix.problems), matrix.problems


def _acting_as(app, username):
    """A request context in which `username` is logged in: writes go through the session as any future path's would."""
    from flask import g

    context = app.test_request_context("/")
    context.push()
    g.user = db.session.execute(sa.select(PortalUser).filter_by(username=username)).scalar_one()
    return context


@pytest.mark.parametrize("attempt", ["own another's contact", "claim a debt", "move a debt by its relation"])
def test_the_flush_refuses_writes_no_form_offers(app, cases, attempt):
    """Below the screens: what a crafted path could do with the session directly is refused at the flush."""
    from models.authority import NotAllowed

    username = "gemeente" if attempt == "move a debt by its relation" else "portaal"
    context = _acting_as(app, username)
    try:
        before = snapshot()
        if attempt == "own another's contact":
            contact = db.session.execute(sa.select(Contact).filter_by(name="Contact Mitros")).scalar_one()
            contact.organisation = builders.organisation("Portaal")  # the relation, not its column
            contact.name = "Overgenomen"
        elif attempt == "claim a debt":
            debt = db.session.execute(sa.select(Debt).filter_by(creditor="Eneco")).scalar_one()
            debt.recorded_by_organisation_id = builders.organisation("Portaal").id
            debt.current_balance = 1
        else:
            debt = db.session.execute(sa.select(Debt).filter_by(creditor="Eneco")).scalar_one()
            debt.trajectory = db.session.get(Trajectory, cases["mitros_running"])
        with pytest.raises(NotAllowed):
            db.session.commit()
        db.session.rollback()
        assert changed_tables(before, snapshot()) == []
    finally:
        db.session.rollback()
        db.session.remove()
        context.pop()


def test_a_contact_who_is_party_to_a_case_stays(app, cases, login):
    """Deleting one's own contact must not take a case's counsellor away (the database would set it to nothing)."""
    with app.app_context():
        contact = db.session.execute(sa.select(Contact).filter_by(name="Contact Buurtteam Overvecht")).scalar_one().id
    client = login("buurtteam")
    response = client.post_form(f"/contactview/delete/{contact}", {}, form_url="/contactview/list/")
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Trajectory, cases["running"]).counsellor_id == contact
