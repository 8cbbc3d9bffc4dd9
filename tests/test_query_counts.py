"""No N+1: a page's number of SQL statements does not grow with the rows it shows (issue 7).

Not timed. Every statement the engine executes during one request is counted (a
`before_cursor_execute` listener), with a small database that has more rows than the smaller
page size: a list answers with the same number of statements for `psize` 10 and 100, and a
record's page with the same number whatever the number of its related records. A derived column
computed per row in Python, or a relation read per row without eager loading, makes these fail.
"""
import re
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

import builders
from models import (
    AgreementStatus, Assessment, Contact, Intervention, Obligation, Signature, SigningParty, TrajectoryStatus, db,
)

ROWS = 14  # more than the smaller page size (10), fewer than the larger (100)
LISTS = {
    # list URL: the view class name used in psize_<View>
    "/tenantview/list/": "TenantView",
    "/trajectoryview/list/": "TrajectoryView",
    "/agreementview/list/": "AgreementView",
    "/obligationview/list/": "ObligationView",
    "/signatureview/list/": "SignatureView",
    "/debtview/list/": "DebtView",
    "/evaluationview/list/": "EvaluationView",
    "/interventionview/list/": "InterventionView",
    "/organisationview/list/": "OrganisationView",
    "/contactview/list/": "ContactView",
    "/auditview/list/": "AuditView",
}
USERS = ("coordinator", "portaal")  # every case, and one housing corporation's own cases


@contextmanager
def counting(app):
    """Yields a list that fills with the statements executed while the block runs."""
    with app.app_context():
        engine = db.engine
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def statements(app, client, url) -> int:
    """Statements of one request to `url`, after a first one has filled the process's caches."""
    client.get(url)
    with counting(app) as seen:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return len(seen)


def _contact(number):
    """One of three coordinators at Het Vierde Huis (the contacts do not grow with the cases)."""
    name = f"Coördinator {number % 3}"
    return db.session.query(Contact).filter_by(name=name).one_or_none() or Contact(
        organisation=builders.organisation("Het Vierde Huis"), name=name)


def _case(number, corporation="Portaal", evaluations=1, debts=1, today=None):
    """A running Portaal trajectory with an agreement (signed by tenant and referrer), obligations,
    `debts` debts and `evaluations` held evaluations, each with an intervention."""
    today = today or date.today()
    organisations = {name: builders.organisation(name) for name in ("Het Vierde Huis", "Gemeente Utrecht", corporation)}
    org = organisations.__getitem__
    tenant = builders.tenant(f"LK-Q-{number:04d}", corporation, last_name=f"Achternaam {number}")
    trajectory = builders.trajectory(tenant, start_date=today - timedelta(days=400 + number),
                                     referral_date=today - timedelta(days=450 + number))
    trajectory.coordinator = _contact(number)
    for index in range(debts):
        builders.debt(trajectory, balance=f"{100 + number + index}.00", creditor=f"Schuldeiser {index}")
    for index in range(evaluations):
        held = today - timedelta(days=30 + 30 * index)
        evaluation = builders.evaluation(trajectory, planned=held, held=held, assessment=Assessment.concerns)
        db.session.add(Intervention(evaluation=evaluation, description=f"Actie {index}",
                                    responsible_organisation=org("Gemeente Utrecht"), due_date=held + timedelta(days=60)))
    agreement = builders.agreement(trajectory, status=AgreementStatus.awaiting_signatures)
    db.session.add_all([
        Signature(agreement=agreement, party=SigningParty.tenant, signed_by="Huurder", signed_on=today),
        Signature(agreement=agreement, party=SigningParty.organisation, organisation=org(corporation),
                  signed_by="Corporatie", signed_on=today),
        Obligation(agreement=agreement, party=SigningParty.tenant, description="Huur betalen", due_date=today),
        Obligation(agreement=agreement, party=SigningParty.organisation, organisation=org(corporation),
                   description="Huisbezoek", due_date=today),
    ])
    db.session.flush()
    return trajectory


