"""The staff's daily work in Chromium, each step done by the role that does it in real life.

Each test sets up what its flow needs: through the pages for the flow itself, with the builders
for what came before it. Every page on the way is checked (tests/browser/portal.py) and
photographed into test-artifacts/browser/<test>/.
"""
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

import builders
from conftest import nl, record_message
from models import (
    Agreement, AgreementStatus, Assessment, Debt, Evaluation, Intervention, Signature, SigningParty, Tenant,
    Trajectory, TrajectoryStatus, db,
)

TODAY = date.today()
INVOLVED = ("Het Vierde Huis", "Gemeente Utrecht", "Buurtteam Overvecht")


def _row(window, text):
    """The table row that mentions `text` (a client number, a name)."""
    return window.page.get_by_role("row").filter(has_text=text)


def _open_trajectory(window, client_number):
    window.menu(nl("Cases"), nl("Trajectories"))
    window.click(_row(window, client_number).get_by_role("link", name=nl("Show")))
    assert window.heading().startswith(f"{nl('Trajectory')}: {client_number}")


def _section(window, name):
    return window.page.get_by_role("region", name=name)


def _one(app, model, *where):
    with app.app_context():
        record = db.session.execute(sa.select(model).where(*where)).unique().scalar_one()
        db.session.expunge_all()
        return record


def test_a_caseworker_registers_a_new_tenant_and_refers_them(app, staff, world):
    portaal = staff("portaal")
    portaal.shot("dashboard")
    portaal.menu(nl("Cases"), nl("Tenants"))
    portaal.click(portaal.page.get_by_role("link", name=nl("Add"), exact=True))
    assert portaal.heading() == nl("Register tenant")
    page = portaal.page
    assert page.get_by_text(nl("Fields marked with * are required.")).is_visible()
    required = [" ".join(t.split()) for t in page.locator("label:has(.portal-required)").all_inner_texts()]
    assert {f"{nl(label)} *" for label in ("Client number", "First name", "Last name")} <= set(required)
    # A corporation registers its own tenants: the corporation is shown, not chosen.
    corporation = page.locator(".portal-readonly").filter(has_text=nl("Housing corporation"))
    assert "Portaal" in corporation.inner_text()

    # Everything but the last name: the save is refused, and all that was typed and chosen stays.
    portaal.fill("client_number", "LK-2026-0101")
    portaal.fill("first_name", "Fatima")
    portaal.fill("date_of_birth", "1985-03-14")
    portaal.fill("street", "Bernadottelaan")
    portaal.fill("house_number", "41")
    portaal.fill("postcode", "3527 gb")
    portaal.fill("city", "Utrecht")
    portaal.fill("rental_contract_number", "POR-88123")
    portaal.fill("monthly_rent", "645,50")
    portaal.choose("household", nl("Family with children"))
    portaal.fill("household_size", "4")
    portaal.shot("tenant-form")
    portaal.save()
    assert "Dit veld is vereist." in " ".join(portaal.messages())
    assert page.locator("#last_name").get_attribute("aria-invalid") == "true"
    for field, shown in {"client_number": "LK-2026-0101", "first_name": "Fatima", "date_of_birth": "1985-03-14",
                         "monthly_rent": "645,50", "household": nl("Family with children")}.items():
        assert portaal.field_shows(field) == shown, field
    portaal.shot("tenant-form-refused")

    portaal.fill("last_name", "El Idrissi")
    portaal.save()
    assert record_message("added", "tenant") in portaal.messages()
    tenant = _one(app, Tenant, Tenant.client_number == "LK-2026-0101")
    assert (tenant.monthly_rent, tenant.postcode, tenant.date_of_birth) == (Decimal("645.50"), "3527 GB", date(1985, 3, 14))

    # The referral: the tenant is found by typing, the reasons ticked; the corporation refers as itself,
    # and who else takes part is the coordinator's call.
    portaal.menu(nl("Cases"), nl("Trajectories"))
    portaal.click(page.get_by_role("link", name=nl("Add"), exact=True))
    assert portaal.heading() == nl("Refer a tenant")
    portaal.choose("tenant", "El Idrissi", exact=False)
    assert "Portaal" in page.locator(".portal-readonly").filter(has_text=nl("Referring organisation")).inner_text()
    assert page.locator("#involved_organisations").count() == 0
    portaal.fill("referral_date", TODAY.isoformat())
    page.get_by_label(nl("Rent arrears")).check()
    page.get_by_label(nl("Nuisance")).check()
    portaal.fill("notes", "Huurachterstand van vier maanden; klachten van buren over geluid.")
    portaal.shot("referral-form")
    portaal.save()
    assert record_message("added", "trajectory") in portaal.messages()

    portaal.click(_row(portaal, "LK-2026-0101").get_by_role("link", name=nl("Show")))
    assert portaal.heading() == f"{nl('Trajectory')}: LK-2026-0101 – Fatima El Idrissi"
    assert page.locator("#lifecycle .panel-title").inner_text() == f"{nl('Status')}: {nl('Referred')}"
    referrer = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=nl("Referring organisation")))
    assert referrer.get_by_role("cell").inner_text() == "Portaal"
    # The referrer may withdraw its own referral while it is still referred, but not take the next step.
    assert page.locator(".portal-record-buttons").get_by_role("button", name=nl("Delete")).count() == 1
    assert page.get_by_role("link", name=nl("Next step: %(status)s", status=nl("Intake"))).count() == 0
    portaal.shot("trajectory-referred")
    trajectory = _one(app, Trajectory, Trajectory.tenant_id == tenant.id)
    assert trajectory.status == TrajectoryStatus.referred and trajectory.referral_date == TODAY
    assert trajectory.reason_rent_arrears and trajectory.reason_nuisance and not trajectory.reason_damage


