"""Lists of any length: counted up to LIST_COUNT_LIMIT, paged from the start or the end, exactly when asked.

Every check runs with both shapes of the scope clause (row by row, and from the organisation's
cases), since which one a query uses depends on how much of the region an organisation sees.
"""
import html
import re

import pytest

import builders
from models import db, scope

LIMIT = 5


@pytest.fixture(params=["row by row", "from the cases"])
def shape(request, monkeypatch):
    monkeypatch.setattr(scope, "BROAD_SHARE", 0.0 if request.param == "row by row" else 2.0)
    return request.param


@pytest.fixture
def tenants(app, world, monkeypatch, shape):
    """Portaal's tenants PT-01..07 and Mitros's MT-01..05, their last names sorting in that order."""
    monkeypatch.setitem(app.config, "LIST_COUNT_LIMIT", LIMIT)
    with app.app_context():
        for corporation, prefix, number in (("Portaal", "PT", 7), ("Mitros", "MT", 5)):
            for i in range(1, number + 1):
                trajectory = builders.trajectory(builders.tenant(f"{prefix}-{i:02d}", corporation,
                                                                 last_name=f"{prefix} Achternaam {i:02d}"),
                                                 involved=("Het Vierde Huis",))
                assert trajectory.id
        db.session.commit()


def clients_on(page) -> list:
    return re.findall(r"\b([PM]T-\d\d)\b", page)


def pager_link(page, title) -> str | None:
    found = re.search(rf'<a href="([^"]+)" title="{title}"', page)
    return html.unescape(found.group(1)) if found else None


def count_line(page) -> str:
    found = re.search(r'class="pull-right portal-list-count">(.*?)</div>', page, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def get(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return response.get_data(as_text=True)


EVERY = [f"MT-{i:02d}" for i in range(1, 6)] + [f"PT-{i:02d}" for i in range(1, 8)]
PORTAAL = [f"PT-{i:02d}" for i in range(1, 8)]


@pytest.mark.parametrize("username, visible", [("coordinator", EVERY), ("portaal", PORTAAL)])
def test_a_long_list_pages_from_either_end_without_counting_every_row(login, tenants, username, visible):
    client = login(username)
    client.get("/lang/en")
    first = get(client, "/tenantview/list/?psize_TenantView=2")
    assert clients_on(first) == visible[:2]
    assert count_line(first).startswith(f"Record Count: more than {LIMIT}")
    assert "(1–2)" in count_line(first)

    second = get(client, pager_link(first, "Next page"))
    assert clients_on(second) == visible[2:4]

    last = get(client, pager_link(first, "Last page"))
    assert clients_on(last) == visible[-2:]
    assert "the last 2" in count_line(last)
    assert pager_link(last, "Next page") is None and pager_link(last, "Last page") is None

    before_last = get(client, pager_link(last, "Previous page"))
    assert clients_on(before_last) == visible[-4:-2]
    assert clients_on(get(client, pager_link(before_last, "Next page"))) == visible[-2:]
    assert clients_on(get(client, pager_link(before_last, "First page"))) == visible[:2]

    exact = get(client, pager_link(first, "Last page").replace("last_TenantView=1", "") + "&count_TenantView=all")
    assert count_line(exact).startswith(f"Record Count: {len(visible)}")
    counted_last = get(client, pager_link(exact, "Last page"))
    assert clients_on(counted_last) == visible[-(len(visible) % 2 or 2):]
    assert f"Record Count: {len(visible)}" in count_line(counted_last)


def test_a_short_list_is_counted_exactly_and_has_no_count_all_link(login, tenants, app):
    app.config["LIST_COUNT_LIMIT"] = 50
    client = login("portaal")
    client.get("/lang/en")
    page = get(client, "/tenantview/list/?psize_TenantView=5")
    assert count_line(page).startswith("Record Count: 7") and "count all" not in page
    last = get(client, pager_link(page, "Last page"))
    assert "page_TenantView=1" in pager_link(page, "Last page")
    assert clients_on(last) == PORTAAL[5:]


def test_the_last_page_follows_the_chosen_order(login, tenants):
    client = login("coordinator")
    client.get("/lang/en")
    first = get(client, "/tenantview/list/?psize_TenantView=3&_oc_TenantView=client_number&_od_TenantView=desc")
    assert clients_on(first) == sorted(EVERY, reverse=True)[:3]
    assert clients_on(get(client, pager_link(first, "Last page"))) == sorted(EVERY, reverse=True)[-3:]


@pytest.mark.parametrize("argument", ["last_TenantView=abc", "last_TenantView=-1", "last_TenantView=99999999"])
def test_a_malformed_page_argument_answers_400(login, tenants, argument):
    assert login("coordinator").get(f"/tenantview/list/?{argument}").status_code == 400


def test_a_list_counts_only_as_far_as_its_pager_reaches(login, tenants, app):
    """The first page's pager reaches three pages ahead: it counts eight rows of two (and one more), no further."""
    app.config["LIST_COUNT_LIMIT"] = 50
    client = login("coordinator")
    client.get("/lang/en")
    first = get(client, "/tenantview/list/?psize_TenantView=2")
    assert count_line(first).startswith("Record Count: more than 8")
    pager = re.search(r'<nav class="portal-pager".*?</nav>', first, re.S).group(0)
    assert re.findall(r">(\d+)</(?:a|span)>", pager) == ["1", "2", "3", "4", "5"]  # the ninth row is on page 5
    fourth = get(client, "/tenantview/list/?psize_TenantView=2&page_TenantView=3")
    assert count_line(fourth).startswith(f"Record Count: {len(EVERY)}")  # counted to page 7: all 12
    assert clients_on(fourth) == EVERY[6:8]
