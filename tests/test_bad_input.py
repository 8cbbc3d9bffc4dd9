"""Bad input answers 4xx with a reason the user can read, never 500, and writes nothing: list
search arguments, the token login, a form without its CSRF token, numbers in other scripts'
digits, texts beyond their length and e-mail addresses that are none."""
import logging
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

import builders
from conftest import form_values, html_unescape, messages, nl
from models import AuditEntry, Contact, Debt, Model, Organisation, Tenant, Trajectory, db
from models.base import TEXT_MAX_LENGTH
from test_crud import TENANT_FORM
from test_validation import DEBT
from views.base import PortalModelView
from views.fields import EmailAddress

DIGITS_MESSAGE = "Type numbers with the digits 0 to 9"
EMAIL_MESSAGE = "Enter an e-mail address"


def _count(app, model, **filters):
    with app.app_context():
        number = db.session.scalar(sa.select(sa.func.count()).select_from(model).filter_by(**filters))
        db.session.remove()
    return number


@pytest.fixture
def case(app, world):
    with app.app_context():
        trajectory = builders.trajectory(builders.tenant(), start_date=date.today() - timedelta(days=100))
        db.session.commit()
        ids = {"trajectory": trajectory.id}
        db.session.remove()
    return ids


@pytest.fixture
def english(login):
    """A coordinator's client, in English."""
    client = login("coordinator")
    client.get("/lang/en")
    return client


def _refused(response, expected):
    assert response.status_code == 200, "a refused form is shown again"
    shown = messages(response)
    assert any(expected in text for text in shown), shown


# ---- (a) list search arguments FAB cannot read -------------------------------------------------------

@pytest.mark.parametrize("url, argument", [
    ("/trajectoryview/list/?_flt_9_status=x", "_flt_9_status"),
    ("/trajectoryview/export/xlsx/?_flt_9_status=x", "_flt_9_status"),
    ("/debtview/list/?_flt_6_current_balance=1", "_flt_6_current_balance"),  # a number has six filter types: 0-5
    ("/trajectoryview/list/?_flt_10_status=x", "_flt_10_status"),
    ("/trajectoryview/list/?_flt_x_status=x", "_flt_x_status"),
    ("/trajectoryview/list/?_flt__status=x", "_flt__status"),
    ("/trajectoryview/list/?_flt_٩_status=x", "_flt_٩_status"),  # FAB reads any digit as a position
    ("/trajectoryview/list/?x_flt_9_status=x", "x_flt_9_status"),  # ... found anywhere in the name
    ("/trajectoryview/add?_flt_9_tenant=1", "_flt_9_tenant"),
    ("/trajectoryview/list/?page_TrajectoryView=٣", "page_TrajectoryView"),
])
def test_a_search_argument_that_does_not_fit_answers_400_with_the_reason(app, english, case, url, argument):
    audit_entries = _count(app, AuditEntry)
    response = english.get(url)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "This request cannot be handled" in html  # the portal's own page
    assert "does not fit this list" in html and argument in html
    assert _count(app, AuditEntry) == audit_entries  # not even the export's access entry


def test_the_same_refusal_on_flask_appbuilders_own_lists(login, world):
    response = login("admin").get("/users/list/?_flt_9_active=y")
    assert response.status_code == 400


@pytest.mark.parametrize("url", [
    "/evaluationview/list/?_flt_0_nuisance_reports=99999999999999999999",
    "/evaluationview/export/xlsx/?_flt_0_nuisance_reports=99999999999999999999",
    "/auditview/list/?_flt_0_record_id=99999999999999999999",
])
def test_a_number_too_large_for_the_database_answers_400(login, world, url):
    client = login("coordinator")
    client.get("/lang/en")
    response = client.get(url)
    assert response.status_code == 400
    assert "does not fit its field" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", [
    "/trajectoryview/list/?_flt_0_status=running", "/trajectoryview/export/xlsx/?_flt_0_status=running",
    "/debtview/list/?_flt_9_creditor=x", "/debtview/list/?_flt_0_nonexistent=1",  # a text has ten types: 0-9
])
def test_search_arguments_that_fit_still_work(english, case, url):
    assert english.get(url).status_code == 200


@pytest.mark.parametrize("url", ["/debtview/list/?_flt_0_creditor=", "/tenantview/list/?_flt_0_last_name=",
                                 "/debtview/export/xlsx/?_flt_0_creditor="])
def test_a_search_text_too_long_to_search_answers_400(english, case, url):
    response = english.get(url + "a" * 50_001)
    assert response.status_code == 400
    assert "at most 500 characters" in response.get_data(as_text=True)


# ---- (b) Flask-AppBuilder's token login is not offered ---------------------------------------------