@pytest.fixture
def cases(app, world, login):
    """ROWS trajectories of Portaal tenants; the first has one debt and one evaluation, the last twelve of each."""
    with app.app_context():
        ids = []
        for number in range(1, ROWS + 1):
            many = number == ROWS
            ids.append(_case(number, debts=12 if many else 1, evaluations=12 if many else 1).id)
        trajectory = builders.trajectory(builders.tenant("LK-Q-MITROS", "Mitros"), status=TrajectoryStatus.intake)
        db.session.commit()
        ids = {"few": ids[0], "many": ids[-1], "mitros": trajectory.id}
    # Audit entries (for the audit trail list): a few record pages opened.
    client = login("coordinator")
    for trajectory_id in ids.values():
        client.get(f"/trajectoryview/show/{trajectory_id}")
    with app.app_context():
        from models import Trajectory

        tenants = [t for (t,) in db.session.query(Trajectory.tenant_id).order_by(Trajectory.id)]
    for tenant_id in tenants:
        client.get(f"/tenantview/show/{tenant_id}")
    ids["tenants"] = tenants
    return ids


def _with_psize(url, view, size):
    return f"{url}?psize_{view}={size}"


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("url", LISTS)
def test_a_list_needs_as_many_statements_for_100_rows_as_for_10(app, login, cases, url, user):
    client = login(user)
    view = LISTS[url]
    small = client.get(_with_psize(url, view, 10))
    if small.status_code == 403:
        pytest.skip(f"{user} may not read {url}")
    rows_shown = len(re.findall(r'name="rowid"|/show/\d+', small.get_data(as_text=True)))
    few, many = statements(app, client, _with_psize(url, view, 10)), statements(app, client, _with_psize(url, view, 100))
    assert few == many, f"{url} as {user}: {few} statements for 10 rows, {many} for 100 (N+1?)"
    assert rows_shown > 0 or url in ("/contactview/list/",), f"{url} as {user} shows no rows: the test proves nothing"


@pytest.mark.parametrize("user", USERS)
def test_a_filtered_list_and_a_later_page_need_no_more_statements(app, login, cases, user):
    client = login(user)
    first = statements(app, client, "/debtview/list/?psize_DebtView=10")
    assert statements(app, client, "/debtview/list/?psize_DebtView=10&page_DebtView=2") == first
    assert statements(app, client, "/debtview/list/?psize_DebtView=10&_flt_0_status=inventoried") == first
    assert statements(app, client, "/tenantview/list/?psize_TenantView=100&_flt_2_last_name=achternaam") == \
        statements(app, client, "/tenantview/list/?psize_TenantView=10&_flt_2_last_name=achternaam")


@pytest.mark.parametrize("user", USERS)
def test_a_trajectory_page_needs_as_many_statements_for_twelve_debts_and_evaluations_as_for_one(app, login, cases, user):
    client = login(user)
    few = statements(app, client, f"/trajectoryview/show/{cases['few']}")
    many = statements(app, client, f"/trajectoryview/show/{cases['many']}")
    assert few == many, f"trajectory page as {user}: {few} statements with 1 debt and 1 evaluation, {many} with 12"


def test_a_tenant_page_does_not_grow_with_the_tenants_trajectories(app, login, cases):
    with app.app_context():
        tenant = db.session.get(builders.Tenant, cases["tenants"][0])
        for _ in range(4):
            builders.trajectory(tenant, status=TrajectoryStatus.completed)
        db.session.commit()
    client = login("coordinator")
    one = statements(app, client, f"/tenantview/show/{cases['tenants'][1]}")
    five = statements(app, client, f"/tenantview/show/{cases['tenants'][0]}")
    assert one == five


def _overdue_cases(app, numbers):
    with app.app_context():
        for number in numbers:
            _case(number, today=date.today() - timedelta(days=200))
        db.session.commit()


def test_the_evaluations_due_page_does_not_grow_with_the_trajectories_due(app, login, cases):
    client = login("coordinator")
    _overdue_cases(app, [100])
    assert client.get("/evaluations-due/").get_data(as_text=True).count("/trajectoryview/show/") == 1
    one = statements(app, client, "/evaluations-due/")
    _overdue_cases(app, range(101, 111))
    assert client.get("/evaluations-due/").get_data(as_text=True).count("/trajectoryview/show/") == 11
    assert statements(app, client, "/evaluations-due/") == one


def test_the_dashboard_does_not_grow_with_the_cases(app, login, cases):
    client = login("coordinator")
    before = statements(app, client, "/")
    with app.app_context():
        for number in range(200, 210):
            _case(number)
        db.session.commit()
    assert statements(app, client, "/") == before


# ---- forms: a related case record is chosen by typing, not from a list of every record ----------

FORMS = ["/trajectoryview/add", "/agreementview/add", "/debtview/add", "/evaluationview/add",
         "/interventionview/add", "/obligationview/add", "/signatureview/add"]


