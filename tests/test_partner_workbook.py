"""The partner-meeting workbook: hand-computed figures, its sheets, pseudonymisation, page and command."""
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook

import builders
from models import (
    AgreementStatus, Assessment, DebtCategory, DebtStatus, Signature, SigningParty, TrajectoryStatus, db,
)
from models.scope import ALL_CASES
from reports import kpi
from reports.partner_workbook import PartnerWorkbook, sheet_entities

TODAY = date(2026, 11, 25)
Q3 = (date(2026, 7, 1), date(2026, 9, 30))


@pytest.fixture
def cases(app, world):
    """Four trajectories whose figures are worked out by hand in the tests below, with an evaluation
    every 3 months (stored for the fixture, whatever the environment's default).

    A: Portaal, running since 2026-01-05, last evaluation held 2026-08-10 -> next 2026-11-10: overdue.
       Debts: energy 1000 -> 400 (payment arrangement), rent arrears 500 -> 500 (inventoried).
       Agreement signed by the tenant only: awaiting signatures.
    B's agreement is signed by the tenant, Het Vierde Huis and Portaal (the referrer): complete.
    B: Portaal, running since 2026-09-15, no evaluation yet -> next 2026-12-15: due next quarter (Q4? no: Q1 2027
       is next after Q4). Referred 2026-07-20 (in Q3). Agreement fully signed.
    C: Mitros, completed 2026-08-31 (ended in Q3). Debt water 200 -> 0 (settled).
    D: Mitros, ended early 2026-06-30 (Q2), referred 2024-03-01.
    """
    with app.app_context():
        builders.set_policy(evaluation_interval_months=3)
        a = builders.trajectory(builders.tenant("LK-W-0001", "Portaal", first_name="Anna", street="Oudegracht",
                                                house_number="1", postcode="3511 AA", city="Utrecht", bsn="111222333"),
                                start_date=date(2026, 1, 5), referral_date=date(2025, 12, 1))
        builders.evaluation(a, planned=date(2026, 4, 5), held=date(2026, 4, 8), assessment=Assessment.on_track)
        builders.evaluation(a, planned=date(2026, 8, 5), held=date(2026, 8, 10), assessment=Assessment.concerns,
                            rent_paid=True)
        builders.debt(a, balance="400.00", original="1000.00", category=DebtCategory.energy,
                      status=DebtStatus.payment_arrangement)
        builders.debt(a, balance="500.00", original="500.00", category=DebtCategory.rent_arrears,
                      status=DebtStatus.inventoried)
        agreement_a = builders.agreement(a, status=AgreementStatus.awaiting_signatures)
        db.session.add(Signature(agreement=agreement_a, party=SigningParty.tenant, signed_by="Anna", signed_on=date(2026, 1, 4)))

        b = builders.trajectory(builders.tenant("LK-W-0002", "Portaal", first_name="Bram"),
                                involved=("Het Vierde Huis",), start_date=date(2026, 9, 15), referral_date=date(2026, 7, 20))
        agreement_b = builders.agreement(b, status=AgreementStatus.in_force)
        db.session.add(Signature(agreement=agreement_b, party=SigningParty.tenant, signed_by="Bram", signed_on=date(2026, 9, 1)))
        db.session.add(Signature(agreement=agreement_b, party=SigningParty.organisation,
                                 organisation=builders.organisation("Het Vierde Huis"), signed_by="Ton", signed_on=date(2026, 9, 1)))
        db.session.add(Signature(agreement=agreement_b, party=SigningParty.organisation,
                                 organisation=builders.organisation("Portaal"), signed_by="Rebecca", signed_on=date(2026, 9, 1)))

        c = builders.trajectory(builders.tenant("LK-W-0003", "Mitros", first_name="Cees"), status=TrajectoryStatus.completed,
                                start_date=date(2024, 8, 1), actual_end_date=date(2026, 8, 31), referral_date=date(2024, 6, 1))
        builders.debt(c, balance="0.00", original="200.00", category=DebtCategory.water, status=DebtStatus.settled)
        builders.evaluation(c, planned=date(2026, 7, 1), held=date(2026, 7, 2), assessment=Assessment.on_track)

        builders.trajectory(builders.tenant("LK-W-0004", "Mitros", first_name="Dirk"), status=TrajectoryStatus.ended_early,
                            start_date=date(2024, 5, 1), actual_end_date=date(2026, 6, 30), referral_date=date(2024, 3, 1))
        db.session.commit()