@pytest.mark.parametrize("payload", [
    {}, {"username": "coordinator"}, {"username": "coordinator", "password": "Demo-2026!"},
    {"username": "coordinator", "password": "Demo-2026!", "provider": "db"}, None,
])
def test_the_token_login_is_not_there(app, world, payload):
    client = app.test_client()
    response = client.post("/api/v1/security/login", json=payload) if payload is not None else \
        client.post("/api/v1/security/login", data="not json")
    assert response.status_code == 404
    assert b"access_token" not in response.data
    assert client.post("/api/v1/security/refresh").status_code == 404


# ---- (c) a form without its CSRF token ----------------------------------------------------------------

def test_a_post_without_its_token_gets_the_portals_page_in_the_users_language(app, login, world, caplog):
    client = login("coordinator")
    caplog.set_level(logging.DEBUG)
    post = {"client_number": "LK-CSRF-2", "first_name": "Jan", "last_name": "Jansen",
            "housing_corporation": str(world["Portaal"])}
    response = client.client.post("/tenantview/add", data=post)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert nl("This request cannot be handled") in html
    assert nl("The form's security code is missing or no longer valid, for example because the page was opened "
                     "before you last logged in. Nothing was saved. Open the page again and send the form once more.") in html_unescape(html)
    assert 'class="navbar' in html  # inside the portal's frame, with its menu
    client.get("/lang/en")
    html = client.client.post("/tenantview/add", data=post).get_data(as_text=True)
    assert "This request cannot be handled" in html and "security code is missing" in html
    assert _count(app, Tenant, client_number="LK-CSRF-2") == 0
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.text
    assert "Traceback" not in caplog.text


def test_a_login_without_its_token_gets_the_portals_page(app, world, caplog):
    caplog.set_level(logging.DEBUG)
    response = app.test_client().post("/login/", data={"username": "coordinator", "password": "x"})
    assert response.status_code == 400
    assert nl("This request cannot be handled") in response.get_data(as_text=True)
    assert not [r for r in caplog.records if r.exc_info], caplog.text


# ---- (d) numbers in digits 0-9 only ---------------------------------------------------------------

OTHER_DIGITS = ["١٢", "１２", "𝟏𝟐", "۱۲", "१२"]  # Arabic-Indic, fullwidth, mathematical, Persian, Devanagari


@pytest.mark.parametrize("typed", [*OTHER_DIGITS, "1_2"])
def test_a_whole_number_in_other_digits_is_refused(app, english, world, typed):
    response = english.post_form("/tenantview/add", {**TENANT_FORM, "household_size": typed,
                                                     "housing_corporation": str(world["Portaal"])})
    _refused(response, DIGITS_MESSAGE)
    assert _count(app, Tenant) == 0


@pytest.mark.parametrize("typed", [*OTHER_DIGITS, "€ ١٢,٥٠", "12,٥٠"])
def test_an_amount_in_other_digits_is_refused(app, english, case, typed):
    response = english.post_form("/debtview/add", {**DEBT, "trajectory": str(case["trajectory"]),
                                                   "current_balance": typed})
    _refused(response, DIGITS_MESSAGE)
    assert _count(app, Debt) == 0


@pytest.mark.parametrize("typed", ["1e3", "1_000", "0x10", "NaN", "12 34"])
def test_an_amount_that_python_would_read_otherwise_is_refused(app, english, case, typed):
    response = english.post_form("/debtview/add", {**DEBT, "trajectory": str(case["trajectory"]),
                                                   "current_balance": typed})
    _refused(response, "Enter an amount")
    assert _count(app, Debt) == 0


def test_plain_digits_are_still_read(app, english, world):
    response = english.post_form("/tenantview/add", {**TENANT_FORM, "household_size": " 3 ",
                                                     "housing_corporation": str(world["Portaal"])})
    assert response.status_code == 302, messages(response)
    with app.app_context():
        assert db.session.scalars(sa.select(Tenant.household_size)).one() == 3
        db.session.remove()


# ---- (e) texts within their length, and the form says so -----------------------------------------

def test_a_text_longer_than_its_column_is_refused_with_the_limit(app, english, world):
    response = english.post_form("/tenantview/add", {**TENANT_FORM, "last_name": "x" * 101,
                                                     "housing_corporation": str(world["Portaal"])})
    _refused(response, "Use at most 100 characters (this text has 101)")
    assert _count(app, Tenant) == 0
    assert form_values(response.get_data(as_text=True))["last_name"] == "x" * 101  # what was typed stays


