"""Login and session hardening: failed-login limits, password policy, cookies, idle timeout,
CSRF, security headers and the production safety checks (views/hardening.py, config.py)."""
import math
import re
import secrets
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from limits import parse

import builders
from app import create_app
from config import DEVELOPMENT_SECRET_KEY
from conftest import PASSWORD, PortalClient, messages
from models import Debt, PortalUser, Tenant, db
from views.hardening import LAST_ACTIVITY_KEY, password_complexity, password_problems

REDIS_URI = "redis://127.0.0.1:6379/15"
STRONG = "Lang-genoeg-2026!"


@pytest.fixture(autouse=True)
def fresh_counts(app):
    """Failure counts live in the app's storage: none may leak into or out of a test."""
    app.extensions["portal_login_throttle"].reset()
    yield
    app.extensions["portal_login_throttle"].reset()


def per_account(app) -> int:
    return parse(app.config["LOGIN_FAILURES_PER_ACCOUNT"]).amount


def per_address(app) -> int:
    return parse(app.config["LOGIN_FAILURES_PER_ADDRESS"]).amount


def client_from(app, address, **headers) -> PortalClient:
    """A client in English (so messages read the same whatever the Dutch catalogue says) at `address`."""
    client = PortalClient(app.test_client())
    client.client.environ_base["REMOTE_ADDR"] = address
    for name, value in headers.items():
        client.client.environ_base[f"HTTP_{name.upper()}"] = value
    client.get("/lang/en")
    return client


def form_login(app, username, password, address="10.9.9.9", **headers):
    return client_from(app, address, **headers).post_form("/login/", {"username": username, "password": password})


BLOCKED = ("Too many failed login attempts for this account or from this address. For your safety, logging in is "
           "blocked for now: try again in %(minutes)s minutes. If you forgot your password, ask your coordinator to "
           "reset it.")


def failed(response) -> bool:
    return response.status_code == 302 and "/login/" in response.headers["Location"]


def logged_in(response) -> bool:
    return response.status_code == 302 and "/login" not in response.headers["Location"]


def login_stats(app, username):
    with app.app_context():
        user = db.session.scalars(sa.select(PortalUser).filter_by(username=username)).one()
        stats = (user.fail_login_count or 0, user.login_count or 0)
        db.session.remove()
    return stats


def assert_throttled_page(response):
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert 0 < seconds <= 15 * 60
    # The clients here read English (see client_from).
    assert BLOCKED % {"minutes": math.ceil(seconds / 60)} in messages(response), messages(response)


# ---- Failed logins: per account --------------------------------------------------------------

def test_failed_logins_per_account_block_even_the_right_password(app, world):
    limit = per_account(app)
    # From a different address each time: only the account's own count can block.
    for attempt in range(limit):
        assert failed(form_login(app, "viewer", f"wrong-{attempt}", address=f"10.1.0.{attempt}"))
    fails_before, logins_before = login_stats(app, "viewer")
    assert fails_before == limit

    response = form_login(app, "viewer", PASSWORD, address="10.1.1.1")
    assert_throttled_page(response)
    # No password was checked while blocked: FAB's counters did not move.
    assert login_stats(app, "viewer") == (fails_before, logins_before)
    # Other accounts, also from the same addresses, are not affected.
    assert logged_in(form_login(app, "portaal", PASSWORD, address="10.1.0.0"))


def test_an_account_named_in_other_case_or_by_email_shares_its_count(app, world):
    names = ["Viewer", "VIEWER", "viewer@example.nl", " viewer ", "viewer"]
    for attempt in range(per_account(app)):
        assert failed(form_login(app, names[attempt % len(names)], "wrong", address=f"10.1.2.{attempt}"))
    assert form_login(app, "viewer@example.nl", PASSWORD, address="10.1.3.1").status_code == 429
    assert form_login(app, "VIEWER", PASSWORD, address="10.1.3.2").status_code == 429


def test_unknown_accounts_are_counted_and_answered_alike(app, world):
    # Same answers as for a real account, so the limit does not reveal which usernames exist.
    for attempt in range(per_account(app)):
        assert failed(form_login(app, "nobody-here", "wrong", address=f"10.1.4.{attempt}"))
    assert_throttled_page(form_login(app, "nobody-here", "wrong", address="10.1.5.1"))


