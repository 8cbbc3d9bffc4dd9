"""The database going away: a clear error page (503), nothing half-written, and recovery afterwards.

The outage is simulated without stopping the real server: while `Outage` is active, the driver
calls of the app's engine (statements and commits) raise the driver's own OperationalError, so
SQLAlchemy wraps and handles it exactly as it would a lost server. It can start before the
request, in the middle of it (at a given statement, after earlier ones succeeded), at the commit,
or be a blip (one statement fails, then the database is back). A second app pointed at an
unreachable database gives the real driver's connection error; on PostgreSQL the app's server
connections are also really terminated between two requests.

Runs on SQLite and on PostgreSQL (PORTAL_TEST_DATABASE_URL), like the rest of the suite.
"""
import re
import time
import traceback
from pathlib import Path

import pytest
import sqlalchemy as sa

import builders
from app import create_app
from conftest import form_values, messages
from models import AuditEntry, Model, Tenant, db
from test_crud import TENANT_FORM

DATABASE_ERROR = "could not be saved because of a database error"
# What a user must never be shown instead of a message.
TECHNICAL = ("Traceback", "OperationalError", "sqlalchemy", "psycopg", "sqlite3", "[SQL:", "SELECT ", "INSERT ")


class Outage:
    """While active, the app's database is gone as far as the app can tell.

    `begins`: None (already down when the request starts), a regular expression (the first
    statement matching it fails, and everything after it), or "COMMIT" (statements succeed, the
    commit fails, and everything after it). `blip`: only that one statement fails; the database
    is back straight away. Rollbacks still work, as they do when the driver notices a lost server.
    """

    PATCHED = ("do_execute", "do_executemany", "do_execute_no_params", "do_commit")

    def __init__(self, app, begins=None, blip=False):
        with app.app_context():
            self.dialect = db.engine.dialect
        self.at_commit = begins == "COMMIT"
        self.pattern = re.compile(begins, re.I) if begins and not self.at_commit else None
        self.down = begins is None
        self.blip = blip
        self.over = False
        self.failures = 0

    def _fail(self):
        self.failures += 1
        if self.blip:
            self.down, self.over = False, True
        raise self.dialect.loaded_dbapi.OperationalError(
            "server closed the connection unexpectedly (simulated database outage)"
        )

    def _statement(self, statement):
        if not self.over and not self.down and self.pattern is not None and self.pattern.search(statement):
            self.down = True
        if self.down:
            self._fail()

    def __enter__(self):
        dialect = self.dialect
        self._saved = {name: vars(dialect).get(name) for name in self.PATCHED}
        original = {name: getattr(dialect, name) for name in self.PATCHED}

        def do_execute(cursor, statement, parameters, context=None):
            self._statement(statement)
            return original["do_execute"](cursor, statement, parameters, context)

        def do_executemany(cursor, statement, parameters, context=None):
            self._statement(statement)
            return original["do_executemany"](cursor, statement, parameters, context)

        def do_execute_no_params(cursor, statement, context=None):
            self._statement(statement)
            return original["do_execute_no_params"](cursor, statement, context)

        def do_commit(dbapi_connection):
            if not self.over and self.at_commit:
                self.down = True
            if self.down:
                self._fail()
            return original["do_commit"](dbapi_connection)

        for name, function in zip(self.PATCHED, (do_execute, do_executemany, do_execute_no_params, do_commit)):
            setattr(dialect, name, function)
        return self

    def __exit__(self, *exc_info):
        for name, saved in self._saved.items():
            if saved is None:
                delattr(self.dialect, name)
            else:
                setattr(self.dialect, name, saved)
        return False


def attempt(call):
    """The response, or the database exception that escaped the app (outside tests: a bare 500)."""
    try:
        return call()
    except sa.exc.SQLAlchemyError as error:
        return error


def _portal_frames(error) -> str:
    """Where in the portal's own code (not libraries, not tests) the exception passed."""
    root = Path(__file__).resolve().parents[1]
    frames = []
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename).resolve()
        if root in path.parents and ".venv" not in path.parts and "tests" not in path.parts:
            frames.append(f"{path.relative_to(root)}:{frame.lineno} {frame.name}")
    return " -> ".join(frames) or "none"


