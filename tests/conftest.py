"""Fixtures: one app and schema per run, a clean database and fresh accounts per test.

Runs on SQLite by default and on PostgreSQL when PORTAL_TEST_DATABASE_URL is set.
"""
import functools
import os
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
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


def form_values(html: str, form_id: str = "model_form") -> dict:
    """What a browser posts for the form `form_id` as rendered, before the user changes anything.

    Follows the HTML standard's form submission: disabled controls, buttons and unticked boxes are
    left out; a ticked box sends its value ("on" without one); a select sends its selected options
    (a plain select with none selected, its first enabled option); a multiple select, and a name
    sent more than once, give a list. Text inputs drop line breaks, a date or number input that
    does not hold a valid value sends "", and line breaks are sent as CRLF. File inputs are not sent.
    """
    parser = _FormParser(form_id)
    parser.feed(html)
    parser.close()
    assert parser.found, f'no <form id="{form_id}"> on the page'
    values = {}
    for name, value in parser.entries:
        value = re.sub(r"\r\n|\r|\n", "\r\n", value)
        if name in values or name in parser.multiple:
            previous = values.get(name, [])
            values[name] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            values[name] = value
    for name in parser.multiple:
        values.setdefault(name, [])
    return values


class _FormParser(HTMLParser):
    """Collects the entries one form would submit (see `form_values`)."""

    NOT_SENT = {"submit", "image", "reset", "button", "file"}
    TEXT = {"text", "search", "tel", "password", "hidden", "url", "email"}

    def __init__(self, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id, self.found, self.inside = form_id, False, False
        self.entries, self.multiple = [], set()
        self.fieldsets = []  # whether each open fieldset is disabled
        self.select = self.textarea = self.option = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
            self.found = self.found or self.inside
        if not self.inside:
            return
        disabled = "disabled" in attrs or any(self.fieldsets)
        if tag == "fieldset":
            self.fieldsets.append(disabled)
        elif tag == "input":
            self._input(attrs, disabled)
        elif tag == "select":
            self.select = {"name": attrs.get("name"), "disabled": disabled, "multiple": "multiple" in attrs,
                           "options": []}
        elif tag == "option" and self.select is not None:
            self.option = {"value": attrs.get("value"), "text": "", "selected": "selected" in attrs,
                           "disabled": "disabled" in attrs}
            self.select["options"].append(self.option)
        elif tag == "textarea":
            self.textarea = {"name": attrs.get("name"), "disabled": disabled, "text": ""}

    def _input(self, attrs, disabled):
        kind = (attrs.get("type") or "text").lower()
        name = attrs.get("name")
        if not name or disabled or kind in self.NOT_SENT:
            return
        value = attrs.get("value")
        if kind in ("checkbox", "radio"):
            if "checked" in attrs:
                self.entries.append((name, "on" if value is None else value))
            return
        value = value or ""
        if kind in self.TEXT:
            value = value.replace("\r", "").replace("\n", "")
        if kind in ("url", "email"):
            value = value.strip()
        if kind == "date" and not re.fullmatch(r"\d{4,}-\d\d-\d\d", value):
            value = ""
        if kind == "number" and not re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", value):
            value = ""
        self.entries.append((name, value))

    def handle_data(self, data):
        if self.option is not None:
            self.option["text"] += data
        elif self.textarea is not None:
            self.textarea["text"] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "fieldset" and self.inside and self.fieldsets:
            self.fieldsets.pop()
        elif tag == "option":
            self.option = None
        elif tag == "select" and self.select is not None:
            self._close_select(self.select)
            self.select = self.option = None
        elif tag == "textarea" and self.textarea is not None:
            area, self.textarea = self.textarea, None
            if area["name"] and not area["disabled"]:
                text = area["text"].replace("\r\n", "\n").replace("\r", "\n")
                self.entries.append((area["name"], text[1:] if text.startswith("\n") else text))

    def _close_select(self, select):
        options = select["options"]
        for option in options:
            if option["value"] is None:
                option["value"] = " ".join(option["text"].split())
        if not select["name"] or select["disabled"]:
            return
        if select["multiple"]:
            self.multiple.add(select["name"])
            chosen = [o for o in options if o["selected"]]
        else:
            selected = [o for o in options if o["selected"]]
            enabled = [o for o in options if not o["disabled"]]
            chosen = selected[-1:] or enabled[:1]
        self.entries.extend((select["name"], o["value"]) for o in chosen if not o["disabled"])


@functools.cache
def dutch_catalogue():
    with open(Path(__file__).parent.parent / "translations/nl/LC_MESSAGES/messages.po", "rb") as po:
        return read_po(po)


def nl(msgid: str, **variables) -> str:
    """The Dutch text a user sees for `msgid`, from the catalogue, so a translator may reword it.

    Fails when the catalogue has no finished Dutch entry: the page would then show English.
    """
    message = dutch_catalogue().get(msgid)
    assert message and message.string and not message.fuzzy, f"no Dutch translation of {msgid!r} in the catalogue"
    return message.string % variables if variables else message.string


class RecordMessage:
    """Matches the message after a record was added, saved or deleted, whatever the record's own name:
    "Huurder “Anna de Vries (LK-1)” is opgeslagen." as the catalogue words it."""

    def __init__(self, action: str, table: str):
        from models import registry

        label = nl(registry.entity(table).label._args[0])
        self.prefix, self.suffix = nl(f"%(record)s was {action}.", record=f"{label} “\x00”").split("\x00")

    def __eq__(self, text):
        return isinstance(text, str) and text.startswith(self.prefix) and text.endswith(self.suffix)

    def __repr__(self):
        return f"<message {self.prefix}…{self.suffix}>"


def record_message(action: str, table: str) -> RecordMessage:
    return RecordMessage(action, table)


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
