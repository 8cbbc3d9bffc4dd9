"""Every list exports to real Excel: what the list shows, all pages, typed cells, safe text."""
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

import builders
from conftest import nl
from flask_babel import force_locale

from models import DebtCategory, DebtStatus, Tenant, db
from views.declared import export_fields
from views.tenant import TenantView


def workbook(response):
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.data))


def export_headers(app, view_class, hidden=()):
    """What an export's header row must say: the list's columns, then every other field the model declares."""
    view = next(v for v in app.appbuilder.baseviews if isinstance(v, view_class))
    names = [name for name in export_fields(view.datamodel.obj, view.list_columns) if name not in hidden]
    with app.test_request_context(), force_locale("en"):
        return ["No.", *(str(view.label_columns.get(name, name)) for name in names)]


def table(response):
    """(headers, rows) of the exported sheet."""
    sheet = workbook(response).active
    rows = list(sheet.iter_rows(values_only=True))
    return list(rows[0]), [list(r) for r in rows[1:]]


@pytest.fixture
def tenants(app, world):
    """Thirty tenants (more than one page), in two cities, with a running trajectory each."""
    with app.app_context():
        for number in range(30):
            tenant = builders.tenant(
                f"LK-E-{number:04d}", "Portaal" if number % 2 else "Mitros", last_name=f"Achternaam{number:02d}",
                city="Utrecht" if number < 20 else "Nieuwegein", date_of_birth=date(1970, 1, 1) + timedelta(days=number),
                monthly_rent=Decimal("600.50") + number, bsn="111222333" if number == 0 else None,
            )
            trajectory = builders.trajectory(tenant, start_date=date(2026, 1, 1))
            builders.debt(trajectory, balance=f"{100 + number}.25", original="500.00",
                          category=DebtCategory.energy if number % 2 else DebtCategory.rent_arrears,
                          status=DebtStatus.payment_arrangement, registered_on=date(2026, 2, 1), is_expected_cost=number == 3)
        db.session.commit()


def test_export_holds_every_page_of_the_list(app, login, tenants):
    client = login("coordinator")
    client.get("/lang/en")
    headers, rows = table(client.get("/tenantview/export/xlsx/"))
    assert headers == export_headers(app, TenantView)
    assert "Psychosocial notes" not in headers  # special-category notes never go out in bulk by default
    assert len(rows) == 30
    # The list's default order (last name) holds across all pages.
    last_name = headers.index("Last name")
    assert [r[last_name] for r in rows] == sorted(r[last_name] for r in rows)
    # As on the screen, the list's BSN column shows only the last three digits.
    assert [r[headers.index("BSN")] for r in rows if r[headers.index("BSN")]] == ["●●●●●●333"]


def test_a_role_without_the_bsn_exports_no_bsn_column(app, login, tenants):
    client = login("portaal")
    client.get("/lang/en")
    headers, rows = table(client.get("/tenantview/export/xlsx/"))
    assert headers == export_headers(app, TenantView, hidden={"bsn", "psychosocial_notes"})
    assert "BSN" not in headers
    assert not any("333" in str(value) for row in rows for value in row)


def test_export_follows_the_lists_filter_search_and_order(login, tenants):
    client = login("coordinator")
    query = "_flt_0_city=Nieuwegein&_oc_TenantView=client_number&_od_TenantView=desc"
    listing = client.get(f"/tenantview/list/?{query}").get_data(as_text=True)
    assert f"/tenantview/export/xlsx/?{query}".replace("&", "&amp;") in listing
    client.get("/lang/en")
    headers, rows = table(client.get(f"/tenantview/export/xlsx/?{query}"))
    assert [r[headers.index("Client number")] for r in rows] == [f"LK-E-{n:04d}" for n in range(29, 19, -1)]
    assert all(r[headers.index("City")] == "Nieuwegein" for r in rows)


