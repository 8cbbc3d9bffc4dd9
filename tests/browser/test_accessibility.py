"""Accessibility basics, checked in Chromium: labels bound to fields, keyboard-only use of the login
and of an edit form, contrast of the status badges, and `<html lang>` following the language."""
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

import builders
from conftest import nl, record_message
from models import (
    AgreementStatus, Assessment, DebtStatus, Obligation, ObligationStatus, SigningParty, Tenant, TrajectoryStatus, db,
)

from .contrast import NORMAL_TEXT

TODAY = date.today()
# Every form field of the page's main content, with the labels bound to it (label[for] = its id).
FIELDS = """() => [...document.querySelectorAll('main input, main select, main textarea')]
    .filter(el => !['hidden', 'submit', 'button'].includes(el.type) && !el.closest('.select2-container'))
    .filter(el => el.checkVisibility() || el.classList.contains('select2-hidden-accessible'))
    .map(el => ({id: el.id, name: el.name, labels: [...(el.labels || [])].map(l => l.innerText.trim()),
                 aria: el.getAttribute('aria-label') || (el.getAttribute('aria-labelledby') || '').split(' ')
                     .map(id => document.getElementById(id)).filter(Boolean).map(e => e.textContent.trim()).join(' ')}))"""
# Every select2 box (role=combobox) and the text of the elements that name it.
COMBOBOXES = """() => [...document.querySelectorAll('main .select2-selection[role=combobox]')].map(box => ({
    select: box.closest('.select2-container').previousElementSibling.id,
    name: (box.getAttribute('aria-label') || (box.getAttribute('aria-labelledby') || '').split(' ')
        .map(id => document.getElementById(id)).filter(Boolean).map(el => el.textContent.trim()).join(' '))}))"""


def _unlabelled(window) -> list:
    fields = window.page.evaluate(FIELDS)
    assert fields, f"{window.page.url}: no form fields found"
    problems = [f"{f['name'] or f['id']}: labels {f['labels']}" for f in fields
                if not f["aria"] and (len(f["labels"]) != 1 or not f["labels"][0] or not f["id"])]
    labels = {f["id"]: (f["labels"] or [f["aria"]])[0] for f in fields}
    for box in window.page.evaluate(COMBOBOXES):
        wanted = labels.get(box["select"], "").replace("*", "").strip()
        if not wanted or wanted not in box["name"]:
            problems.append(f"select2 box of {box['select']} is named {box['name']!r}, not after {wanted!r}")
    return [f"{window.page.url}: {p}" for p in problems]


@pytest.fixture
def case(app, world):
    with app.app_context():
        tenant = builders.tenant("LK-2026-0606", first_name="Joris", last_name="Smit", phone="030-1112233",
                                 household_size=1)
        trajectory = builders.trajectory(tenant, start_date=TODAY - timedelta(days=100))
        builders.agreement(trajectory)
        db.session.commit()
        return {"tenant": tenant.id, "trajectory": trajectory.id}


def test_every_field_of_the_main_forms_has_its_label(staff, case):
    window = staff()
    window.goto("/login/")
    problems = _unlabelled(window)
    window.login("coordinator")
    forms = ["/tenantview/add", "/trajectoryview/add", "/debtview/add", "/evaluationview/add", "/agreementview/add",
             "/signatureview/add", "/obligationview/add", f"/tenantview/edit/{case['tenant']}",
             f"/trajectoryview/edit/{case['trajectory']}", "/partner-workbook/form"]
    for path in forms:
        window.goto(path)
        problems += _unlabelled(window)
    # A list's search filters, added by the page's script, are named after their column too.
    window.goto("/tenantview/list/")
    window.page.get_by_role("link", name=nl("Search")).click()
    window.page.get_by_role("button", name=nl("Add Filter")).click()
    window.page.locator("#filter_form").get_by_role("link", name=nl("Housing corporation")).click()
    problems += _unlabelled(window)
    assert window.page.get_by_role("combobox", name=re.compile(re.escape(nl("Housing corporation")))).count() == 2  # how, and which
    assert not problems, "\n".join(problems)


def test_logging_in_with_the_keyboard_alone(staff, world):
    window = staff()
    window.goto("/login/")
    page = window.page
    username, password = page.locator("#username"), page.locator("#password")
    assert (username.get_attribute("autocomplete"), password.get_attribute("autocomplete")) == ("username", "current-password")
    assert page.evaluate("document.activeElement.id") == "username"  # the cursor starts in the first field
    page.keyboard.type("mitros")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("wrong password")
    window.press("Enter")
    assert nl("Invalid login. Please try again.") in window.messages()
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("mitros")
    page.keyboard.press("Tab")
    page.keyboard.type("Demo-2026!")
    window.press("Enter")
    assert page.url.endswith("/") and window.heading().startswith("Dashboard")
    # The first Tab reaches the link past the menu; it puts the keyboard at the page's content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == nl("Skip to content")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"