def assert_clear_outage_page(outcome):
    """HTTP 503 with a page a person can read, not a traceback or Flask's bare 500."""
    if isinstance(outcome, Exception):
        pytest.fail(
            f"{type(outcome).__name__} escaped the request: no error handler turned it into a page, or the "
            "handler failed itself, so under gunicorn Flask answers a bare '500 Internal Server Error'. "
            f"Expected: 503 with a human message. Portal code it passed through: {_portal_frames(outcome)}. "
            f"({str(outcome).splitlines()[0][:200]})"
        )
    text = outcome.get_data(as_text=True)
    assert outcome.status_code == 503, f"expected 503, got {outcome.status_code}: {text[:300]}"
    assert outcome.mimetype == "text/html"
    shown = " ".join(re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", text, flags=re.S).split())
    assert len(shown) >= 20, f"no message on the outage page: {text[:300]!r}"
    leaked = [word for word in TECHNICAL if word in text]
    assert not leaked, f"the outage page shows technical details {leaked}: {shown[:300]}"


def assert_refused_save(outcome):
    """During an outage a save answers the outage page, or the form again saying nothing was saved."""
    if not isinstance(outcome, Exception) and outcome.status_code == 200:
        assert any(DATABASE_ERROR in m for m in messages(outcome)), messages(outcome)
        return
    assert_clear_outage_page(outcome)


def row_counts(app) -> dict:
    with app.app_context():
        with db.engine.connect() as connection:
            return {
                table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                for table in Model.metadata.sorted_tables
            }


def tenant_row(app, tenant_id) -> dict:
    with app.app_context():
        with db.engine.connect() as connection:
            return dict(connection.execute(sa.select(Tenant.__table__).where(Tenant.id == tenant_id)).mappings().one())


def audit_entries(app, **filters) -> list:
    with app.app_context():
        rows = db.session.query(AuditEntry).filter_by(**filters).all()
        db.session.expunge_all()
        return rows


@pytest.fixture
def tenant_id(app, world):
    with app.app_context():
        record = builders.tenant("LK-OUT-0001", city="Utrecht")
        db.session.commit()
        return record.id


@pytest.fixture
def coordinator(login):
    client = login("coordinator")
    client.get("/lang/en")
    return client


def save_is_possible_again(app, client, tenant_id, city):
    """The same client can work on: a page opens and a save is accepted."""
    assert client.get("/tenantview/list/").status_code == 200
    url = f"/tenantview/edit/{tenant_id}"
    values = form_values(client.get(url).get_data(as_text=True))
    values["city"] = city
    response = client.post_form(url, values)
    assert response.status_code == 302, messages(response)
    assert tenant_row(app, tenant_id)["city"] == city


# ---- a page during an outage -------------------------------------------------------------------

PAGE_OUTAGES = {
    "down before the request": {"begins": None},
    "goes down mid-request": {"begins": r"\bFROM tenant\b"},
}


@pytest.mark.parametrize("when", PAGE_OUTAGES)
@pytest.mark.parametrize("page", ["/tenantview/list/", "/tenantview/show/{id}", "/"])
def test_a_page_during_an_outage_answers_503_and_the_portal_recovers(app, coordinator, tenant_id, when, page):
    url = page.format(id=tenant_id)
    if page == "/" and when != "down before the request":
        pytest.skip("the dashboard reads no tenant row")
    assert coordinator.get(url).status_code == 200
    with Outage(app, **PAGE_OUTAGES[when]) as outage:
        outcome = attempt(lambda: coordinator.get(url))
    assert outage.failures >= 1, "the outage never hit the request"

    after = coordinator.get(url)
    assert after.status_code == 200, "the portal did not recover after the database came back"
    save_is_possible_again(app, coordinator, tenant_id, "Nieuwegein")
    assert_clear_outage_page(outcome)


# ---- a save during an outage -------------------------------------------------------------------

SAVE_OUTAGES = {
    "down before the request": {"begins": None},
    "goes down after the record is written, before its audit entry": {"begins": r"^\s*INSERT INTO audit_entry"},
    "goes down at the commit": {"begins": "COMMIT"},
    "one statement fails, then the database is back": {"begins": r"^\s*INSERT INTO audit_entry", "blip": True},
}


@pytest.mark.parametrize("when", SAVE_OUTAGES)
def test_an_edit_during_an_outage_changes_nothing_and_can_be_saved_afterwards(app, coordinator, tenant_id, when):
    url = f"/tenantview/edit/{tenant_id}"
    values = form_values(coordinator.get(url).get_data(as_text=True))
    values["city"] = "Zeist"
    token = coordinator.csrf_token(url)
    before, row_before = row_counts(app), tenant_row(app, tenant_id)

    with Outage(app, **SAVE_OUTAGES[when]) as outage:
        outcome = attempt(lambda: coordinator.client.post(url, data={**values, "csrf_token": token}))
    assert outage.failures >= 1, "the outage never hit the request"

    # Nothing half-written: the record, its version and the audit trail are as they were.
    assert row_counts(app) == before
    assert tenant_row(app, tenant_id) == row_before
    assert audit_entries(app, record_type="tenant", record_id=tenant_id, action="update") == []
    # Recovery: the very form that failed (same row version: the failed save bumped nothing) now saves.
    assert coordinator.get("/tenantview/list/").status_code == 200
    response = coordinator.post_form(url, values)
    assert response.status_code == 302, messages(response)
    after = tenant_row(app, tenant_id)
    assert (after["city"], after["version"]) == ("Zeist", row_before["version"] + 1)
    assert len(audit_entries(app, record_type="tenant", record_id=tenant_id, action="update")) == 1

    if SAVE_OUTAGES[when].get("blip"):
        # The database was back before the form was shown again: the form says why, and keeps the input.
        assert not isinstance(outcome, Exception) and outcome.status_code == 200, outcome
        assert any(DATABASE_ERROR in m for m in messages(outcome)), messages(outcome)
        assert form_values(outcome.get_data(as_text=True))["city"] == "Zeist"
    else:
        assert_refused_save(outcome)


@pytest.mark.parametrize("when", SAVE_OUTAGES)
def test_an_addition_during_an_outage_writes_nothing_and_can_be_made_afterwards(app, coordinator, world, when):
    data = {**TENANT_FORM, "housing_corporation": str(world["Portaal"])}
    token = coordinator.csrf_token("/tenantview/add")
    before = row_counts(app)

    with Outage(app, **SAVE_OUTAGES[when]) as outage:
        outcome = attempt(lambda: coordinator.client.post("/tenantview/add", data={**data, "csrf_token": token}))
    assert outage.failures >= 1, "the outage never hit the request"

    assert row_counts(app) == before, "a record or audit entry was written during the outage"
    assert coordinator.get("/tenantview/list/").status_code == 200
    response = coordinator.post_form("/tenantview/add", data)
    assert response.status_code == 302, messages(response)
    with app.app_context():
        (added,) = db.session.query(Tenant).filter_by(client_number=TENANT_FORM["client_number"]).all()
        added_id = added.id
    assert len(audit_entries(app, record_type="tenant", record_id=added_id, action="create")) == 1

    if SAVE_OUTAGES[when].get("blip"):
        assert not isinstance(outcome, Exception) and outcome.status_code == 200, outcome
        assert any(DATABASE_ERROR in m for m in messages(outcome)), messages(outcome)
    else:
        assert_refused_save(outcome)


# ---- a database that cannot be reached at all --------------------------------------------------

def _unreachable_url(app, tmp_path) -> str:
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() == "postgresql":
        # Nothing listens on port 1: the driver's own "connection refused".
        return url.set(host="127.0.0.1", port=1).render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / 'no-such-directory' / 'portal.db'}"