@pytest.fixture
def referred(app, world):
    """A tenant of Portaal, referred last week, with the coordinator, municipality and neighbourhood team involved."""
    with app.app_context():
        tenant = builders.tenant("LK-2026-0202", first_name="Daan", last_name="Vermeulen", street="Zamenhofdreef",
                                 house_number="12", postcode="3562 JW", city="Utrecht", rental_contract_number="POR-4411")
        trajectory = builders.trajectory(tenant, involved=INVOLVED, status=TrajectoryStatus.referred,
                                         referral_date=TODAY - timedelta(days=7), reason_rent_arrears=True)
        db.session.commit()
        return trajectory.id


def _step(window, button, remark):
    window.click(window.page.get_by_role("link", name=button))
    assert window.heading() == nl("Change the status")
    window.fill("remark", remark)
    window.click(window.page.get_by_role("button", name=re.compile("^Bevestigen: ")))


def _sign(window, party, signed_by, organisation=None):
    window.click(_section_link(window, nl("Add signature")))
    window.choose("party", party)
    if organisation:
        window.choose("organisation", organisation)
    window.fill("signed_by", signed_by)
    window.fill("signed_on", TODAY.isoformat())
    window.save()
    assert record_message("added", "signature") in window.messages()


def _section_link(window, name):
    return window.page.get_by_role("link", name=name)