def _tab_to(page, matches, limit=80):
    """Press Tab until the focused element matches (a JS predicate on document.activeElement)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => {matches})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element where {matches}")


def test_an_edit_form_filled_and_saved_with_the_keyboard_alone(app, staff, case):
    window = staff("portaal")
    window.goto(f"/tenantview/edit/{case['tenant']}")
    page = window.page
    _tab_to(page, "el.id === 'date_of_birth'")
    page.keyboard.type("05051985")  # the same in day-month and month-day order
    _tab_to(page, "el.id === 'phone'")
    page.keyboard.press("Control+a")
    page.keyboard.type("06-12345678")
    _tab_to(page, "el.id === 'monthly_rent'")
    page.keyboard.type("712,40")
    _tab_to(page, "(el.getAttribute('aria-labelledby') || '').startsWith('label-household')")
    page.keyboard.press("Enter")  # opens the choices; typing searches them
    page.keyboard.type("Alleenst")
    page.keyboard.press("Enter")
    assert window.field_shows("household") == nl("Single person")
    _tab_to(page, "el.id === 'household_size'")
    page.keyboard.press("Control+a")
    page.keyboard.type("2")
    _tab_to(page, "el.type === 'submit'")
    window.shot("tenant-edit-by-keyboard")
    window.press("Enter")
    assert record_message("saved", "tenant") in window.messages()
    with app.app_context():
        tenant = db.session.get(Tenant, case["tenant"])
        assert (tenant.date_of_birth, tenant.phone, tenant.monthly_rent, tenant.household.value, tenant.household_size) == (
            date(1985, 5, 5), "06-12345678", Decimal("712.40"), "single", 2)


@pytest.fixture
def every_status(app, world):
    """Trajectories, agreements, obligations, debts and evaluations in every status there is."""
    with app.app_context():
        for number, status in enumerate(TrajectoryStatus):
            tenant = builders.tenant(f"LK-2026-07{number:02d}", last_name=f"Status{number}")
            running = status in (TrajectoryStatus.running, TrajectoryStatus.completed, TrajectoryStatus.ended_early)
            trajectory = builders.trajectory(tenant, status=status, start_date=TODAY - timedelta(days=200) if running else None)
            agreement = builders.agreement(trajectory, status=list(AgreementStatus)[number % len(AgreementStatus)])
            for obligation_status in ObligationStatus:
                agreement.obligations.append(Obligation(party=SigningParty.tenant, description="Huur betalen",
                                                        status=obligation_status, due_date=TODAY))
            builders.debt(trajectory, status=list(DebtStatus)[number % len(DebtStatus)])
            builders.evaluation(trajectory, planned=TODAY - timedelta(days=3 + number), held=TODAY - timedelta(days=3),
                                assessment=list(Assessment)[number % len(Assessment)])
        db.session.commit()


def test_status_badges_are_readable(staff, every_status):
    window = staff("coordinator")
    seen = {}
    for path in ("/trajectoryview/list/", "/agreementview/list/", "/debtview/list/", "/evaluationview/list/",
                 "/evaluations-due/", "/"):
        window.goto(path)
        seen.update(window.badge_contrasts())
    window.goto("/trajectoryview/list/?_oc_TrajectoryView=status&_od_TrajectoryView=asc")
    window.click(window.page.get_by_role("row").filter(has_text="Status0").get_by_role("link", name=nl("Show")))
    seen.update(window.badge_contrasts())  # the status history, the agreement and its obligations
    expected = {nl(status) for status in (
        "Referred", "Intake", "Financial overview", "Agreement", "Running", "Completed", "Ended early",
        "Draft", "Awaiting signatures", "In force", "Ended", "Open", "Kept", "Not kept",
        "Inventoried", "Payment arrangement", "In debt assistance", "Settled", "Disputed",
        "On track", "Concerns", "Serious problems")}
    assert expected <= set(seen), f"badges not seen: {expected - set(seen)}"
    weak = {text: ratio for text, ratio in seen.items() if ratio < NORMAL_TEXT}
    assert not weak, f"badges below {NORMAL_TEXT}:1 contrast: {weak}"


def test_the_page_language_follows_the_language_chosen(staff, world):
    window = staff()
    window.goto("/login/")
    page = window.page
    assert page.evaluate("document.documentElement.lang") == "nl" and window.heading() == nl("Log in")
    window.click(page.get_by_role("link", name="English", exact=True), check=False)
    window.language = "en"
    window.check_page()
    assert page.url.endswith("/login/") and window.heading() == "Log in"
    page.get_by_label("User Name").fill("coordinator")
    page.get_by_label("Password").fill("Demo-2026!")
    window.click(page.get_by_role("button", name="Log in"))
    assert page.evaluate("document.documentElement.lang") == "en" and window.heading().startswith("Dashboard All cases")
    window.menu("Cases", "Trajectories")
    assert window.heading() == "Trajectories"
    window.click(page.get_by_role("link", name="Nederlands", exact=True), check=False)
    window.language = "nl"
    window.check_page()
    assert window.heading() == nl("Trajectories") and page.url.endswith("/trajectoryview/list/")