def test_a_free_text_is_limited_and_the_form_states_it(app, english, case):
    page = english.get("/debtview/add").get_data(as_text=True)
    assert f'maxlength="{TEXT_MAX_LENGTH}"' in page and f"At most {TEXT_MAX_LENGTH} characters." in page
    assert 'maxlength="150"' in page  # the creditor's column
    post = {**DEBT, "trajectory": str(case["trajectory"])}
    response = english.post_form("/debtview/add", {**post, "notes": "x" * (TEXT_MAX_LENGTH + 1)})
    _refused(response, f"Use at most {TEXT_MAX_LENGTH} characters")
    assert _count(app, Debt) == 0
    response = english.post_form("/debtview/add", {**post, "notes": "x" * TEXT_MAX_LENGTH})
    assert response.status_code == 302, messages(response)
    assert _count(app, Debt) == 1


def test_a_status_change_remark_is_limited_too(app, english, case):
    url = f"/trajectoryview/step/{case['trajectory']}/ended_early"
    page = english.get(url).get_data(as_text=True)
    assert f'maxlength="{TEXT_MAX_LENGTH}"' in page and f"At most {TEXT_MAX_LENGTH} characters." in page
    response = english.post_form(url, {"outcome": "dropped_out", "remark": "x" * (TEXT_MAX_LENGTH + 1)})
    assert response.status_code == 200
    assert any(f"at most {TEXT_MAX_LENGTH} characters" in text for text in messages(response)), messages(response)
    with app.app_context():
        assert db.session.get(Trajectory, case["trajectory"]).status.value == "running"
        db.session.remove()


def test_every_text_field_of_every_form_has_its_limit(app):
    """Walks the registry: every String or Text column in a form is limited, so none reaches the database too long."""
    for view in app.appbuilder.baseviews:
        if not isinstance(view, PortalModelView) or not {"can_add", "can_edit"} & set(view.base_permissions):
            continue
        mapper = sa.inspect(view.datamodel.obj)
        for name in view._form_columns():
            column = mapper.columns.get(name)
            if column is None or not isinstance(column.type, sa.String) or isinstance(column.type, sa.Enum):
                continue
            limits = [getattr(v, "maximum", None) for v in view.validators_columns[name]]
            assert (column.type.length or TEXT_MAX_LENGTH) in limits, f"{type(view).__name__}.{name}"


# ---- (f) e-mail addresses -------------------------------------------------------------------------------

EMAIL_FORMS = {
    "/tenantview/add": lambda world: {**TENANT_FORM, "housing_corporation": str(world["Portaal"])},
    "/contactview/add": lambda world: {"organisation": str(world["Portaal"]), "name": "Rebecca van der Woude"},
    "/organisationview/add": lambda world: {"name": "Bo-Ex", "kind": "housing_corporation"},
}
MODELS = {"/tenantview/add": Tenant, "/contactview/add": Contact, "/organisationview/add": Organisation}


@pytest.mark.parametrize("url", EMAIL_FORMS)
@pytest.mark.parametrize("typed", ["geen adres", "anna@", "@example.nl", "anna@example", "anna de vries@example.nl",
                                   "anna@@example.nl", "anna@example..nl"])
def test_an_email_field_takes_only_an_email_address(app, english, world, url, typed):
    before = _count(app, MODELS[url])
    response = english.post_form(url, {**EMAIL_FORMS[url](world), "email": typed})
    _refused(response, EMAIL_MESSAGE)
    assert _count(app, MODELS[url]) == before


@pytest.mark.parametrize("url", EMAIL_FORMS)
@pytest.mark.parametrize("typed", ["r.woude@portaal.example.nl", "jörg+huur@voorbeeld.nl", ""])
def test_an_email_address_or_none_is_saved(app, english, world, url, typed):
    response = english.post_form(url, {**EMAIL_FORMS[url](world), "email": typed})
    assert response.status_code == 302, messages(response)


def test_email_columns_are_declared_once_on_the_model_and_checked_by_every_form(app):
    marked = set()
    for mapper in Model.registry.mappers:
        for column in mapper.columns:
            if column.name == "email" and not column.table.name.startswith("ab_"):  # FAB checks its own
                assert column.info.get("format") == "email", f"{mapper.class_.__name__}.email is not marked"
            if column.info.get("format") == "email":
                marked.add((mapper.class_, column.key))
    assert {(Tenant, "email"), (Contact, "email"), (Organisation, "email")} <= marked
    for view in app.appbuilder.baseviews:
        if isinstance(view, PortalModelView) and {"can_add", "can_edit"} & set(view.base_permissions):
            for name in view._form_columns():
                if (view.datamodel.obj, name) in marked:
                    assert any(isinstance(v, EmailAddress) for v in view.validators_columns[name]), name
