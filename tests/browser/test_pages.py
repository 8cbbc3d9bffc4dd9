"""What a person expects of the pages, checked in Chromium on the demo data (`flask seed-demo`).

Besides the checks every page gets (tests/browser/portal.py), these look at lists, money, the
BSN, dates and the menu, and take the README's screenshots (into test-artifacts/browser/docs/;
copy them into docs/ to update the README).
"""
import re
import shutil

from openpyxl import load_workbook

from conftest import nl

from .conftest import docs_screenshot_folder

MONEY = re.compile(r"€ \d{1,3}(\.\d{3})*,\d{2}")
MENU = {
    nl("Cases"): [nl("Tenants"), nl("Trajectories"), nl("Agreements"), nl("Debts"), nl("Evaluations due"), nl("Evaluations"), nl("Interventions")],
    nl("Parties"): [nl("Organisations"), nl("Contacts")],
    nl("Reports"): [nl("Audit trail"), nl("Partner meeting workbook")],
}


def _docs_shot(window, name, full_page=True):
    """A README picture: 1280 px wide, the whole page or (for long ones) its first 1000 px."""
    folder = docs_screenshot_folder()
    if name == "dashboard":
        shutil.rmtree(folder, ignore_errors=True)
    window.page.set_viewport_size({"width": 1280, "height": 600 if full_page else 1000})
    window.page.evaluate("document.activeElement && document.activeElement.blur()")
    return window.shot(name, full_page=full_page, to=folder / f"{name}.png")


def _column(window, header):
    """The texts of one column of the page's main list, by its header."""
    table = window.page.locator("table.table-bordered.table-hover").first
    headers = [" ".join(h.split()) for h in table.locator("thead th").all_inner_texts()]
    index = headers.index(header)
    return [" ".join(t.split()) for t in table.locator(f"tbody tr > td:nth-child({index + 1})").all_inner_texts()]


def _date_order(page, field):
    """The order in which the browser's date fields take day, month and year from the keyboard (tried on `field`)."""
    field.focus()
    page.keyboard.type("01022000")
    order = ("month", "day", "year") if field.input_value() == "2000-01-02" else ("day", "month", "year")
    field.fill("")
    return order


def test_every_menu_entry_opens_its_page_marked_in_the_menu(staff, demo):
    coordinator = staff("coordinator")
    nav = coordinator.page.get_by_role("navigation", name=nl("Main menu"))
    for section, entries in MENU.items():
        for entry in entries:
            coordinator.menu(section, entry)
            current = nav.locator("[aria-current=page]")
            assert " ".join(current.inner_text().split()) == entry
            assert nav.locator("li.dropdown.active > a").inner_text().strip() == section


def test_the_coordinators_day_in_pictures(staff, demo, tmp_path):
    """The README's screenshots: dashboard, trajectories, a trajectory, evaluations due, the export."""
    coordinator = staff("coordinator")
    page = coordinator.page
    assert page.locator("#kpi-caseload-total").inner_text() == "63"
    assert MONEY.fullmatch(page.locator("#kpi-costs-avoided").inner_text())
    _docs_shot(coordinator, "dashboard")

    coordinator.menu(nl("Cases"), nl("Trajectories"))
    statuses = _column(coordinator, "Status")
    assert len(statuses) == 25 and set(statuses) <= {nl("Referred"), "Intake", nl("Financial overview"), nl("Agreement"),
                                                       nl("Running"), nl("Completed"), nl("Ended early")}
    assert page.locator("tbody .label").count() == 25  # each status as a badge
    assert all(MONEY.fullmatch(amount) for amount in _column(coordinator, nl("Total current debt")))
    involved = _column(coordinator, nl("Involved organisations"))
    assert any(", " in names for names in involved) and not any("[" in names for names in involved)
    _docs_shot(coordinator, "trajectories", full_page=False)

    # The list's export holds what the list shows.
    with page.expect_download() as download:
        page.get_by_role("link", name=nl("Export to Excel")).click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1:4] == (nl("Tenant"), "Status", nl("Referring organisation"))
    assert len(rows) == 1 + 63
    assert [row[2] for row in rows[1:26]] == statuses

    coordinator.goto("/")
    coordinator.click(page.locator("#table-interventions tbody tr").first.get_by_role("link"))
    assert coordinator.heading().startswith(f"{nl('Trajectory')}: LK-DEMO-")
    assert page.locator("#open-interventions tbody tr").count() >= 1
    _docs_shot(coordinator, "trajectory", full_page=False)

    coordinator.menu(nl("Cases"), nl("Evaluations due"))
    urgency = page.locator("#evaluations-due tbody .label").all_inner_texts()
    overdue, soon = (re.escape(nl(msgid, days="DAYS")).replace("DAYS", r"\d+")
                     for msgid in ("%(days)s days overdue", "in %(days)s days"))
    assert any(re.fullmatch(overdue, u) for u in urgency) and any(re.fullmatch(soon, u) for u in urgency), urgency
    _docs_shot(coordinator, "evaluations-due")

    coordinator.menu(nl("Reports"), nl("Partner meeting workbook"))
    coordinator.choose("organisation", "Portaal")
    with page.expect_download() as download:
        page.get_by_role("button", name=nl("Download workbook")).click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    book = load_workbook(path)
    assert len(book.worksheets) == 5 and book.worksheets[0].max_row > 5
    _docs_shot(coordinator, "partner-workbook")


