"""Who sees what, for every account and every registered screen, against an independent ground truth.

The views to check are read from the running app, not listed here: a screen registered tomorrow is
checked tomorrow. The ground truth is plain Python over the loaded rows, written from the policy
("Who sees what" in DESIGN.md), not from the portal's own scope code.
"""
import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from flask_appbuilder.baseviews import BaseCRUDView
from flask_appbuilder.security.sqla.models import Group, Permission, PermissionView, Role, User, ViewMenu

import authority_truth
import builders
from conftest import ACCOUNTS, PortalClient, messages
from models import (
    Agreement, AuditEntry, Contact, Debt, Evaluation, Intervention, Obligation, Organisation, OrganisationKind, PortalUser,
    Signature, SigningParty, Tenant, Trajectory, TrajectoryStatus, db,
)
from views.fields import bsn_is_valid

ALL_CASE_ROLES = {"Admin", "Coordinator"}
SENSITIVE_ROLES = {"Admin", "Coordinator"}
# Which models each role may edit, from the role table.
CASE_MODELS = {Tenant, Trajectory, Agreement, Obligation, Signature, Debt, Evaluation, Intervention}
# Screens only some roles may open at all (the audit trail: Coordinator and Admin).
READABLE_BY = {AuditEntry: {"Admin", "Coordinator"}}
# Pages that are not tables but show cases; every link on them must stay in scope too.
CASE_PAGES = ["/", "/evaluations-due/", "/partner-workbook/form"]
EDITABLE = {
    "Admin": CASE_MODELS | {Organisation, Contact},
    "Coordinator": CASE_MODELS | {Organisation, Contact},
    "Caseworker": CASE_MODELS | {Contact},
    "Finance": {Debt},
    "Viewer": set(),
}
MATRIX_ACCOUNTS = {**ACCOUNTS, "nobody": (None, "Caseworker")}


def _valid_bsns():
    number = 100000000
    while True:
        number += 1
        if bsn_is_valid(str(number)):
            yield str(number)


@pytest.fixture
def cases(app, world):
    """Five tenants and six trajectories spread over the organisations, each with every child record."""
    bsns = _valid_bsns()
    layout = [
        # (tenant corporation, [(referrer, involved organisations), ...])
        ("Portaal", [("Portaal", ["Het Vierde Huis", "Gemeente Utrecht", "Buurtteam Overvecht"])]),
        ("Mitros", [("Mitros", ["Het Vierde Huis", "Gemeente Utrecht", "Buurtteam Zuidwest"])]),
        ("Mitros", [("Mitros", ["Het Vierde Huis", "Buurtteam Overvecht"])]),
        ("Portaal", []),
        ("Mitros", [("Mitros", ["Het Vierde Huis", "Gemeente Utrecht"]), ("Mitros", ["Het Vierde Huis"])]),
    ]
    with app.app_context():
        for number, (corporation, trajectories) in enumerate(layout, start=1):
            tenant = builders.tenant(
                f"LK-M-{number:04d}", corporation, first_name=f"Voornaam{number}", bsn=next(bsns),
                psychosocial_notes=f"PSYCHOSOCIAL-MARKER-{number}",
            )
            for referrer, involved in trajectories:
                trajectory = builders.trajectory(tenant, involved=involved, start_date=date.today() - timedelta(days=100))
                trajectory.referring_organisation = builders.organisation(referrer)
                builders.debt(trajectory, creditor=f"Schuldeiser {trajectory.id}")
                evaluation = builders.evaluation(trajectory, planned=date.today() - timedelta(days=10))
                db.session.add(Intervention(evaluation=evaluation, description=f"Actie {trajectory.id}",
                                            responsible_organisation=builders.organisation("Het Vierde Huis"),
                                            due_date=date.today() + timedelta(days=7)))
                agreement = builders.agreement(trajectory)
                db.session.add(Obligation(agreement=agreement, party=SigningParty.tenant, description="Huur betalen"))
                db.session.add(Signature(agreement=agreement, party=SigningParty.tenant, signed_by=tenant.full_name,
                                         signed_on=date.today()))
        db.session.add(Contact(organisation=builders.organisation("Portaal"), name="Contact Portaal"))
        db.session.add(Contact(organisation=builders.organisation("Mitros"), name="Contact Mitros"))
        db.session.add(PortalUser(username="nobody", first_name="No", last_name="Organisation", email="n@example.nl",
                                  active=True, password=app.config["TEST_PASSWORD_HASH"],
                                  roles=[app.appbuilder.sm.find_role("Caseworker")]))
        db.session.commit()


class _EveryRow(set):
    """Ground truth for a table whose readers see every row, including rows added during the check."""

    def __contains__(self, item):
        return True


EVERY_ROW = _EveryRow()