def test_the_coordinator_takes_a_referral_through_intake_financial_overview_and_agreement(app, staff, referred):
    coordinator = staff("coordinator")
    _open_trajectory(coordinator, "LK-2026-0202")
    _step(coordinator, nl("Next step: %(status)s", status=nl("Intake")), "Kennismaking met huurder en buurtteam; huurder wil meewerken.")
    assert nl("The trajectory is now: %(status)s.", status=nl("Intake")) in coordinator.messages()
    _step(coordinator, nl("Next step: %(status)s", status=nl("Financial overview")), "Intake afgerond; gemeente maakt het financieel overzicht.")
    assert nl("The trajectory is now: %(status)s.", status=nl("Financial overview")) in coordinator.messages()

    # The municipality's counsellor inventories the debts.
    gemeente = staff("gemeente")
    _open_trajectory(gemeente, "LK-2026-0202")
    debts = _section(gemeente, nl("Debts"))
    gemeente.click(debts.get_by_role("link", name=nl("Add"), exact=True))
    assert gemeente.heading() == nl("Add debt")
    gemeente.fill("creditor", "Eneco")
    gemeente.choose("category", nl("Energy"))
    gemeente.choose("status", nl("Payment arrangement"))
    gemeente.fill("original_amount", "1.250,00")
    gemeente.fill("current_balance", "1.250,00")
    gemeente.fill("monthly_payment", "1.500,00")
    gemeente.fill("registered_on", TODAY.isoformat())
    gemeente.save()
    assert nl("The monthly payment cannot exceed the debt.") in gemeente.messages()
    assert [gemeente.field_shows(f) for f in ("creditor", "category", "original_amount", "monthly_payment")] == [
        "Eneco", nl("Energy"), "1.250,00", "1.500,00"]
    gemeente.shot("debt-refused")
    gemeente.fill("monthly_payment", "50")
    gemeente.save()
    assert record_message("added", "debt") in gemeente.messages()
    gemeente.click(_section(gemeente, nl("Debts")).get_by_role("link", name=nl("Add"), exact=True))
    gemeente.fill("creditor", "Portaal")
    gemeente.choose("category", nl("Rent arrears"))
    gemeente.choose("status", nl("Inventoried"))
    gemeente.fill("original_amount", "2340,55")
    gemeente.fill("current_balance", "2340,55")
    gemeente.save()
    assert record_message("added", "debt") in gemeente.messages()
    # A debt entered by mistake is deleted again, after a confirmation.
    gemeente.click(_section(gemeente, nl("Debts")).get_by_role("link", name=nl("Add"), exact=True))
    gemeente.fill("creditor", "Vitens (dubbel)")
    gemeente.choose("category", "Water")
    gemeente.choose("status", nl("Inventoried"))
    gemeente.fill("original_amount", "80")
    gemeente.fill("current_balance", "80")
    gemeente.save()
    mistaken = _section(gemeente, nl("Debts")).get_by_role("row").filter(has_text="Vitens (dubbel)")
    mistaken.get_by_role("link", name=nl("Delete")).click()
    dialog = gemeente.page.get_by_role("dialog")
    dialog.get_by_text(nl("Are you sure you want to delete this item?")).wait_for()
    gemeente.click(dialog.get_by_role("link", name=nl("Yes, go ahead")))
    assert record_message("deleted", "debt") in gemeente.messages()
    assert gemeente.heading().startswith(f"{nl('Trajectory')}: LK-2026-0202"), gemeente.page.url
    # The message names the deleted debt; the trajectory's debts no longer hold it.
    assert "Vitens (dubbel)" not in _section(gemeente, nl("Debts")).inner_text()
    debt_rows = _section(gemeente, nl("Debts")).get_by_role("row")
    assert debt_rows.filter(has_text="Eneco").get_by_role("cell").all_inner_texts()[1:] == [
        "Eneco", nl("Energy"), nl("Payment arrangement"), "€ 1.250,00", "€ 1.250,00", "€ 50,00"]
    total = gemeente.page.get_by_role("row").filter(has=gemeente.page.get_by_role("rowheader", name=nl("Total current debt")))
    assert total.get_by_role("cell").inner_text() == "€ 3.590,55"
    gemeente.shot("trajectory-debts")
    with app.app_context():
        amounts = sorted(db.session.scalars(sa.select(Debt.current_balance).where(Debt.trajectory_id == referred)))
    assert amounts == [Decimal("1250.00"), Decimal("2340.55")]

    # No agreement step without an eviction judgment: the page says what is missing.
    coordinator.goto(f"/trajectoryview/show/{referred}")
    coordinator.click(coordinator.page.get_by_role("link", name=nl("Next step: %(status)s", status=nl("Agreement"))))
    assert "ontruimingsvonnis" in coordinator.page.get_by_role("alert").inner_text()
    coordinator.shot("agreement-step-refused")
    coordinator.click(coordinator.page.get_by_role("link", name=nl("Cancel")))
    coordinator.click(coordinator.page.locator(".portal-record-buttons").get_by_role("link", name=nl("Edit")))
    assert coordinator.heading() == f"{nl('Edit trajectory')}: LK-2026-0202 – Daan Vermeulen"
    coordinator.choose("eviction_judgment", nl("Requested"))
    coordinator.fill("eviction_judgment_date", (TODAY - timedelta(days=2)).isoformat())
    coordinator.save()
    assert record_message("saved", "trajectory") in coordinator.messages()
    _step(coordinator, nl("Next step: %(status)s", status=nl("Agreement")), "Vonnis aangevraagd; overeenkomst wordt opgesteld.")
    assert nl("The trajectory is now: %(status)s.", status=nl("Agreement")) in coordinator.messages()

    # The agreement, then every party signs: the coordinator for the tenant, itself and the
    # municipality (whose role records debts only), the corporation and the neighbourhood team themselves.
    coordinator.click(_section_link(coordinator, nl("Draw up agreement")))
    coordinator.fill("agreement_version", "1")
    coordinator.fill("rental_contract_number", "POR-4411")
    coordinator.fill("drawn_up_on", TODAY.isoformat())
    coordinator.fill("valid_from", TODAY.isoformat())
    coordinator.fill("valid_until", (TODAY + timedelta(days=730)).isoformat())
    assert coordinator.page.locator("#status").count() == 0  # the status moves by its steps only
    coordinator.save()
    assert record_message("added", "agreement") in coordinator.messages()
    current = coordinator.page.locator("#current-agreement")
    assert nl("Draft") in current.inner_text()
    coordinator.click(current.get_by_role("button", name=nl("Offer for signature")))
    assert nl("The agreement is now: %(status)s.", status=nl("Awaiting signatures")) in coordinator.messages()
    current = coordinator.page.locator("#current-agreement")
    assert f"{nl('Still to sign')}: {nl('Tenant')}, Portaal, Buurtteam Overvecht, Gemeente Utrecht, Het Vierde Huis" in current.inner_text()
    _sign(coordinator, nl("Tenant"), "Daan Vermeulen")
    _sign(coordinator, nl("Organisation"), "Marieke van den Berg", "Het Vierde Huis")
    _sign(coordinator, nl("Organisation"), "Ruud Verbeek", "Gemeente Utrecht")
    for username, organisation, person in (("portaal", "Portaal", "Inge Bosman"),
                                           ("buurtteam", "Buurtteam Overvecht", "Tom de Lange")):
        party = staff(username)
        _open_trajectory(party, "LK-2026-0202")
        # A party signs for itself: its own organisation is shown, not chosen.
        _sign(party, nl("Organisation"), person)
    coordinator.goto(f"/trajectoryview/show/{referred}")
    current = coordinator.page.locator("#current-agreement").inner_text()
    assert nl("Signed by every party") in current
    assert "vastgelegd door Het Vierde Huis namens Gemeente Utrecht" in current
    coordinator.shot("trajectory-signed")
    with app.app_context():
        parties = db.session.execute(
            sa.select(Signature.party, Signature.organisation_id).join(Agreement).where(Agreement.trajectory_id == referred)
        ).all()
    assert sorted(p.value for p, _ in parties) == ["organisation"] * 4 + ["tenant"]
    assert len({o for _, o in parties if o}) == 4


