"""The portal speaks Dutch by default and English on request: labels, menus, choices, dates and money."""
from datetime import date

import pytest

import builders
from conftest import html_unescape, nl
from models import DebtStatus, db


@pytest.fixture
def case(app, world):
    with app.app_context():
        trajectory = builders.trajectory(builders.tenant(), start_date=date(2026, 3, 1))
        builders.debt(trajectory, balance="1234.56", original="2000.00", status=DebtStatus.payment_arrangement,
                      registered_on=date(2026, 3, 5))
        db.session.commit()


def test_a_list_in_dutch(login, case):
    html = login("coordinator").get("/debtview/list/").get_data(as_text=True)
    for english in ("Debts", "Creditor", "Current balance", "Payment arrangement", "Energy", "Trajectories", "Tenants"):
        assert nl(english) in html, english
    assert "€\xa01.234,56" in html or "€ 1.234,56" in html
    assert "Current balance" not in html and "Payment arrangement" not in html


def test_a_list_in_english(login, case):
    client = login("coordinator")
    client.get("/lang/en")
    html = client.get("/debtview/list/").get_data(as_text=True)
    for english in ("Debts", "Creditor", "Current balance", "Payment arrangement", "Energy", "Trajectories", "Tenants"):
        assert english in html, english
    assert nl("Creditor") not in html


def test_dates_read_as_day_month_year_in_dutch(login, case):
    client = login("coordinator")
    html = client.get("/trajectoryview/list/").get_data(as_text=True)
    assert "01-03-2026" in html


def test_a_form_in_both_languages(login, case):
    client = login("coordinator")
    html = client.get("/tenantview/add").get_data(as_text=True)
    labels = ("Client number", "Last name", "Housing corporation", "Personal details", "Save")
    for english in labels:
        assert nl(english) in html, english
    client.get("/lang/en")
    html = client.get("/tenantview/add").get_data(as_text=True)
    for english in labels:
        assert english in html, english


def test_form_messages_are_translated(login, world):
    client = login("coordinator")
    from test_crud import TENANT_FORM

    response = client.post_form("/tenantview/add", {**TENANT_FORM, "postcode": "x", "housing_corporation": str(world["Portaal"])})
    assert nl("Enter a Dutch postcode, for example 3511 AB.") in html_unescape(response.get_data(as_text=True))