def ground_truth(username):
    """{model: set of ids} the account may see, computed from the policy over all loaded rows."""
    user = db.session.execute(db.select(PortalUser).filter_by(username=username)).scalar_one()
    roles = {role.name for role in user.roles}
    organisation = user.organisation
    trajectories = db.session.execute(db.select(Trajectory)).scalars().all()
    sees_all = bool(roles & ALL_CASE_ROLES) or (organisation is not None and organisation.kind == OrganisationKind.coordinator)
    if sees_all:
        seen = {t.id for t in trajectories}
    elif organisation is None:
        seen = set()
    else:
        seen = {
            t.id for t in trajectories
            if t.referring_organisation_id == organisation.id
            or organisation.id in {o.id for o in t.involved_organisations}
        }
    tenants = {
        t.id for t in db.session.execute(db.select(Tenant)).scalars()
        if sees_all
        or (organisation is not None and t.housing_corporation_id == organisation.id)
        or any(tr.id in seen for tr in t.trajectories)
    }
    agreements = {a.id for a in db.session.execute(db.select(Agreement)).scalars() if a.trajectory_id in seen}

    def children(model, parent_ids, key):
        return {r.id for r in db.session.execute(db.select(model)).scalars() if getattr(r, key) in parent_ids}

    return {
        Trajectory: seen,
        Tenant: tenants,
        Agreement: agreements,
        Debt: children(Debt, seen, "trajectory_id"),
        Evaluation: children(Evaluation, seen, "trajectory_id"),
        Obligation: children(Obligation, agreements, "agreement_id"),
        Signature: children(Signature, agreements, "agreement_id"),
        Intervention: {i.id for i in db.session.execute(db.select(Intervention)).scalars()
                       if i.evaluation.trajectory_id in seen},
        Organisation: {o.id for o in db.session.execute(db.select(Organisation)).scalars()},
        Contact: {c.id for c in db.session.execute(db.select(Contact)).scalars()},
        # The trail grows while the matrix runs (its own exports are audited): whoever may read it reads all.
        AuditEntry: EVERY_ROW,
    }, roles


def registered_crud_views(app):
    """Every CRUD screen the app serves, except Flask-AppBuilder's own user administration."""
    fab_admin_models = (User, Role, Group, PermissionView, Permission, ViewMenu)
    return [
        view for view in app.appbuilder.baseviews
        if isinstance(view, BaseCRUDView) and not issubclass(view.datamodel.obj, fab_admin_models)
    ]


SHOW_LINK = re.compile(r'href="(/\w+)/show/(\d+)')


def leaks_on_page(html, routes, truth):
    """Links and dropdown options on a page that point at records outside the account's scope."""
    problems = []
    for route, pk in SHOW_LINK.findall(html):
        model = routes.get(route)
        if model is not None and int(pk) not in truth[model]:
            problems.append(f"link to {model.__name__} {pk}")
    return problems


def option_leaks(html, view, truth):
    problems = []
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        if not view.datamodel.is_relation(name):
            continue
        model = view.datamodel.get_related_model(name)
        for value in re.findall(r'<option[^>]*value="(\d+)"', body):
            if int(value) not in truth.get(model, set()):
                problems.append(f"{name} offers {model.__name__} {value}")
    return problems