def test_a_successful_login_starts_the_account_count_again(app, world):
    limit = per_account(app)
    for _ in range(3):
        for attempt in range(limit - 1):
            assert failed(form_login(app, "mitros", "wrong", address=f"10.1.6.{attempt}"))
        assert logged_in(form_login(app, "mitros", PASSWORD, address="10.1.7.1"))


# ---- Failed logins: per address --------------------------------------------------------------

def test_failed_logins_per_address_block_that_address_only(app, world):
    for attempt in range(per_address(app)):
        # A different (unknown) account each time: only the address count can block.
        assert failed(form_login(app, f"guess-{attempt}", "wrong", address="10.2.0.1"))
    assert_throttled_page(form_login(app, "coordinator", PASSWORD, address="10.2.0.1"))
    assert logged_in(form_login(app, "coordinator", PASSWORD, address="10.2.0.2"))


def test_a_forged_forwarded_for_header_does_not_change_the_address(app, world):
    assert not app.config["TRUSTED_PROXY_COUNT"]
    for attempt in range(per_address(app)):
        response = form_login(app, f"guess-{attempt}", "wrong", address="10.2.1.1",
                              x_forwarded_for=f"198.51.100.{attempt}")
        assert failed(response)
    assert form_login(app, "coordinator", PASSWORD, address="10.2.1.1", x_forwarded_for="198.51.100.99").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_counts(app, world):
    proxied = create_app({**app.config, "TRUSTED_PROXY_COUNT": 1, "SERVER_NAME": "proxied.test"})
    for attempt in range(per_address(proxied)):
        assert failed(form_login(proxied, f"guess-{attempt}", "wrong", address="10.0.0.1",
                                 x_forwarded_for="203.0.113.7"))
    assert form_login(proxied, "coordinator", PASSWORD, address="10.0.0.1", x_forwarded_for="203.0.113.7").status_code == 429
    # Another client behind the same proxy is not blocked.
    assert logged_in(form_login(proxied, "coordinator", PASSWORD, address="10.0.0.1", x_forwarded_for="203.0.113.8"))


# ---- Failed logins: only failures count ------------------------------------------------------

def test_successful_logins_never_count(app, world):
    # Far more logins from one address than the failure limits allow.
    for _ in range(per_address(app) + per_account(app) + 5):
        PortalClient(app.test_client()).login("coordinator")


def test_failures_through_any_other_caller_of_the_password_check_count_too(app, world):
    """The form is the only login, but a check of a password from elsewhere (a future API) is counted."""
    sm = app.appbuilder.sm
    for attempt in range(per_account(app)):
        with app.test_request_context(environ_base={"REMOTE_ADDR": f"10.3.0.{attempt}"}):
            assert not sm.auth_user_db("gemeente", "wrong")
    with app.test_request_context(environ_base={"REMOTE_ADDR": "10.3.1.1"}):
        assert sm.auth_user_db("gemeente", PASSWORD) is None  # blocked: not even the right password
    assert form_login(app, "gemeente", PASSWORD, address="10.3.1.2").status_code == 429


def test_blocking_ends_when_the_window_has_passed(app, world):
    # A fresh app has its own (memory) storage: nothing from the other tests, nothing leaks out.
    quick = create_app({**app.config, "LOGIN_FAILURES_PER_ACCOUNT": "2 per 2 seconds", "SERVER_NAME": "quick.test"})
    assert quick.extensions["portal_login_throttle"] is not app.extensions["portal_login_throttle"]
    for attempt in range(2):
        assert failed(form_login(quick, "buurtteam", "wrong", address=f"10.4.0.{attempt}"))
    assert form_login(quick, "buurtteam", PASSWORD, address="10.4.1.1").status_code == 429
    assert logged_in(form_login(app, "buurtteam", PASSWORD, address="10.4.1.1"))  # other app, own counts
    time.sleep(2.2)
    assert logged_in(form_login(quick, "buurtteam", PASSWORD, address="10.4.1.1"))