def test_kpis_match_the_hand_computed_figures(app, cases, world):
    with app.app_context():
        s = db.session
        caseload = kpi.caseload_by_status(s, ALL_CASES)
        assert caseload[TrajectoryStatus.running] == 2 and caseload[TrajectoryStatus.completed] == 1
        assert caseload[TrajectoryStatus.ended_early] == 1 and caseload[TrajectoryStatus.referred] == 0
        assert kpi.referrals_between(s, ALL_CASES, *Q3) == 1
        assert kpi.endings_between(s, ALL_CASES, *Q3) == {TrajectoryStatus.completed: 1, TrajectoryStatus.ended_early: 0}
        assert kpi.evaluations_held_between(s, ALL_CASES, *Q3) == 2
        assert kpi.evaluations_overdue(s, ALL_CASES, TODAY, 3) == 1
        assert kpi.evaluations_due_between(s, ALL_CASES, date(2026, 12, 1), date(2026, 12, 31), 3) == 1
        assert kpi.agreements_awaiting_signatures(s, ALL_CASES) == 1
        assert kpi.debt_totals(s, ALL_CASES) == (Decimal("1700.00"), Decimal("900.00"))
        assert kpi.debt_totals(s, world["Mitros"]) == (Decimal("200.00"), Decimal("0.00"))
        assert kpi.caseload_by_status(s, world["Portaal"])[TrajectoryStatus.running] == 2
        assert kpi.caseload_by_status(s, world["Mitros"])[TrajectoryStatus.running] == 0
        rows = kpi.debts_by_category_and_status(s, ALL_CASES)
        assert (DebtCategory.energy, DebtStatus.payment_arrangement, 1, Decimal("1000.00"), Decimal("400.00")) in [
            (c, st, n, Decimal(o), Decimal(cur)) for c, st, n, o, cur in rows
        ]


@pytest.mark.parametrize("label,bounds", [("2026-Q3", Q3), ("2025-q1", (date(2025, 1, 1), date(2025, 3, 31)))])
def test_quarters(label, bounds):
    assert kpi.quarter_bounds(label) == bounds


@pytest.mark.parametrize("label", ["2026-Q5", "Q3", "2026-3", "", "abcd-Q1"])
def test_bad_quarters_are_refused_clearly(label):
    with pytest.raises(ValueError, match="write it as 2026-Q3"):
        kpi.quarter_bounds(label)


def _build(app, organisation, **options):
    with app.app_context(), app.test_request_context():
        from models import Organisation

        org = db.session.execute(db.select(Organisation).filter_by(name=organisation)).scalar_one()
        book = PartnerWorkbook(db.session, org, "2026-Q3", today=TODAY, **options)
        return load_workbook(book.build())