@pytest.mark.parametrize("url", FORMS)
def test_a_form_does_not_list_every_case_record(app, login, cases, url):
    client = login("coordinator")
    before = client.get(url).get_data(as_text=True)
    with app.app_context():
        for number in range(300, 320):
            _case(number)
        db.session.commit()
    with counting(app) as seen:
        after = client.get(url).get_data(as_text=True)
    assert "portal-autocomplete" in after
    assert len(after) == len(before), f"{url} grew from {len(before)} to {len(after)} characters with 20 more cases"
    assert not any("FROM tenant" in s and "LIMIT" not in s and "WHERE" not in s for s in seen)


def test_the_autocomplete_finds_by_name_or_client_number_within_the_scope(app, login, cases):
    coordinator, portaal = login("coordinator"), login("portaal")
    with app.app_context():
        from models import Tenant, Trajectory

        wanted = db.session.execute(
            db.select(Trajectory.id).join(Tenant, Tenant.id == Trajectory.tenant_id).where(Tenant.client_number == "LK-Q-0003")
        ).scalar_one()
    found = coordinator.get("/debtview/autocomplete/trajectory?q=LK-Q-0003").get_json()["results"]
    # Ids from the database: PostgreSQL's sequences are not reset between tests.
    assert [r["id"] for r in found] == [wanted] and "LK-Q-0003" in found[0]["text"]
    assert len(coordinator.get("/debtview/autocomplete/trajectory?q=achternaam 1").get_json()["results"]) == 6  # 1, 10-14
    assert portaal.get("/debtview/autocomplete/trajectory?q=LK-Q-MITROS").get_json()["results"] == []
    assert [r["id"] for r in coordinator.get("/debtview/autocomplete/trajectory?q=lk-q-mitros").get_json()["results"]] \
        == [cases["mitros"]]
    assert len(portaal.get("/debtview/autocomplete/trajectory").get_json()["results"]) == ROWS
    assert coordinator.get("/debtview/autocomplete/trajectory?q=100%").get_json()["results"] == []
    assert coordinator.get("/debtview/autocomplete/creditor").status_code == 404
    assert login("viewer").get("/debtview/autocomplete/trajectory").status_code == 403