def export_problems(client, view, expected_ids, sensitive_values, may_see_sensitive):
    """The list's Excel export holds exactly the visible records, and no hidden field."""
    url = f"{view.route_base}/export/xlsx/"
    response = client.get(url)
    if response.status_code != 200:
        return [f"{url}: {response.status_code}"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    problems = []
    exported = {row[0] for row in rows}
    if exported != expected_ids or len(rows) != len(expected_ids):
        problems.append(f"{url} exports {sorted(exported)}, expected {sorted(expected_ids)}")
    if not may_see_sensitive:
        cells = {str(value) for row in sheet.iter_rows(values_only=True) for value in row if value is not None}
        problems.extend(f"{url} exports {v!r}" for v in sensitive_values if v and any(v in c for c in cells))
    return problems


def check_account(app, client, username):
    """All access problems for one account over every registered screen; [] when all is right."""
    problems = []
    with app.app_context():
        truth, roles = ground_truth(username)
        all_ids = {model: {r.id for r in db.session.execute(db.select(model)).scalars()} for model in truth}
        sensitive_values = [v for t in db.session.execute(db.select(Tenant)).scalars() for v in (t.bsn, t.psychosocial_notes)]
    # A model without rows in the fixture would pass every check below unseen.
    problems += [f"the fixture holds no {model.__name__}" for model, ids in all_ids.items()
                 if not ids and truth[model] is not EVERY_ROW]
    views = registered_crud_views(app)
    routes = {view.route_base: view.datamodel.obj for view in views}
    may_see_sensitive = bool(roles & SENSITIVE_ROLES)
    may_edit = set().union(*(EDITABLE[r] for r in roles)) if roles else set()
    with app.app_context():
        acc = authority_truth.account(username)
        may_add = {view.datamodel.obj: authority_truth.may_add(acc, view.datamodel.obj) for view in views}

    def fetch(url):
        response = client.get(url)
        html = response.get_data(as_text=True)
        if response.status_code == 200:
            problems.extend(f"{username} {url}: {p}" for p in leaks_on_page(html, routes, truth))
            if not may_see_sensitive:
                problems.extend(f"{username} {url}: shows {v!r}" for v in sensitive_values if v and v in html)
        return response, html

    for page in CASE_PAGES:
        response, html = fetch(page)
        if response.status_code != 200:
            problems.append(f"{username} cannot open {page} ({response.status_code})")
    for view in views:
        model = view.datamodel.obj
        if model not in truth:
            problems.append(f"{type(view).__name__}: no ground truth for {model.__name__}; add it to this test")
            continue
        if model in READABLE_BY and not roles & READABLE_BY[model]:
            for url in (f"{view.route_base}/list/", f"{view.route_base}/export/xlsx/",
                        *(f"{view.route_base}/show/{pk}" for pk in sorted(all_ids[model])[:5])):
                if client.get(url).status_code == 200:
                    problems.append(f"{username} may not read {model.__name__} but {url} answered 200")
            continue
        response, html = fetch(f"{view.route_base}/list/?psize_{type(view).__name__}=100")
        if response.status_code != 200:
            problems.append(f"{username} cannot open {view.route_base}/list/ ({response.status_code})")
            continue
        if truth[model] is EVERY_ROW:
            if client.get(f"{view.route_base}/export/xlsx/").status_code != 200:
                problems.append(f"{username} cannot export {view.route_base}")
            continue
        listed = {int(pk) for route, pk in SHOW_LINK.findall(html) if route == view.route_base}
        count = re.search(r"<strong>[^<]*:</strong>\s*(\d+)", html)
        if listed != truth[model]:
            problems.append(f"{username} {view.route_base} lists {sorted(listed)}, expected {sorted(truth[model])}")
        if count is None or int(count.group(1)) != len(truth[model]):
            problems.append(f"{username} {view.route_base} counts {count and count.group(1)}, expected {len(truth[model])}")
        problems.extend(f"{username} {p}" for p in export_problems(client, view, truth[model], sensitive_values,
                                                                  may_see_sensitive))
        for pk in sorted(all_ids[model]):
            response, html = fetch(f"{view.route_base}/show/{pk}")
            expected = 200 if pk in truth[model] else 404
            if response.status_code != expected:
                problems.append(f"{username} {view.route_base}/show/{pk}: {response.status_code}, expected {expected}")
            response, html = fetch(f"{view.route_base}/edit/{pk}")
            if model in may_edit:
                # Seeing a record is not owning it: another organisation's record answers 403 (the write
                # matrix, tests/test_authority_matrix.py, checks every write path against the rules).
                with app.app_context():
                    owns = pk in truth[model] and authority_truth.may_edit(acc, db.session.get(model, pk))
                expected = (200 if owns else 403) if pk in truth[model] else 404
                if response.status_code != expected:
                    problems.append(f"{username} {view.route_base}/edit/{pk}: {response.status_code}, expected {expected}")
                elif expected == 200:
                    problems.extend(f"{username} {view.route_base}/edit/{pk}: {p}" for p in option_leaks(html, view, truth))
            elif response.status_code == 200:
                problems.append(f"{username} may not edit {model.__name__} but {view.route_base}/edit/{pk} answered 200")
        if model in may_edit and may_add.get(model):
            response, html = fetch(f"{view.route_base}/add")
            problems.extend(f"{username} {view.route_base}/add: {p}" for p in option_leaks(html, view, truth))
            problems.extend(f"{username} {view.route_base}/list/ search: {p}"
                            for p in option_leaks(client.get(f"{view.route_base}/list/").get_data(as_text=True), view, truth))
    return problems


# How a scope clause is built depends on how much of the region an organisation sees
# (models.scope.is_broad): row by row, or from its own cases. Both must show exactly the same.
@pytest.mark.parametrize("shape", ["row by row", "from the cases"])
@pytest.mark.parametrize("username", sorted(MATRIX_ACCOUNTS))
def test_every_screen_shows_exactly_the_accounts_cases(app, cases, username, shape, monkeypatch):
    from models import scope

    monkeypatch.setattr(scope, "BROAD_SHARE", 0.0 if shape == "row by row" else 2.0)
    client = PortalClient(app.test_client()).login(username)
    assert check_account(app, client, username) == []


def test_the_matrix_covers_every_case_screen(app):
    routes = {view.route_base for view in registered_crud_views(app)}
    for route in ("/tenantview", "/trajectoryview", "/agreementview", "/obligationview", "/signatureview",
                  "/debtview", "/evaluationview", "/organisationview", "/contactview"):
        assert route in routes


def test_the_matrix_catches_an_unscoped_screen(app, cases, tmp_path):
    """A plain Flask-AppBuilder view over debts, registered and given permissions, must make it fail."""
    from flask_appbuilder import ModelView
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    from app import create_app
    from commands import sync_roles

    class UnscopedDebtView(ModelView):
        datamodel = SQLAInterface(Debt)
        list_columns = ["creditor"]

    leaky = create_app({**app.config, "SERVER_NAME": "leaky.test"})
    try:
        with leaky.app_context():
            view = leaky.appbuilder.add_view(UnscopedDebtView, "Unscoped debts")
            leaky.extensions["portal_views"].append(view)
            sync_roles()
        client = PortalClient(leaky.test_client()).login("portaal")
        problems = check_account(leaky, client, "portaal")
        assert any("/unscopeddebtview" in p for p in problems), problems
    finally:
        with app.app_context():
            sync_roles()


def test_a_form_pointing_at_another_organisations_case_is_refused(app, cases, login):
    with app.app_context():
        mitros_only = db.session.execute(
            db.select(Trajectory).where(Trajectory.referring_organisation.has(name="Mitros"))
        ).scalars().first().id
    client = login("portaal")
    client.get("/lang/en")
    response = client.post_form("/debtview/add", {
        "trajectory": str(mitros_only), "creditor": "Eneco", "category": "energy", "status": "inventoried",
        "original_amount": "10.00", "current_balance": "10.00",
    })
    assert response.status_code == 200, messages(response)
    assert any("Not a valid choice" in m or "This field is required" in m for m in messages(response)), messages(response)
    with app.app_context():
        assert db.session.query(Debt).filter_by(trajectory_id=mitros_only).count() == 1
    assert client.get(f"/debtview/add?_flt_0_trajectory={mitros_only}").status_code == 404


def test_a_record_cannot_be_placed_outside_ones_own_cases(app, cases, login, world):
    client = login("portaal")
    client.get("/lang/en")
    from test_crud import TENANT_FORM

    response = client.post_form("/tenantview/add", {**TENANT_FORM, "bsn": "", "housing_corporation": str(world["Mitros"])})
    assert response.status_code == 200
    assert "cannot be changed by your organisation" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Tenant).filter_by(client_number=TENANT_FORM["client_number"]).count() == 0