def test_workbook_sheets_and_summary(app, cases):
    book = _build(app, "Het Vierde Huis", include_bsn=True)
    with app.test_request_context():
        # The summary, then a sheet per entity that declares one, named as the registry names it.
        declared = [str(_l("Summary")), *(str(entity.plural) for entity in sheet_entities())]
    assert book.sheetnames == declared and len(declared) >= 5
    summary = {row[0]: row[1:] for row in book["Samenvatting"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Lopend"][0] == 2
    assert summary["Aanmeldingen"][0] == 1
    assert summary["Gehouden evaluaties"][0] == 2
    assert summary["Achterstallig per vandaag"][0] == 1
    assert summary["Overeenkomsten wachtend op ondertekening"][0] == 1
    assert summary["Totaal geïnventariseerd"][0] == 1700
    assert summary["Totaal huidig saldo"][0] == 900
    trajectories = list(book["Trajecten"].iter_rows(values_only=True))
    anna = next(row for row in trajectories if row[0] == "LK-W-0001")
    assert len(trajectories) == 5 and "Anna de Vries" in anna and "111222333" in anna and "Oudegracht 1" in anna
    debts = list(book["Schulden"].iter_rows(values_only=True))
    assert len(debts) == 4 and isinstance(debts[1][4], (int, float))


def test_workbook_of_a_corporation_holds_only_its_cases(app, cases):
    book = _build(app, "Mitros")
    client_numbers = {row[0] for row in book["Trajecten"].iter_rows(min_row=2, values_only=True)}
    assert client_numbers == {"LK-W-0003", "LK-W-0004"}
    assert {row[0] for row in book["Schulden"].iter_rows(min_row=2, values_only=True)} == {"LK-W-0003"}


def test_pseudonymised_workbook_has_no_names_addresses_or_bsn(app, cases):
    book = _build(app, "Het Vierde Huis", pseudonymise=True, include_bsn=True)
    cells = {str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v is not None}
    for secret in ("Anna", "de Vries", "Oudegracht", "3511 AA", "111222333", "Bram"):
        assert not any(secret in cell for cell in cells), secret
    headers = [c.value for c in book["Trajecten"][1]]
    assert headers[0] == "Cliëntnummer" and "Naam" not in headers and "Adres" not in headers


def _select_options(html, name):
    body = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return set(re.findall(r'<option[^>]*>([^<]+)</option>', body))


def test_page_offers_only_organisations_the_user_may_see(login, cases):
    assert _select_options(login("portaal").get("/partner-workbook/form").get_data(as_text=True), "organisation") == {"Portaal"}
    everything = _select_options(login("coordinator").get("/partner-workbook/form").get_data(as_text=True), "organisation")
    assert {"Portaal", "Mitros", "Het Vierde Huis"} <= everything


def test_page_downloads_the_workbook(login, cases, world):
    client = login("portaal")
    response = client.post_form("/partner-workbook/form", {"organisation": str(world["Portaal"]), "period": kpi.quarter_of(date.today())})
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    assert {row[0] for row in book["Trajecten"].iter_rows(min_row=2, values_only=True)} == {"LK-W-0001", "LK-W-0002"}


def test_page_refuses_another_organisations_workbook(login, cases, world):
    response = login("portaal").post_form("/partner-workbook/form", {"organisation": str(world["Mitros"]),
                                                                     "period": kpi.quarter_of(date.today())})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "spreadsheetml" not in response.headers.get("Content-Type", "")


def test_command_writes_the_workbook(app, cases, tmp_path):
    output = tmp_path / "portaal.xlsx"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["partner-workbook", "--org", "Portaal", "--period", "2026-Q3", "--output", str(output),
                                 "--pseudonymise"])
    assert result.exit_code == 0, result.output
    book = load_workbook(output)
    assert {row[0] for row in book["Trajecten"].iter_rows(min_row=2, values_only=True)} == {"LK-W-0001", "LK-W-0002"}


@pytest.mark.parametrize("args,message", [
    (["--org", "Nergens", "--period", "2026-Q3"], "Unknown organisation 'Nergens'"),
    (["--org", "Portaal", "--period", "2026-Q9"], "write it as 2026-Q3"),
])
def test_command_refuses_bad_arguments(app, cases, tmp_path, args, message):
    result = app.test_cli_runner().invoke(args=["partner-workbook", *args, "--output", str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0 and message in result.output
    assert not (tmp_path / "x.xlsx").exists()
