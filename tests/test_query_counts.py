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