def test_a_bsn_shows_masked_in_the_list_and_in_full_only_on_the_tenants_page(staff, demo):
    coordinator = staff("coordinator")
    coordinator.menu(nl("Cases"), nl("Tenants"))
    bsns = [b for b in _column(coordinator, "BSN") if b]
    assert bsns and all(re.fullmatch(r"●{6}\d{3}", b) for b in bsns)
    assert not re.search(r"\b\d{9}\b", coordinator.visible_text())
    row = coordinator.page.locator("table.table-bordered.table-hover tbody tr").filter(has_text="●●●●●●").first
    last_digits = re.search(r"●{6}(\d{3})", row.inner_text()).group(1)
    client_number = re.search(r"LK-DEMO-\d{4}", row.inner_text()).group(0)
    coordinator.click(row.get_by_role("link", name=nl("Show")))
    bsn_row = coordinator.page.get_by_role("row").filter(has=coordinator.page.get_by_role("rowheader", name="BSN", exact=True))
    full = bsn_row.get_by_role("cell").inner_text().strip()
    assert re.fullmatch(r"\d{9}", full) and full.endswith(last_digits)

    # A housing corporation's caseworker sees the tenant, but no BSN at all.
    portaal = staff("portaal")
    portaal.menu(nl("Cases"), nl("Tenants"))
    headers = portaal.page.locator("table.table-bordered.table-hover thead th").all_inner_texts()
    assert "BSN" not in [h.strip() for h in headers]
    portaal_row = portaal.page.locator("table.table-bordered.table-hover tbody tr").filter(has_text=client_number)
    if portaal_row.count():
        portaal.click(portaal_row.get_by_role("link", name=nl("Show")))
        assert "BSN" not in portaal.page.locator("th").all_inner_texts() and full not in portaal.visible_text()


def test_a_long_list_pages_and_sorts(staff, demo):
    coordinator = staff("coordinator")
    coordinator.menu(nl("Cases"), nl("Tenants"))
    page = coordinator.page
    count = page.locator(".portal-list-count")
    assert "60" in count.inner_text() and "1–25" in count.inner_text()
    first_page = _column(coordinator, nl("Client number"))
    last_names = _column(coordinator, nl("Last name"))
    assert len(first_page) == 25 and last_names == sorted(last_names, key=str.lower)  # the default order

    pager = page.get_by_role("navigation", name=nl("Pages"))
    coordinator.click(pager.get_by_role("link", name=nl("Next page")))
    second_page = _column(coordinator, nl("Client number"))
    assert "26–50" in page.locator(".portal-list-count").inner_text()
    assert len(second_page) == 25 and not set(second_page) & set(first_page)
    coordinator.click(pager.get_by_role("link", name=nl("Last page")))
    last_page = _column(coordinator, nl("Client number"))
    assert "51–60" in page.locator(".portal-list-count").inner_text() and len(last_page) == 10
    coordinator.click(pager.get_by_role("link", name=nl("First page")))
    assert _column(coordinator, nl("Client number")) == first_page

    header = page.locator("table.table-bordered.table-hover thead").get_by_role("link", name=nl("Client number"))
    coordinator.click(header)
    ascending = _column(coordinator, nl("Client number"))
    assert ascending == sorted(ascending) and ascending[0] == "LK-DEMO-0001"
    coordinator.click(page.locator("table.table-bordered.table-hover thead").get_by_role("link", name=nl("Client number")))
    descending = _column(coordinator, nl("Client number"))
    assert descending == sorted(descending, reverse=True) and descending[0] == "LK-DEMO-0060"
    coordinator.shot("tenants-by-client-number-descending")


def test_dates_can_be_picked_and_typed_in_the_readers_order(staff, demo):
    coordinator = staff("coordinator")
    coordinator.menu(nl("Cases"), nl("Evaluations"))
    coordinator.click(coordinator.page.get_by_role("link", name=nl("Add"), exact=True))
    planned = coordinator.page.get_by_label(nl("Planned date"))
    assert planned.get_attribute("type") == "date"
    assert (planned.get_attribute("min"), planned.get_attribute("max")) == ("1900-01-01", "2200-12-31")
    # The browser's own calendar opens for the field (showPicker needs the click's user activation).
    planned.click()
    assert coordinator.page.evaluate("el => { el.showPicker(); return true; }", planned.element_handle())
    coordinator.page.keyboard.press("Escape")
    # Typed by keyboard, in the order the browser shows the parts (its own language's: day first in
    # Dutch; this Chromium may show month first), without the picker.
    order = _date_order(coordinator.page, coordinator.page.get_by_label(nl("Held on")))
    planned.focus()
    coordinator.page.keyboard.type("".join({"day": "14", "month": "03", "year": "2027"}[part] for part in order))
    assert planned.input_value() == "2027-03-14"
    assert not coordinator.page.locator(".appbuilder_date, #datepicker").count()  # FAB's English picker is gone


def test_a_caseworker_opens_their_own_account_and_the_password_form(staff, demo):
    caseworker = staff("portaal")
    nav = caseworker.page.get_by_role("navigation", name=nl("Main menu"))
    nav.locator(".navbar-right .dropdown-toggle").click()
    caseworker.click(nav.get_by_role("link", name=nl("Your account")))
    assert caseworker.heading() == nl("Your account")
    assert "portaal" in caseworker.visible_text()
    caseworker.click(caseworker.page.get_by_role("link", name=nl("Reset my password")))
    assert caseworker.heading() == nl("Reset my password")
    assert caseworker.page.get_by_label(nl("Password"), exact=False).first.get_attribute("type") == "password"