@pytest.fixture
def signed(app, world):
    """A trajectory at the agreement step whose agreement every party has signed."""
    with app.app_context():
        tenant = builders.tenant("LK-2026-0303", first_name="Noor", last_name="Bakker", street="Kanaalstraat",
                                 house_number="150", postcode="3531 CL", city="Utrecht")
        trajectory = builders.trajectory(tenant, involved=INVOLVED, status=TrajectoryStatus.agreement,
                                         referral_date=TODAY - timedelta(days=90), eviction_judgment="requested")
        agreement = builders.agreement(trajectory, status=AgreementStatus.awaiting_signatures,
                                       drawn_up_on=TODAY - timedelta(days=10))
        agreement.signatures.append(Signature(party=SigningParty.tenant, signed_by="Noor Bakker", signed_on=TODAY))
        for organisation in trajectory.parties:
            agreement.signatures.append(Signature(party=SigningParty.organisation, organisation=organisation,
                                                  signed_by=f"Namens {organisation.name}", signed_on=TODAY))
        db.session.commit()
        return trajectory.id


def test_the_coordinator_starts_the_trajectory_and_records_an_evaluation_with_serious_problems(app, staff, signed):
    coordinator = staff("coordinator")
    _open_trajectory(coordinator, "LK-2026-0303")
    _step(coordinator, nl("Next step: %(status)s", status=nl("Running")), "Alle partijen hebben getekend.")
    assert nl("The trajectory is now: %(status)s.", status=nl("Running")) in coordinator.messages()
    page = coordinator.page
    assert page.locator("#lifecycle .panel-title").inner_text() == f"{nl('Status')}: {nl('Running')}"
    assert nl("In force") in page.locator("#current-agreement").inner_text()

    coordinator.click(page.get_by_role("link", name=nl("Record evaluation")))
    assert coordinator.heading() == nl("Add evaluation")
    coordinator.fill("planned_date", TODAY.isoformat())
    coordinator.fill("held_date", TODAY.isoformat())
    coordinator.fill("participants", "Huurder, coördinator, buurtteam, Portaal")
    coordinator.choose("assessment", nl("Serious problems"))
    coordinator.choose("rent_paid", nl("No"))
    coordinator.fill("nuisance_reports", "3")
    coordinator.fill("notes", "Twee maanden huur niet betaald; opnieuw klachten van buren.")
    coordinator.save()
    refusal = " ".join(coordinator.messages())
    assert nl("Serious problems need at least one intervention: record what will be done, by whom and when.") in refusal, refusal
    assert [coordinator.field_shows(f) for f in ("participants", "assessment", "rent_paid", "held_date")] == [
        "Huurder, coördinator, buurtteam, Portaal", nl("Serious problems"), nl("No"), TODAY.isoformat()]
    coordinator.shot("evaluation-refused")
    coordinator.fill("intervention_description", "Crisisoverleg met alle partijen; budgetbeheer via de gemeente.")
    coordinator.choose("intervention_organisation", "Buurtteam Overvecht")
    coordinator.fill("intervention_due_date", (TODAY + timedelta(days=7)).isoformat())
    coordinator.save()
    assert record_message("added", "evaluation") in coordinator.messages()

    coordinator.goto(f"/trajectoryview/show/{signed}")
    interventions = page.locator("#open-interventions")
    assert "Crisisoverleg met alle partijen" in interventions.inner_text()
    assert "Buurtteam Overvecht" in interventions.inner_text()
    evaluations = _section(coordinator, nl("Evaluations"))
    assert nl("Serious problems") in evaluations.locator(".label-danger").inner_text()
    coordinator.shot("trajectory-evaluated")
    coordinator.menu(nl("Cases"), nl("Evaluations due"))
    coordinator.goto("/")
    assert page.locator("#kpi-open-interventions").inner_text() == "1"
    assert "LK-2026-0303" in page.locator("#table-interventions").inner_text()
    with app.app_context():
        evaluation = db.session.execute(sa.select(Evaluation).where(Evaluation.trajectory_id == signed)).scalar_one()
        assert (evaluation.assessment, evaluation.rent_paid, evaluation.held_date) == (Assessment.serious_problems, False, TODAY)
        intervention = db.session.execute(sa.select(Intervention).where(Intervention.evaluation_id == evaluation.id)).scalar_one()
        assert intervention.responsible_organisation.name == "Buurtteam Overvecht"
        trajectory = db.session.get(Trajectory, signed)
        assert trajectory.status == TrajectoryStatus.running and trajectory.start_date == TODAY


