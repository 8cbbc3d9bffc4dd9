"""Sessions end: logging out (a POST), a new password, deactivation and the absolute lifetime end a
session on the server, so a copied cookie stops working too (views/hardening.py, models/user.py)."""
import re
import time

import pytest
import sqlalchemy as sa

import builders
from conftest import PortalClient, form_values, messages, nl
from models import PortalUser, db
from views.hardening import LAST_ACTIVITY_KEY, LOGIN_TIME_KEY

NEW_PASSWORD = "Nieuw-wachtwoord-2026!"
CASE_PAGE = "/tenantview/list/"
# The tenant every test's case belongs to: seeing this name means seeing case data.
TENANT_NAME = "Rozemarijn"


@pytest.fixture
def case(app, world):
    with app.app_context():
        builders.trajectory(builders.tenant(first_name=TENANT_NAME))
        db.session.commit()
        db.session.remove()


def session_cookie(client: PortalClient) -> str:
    return client.client.get_cookie("session", domain="portal.test").value


def replay(app, cookie: str) -> PortalClient:
    """A fresh browser that only has a copy of someone's session cookie (in English)."""
    client = PortalClient(app.test_client())
    client.client.set_cookie("session", cookie, domain="portal.test")
    return client


def user_id(app, username) -> int:
    with app.app_context():
        identifier = db.session.scalars(sa.select(PortalUser.id).filter_by(username=username)).one()
        db.session.remove()
    return identifier


def assert_sent_to_login(response):
    assert response.status_code == 302, response.status_code
    assert "/login/" in response.headers["Location"]
    assert TENANT_NAME not in response.get_data(as_text=True)


def assert_ended(client: PortalClient, message="Your session has ended"):
    """The session is over: the page sends to the login page, which says why, and stays anonymous."""
    with client.client.session_transaction() as session:
        session["locale"] = "en"  # set without a request: a request would already end the session
    response = client.get(CASE_PAGE)
    assert_sent_to_login(response)
    shown = messages(client.get(response.headers["Location"]))
    assert any(message in text for text in shown), shown
    assert_sent_to_login(client.get(CASE_PAGE))


def assert_in_session(client: PortalClient):
    response = client.get(CASE_PAGE)
    assert response.status_code == 200 and TENANT_NAME in response.get_data(as_text=True)


def log_out(client: PortalClient):
    return client.post_form("/logout/", {}, form_url="/")


# ---- logging out ---------------------------------------------------------------------------------

def test_a_copied_cookie_stops_working_after_logout(app, login, case):
    client = login("coordinator")
    cookie = session_cookie(client)
    assert_in_session(replay(app, cookie))  # the copy works while the session lasts: the check means something
    response = log_out(client)
    assert response.status_code == 302
    assert_sent_to_login(client.get(CASE_PAGE))
    assert_ended(replay(app, cookie))


def test_logout_is_a_post_button_with_its_token_in_the_menu(login, case):
    html = login("coordinator").get("/").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/logout/"[^>]*>(.*?)</form>', html, re.S)
    assert form and re.search(r'name="csrf_token" value="[^"]+"', form.group(1))
    assert 'href="/logout/"' not in html