def test_an_unreachable_shared_storage_falls_back_to_memory(app, world):
    # Nothing listens on port 1: logins stay possible, and failures are still limited.
    broken = create_app({**app.config, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0", "SERVER_NAME": "broken.test"})
    assert logged_in(form_login(broken, "coordinator", PASSWORD))
    for attempt in range(per_account(broken)):
        assert failed(form_login(broken, "viewer", "wrong", address=f"10.5.0.{attempt}"))
    assert form_login(broken, "viewer", PASSWORD, address="10.5.1.1").status_code == 429


def _redis_or_skip():
    try:
        import redis

        connection = redis.Redis.from_url(REDIS_URI, socket_connect_timeout=1, socket_timeout=1)
        connection.ping()
        return connection
    except Exception as error:  # not installed, not running, refused, timed out
        pytest.skip(f"Redis is not reachable at {REDIS_URI} ({error.__class__.__name__}: {error}); "
                    "start redis-server to test the shared rate-limit storage")


def test_failures_are_shared_between_workers_through_redis(app, world):
    connection = _redis_or_skip()
    # Two apps as two workers. A secret of their own keeps this run's keys apart from any other run's.
    settings = {**app.config, "RATELIMIT_STORAGE_URI": REDIS_URI, "SECRET_KEY": secrets.token_urlsafe(32)}
    first = create_app({**settings, "SERVER_NAME": "first.test"})
    second = create_app({**settings, "SERVER_NAME": "second.test"})
    throttle = first.extensions["portal_login_throttle"]
    assert type(throttle.storage).__name__ == "RedisStorage"
    address = f"10.6.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    try:
        limit = per_account(first)
        for attempt in range(limit):
            worker = first if attempt % 2 else second
            assert failed(form_login(worker, "viewer", "wrong", address=address))
        with first.test_request_context():
            digest = throttle._digest(throttle._account("viewer"))
            db.session.remove()
        assert connection.keys(f"*{digest}*"), "the failures are not in Redis"
        assert form_login(first, "viewer", PASSWORD, address=address).status_code == 429
        assert form_login(second, "viewer", PASSWORD, address="10.6.255.1").status_code == 429
        # The session app counts in its own memory: it knows nothing of these failures.
        assert logged_in(form_login(app, "viewer", PASSWORD, address=address))
    finally:
        with first.test_request_context():
            throttle.clear("viewer", address)
            db.session.remove()


# ---- Password policy -------------------------------------------------------------------------

def test_password_problems_name_every_rule_that_is_broken():
    assert password_problems(STRONG) == []
    assert password_problems("Correct horse 7 battery") == []  # a passphrase with spaces is fine
    assert len(password_problems("")) == 5
    assert len(password_problems(None)) == 5
    # The documented demo password is too short for the policy (demo accounts bypass it).
    [problem] = password_problems("Demo-2026!")
    assert "12" in problem and "10" in problem
    problems = password_problems("alleenkleineletters")
    assert len(problems) == 3
    assert any("capital" in p for p in problems) and any("digit" in p for p in problems)
    assert password_problems("ÉÉNTWEEDRIEvier4!") == []  # letters beyond ASCII count as letters
    with pytest.raises(PasswordComplexityValidationError) as refusal:
        password_complexity("kort")
    assert all(problem in str(refusal.value) for problem in password_problems("kort"))


def test_the_minimum_length_is_a_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_MIN_LENGTH", 20)
    with app.app_context():
        assert password_problems(STRONG) and "20" in password_problems(STRONG)[0]
        assert password_problems(STRONG + "xyz") == []


def test_flask_appbuilder_forms_use_the_policy(app):
    assert app.config["FAB_PASSWORD_COMPLEXITY_ENABLED"] is True
    assert app.config["FAB_PASSWORD_COMPLEXITY_VALIDATOR"] is password_complexity


def test_resetting_my_password_follows_the_policy(app, world):
    client = client_from(app, "127.0.0.1").login("portaal")
    page = client.get("/resetmypassword/form").get_data(as_text=True)
    assert "at least 12 characters" in page  # the rule is shown before anyone types
    assert "does not check this for you" not in page

    response = client.post_form("/resetmypassword/form", {"password": "Demo-2026!", "conf_password": "Demo-2026!"})
    assert response.status_code == 200
    assert "Use at least 12 characters" in response.get_data(as_text=True)
    assert logged_in(form_login(app, "portaal", PASSWORD))  # unchanged

    response = client.post_form("/resetmypassword/form", {"password": STRONG, "conf_password": STRONG})
    assert response.status_code == 302
    assert logged_in(form_login(app, "portaal", STRONG))


def test_an_administrator_cannot_give_a_new_user_a_weak_password(app, world):
    client = client_from(app, "127.0.0.1").login("admin")
    with app.app_context():
        role_id = app.appbuilder.sm.find_role("Viewer").id
        db.session.remove()
    user = {"first_name": "Nieuwe", "last_name": "Collega", "username": "nieuw", "active": "y",
            "email": "nieuw@example.nl", "organisation": str(world["Mitros"]), "roles": str(role_id)}
    response = client.post_form("/users/add", {**user, "password": "welkom01", "conf_password": "welkom01"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Use at least 12 characters" in html and "Add a capital letter" in html
    with app.app_context():
        assert app.appbuilder.sm.find_user(username="nieuw") is None
        db.session.remove()

    response = client.post_form("/users/add", {**user, "password": STRONG, "conf_password": STRONG})
    assert response.status_code == 302
    assert logged_in(form_login(app, "nieuw", STRONG))


# ---- Cookies and idle timeout ----------------------------------------------------------------

def _session_cookie(response) -> str:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def test_session_cookie_is_httponly_and_samesite_lax(app):
    cookie = _session_cookie(app.test_client().get("/login/"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development: plain http works
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] and app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


def test_session_lifetime_follows_the_idle_setting(app):
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=2 * app.config["SESSION_IDLE_MINUTES"])


def _set_last_activity(client, seconds_ago):
    with client.client.session_transaction() as session:
        if seconds_ago is None:
            session.pop(LAST_ACTIVITY_KEY, None)
        else:
            session[LAST_ACTIVITY_KEY] = int(time.time()) - seconds_ago


def test_an_idle_session_is_logged_out_with_a_message(app, world):
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    client = client_from(app, "127.0.0.1").login("coordinator")
    _set_last_activity(client, idle + 60)
    response = client.get("/tenantview/list/?psize_TenantView=25")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "/login/" in location and "next=" in location
    login_page = client.get(location)
    assert any("logged out after" in text for text in messages(login_page)), messages(login_page)
    # Really logged out: the next request is anonymous.
    again = client.get("/tenantview/list/")
    assert again.status_code == 302 and "/login/" in again.headers["Location"]


def test_an_active_session_stays_and_its_clock_moves(app, world):
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    client = client_from(app, "127.0.0.1").login("coordinator")
    _set_last_activity(client, idle - 60)
    assert client.get("/tenantview/list/").status_code == 200
    with client.client.session_transaction() as session:
        assert time.time() - session[LAST_ACTIVITY_KEY] < 5


def test_a_logged_in_session_without_an_activity_stamp_is_ended(app, world):
    client = client_from(app, "127.0.0.1").login("coordinator")
    _set_last_activity(client, None)
    response = client.get("/tenantview/list/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


# ---- CSRF ------------------------------------------------------------------------------------

@pytest.fixture
def debt_id(app, world):
    with app.app_context():
        record = builders.debt(builders.trajectory(builders.tenant()))
        db.session.commit()
        identifier = record.id
        db.session.remove()
    return identifier


def _count(app, model, **filters):
    with app.app_context():
        number = db.session.scalar(sa.select(sa.func.count()).select_from(model).filter_by(**filters))
        db.session.remove()
    return number


def test_a_post_without_csrf_token_is_refused_and_writes_nothing(app, world, debt_id):
    client = PortalClient(app.test_client()).login("coordinator")
    tenants = _count(app, Tenant)
    response = client.client.post("/tenantview/add", data={
        "client_number": "LK-CSRF-1", "first_name": "Jan", "last_name": "Jansen",
        "housing_corporation": str(world["Portaal"]),
    })
    assert response.status_code == 400
    assert _count(app, Tenant) == tenants and _count(app, Tenant, client_number="LK-CSRF-1") == 0

    assert client.client.post(f"/debtview/delete/{debt_id}").status_code == 400
    assert client.client.post(f"/debtview/delete/{debt_id}", data={"csrf_token": "forged"}).status_code == 400
    assert _count(app, Debt, id=debt_id) == 1


def test_a_get_to_a_delete_url_deletes_nothing(app, world, debt_id):
    client = PortalClient(app.test_client()).login("coordinator")
    response = client.get(f"/debtview/delete/{debt_id}")
    assert response.status_code == 302
    assert _count(app, Debt, id=debt_id) == 1
    # With the form's token, the same delete goes through (so the refusals above mean something).
    response = client.post_form(f"/debtview/delete/{debt_id}", {}, form_url="/debtview/list/")
    assert response.status_code == 302
    assert _count(app, Debt, id=debt_id) == 0


def test_a_login_post_without_csrf_token_is_refused(app, world):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.7.0.1"
    response = client.post("/login/", data={"username": "coordinator", "password": PASSWORD})
    assert response.status_code == 400


# ---- Security headers ------------------------------------------------------------------------

def _csp(response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def _assert_headers(response):
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    csp = _csp(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "'unsafe-inline'" not in csp["style-src-elem"]
    [nonce] = [s[len("'nonce-"):-1] for s in csp["script-src"] if s.startswith("'nonce-")]
    assert len(nonce) >= 16
    return nonce


PAGES = ["/", "/tenantview/list/", "/tenantview/add", "/trajectoryview/add", "/debtview/list/",
         "/resetmypassword/form"]


def test_pages_send_security_headers_and_nonce_every_script(app, world, debt_id):
    client = PortalClient(app.test_client()).login("coordinator")
    anonymous = app.test_client()
    responses = [anonymous.get("/login/")] + [client.get(url) for url in PAGES]
    nonces = set()
    for response in responses:
        assert response.status_code == 200
        nonce = _assert_headers(response)
        nonces.add(nonce)
        html = response.get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts
        for tag in scripts:
            assert f'nonce="{nonce}"' in tag, tag
        # Inline event handlers and javascript: URLs would be blocked by this policy.
        assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.I)
        assert "javascript:" not in html.lower()
    assert len(nonces) == len(responses), "a nonce must never be reused"


def test_every_response_gets_the_headers(app, world):
    client = app.test_client()
    for response in (client.get("/static/portal.css"), client.get("/no-such-page"), client.get("/api/v1/menu/")):
        _assert_headers(response)


def test_the_throttled_page_has_the_headers_too(app, world):
    for attempt in range(per_account(app)):
        form_login(app, "nobody-else", "wrong", address=f"10.8.0.{attempt}")
    response = form_login(app, "nobody-else", "wrong", address="10.8.1.1")
    assert response.status_code == 429
    nonce = _assert_headers(response)
    assert all(f'nonce="{nonce}"' in tag for tag in re.findall(r"<script\b[^>]*>", response.get_data(as_text=True)))


# ---- Production ------------------------------------------------------------------------------

def _production(app, **settings):
    return create_app({
        **app.config, "PORTAL_ENV": "production", "TESTING": False, "DEBUG": False,
        "SECRET_KEY": secrets.token_urlsafe(48), "SERVER_NAME": "production.test", **settings,
    })


@pytest.mark.parametrize("settings, complaint", [
    ({"SECRET_KEY": DEVELOPMENT_SECRET_KEY}, "Set SECRET_KEY"),
    ({"SECRET_KEY": ""}, "Set SECRET_KEY"),
    ({"SECRET_KEY": "short-but-not-the-default"}, "SECRET_KEY is too short"),
    ({"DEBUG": True}, "Debug mode must be off"),
    ({"WTF_CSRF_ENABLED": False}, "CSRF"),
    ({"FAB_PASSWORD_COMPLEXITY_ENABLED": False}, "password policy"),
    ({"LOGIN_FAILURES_PER_ACCOUNT": ""}, "Login throttling"),
])
def test_production_refuses_to_start_unsafe(app, settings, complaint):
    with pytest.raises(RuntimeError, match=complaint):
        _production(app, **settings)


def test_production_with_a_real_key_starts_with_secure_cookies(app, world):
    production = _production(app)
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["REMEMBER_COOKIE_SECURE"] is True
    response = production.test_client().get("/login/")
    assert response.status_code == 200
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    _assert_headers(response)


def test_production_makes_cookies_secure_even_if_configured_otherwise(app):
    production = _production(app, SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False)
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["REMEMBER_COOKIE_SECURE"] is True