def test_an_unreachable_database_answers_503_and_the_session_survives(app, coordinator, tenant_id, tmp_path):
    """The same portal, started against a database it cannot reach, with the user's session cookie."""
    url = f"/tenantview/edit/{tenant_id}"
    values = {**form_values(coordinator.get(url).get_data(as_text=True)), "city": "Zeist"}
    values["csrf_token"] = coordinator.csrf_token(url)
    before, row_before = row_counts(app), tenant_row(app, tenant_id)
    cookie = coordinator.client.get_cookie("session", domain="portal.test")
    assert cookie is not None
    unreachable = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": _unreachable_url(app, tmp_path)})
    try:
        down = unreachable.test_client()
        down.set_cookie("session", cookie.value, domain="portal.test")
        page = attempt(lambda: down.get("/tenantview/list/"))
        save = attempt(lambda: down.post(url, data=values))
    finally:
        with unreachable.app_context():
            db.engine.dispose()
    # When the database is back (the working app), nothing was written and the same session goes on.
    assert row_counts(app) == before and tenant_row(app, tenant_id) == row_before
    assert coordinator.get("/tenantview/list/").status_code == 200
    save_is_possible_again(app, coordinator, tenant_id, "Houten")
    assert_clear_outage_page(page)
    assert_refused_save(save)


# ---- PostgreSQL: server connections really terminated ------------------------------------------

@pytest.fixture
def fresh_pool_afterwards(app):
    yield
    with app.app_context():
        db.engine.dispose()


def _terminate_backends(url) -> int:
    """Terminate every other server connection to the test database, and wait until they are gone."""
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            pids = connection.execute(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalars().all()
            connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and connection.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"), {"pids": pids}
            ).scalar():
                time.sleep(0.05)
        return len(pids)
    finally:
        admin.dispose()


def test_terminated_database_connections_are_replaced_without_an_error(app, coordinator, tenant_id, request,
                                                                       fresh_pool_afterwards):
    with app.app_context():
        url, pre_ping = db.engine.url, db.engine.pool._pre_ping
    if url.get_backend_name() != "postgresql":
        pytest.skip("terminating server connections needs PostgreSQL (PORTAL_TEST_DATABASE_URL)")
    if not pre_ping:
        request.applymarker(pytest.mark.xfail(reason=(
            "no pool_pre_ping: after a database restart or failover the pool hands out a connection the "
            "server already closed, and the first request on it fails. Fix: SQLALCHEMY_ENGINE_OPTIONS with "
            '"pool_pre_ping": True (create_app sets it unless the config passes its own engine options)'
        )))
    assert coordinator.get("/tenantview/list/").status_code == 200  # the app now holds a pooled connection
    assert _terminate_backends(url) >= 1

    outcome = attempt(lambda: coordinator.get("/tenantview/list/"))
    later = coordinator.get("/tenantview/list/")
    assert later.status_code == 200, "the portal did not recover after its connections were terminated"
    assert not isinstance(outcome, Exception), f"the first request after the disconnect failed: {outcome}"
    assert outcome.status_code == 200, f"the first request after the disconnect answered {outcome.status_code}"
    save_is_possible_again(app, coordinator, tenant_id, "IJsselstein")