@pytest.fixture
def portaal_case(app, world):
    with app.app_context():
        tenant = builders.tenant("LK-2026-0404", first_name="Sanne", last_name="Oosterhout")
        trajectory = builders.trajectory(tenant, start_date=TODAY - timedelta(days=200))
        db.session.commit()
        return {"tenant": tenant.id, "trajectory": trajectory.id}


def test_a_viewer_of_another_organisation_cannot_find_the_case(app, staff, portaal_case):
    viewer = staff("viewer")  # Mitros
    assert viewer.page.locator("#kpi-caseload-total").inner_text() == "0"
    viewer.menu(nl("Cases"), nl("Tenants"))
    page = viewer.page
    assert nl("No records found") in viewer.visible_text()
    page.get_by_role("link", name=nl("Search")).click()
    page.get_by_role("button", name=nl("Add Filter")).click()
    page.locator("#filter_form").get_by_role("link", name=nl("Last name")).click()
    page.get_by_role("textbox", name=nl("Last name")).fill("Oosterhout")
    viewer.click(page.locator("#filter_form").get_by_role("button", name=nl("Search")))
    assert "_flt_" in page.url and "Oosterhout" in page.url
    assert nl("No records found") in viewer.visible_text() and "LK-2026-0404" not in viewer.visible_text()
    viewer.shot("search-finds-nothing")
    viewer.menu(nl("Cases"), nl("Trajectories"))
    assert "LK-2026-0404" not in viewer.visible_text()
    for path in (f"/trajectoryview/show/{portaal_case['trajectory']}", f"/tenantview/show/{portaal_case['tenant']}"):
        with viewer.watch.expecting(404, path):
            response = viewer.goto(path)
        assert response.status == 404
        assert viewer.heading() == nl("Not found")
        assert "Oosterhout" not in viewer.visible_text() and "LK-2026-0404" not in viewer.visible_text()
    viewer.shot("not-found")