def test_cells_are_typed_and_readable(login, tenants):
    client = login("coordinator")
    client.get("/lang/en")
    book = workbook(client.get("/debtview/export/xlsx/?_oc_DebtView=current_balance&_od_DebtView=asc"))
    sheet = book.active
    headers = [c.value for c in sheet[1]]
    assert headers[:5] == ["No.", "Trajectory", "Creditor", "Category", "Status"]
    first = {header: cell for header, cell in zip(headers, sheet[2])}
    assert first["Current balance"].value == pytest.approx(100.25)
    assert first["Current balance"].data_type == "n" and "€" in first["Current balance"].number_format
    assert first["Category"].value == "Rent arrears" and first["Status"].value == "Payment arrangement"
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet[1][-1].column_letter}31"
    assert sheet.column_dimensions["B"].width >= 20


def test_dates_and_booleans(app, login, tenants):
    client = login("coordinator")
    client.get("/lang/en")
    from views.debt import DebtView

    DebtView.export_columns = ["creditor", "registered_on", "is_expected_cost"]
    try:
        headers, rows = table(client.get("/debtview/export/xlsx/"))
    finally:
        DebtView.export_columns = None
    sheet = workbook(client.get("/debtview/export/xlsx/")).active
    assert headers == ["No.", "Creditor", "Registered on", "Expected future cost"]
    assert rows[0][2] == datetime(2026, 2, 1)
    assert {r[3] for r in rows} == {"Yes", "No"}
    assert sheet is not None


def test_date_cells_have_a_date_format(login, tenants):
    client = login("coordinator")
    sheet = workbook(client.get("/trajectoryview/export/xlsx/")).active
    headers = [c.value for c in sheet[1]]
    start = sheet[2][headers.index(nl("Start date"))]
    assert start.is_date and start.number_format.lower() == "dd-mm-yyyy"


def test_file_name_has_entity_and_date(login, tenants):
    response = login("coordinator").get("/tenantview/export/xlsx/")
    assert f'{nl("tenants")}-{date.today().isoformat()}.xlsx' in response.headers["Content-Disposition"]


def test_formula_in_user_text_stays_text(app, login, world):
    payload = '=HYPERLINK("http://x","y")'
    with app.app_context():
        builders.tenant("LK-X-0001", last_name=payload, first_name="+31 6 1234", city="-Utrecht", street="@home")
        db.session.commit()
    book = workbook(login("coordinator").get("/tenantview/export/xlsx/"))
    row = book.active[2]
    cells = {cell.value: cell for cell in row}
    for text in (payload, "+31 6 1234", "-Utrecht"):
        assert cells[text].data_type == "s", text  # a string cell, never a formula ("f")
        assert cells[text].quotePrefix
    raw = io.BytesIO(login("coordinator").get("/tenantview/export/xlsx/").data)
    import zipfile

    sheet_xml = zipfile.ZipFile(raw).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml


def test_export_leaves_out_hidden_fields(app, login, world):
    from views.tenant import TenantView

    with app.app_context():
        builders.tenant("LK-S-0001", bsn="111222333", psychosocial_notes="vertrouwelijk")
        db.session.commit()
    TenantView.export_columns = ["client_number", "bsn", "psychosocial_notes"]
    try:
        coordinator_headers, coordinator_rows = table(login("coordinator").get("/tenantview/export/xlsx/"))
        portaal_headers, portaal_rows = table(login("portaal").get("/tenantview/export/xlsx/"))
    finally:
        TenantView.export_columns = None
    assert coordinator_rows[0][2] == "111222333" and coordinator_rows[0][3] == "vertrouwelijk"
    assert len(portaal_headers) == 2 and portaal_rows == [[coordinator_rows[0][0], "LK-S-0001"]]


def test_export_needs_a_login(app, world):
    response = app.test_client().get("/tenantview/export/xlsx/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_export_of_an_empty_list_is_a_header_only_workbook(login, world):
    headers, rows = table(login("coordinator").get("/debtview/export/xlsx/"))
    assert headers[0] == nl("No.") and rows == []