def test_a_posted_record_outside_the_scope_is_not_a_valid_choice(app, login, cases):
    from models import Debt

    client = login("portaal")
    client.get("/lang/en")
    data = {"creditor": "Vitens", "category": "water", "status": "inventoried", "original_amount": "10.00",
            "current_balance": "10.00"}
    response = client.post_form("/debtview/add", {**data, "trajectory": str(cases["mitros"])})
    assert response.status_code == 200 and "Not a valid choice" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Debt).filter_by(creditor="Vitens").count() == 0
    assert client.post_form("/debtview/add", {**data, "trajectory": str(cases["few"])}).status_code == 302
    # The related list's "add" link: the trajectory comes from the URL, the select is left out of the form.
    form = client.get(f"/debtview/add?_flt_0_trajectory={cases['many']}").get_data(as_text=True)
    assert 'name="trajectory"' not in form
    response = client.post_form(f"/debtview/add?_flt_0_trajectory={cases['many']}", {**data, "creditor": "Eneco"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.query(Debt).filter_by(creditor="Eneco", trajectory_id=cases["many"]).count() == 1


# ---- fewer statements than a bare Flask-AppBuilder page of the same kind ------------------------
#
# The bare pages are a plain `ModelView` over the tenant table on a second app of the portal (same
# database, same menu and frame) whose security manager answers every permission check the way
# Flask-AppBuilder does (one query per check): what a page of the same kind costs in stock FAB.

STOCK_CHECKS = ("_has_view_access", "is_item_public", "_get_user_permission_view_menus")
BARE_PERMISSIONS = ["can_list", "can_show", "can_add", "can_edit"]
SPECIAL_CATEGORY = ("bsn", "psychosocial_notes")


def _bare_view(portal_view, **extra):
    """A plain FAB ModelView over the portal view's model, with its field lists (without special categories)."""
    from flask_appbuilder import ModelView
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    datamodel = SQLAInterface(portal_view.datamodel.obj)
    stored = set(datamodel.get_columns_list())

    from views.declared import default_columns

    defaults = default_columns(portal_view.datamodel.obj)

    def fields(name):
        # Stored columns and relations only: the portal's derived columns are not FAB's. What the
        # portal view leaves undeclared it takes from the model (views.declared), and so does the bare one.
        declared = getattr(portal_view, name) or defaults[name]
        return [c for c in declared if c in stored and c not in SPECIAL_CATEGORY]

    return type(f"Bare{portal_view.datamodel.obj.__name__}View", (ModelView,), {
        "datamodel": datamodel,
        "list_columns": fields("list_columns"), "search_columns": fields("search_columns"),
        "show_columns": fields("show_columns"), "add_columns": fields("add_columns"),
        "edit_columns": fields("edit_columns"), "base_permissions": BARE_PERMISSIONS, **extra,
    })


@pytest.fixture(scope="module")
def stock_fab(app):
    """A second portal app (same database, menu and frame) with FAB's stock permission checks and bare
    FAB views of tenants, debts, evaluations, agreements and trajectories (these with the same related
    lists as the portal's trajectory page), allowed to the Coordinator."""
    from flask_appbuilder.security.sqla.manager import SecurityManager

    from app import create_app
    from views.agreement import AgreementView
    from views.debt import DebtView
    from views.evaluation import EvaluationView
    from views.tenant import TenantView
    from views.trajectory import TrajectoryView

    related = [_bare_view(AgreementView), _bare_view(DebtView), _bare_view(EvaluationView)]
    views = [_bare_view(TenantView), *related, _bare_view(TrajectoryView, related_views=related)]
    settings = ("TESTING", "SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "WTF_CSRF_ENABLED", "SERVER_NAME")
    stock = create_app({name: app.config[name] for name in settings})
    sm = stock.appbuilder.sm
    for name in STOCK_CHECKS:
        setattr(sm, name, getattr(SecurityManager, name).__get__(sm))
    with stock.app_context():
        role = sm.find_role("Coordinator")
        for view in views:
            stock.appbuilder.add_view_no_menu(view)
            sm.add_permissions_view(view.base_permissions, view.__name__)
            for permission in view.base_permissions:
                sm.add_permission_role(role, sm.find_permission_view_menu(permission, view.__name__))
        db.session.commit()
        db.session.remove()
    yield stock
    with stock.app_context():
        for view in views:
            for permission in view.base_permissions:
                sm.del_permission_view_menu(permission, view.__name__)
            sm.del_view_menu(view.__name__)
        db.session.commit()
        db.session.remove()


def _stock_client(stock, username="coordinator"):
    from conftest import PortalClient

    return PortalClient(stock.test_client()).login(username)


def _ids(app):
    from models import Debt, Tenant

    with app.app_context():
        return db.session.query(Tenant.id).order_by(Tenant.id).first()[0], db.session.query(Debt.id).first()[0]


def _portal_pages(app, cases):
    tenant, debt = _ids(app)
    return {
        "list": list(LISTS),
        "detail": [f"/trajectoryview/show/{cases['many']}", f"/tenantview/show/{tenant}", f"/debtview/show/{debt}"],
        "add form": FORMS + ["/tenantview/add"],
        "edit form": [f"/trajectoryview/edit/{cases['many']}", f"/tenantview/edit/{tenant}", f"/debtview/edit/{debt}"],
        "dashboard": ["/"],
    }


def _bare_pages(app, cases):
    """The bare pages of each kind; a portal page is compared with the one of its own model."""
    tenant, debt = _ids(app)
    trajectory = cases["many"]
    return {
        "list": {"tenant": "/baretenantview/list/", "debt": "/baredebtview/list/",
                 "trajectory": "/baretrajectoryview/list/"},
        "detail": {"tenant": f"/baretenantview/show/{tenant}", "debt": f"/baredebtview/show/{debt}",
                   "trajectory": f"/baretrajectoryview/show/{trajectory}"},
        "add form": {"tenant": "/baretenantview/add", "debt": "/baredebtview/add",
                     "trajectory": "/baretrajectoryview/add"},
        "edit form": {"tenant": f"/baretenantview/edit/{tenant}", "debt": f"/baredebtview/edit/{debt}",
                      "trajectory": f"/baretrajectoryview/edit/{trajectory}"},
        # The bare counterpart of the home page: a bare list (what a FAB app opens with).
        "dashboard": {"tenant": "/baretenantview/list/", "debt": "/baredebtview/list/"},
    }


@pytest.mark.parametrize("kind", ["list", "detail", "add form", "edit form", "dashboard"])
def test_every_portal_page_needs_fewer_statements_than_the_bare_fab_page_of_its_kind(
        app, login, cases, stock_fab, kind):
    bare_client = _stock_client(stock_fab)
    bare = {model: statements(stock_fab, bare_client, url) for model, url in _bare_pages(app, cases)[kind].items()}
    client = login("coordinator")
    counted = {url: statements(app, client, url) for url in _portal_pages(app, cases)[kind]}
    # Each portal page against the bare page of its own model, where there is one; else the cheapest.
    limit = {url: next((n for model, n in bare.items() if f"/{model}view/" in url), min(bare.values()))
             for url in counted}
    over = {url: f"{n} (bare: {limit[url]})" for url, n in counted.items() if n >= limit[url]}
    assert not over, f"{kind}: portal pages that need as many statements as the bare FAB page or more: {over}"


def test_the_bare_fab_page_checks_its_permissions_in_the_database(app, login, cases, stock_fab):
    """The comparison above is with stock FAB: every check there costs a query, and none here."""
    bare_client = _stock_client(stock_fab)
    statements(stock_fab, bare_client, "/baretenantview/list/")
    with counting(stock_fab) as bare:
        bare_client.get("/baretenantview/list/")
    client = login("coordinator")
    client.get("/tenantview/list/")
    with counting(app) as portal:
        client.get("/tenantview/list/")
    permission_queries = [s for s in bare if "ab_permission_view_role" in s]
    assert len(permission_queries) >= 10, f"stock FAB made {len(permission_queries)} permission queries"
    assert len([s for s in portal if "ab_permission_view_role" in s]) == 1


# ---- a change of roles or permissions applies on the next request ----------------------------------

def _grant(app, role_name, permission, view, granted=True):
    with app.app_context():
        sm = app.appbuilder.sm
        role, pv = sm.find_role(role_name), sm.find_permission_view_menu(permission, view)
        if granted and pv not in role.permissions:
            role.permissions.append(pv)
        elif not granted and pv in role.permissions:
            role.permissions.remove(pv)
        db.session.commit()
        db.session.remove()


def test_a_permission_taken_from_a_role_is_refused_on_the_next_request(app, login, cases):
    client = login("coordinator")
    assert client.get("/tenantview/list/").status_code == 200
    assert 'href="/tenantview/add"' in client.get("/tenantview/list/").get_data(as_text=True)
    try:
        _grant(app, "Coordinator", "can_add", "TenantView", granted=False)
        assert client.get("/tenantview/add").status_code == 403
        assert 'href="/tenantview/add"' not in client.get("/tenantview/list/").get_data(as_text=True)
        _grant(app, "Coordinator", "can_list", "TenantView", granted=False)
        assert client.get("/tenantview/list/").status_code == 403
    finally:
        _grant(app, "Coordinator", "can_add", "TenantView")
        _grant(app, "Coordinator", "can_list", "TenantView")
    assert client.get("/tenantview/add").status_code == 200


def test_a_permission_given_to_a_role_applies_on_the_next_request(app, login, cases):
    client = login("viewer")
    assert client.get("/tenantview/add").status_code == 403
    try:
        _grant(app, "Viewer", "can_add", "TenantView")
        assert client.get("/tenantview/add").status_code == 200
    finally:
        _grant(app, "Viewer", "can_add", "TenantView", granted=False)
    assert client.get("/tenantview/add").status_code == 403


def test_a_role_taken_from_a_user_in_the_user_screen_applies_on_the_next_request(app, login, cases):
    from models import PortalUser

    client = login("coordinator")
    assert client.get("/tenantview/add").status_code == 200
    menu_before = client.get("/").get_data(as_text=True)
    with app.app_context():
        user_id = db.session.query(PortalUser.id).filter_by(username="coordinator").scalar()
    admin = login("admin")
    form = admin.get(f"/users/edit/{user_id}").get_data(as_text=True)
    from conftest import form_values

    values = form_values(form)
    with app.app_context():
        viewer_role = app.appbuilder.sm.find_role("Viewer").id
    values["roles"] = str(viewer_role)
    assert admin.post_form(f"/users/edit/{user_id}", values).status_code == 302
    with app.app_context():
        assert [r.name for r in db.session.get(PortalUser, user_id).roles] == ["Viewer"]
    assert client.get("/tenantview/add").status_code == 403
    assert client.get("/tenantview/list/").status_code == 200
    assert "/auditview/list/" in menu_before and "/auditview/list/" not in client.get("/").get_data(as_text=True)
