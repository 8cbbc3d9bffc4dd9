"""Fixtures: one app and schema per run, a clean database and fresh accounts per test.

Runs on SQLite by default and on PostgreSQL when PORTAL_TEST_DATABASE_URL is set.
"""
import os
import re
from datetime import date

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.security import generate_password_hash

from app import create_app
from commands import sync_roles
from models import Model, Organisation, OrganisationKind, PortalUser, db
from models.scope import forget_shares

PASSWORD = "Demo-2026!"
# Roles and permissions are made once per run by `sync_roles`; every other table is emptied per test.
KEPT_TABLES = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_role", "ab_permission_view_role"}
ACCOUNTS = {
    # username: (organisation, role)
    "admin": ("Het Vierde Huis", "Admin"),
    "coordinator": ("Het Vierde Huis", "Coordinator"),
    "portaal": ("Portaal", "Caseworker"),
    "mitros": ("Mitros", "Caseworker"),
    "gemeente": ("Gemeente Utrecht", "Finance"),
    "buurtteam": ("Buurtteam Overvecht", "Caseworker"),
    "viewer": ("Mitros", "Viewer"),
}
ORGANISATIONS = {
    "Het Vierde Huis": OrganisationKind.coordinator,
    "Gemeente Utrecht": OrganisationKind.municipality,
    "Portaal": OrganisationKind.housing_corporation,
    "Mitros": OrganisationKind.housing_corporation,
    "Buurtteam Overvecht": OrganisationKind.neighbourhood_team,
    "Buurtteam Zuidwest": OrganisationKind.neighbourhood_team,
}


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal-test.db'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": True,
        "SERVER_NAME": "portal.test",
    })
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        else:
            Model.metadata.drop_all(db.engine)
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        sync_roles()
        db.session.remove()
    app.config["TEST_PASSWORD_HASH"] = generate_password_hash(PASSWORD)
    return app


@pytest.fixture
def world(app):
    """A clean database with the process's organisations and one account per role."""
    with app.app_context():
        _empty_case_tables()
        forget_shares()
        organisations = {name: Organisation(name=name, kind=kind) for name, kind in ORGANISATIONS.items()}
        db.session.add_all(organisations.values())
        db.session.flush()
        sm = app.appbuilder.sm
        for username, (organisation, role) in ACCOUNTS.items():
            user = PortalUser(
                username=username, first_name=username.title(), last_name="Test",
                email=f"{username}@example.nl", active=True,
                password=app.config["TEST_PASSWORD_HASH"], roles=[sm.find_role(role)],
                organisation=organisations[organisation],
            )
            db.session.add(user)
        db.session.commit()
        ids = {name: org.id for name, org in organisations.items()}
        db.session.remove()
    yield ids
    with app.app_context():
        db.session.remove()


def _empty_case_tables():
    with db.engine.begin() as connection:
        for table in reversed(Model.metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                connection.execute(table.delete())


class PortalClient:
    """A test client that logs in through the form and posts forms with their CSRF token."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def csrf_token(self, url) -> str:
        page = self.client.get(url)
        assert page.status_code == 200, f"{url} answered {page.status_code}"
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def post_form(self, url, data, form_url=None, **kwargs):
        """POST `data` to `url` with the token of the form page (`form_url`, default `url`)."""
        payload = {"csrf_token": self.csrf_token(form_url or url), **data}
        return self.client.post(url, data=payload, **kwargs)

    def login(self, username, password=PASSWORD):
        response = self.post_form("/login/", {"username": username, "password": password})
        assert response.status_code == 302 and "/login" not in response.headers["Location"], f"login of {username} failed"
        return self


@pytest.fixture
def login(app, world):
    """`login("portaal")` gives a PortalClient logged in as that demo account."""
    clients = []

    def _login(username):
        client = PortalClient(app.test_client())
        clients.append(client)
        return client.login(username)

    yield _login


def form_values(html: str) -> dict:
    """The current values of a rendered form's inputs and selects, as a browser would post them."""
    values = {}
    for name, value in re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', html):
        values[name] = value
    for name, body in re.findall(r'<select[^>]*?name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        selected = re.findall(r'<option[^>]*selected[^>]*value="([^"]*)"|<option[^>]*value="([^"]*)"[^>]*selected', body)
        values[name] = next((a or b for a, b in selected), "")
    for name, text in re.findall(r'<textarea[^>]*?name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        values[name] = text.strip()
    return values


@pytest.fixture
def today():
    return date.today()


def messages(response) -> list:
    """The alert texts (flash messages and field errors) a user sees on a page, whitespace folded."""
    html = response.get_data(as_text=True)
    found = re.findall(r'<div class="alert alert-[a-z]+"[^>]*>(.*?)</div>', html, re.S)
    texts = [re.sub(r"<[^>]+>|&times;", " ", text) for text in found]
    return [" ".join(html_unescape(text).split()) for text in texts]


def html_unescape(text):
    import html

    return html.unescape(text)