def test_a_get_to_logout_only_asks(login, case):
    client = login("coordinator")
    response = client.get("/logout/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'<form method="post" action="/logout/"', html) and 'name="csrf_token"' in html
    # In the user's language (Dutch by default).
    assert nl("Do you want to log out? Every session of your account then ends, also on other computers.") in html
    assert_in_session(client)


def test_a_logout_post_without_token_does_not_log_out(login, case):
    client = login("coordinator")
    assert client.client.post("/logout/").status_code == 400
    assert client.client.post("/logout/", data={"csrf_token": "forged"}).status_code == 400
    assert_in_session(client)


def test_logging_out_ends_the_other_sessions_of_that_user_only(app, login, case):
    first, second, colleague = login("coordinator"), login("coordinator"), login("admin")
    log_out(first)
    assert_ended(second)
    assert_in_session(colleague)


def test_logging_in_again_after_logout_works(app, login, case):
    client = login("coordinator")
    log_out(client)
    client.login("coordinator")
    assert_in_session(client)


# ---- a new password ------------------------------------------------------------------------------

def test_changing_my_password_ends_my_other_sessions_and_keeps_this_one(app, login, case):
    here, elsewhere = login("coordinator"), login("coordinator")
    copied = session_cookie(here)
    response = here.post_form("/resetmypassword/form", {"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD})
    assert response.status_code == 302, messages(response)
    assert_in_session(here)
    assert_ended(elsewhere)
    assert_ended(replay(app, copied))  # the cookie from before the change is not "this session"


def test_an_administrator_resetting_a_password_ends_that_users_sessions(app, login, case):
    user, admin = login("coordinator"), login("admin")
    url = f"/resetpassword/form?pk={user_id(app, 'coordinator')}"
    response = admin.post_form(url, {"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD})
    assert response.status_code == 302, messages(response)
    assert_ended(user)
    assert_in_session(admin)


def test_every_way_of_setting_a_password_or_deactivating_raises_the_generation(app, world):
    """On the model, so FAB's forms, its reset_password (also `flask fab reset-password`) and any script count."""
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.find_user(username="viewer")
        before = user.session_generation
        sm.reset_password(user.id, NEW_PASSWORD)
        user = sm.find_user(username="viewer")
        assert user.session_generation == before + 1
        user.active = False
        db.session.commit()
        assert user.session_generation == before + 2
        user.first_name, user.login_count = "Anders", 7  # nothing to do with the credentials
        db.session.commit()
        assert user.session_generation == before + 2
        db.session.remove()


# ---- deactivated and deleted accounts ------------------------------------------------------------

def test_deactivating_a_user_ends_their_sessions_for_good(app, login, case):
    user, admin = login("coordinator"), login("admin")
    copied = session_cookie(user)
    url = f"/users/edit/{user_id(app, 'coordinator')}"
    values = form_values(admin.get(url).get_data(as_text=True))
    values.pop("active")  # the unticked box
    response = admin.post_form(url, values)
    assert response.status_code == 302, messages(response)
    assert_ended(user)
    # Switched on again, the account logs in afresh; the old cookie stays dead.
    with app.app_context():
        db.session.get(PortalUser, user_id(app, "coordinator")).active = True
        db.session.commit()
        db.session.remove()
    assert_ended(replay(app, copied))
    assert_in_session(PortalClient(app.test_client()).login("coordinator"))


@pytest.mark.parametrize("change", [
    sa.update(PortalUser).where(PortalUser.username == "coordinator").values(active=False),
    sa.delete(PortalUser).where(PortalUser.username == "coordinator"),
], ids=["deactivated", "deleted"])
def test_a_session_of_an_account_that_is_gone_ends(app, login, case, change):
    client = login("coordinator")
    with app.app_context():
        # Straight in SQL, past the model: the session check itself must notice.
        db.session.execute(change)
        db.session.commit()
        db.session.remove()
    assert_ended(client)


def test_a_lookup_of_an_ended_session_answers_401_in_json(app, login, case):
    client = login("coordinator")
    cookie = session_cookie(client)
    log_out(client)
    response = replay(app, cookie).get("/debtview/autocomplete/trajectory?q=a",
                                       headers={"Accept": "application/json, text/javascript, */*; q=0.01"})
    assert response.status_code == 401 and response.is_json
    assert "session has ended" in response.get_json()["message"] or "sessie" in response.get_json()["message"]


# ---- the absolute lifetime -----------------------------------------------------------------------

def _logged_in_hours_ago(client, hours):
    with client.client.session_transaction() as session:
        session[LOGIN_TIME_KEY] = int(time.time() - hours * 3600)
        session[LAST_ACTIVITY_KEY] = int(time.time())  # busy all along: the idle timeout never fires


def test_a_busy_session_ends_at_its_absolute_lifetime(app, login, case):
    hours = app.config["SESSION_ABSOLUTE_HOURS"]
    client = login("coordinator")
    _logged_in_hours_ago(client, hours - 0.5)
    assert_in_session(client)
    _logged_in_hours_ago(client, hours + 0.1)
    assert_ended(client, f"logged in more than {hours} hours ago")


def test_a_session_without_a_login_time_is_ended(app, login, case):
    client = login("coordinator")
    with client.client.session_transaction() as session:
        session.pop(LOGIN_TIME_KEY)
    assert_ended(client, "logged in more than")


def test_the_absolute_lifetime_must_be_positive(app):
    from app import create_app

    with pytest.raises(RuntimeError, match="SESSION_ABSOLUTE_HOURS"):
        create_app({**app.config, "SESSION_ABSOLUTE_HOURS": 0})
