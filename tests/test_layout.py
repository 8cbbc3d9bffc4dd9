"""The page frame (views/layout.py): titles, language, the language switch, error pages, own account."""
import re

import pytest

from conftest import ACCOUNTS, nl


def _title(html) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def test_every_page_is_titled_after_itself_and_speaks_its_language(login, world):
    client = login("coordinator")
    html = client.get("/tenantview/list/").get_data(as_text=True)
    assert _title(html) == f"{nl('Tenants')} – Laatste Kans" and '<html lang="nl">' in html
    client.get("/language/en?next=/")
    html = client.get("/tenantview/list/").get_data(as_text=True)
    assert _title(html) == "Tenants – Laatste Kans" and '<html lang="en">' in html


def test_the_language_switch_returns_to_the_page_it_was_made_on(login, world):
    client = login("coordinator")
    response = client.get("/language/en?next=/evaluations-due/?page=0")
    assert response.status_code == 302 and response.headers["Location"] == "/evaluations-due/?page=0"
    html = client.get("/evaluations-due/").get_data(as_text=True)
    assert 'href="/language/nl?next=/evaluations-due/"' in html


@pytest.mark.parametrize("target", ["https://example.org/", "//example.org/x", "/\\example.org", "javascript:alert(1)", ""])
def test_the_language_switch_never_leaves_the_portal(login, world, target):
    response = login("coordinator").get(f"/language/en?next={target}")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_an_unknown_language_changes_nothing(login, world):
    client = login("coordinator")
    client.get("/language/xx?next=/")
    assert '<html lang="nl">' in client.get("/").get_data(as_text=True)


def test_a_missing_record_is_a_portal_page_in_the_users_language(login, world):
    response = login("viewer").get("/trajectoryview/show/999999")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert _title(html) == f"{nl('Not found')} – Laatste Kans" and nl("Main menu") in html


@pytest.mark.parametrize("language,heading", [
    ("nl", nl("You do not have permission for this")), ("en", "You do not have permission for this"),
])
@pytest.mark.parametrize("username,url", [("viewer", "/debtview/add"), ("portaal", "/auditview/list/")])
def test_a_refused_page_is_a_portal_page_in_the_users_language(login, world, language, heading, username, url):
    client = login(username)
    client.get(f"/language/{language}?next=/")
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert _title(html) == f"{heading} – Laatste Kans" and f'<html lang="{language}">' in html
    assert 'class="col-md-8 col-md-offset-2 portal-error"' in html
    # No form of the refused page: only the menu's Log out button posts.
    assert all('action="/logout/"' in form for form in re.findall(r"<form\b[^>]*>", html))


def test_a_refused_form_post_is_the_same_portal_page(login, world):
    client = login("viewer")
    client.get("/language/en?next=/")
    response = client.post_form("/debtview/add", {"creditor": "Eneco"}, form_url="/resetmypassword/form")
    assert response.status_code == 403
    assert _title(response.get_data(as_text=True)) == "You do not have permission for this – Laatste Kans"


def test_the_api_gets_no_portal_pages(app, world):
    response = app.test_client().get("/api/v1/nothing-here")
    assert response.status_code == 404 and nl("Main menu") not in response.get_data(as_text=True)


def test_the_browser_finds_the_favicon(app, world):
    response = app.test_client().get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_everyone_can_open_their_own_account_and_change_their_password(login, username):
    client = login(username)
    account = client.get("/users/userinfo/")
    assert account.status_code == 200, account.status_code
    assert "/resetmypassword/form" in account.get_data(as_text=True)
    assert client.get("/resetmypassword/form").status_code == 200