@pytest.fixture
def quarter_case(app, world):
    """A running Portaal case with a debt and an evaluation with serious problems in this quarter."""
    with app.app_context():
        tenant = builders.tenant("LK-2026-0505", first_name="Ilse", last_name="Kramer")
        trajectory = builders.trajectory(tenant, start_date=TODAY - timedelta(days=120), referral_date=TODAY - timedelta(days=150))
        builders.debt(trajectory, balance="1234.56", original="2000.00", creditor="Vitens")
        evaluation = builders.evaluation(trajectory, planned=TODAY, held=TODAY, assessment=Assessment.serious_problems,
                                         rent_paid=False)
        evaluation.interventions.append(Intervention(description="Huisbezoek", due_date=TODAY + timedelta(days=5),
                                                     responsible_organisation=builders.organisation("Het Vierde Huis")))
        db.session.commit()


def test_the_coordinator_downloads_the_partner_meeting_workbook(app, staff, quarter_case, tmp_path):
    coordinator = staff("coordinator")
    coordinator.menu(nl("Reports"), nl("Partner meeting workbook"))
    assert coordinator.heading() == nl("Workbook for the partner meeting")
    coordinator.choose("organisation", "Portaal")
    quarter = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"
    assert coordinator.field_shows("period") == quarter
    coordinator.shot("workbook-form")
    with coordinator.page.expect_download() as download:
        coordinator.page.get_by_role("button", name=nl("Download workbook")).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx" and "portaal" in saved.name.lower()
    book = load_workbook(saved)
    cells = {sheet.title: [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
             for sheet in book.worksheets}
    flat = {title: [v for row in rows for v in row] for title, rows in cells.items()}
    assert len(book.worksheets) == 5
    trajectories = next(v for t, v in flat.items() if t.lower().startswith("traject"))
    assert "LK-2026-0505" in " ".join(map(str, trajectories))
    debts = next(v for t, v in flat.items() if t.lower().startswith("schuld") or t.lower().startswith("debt"))
    assert Decimal("1234.56") in [Decimal(str(v)) for v in debts if isinstance(v, (int, float))] and "Vitens" in debts
    evaluations = next(v for t, v in flat.items() if t.lower().startswith("evaluat"))
    assert nl("Serious problems") in evaluations