def test_sensitive_fields_cannot_be_set_by_a_crafted_post(app, cases, login):
    with app.app_context():
        tenant = db.session.execute(db.select(Tenant).filter_by(client_number="LK-M-0001")).scalar_one()
        tenant_id, bsn = tenant.id, tenant.bsn
    client = login("portaal")
    url = f"/tenantview/edit/{tenant_id}"
    from conftest import form_values

    values = form_values(client.get(url).get_data(as_text=True))
    assert "bsn" not in values and "psychosocial_notes" not in values
    values.update(bsn="111222333", psychosocial_notes="overwritten", city="Houten")
    assert client.post_form(url, values).status_code == 302
    with app.app_context():
        tenant = db.session.get(Tenant, tenant_id)
        assert tenant.city == "Houten"
        assert tenant.bsn == bsn and tenant.psychosocial_notes == "PSYCHOSOCIAL-MARKER-1"


def test_coordinator_sees_the_sensitive_fields(app, cases, login):
    with app.app_context():
        tenant = db.session.execute(db.select(Tenant).filter_by(client_number="LK-M-0001")).scalar_one()
    html = login("coordinator").get(f"/tenantview/show/{tenant.id}").get_data(as_text=True)
    assert tenant.bsn in html and "PSYCHOSOCIAL-MARKER-1" in html


@pytest.mark.parametrize("url", ["/tenantview/list/", "/trajectoryview/show/1", "/debtview/edit/1", "/tenantview/add",
                                 "/organisationview/list/", "/users/list/", "/"])
def test_anonymous_requests_go_to_login(app, cases, url):
    response = app.test_client().get(url)
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    assert "LK-M-" not in response.get_data(as_text=True)


@pytest.mark.parametrize("username,url", [("viewer", "/debtview/add"), ("gemeente", "/tenantview/add"),
                                          ("portaal", "/users/list/"), ("viewer", "/organisationview/add")])
def test_missing_permission_never_returns_the_page(login, cases, username, url):
    response = login(username).get(url)
    assert response.status_code in (302, 403)
    html = response.get_data(as_text=True)
    # No form but the menu's "Log out" button.
    assert "LK-M-" not in html and all('action="/logout/"' in form for form in re.findall(r"<form\b[^>]*>", html))
