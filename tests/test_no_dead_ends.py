"""No dead ends: every menu entry, button, link and form a user is shown opens for that user."""
import re
from collections import deque
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

import builders
from conftest import ACCOUNTS
from models import PortalUser, db
from test_access_matrix import cases, registered_crud_views  # noqa: F401  (cases: the matrix's test data)

NAVBAR = re.compile(r'<nav class="navbar[^"]*portal-navbar".*?</nav>', re.S)
HREF = re.compile(r'href="([^"#][^"]*)"')
TAG = re.compile(r"<(a|button|select|form)\b([^>]*)>", re.S)
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
# Not a page of its own: leaving the portal, switching its language, its files.
NOT_A_PAGE = re.compile(r"^/(logout|lang|language|static|appbuilder)/")
# A record's delete button posts by script (its rules: tests/test_authority_matrix.py).
PER_RECORD = re.compile(r"/delete/\d+")
# Flask-AppBuilder's hidden forms that the delete and action buttons aim by script.
SCRIPTED_FORMS = {"delete_form", "action_form"}


def menu_links(html) -> set:
    """The navbar's links, except logging out and switching the language."""
    navbar = NAVBAR.search(html).group(0)
    return {url for url in HREF.findall(navbar) if not NOT_A_PAGE.match(url)}


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_every_menu_entry_opens_for_whoever_sees_it(login, username):
    client = login(username)
    links = menu_links(client.get("/").get_data(as_text=True))
    assert links
    answers = {url: client.get(url).status_code for url in links}
    assert {url: status for url, status in answers.items() if status != 200} == {}


def targets(html, page) -> set:
    """(method, url) of every link, button, autocomplete and form on the page."""
    found = set()
    for tag, attributes in TAG.findall(html):
        attributes = dict(ATTRIBUTE.findall(attributes))
        if tag == "form":
            if attributes.get("id") not in SCRIPTED_FORMS:
                found.add((attributes.get("method", "get").upper(), attributes.get("action") or page))
            continue
        url = attributes.get("href") or attributes.get("data-url")
        if url and not url.startswith(("#", "javascript:")):
            found.add(("GET", url))
    return {(method, url.replace("&amp;", "&")) for method, url in found}


def left_out(url, page) -> bool:
    path = urlsplit(url).path
    return bool(
        NOT_A_PAGE.match(path) or PER_RECORD.search(path)
    )


class Crawl:
    """One account's walk over the portal: each kind of page (endpoint) opened once, every target on it tried."""

    def __init__(self, app, client, username):
        self.app, self.client = app, client
        self.urls = app.url_map.bind("portal.test")
        with app.app_context():
            user = db.session.execute(db.select(PortalUser).filter_by(username=username)).scalar_one()
            self.permissions = app.appbuilder.sm.get_user_permissions(user)
        self.problems = []
        self.opened = set()

    def endpoint(self, url, method):
        return self.urls.match(urlsplit(url).path, method=method)[0]

    def may_post(self, url) -> bool:
        """The crawl submits no form: the role must hold the permission the form's handler checks."""
        view_name, method = self.endpoint(url, "POST").split(".")
        view = next(v for v in self.app.appbuilder.baseviews if v.endpoint == view_name)
        return ("can_" + view.get_method_permission(method), view.class_permission_name) in self.permissions

    def run(self, start):
        pages = deque((url, "start") for url in start)
        while pages:
            url, linked_from = pages.popleft()
            try:
                kind = self.endpoint(url, "GET")
            except MethodNotAllowed:
                self.problems.append(f"{url} (on {linked_from}) cannot be opened: 405")
                continue
            except NotFound:
                kind = url
            if kind in self.opened:
                continue
            self.opened.add(kind)
            response = self.client.get(url)
            if response.status_code in (403, 405):
                self.problems.append(f"{url} (on {linked_from}) answers {response.status_code}")
            if response.status_code == 200 and response.mimetype == "text/html":
                self.follow(url, response.get_data(as_text=True), pages)
        return self.problems

    def follow(self, page, html, pages):
        for method, url in sorted(targets(html, page)):
            if left_out(url, page):
                continue
            if method == "POST":
                if not self.may_post(url):
                    self.problems.append(f"form to {url} on {page} is refused to this role")
            elif urlsplit(url).path != urlsplit(page).path:  # the same list sorted or paged
                pages.append((url, page))


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_no_link_button_or_form_leads_to_a_refusal(app, cases, login, username):
    client = login(username)
    crawl = Crawl(app, client, username)
    listed = [view for view in registered_crud_views(app)
              if ("can_list", view.class_permission_name) in crawl.permissions]
    assert crawl.run(["/", *(f"{view.route_base}/list/" for view in listed)]) == []
    # The walk reached a record's page of every screen the account can list.
    assert {f"{type(view).__name__}.show" for view in listed} <= crawl.opened


def test_record_evaluation_only_for_those_who_may_add_one(app, login, world):
    with app.app_context():
        tenant = builders.tenant("LK-E-0001", "Mitros")
        trajectory = builders.trajectory(tenant, involved=["Portaal", "Gemeente Utrecht"],
                                         start_date=date.today() - timedelta(days=100))
        builders.evaluation(trajectory, planned=date.today() - timedelta(days=10))
        db.session.commit()
        pages = [f"/trajectoryview/show/{trajectory.id}", "/evaluations-due/"]
    # Compiled afresh for a role that may add: what the first page decided must not stick (views/layout.py).
    app.jinja_env.cache.clear()
    for username, shown in [("coordinator", True), ("portaal", True), ("gemeente", False), ("viewer", False)]:
        client = login(username)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, (username, url)
            assert ("/evaluationview/add?" in response.get_data(as_text=True)) is shown, (username, url)
