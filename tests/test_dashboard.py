"""The dashboard: hand-computed KPI figures, the page per scope, and agreement with the partner workbook."""
import html as html_lib
import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from openpyxl import load_workbook

import builders
from conftest import PortalClient, _empty_case_tables
from models import (
    Agreement, AgreementStatus, Intervention, Organisation, Signature, SigningParty, Trajectory, TrajectoryStatus, db,
)
from models.scope import ALL_CASES
from reports import kpi
from reports.partner_workbook import PartnerWorkbook

TODAY = date(2026, 11, 25)  # in 2026-Q4; the eight quarters shown run from 2025-Q1
S = TrajectoryStatus


@pytest.fixture
def cases(app, world, monkeypatch):
    """Nine trajectories; every figure below is worked out by hand from this docstring.

    Settings (stored for the fixture, whatever the environment's defaults): evaluation every 3 months,
    due soon = 30 days (to 2026-12-25), relapse follow-up after 12 months, success target 75%, an
    eviction costs 25000 euros.

    Portaal (referrer of P1-P4; Het Vierde Huis and Gemeente Utrecht involved unless said otherwise):
      P1 running since 2026-01-05, referred 2025-12-01 (2025-Q4). Evaluation held 2026-08-10 -> next 2026-11-10:
         OVERDUE. Debts 1000 -> 400 and 500 -> 500. Agreement signed by the tenant only: AWAITING.
         Interventions: one open (due 2026-12-01, Gemeente Utrecht), one closed.
      P2 running since 2026-09-01, referred 2026-07-20 (2026-Q3), no evaluation -> next 2026-12-01: DUE SOON.
         Only Het Vierde Huis involved; agreement signed by tenant, Het Vierde Huis and Portaal: complete.
      P3 referred 2026-10-01 (first day of 2026-Q4).
      P4 completed 2025-05-31 (2025-Q2), referred 2023-04-01; relapse recorded: no.
    Mitros:
      M1 completed 2026-08-31 (2026-Q3), referred 2024-12-31 (one day before the window); follow-up not yet due.
      M2 completed 2025-02-28 (2025-Q1), referred 2022-12-01; relapse recorded: yes.
      M3 completed 2025-09-30 (last day of 2025-Q3), referred 2023-08-01; follow-up due 2026-09-30, not recorded:
         FOLLOW-UP DUE. Debt 200 -> 0.
      M4 ended early 2026-06-30 (2026-Q2), referred 2025-03-10 (2025-Q1); relapse "no" (not a completion: ignored).
      M5 running since 2026-03-01, referred 2026-01-20 (2026-Q1). Evaluation held 2026-09-15 -> next 2026-12-15:
         DUE SOON. Debt 300 -> 100. Agreement without any signature: AWAITING.
         Intervention open, due 2026-10-01 (Mitros), so it heads the list.
    """
    import views.dashboard

    monkeypatch.setattr(views.dashboard, "today", lambda: TODAY)
    with app.app_context():
        builders.set_policy(evaluation_interval_months=3, evaluation_due_soon_days=30, relapse_followup_months=12,
                            success_target_percent=75, eviction_cost_eur=Decimal("25000"))
        names = ("Het Vierde Huis", "Gemeente Utrecht", "Portaal", "Mitros")
        org = {name: builders.organisation(name) for name in names}.__getitem__

        def traj(number, corporation, status, referral, **fields):
            return builders.trajectory(builders.tenant(number, corporation), status=status, referral_date=referral,
                                       **fields)

        p1 = traj("LK-D-P1", "Portaal", S.running, date(2025, 12, 1), start_date=date(2026, 1, 5))
        builders.evaluation(p1, planned=date(2026, 4, 5), held=date(2026, 4, 8))
        p1_eval = builders.evaluation(p1, planned=date(2026, 8, 5), held=date(2026, 8, 10))
        builders.debt(p1, balance="400.00", original="1000.00")
        builders.debt(p1, balance="500.00", original="500.00")
        agreement = builders.agreement(p1, status=AgreementStatus.awaiting_signatures)
        db.session.add(Signature(agreement=agreement, party=SigningParty.tenant, signed_by="P1",
                                 signed_on=date(2026, 1, 4)))
        db.session.add_all([
            Intervention(evaluation=p1_eval, description="Budget coaching twice a month",
                         responsible_organisation=org("Gemeente Utrecht"), due_date=date(2026, 12, 1)),
            Intervention(evaluation=p1_eval, description="Talk to the neighbours",
                         responsible_organisation=org("Portaal"), due_date=date(2026, 9, 1),
                         closed_on=date(2026, 9, 1)),
        ])

        p2 = traj("LK-D-P2", "Portaal", S.running, date(2026, 7, 20), start_date=date(2026, 9, 1),
                  involved=("Het Vierde Huis",))
        agreement = builders.agreement(p2, status=AgreementStatus.in_force)
        db.session.add_all([
            Signature(agreement=agreement, party=SigningParty.tenant, signed_by="P2", signed_on=date(2026, 8, 30)),
            Signature(agreement=agreement, party=SigningParty.organisation, organisation=org("Het Vierde Huis"),
                      signed_by="Ton", signed_on=date(2026, 8, 30)),
            Signature(agreement=agreement, party=SigningParty.organisation, organisation=org("Portaal"),
                      signed_by="Rebecca", signed_on=date(2026, 8, 30)),
        ])

        traj("LK-D-P3", "Portaal", S.referred, date(2026, 10, 1))
        traj("LK-D-P4", "Portaal", S.completed, date(2023, 4, 1), start_date=date(2023, 6, 1),
             actual_end_date=date(2025, 5, 31), relapse=False, relapse_followup_date=date(2026, 6, 1))

        traj("LK-D-M1", "Mitros", S.completed, date(2024, 12, 31), start_date=date(2024, 8, 1),
             actual_end_date=date(2026, 8, 31))
        traj("LK-D-M2", "Mitros", S.completed, date(2022, 12, 1), start_date=date(2023, 1, 1),
             actual_end_date=date(2025, 2, 28), relapse=True, relapse_followup_date=date(2026, 3, 1))
        m3 = traj("LK-D-M3", "Mitros", S.completed, date(2023, 8, 1), start_date=date(2023, 9, 1),
                  actual_end_date=date(2025, 9, 30))
        builders.debt(m3, balance="0.00", original="200.00")
        traj("LK-D-M4", "Mitros", S.ended_early, date(2025, 3, 10), start_date=date(2025, 5, 1),
             actual_end_date=date(2026, 6, 30), relapse=False)

        m5 = traj("LK-D-M5", "Mitros", S.running, date(2026, 1, 20), start_date=date(2026, 3, 1))
        m5_eval = builders.evaluation(m5, planned=date(2026, 9, 10), held=date(2026, 9, 15))
        builders.debt(m5, balance="100.00", original="300.00")
        builders.agreement(m5, status=AgreementStatus.awaiting_signatures)
        db.session.add(Intervention(evaluation=m5_eval, description="Register with debt assistance",
                                    responsible_organisation=org("Mitros"), due_date=date(2026, 10, 1)))
        db.session.commit()


ALL_QUARTERS = [
    ("2025-Q1", 1, 1, 0), ("2025-Q2", 0, 1, 0), ("2025-Q3", 0, 1, 0), ("2025-Q4", 1, 0, 0),
    ("2026-Q1", 1, 0, 0), ("2026-Q2", 0, 0, 1), ("2026-Q3", 1, 1, 0), ("2026-Q4", 1, 0, 0),
]
PORTAAL_QUARTERS = [
    ("2025-Q1", 0, 0, 0), ("2025-Q2", 0, 1, 0), ("2025-Q3", 0, 0, 0), ("2025-Q4", 1, 0, 0),
    ("2026-Q1", 0, 0, 0), ("2026-Q2", 0, 0, 0), ("2026-Q3", 1, 0, 0), ("2026-Q4", 1, 0, 0),
]
ZERO = {status: 0 for status in TrajectoryStatus}
CASELOAD = {
    ALL_CASES: {**ZERO, S.referred: 1, S.running: 3, S.completed: 4, S.ended_early: 1},
    "Portaal": {**ZERO, S.referred: 1, S.running: 2, S.completed: 1},
    "Mitros": {**ZERO, S.running: 1, S.completed: 3, S.ended_early: 1},
}


def _scope(world, name):
    return ALL_CASES if name == ALL_CASES else world[name]


def test_new_kpis_match_the_hand_computed_figures(app, cases, world):
    with app.app_context():
        s = db.session
        for name, caseload in CASELOAD.items():
            assert kpi.caseload_by_status(s, _scope(world, name)) == caseload, name

        assert kpi.success_rate(s, ALL_CASES) == (1, 2)
        assert kpi.success_rate(s, world["Portaal"]) == (1, 1)
        assert kpi.success_rate(s, world["Mitros"]) == (0, 1)
        assert kpi.success_rate(s, None) == (0, 0)

        assert kpi.relapse_followups_due(s, ALL_CASES, TODAY) == 1
        assert kpi.relapse_followups_due(s, world["Portaal"], TODAY) == 0
        assert kpi.relapse_followups_due(s, ALL_CASES, date(2026, 9, 29)) == 0  # M3's falls due on 30 September
        assert kpi.relapse_followups_due(s, ALL_CASES, date(2027, 8, 31)) == 2  # and then M1's too

        assert kpi.completed_count(s, ALL_CASES) == 4
        assert kpi.completed_count(s, world["Portaal"]) == 1
        assert kpi.costs_avoided(s, ALL_CASES, Decimal("25000")) == Decimal("100000")
        assert kpi.costs_avoided(s, world["Mitros"], Decimal("30000.50")) == Decimal("90001.50")
        assert kpi.costs_avoided(s, None, Decimal("25000")) == 0

        assert kpi.referrals_and_endings_per_quarter(s, ALL_CASES, TODAY) == ALL_QUARTERS
        assert kpi.referrals_and_endings_per_quarter(s, world["Portaal"], TODAY) == PORTAAL_QUARTERS
        assert kpi.referrals_and_endings_per_quarter(s, ALL_CASES, TODAY, quarters=2) == ALL_QUARTERS[-2:]
        # The first day of a quarter counts in it: M4's referral of 10 March 2025 drops out from Q2 onwards.
        assert kpi.referrals_and_endings_per_quarter(s, ALL_CASES, date(2027, 1, 1), quarters=8)[0] == (
            "2025-Q2", 0, 1, 0)

        assert kpi.open_interventions(s, ALL_CASES) == 2
        assert kpi.open_interventions(s, world["Portaal"]) == 1
        assert kpi.open_interventions(s, None) == 0
        listed = kpi.open_intervention_list(s, ALL_CASES)
        assert [(i.due_date, i.evaluation.trajectory.tenant.client_number, i.responsible_organisation.name)
                for i in listed] == [(date(2026, 10, 1), "LK-D-M5", "Mitros"),
                                     (date(2026, 12, 1), "LK-D-P1", "Gemeente Utrecht")]
        assert [i.description for i in kpi.open_intervention_list(s, world["Portaal"])] == [
            "Budget coaching twice a month"]
        assert len(kpi.open_intervention_list(s, ALL_CASES, limit=1)) == 1

        assert kpi.evaluations_due_soon(s, ALL_CASES, TODAY, 3, 30) == 2
        assert kpi.evaluations_due_soon(s, world["Portaal"], TODAY, 3, 30) == 1
        assert kpi.evaluations_due_soon(s, ALL_CASES, TODAY, 3, 6) == 1  # only P2 (1 December)
        assert kpi.evaluations_overdue(s, ALL_CASES, TODAY, 3) == 1
        assert kpi.agreements_awaiting_signatures(s, ALL_CASES) == 2
        assert kpi.agreements_awaiting_signatures(s, world["Portaal"]) == 1
        assert kpi.debt_totals(s, ALL_CASES) == (Decimal("2000.00"), Decimal("1000.00"))
        assert kpi.debt_totals(s, world["Portaal"]) == (Decimal("1500.00"), Decimal("900.00"))


@pytest.mark.parametrize("day", [TODAY, date(2026, 9, 29), date(2027, 1, 1), date(2027, 8, 31)])
def test_the_dashboards_one_pass_gives_the_figures_of_the_single_kpis(app, cases, world, day):
    with app.app_context():
        s = db.session
        for name, scope in (("all", ALL_CASES), ("Portaal", world["Portaal"]), ("Mitros", world["Mitros"]),
                            ("none", None)):
            for interval, soon in ((3, 30), (2, 6)):
                figures = kpi.trajectory_figures(s, scope, day, interval, soon)
                assert figures == {
                    "caseload": kpi.caseload_by_status(s, scope),
                    "quarters": kpi.referrals_and_endings_per_quarter(s, scope, day),
                    "success": kpi.success_rate(s, scope),
                    "debt": kpi.debt_totals(s, scope),
                    "completed": kpi.completed_count(s, scope),
                    "evaluations_overdue": kpi.evaluations_overdue(s, scope, day, interval),
                    "evaluations_due_soon": kpi.evaluations_due_soon(s, scope, day, interval, soon),
                    "relapse_followups_due": kpi.relapse_followups_due(s, scope, day),
                    "agreements_awaiting_signatures": kpi.agreements_awaiting_signatures(s, scope),
                }, (name, day, interval)


def test_the_open_intervention_list_loads_everything_it_shows_in_one_query(app, cases):
    with app.app_context():
        statements = []

        def count(*args):
            statements.append(args)

        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            listed = kpi.open_intervention_list(db.session, ALL_CASES)
            [(i.evaluation.trajectory.tenant.client_number, i.responsible_organisation.name) for i in listed]
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        assert len(statements) == 1


# ---- the page -----------------------------------------------------------------------------------

def _page(client) -> str:
    client.get("/lang/en")
    response = client.get("/")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _figure(page: str, name: str) -> str:
    match = re.search(rf'id="kpi-{name}">([^<]*)<', page)
    assert match, f"no figure kpi-{name} on the page"
    return html_lib.unescape(match.group(1)).strip()


def _money(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.\-]", "", text))


def _caseload(page: str) -> dict:
    return {status: int(_figure(page, f"caseload-{status.value}")) for status in TrajectoryStatus}


def _quarter_table(page: str) -> list:
    body = re.search(r'<table[^>]*id="table-quarters".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [tuple(int(c) if c.isdigit() else c for c in re.findall(r"<t[hd][^>]*>\s*([^<]*?)\s*</t[hd]>", row))
            for row in rows]


def test_the_coordinator_sees_every_figure(login, cases):
    page = _page(login("coordinator"))
    assert "All cases" in page
    assert _caseload(page) == CASELOAD[ALL_CASES]
    assert _figure(page, "caseload-total") == "9" and _figure(page, "caseload-open") == "4"
    assert _figure(page, "evaluations-overdue") == "1"
    assert _figure(page, "evaluations-due-soon") == "2"
    assert "Due within 30 days" in page and 'href="/evaluations-due/"' in page
    assert _figure(page, "agreements-awaiting") == "2"
    assert _figure(page, "open-interventions") == "2"
    interventions = re.search(r'id="table-interventions".*?</table>', page, re.S).group(0)
    assert interventions.index("LK-D-M5") < interventions.index("LK-D-P1")
    assert "Gemeente Utrecht" in interventions and "Talk to the neighbours" not in interventions
    assert "1 Oct 2026" in interventions and "Overdue" in interventions
    assert _quarter_table(page) == ALL_QUARTERS
    assert _figure(page, "success-rate") == "50%"
    assert _figure(page, "success-text") == "1 of 2 followed-up completions without relapse"
    assert "Below target" in page and "target 75%" in page
    assert _figure(page, "relapse-followups-due") == "1"
    assert _money(_figure(page, "debt-original")) == Decimal("2000.00")
    assert _money(_figure(page, "debt-current")) == Decimal("1000.00")
    assert _figure(page, "completed") == "4"
    assert _money(_figure(page, "costs-avoided")) == Decimal("100000.00")


def test_the_cost_of_an_eviction_and_the_target_are_settings(app, login, cases):
    with app.app_context():
        builders.set_policy(eviction_cost_eur=Decimal("30000"), success_target_percent=50)
    page = _page(login("coordinator"))
    assert _money(_figure(page, "costs-avoided")) == Decimal("120000.00")
    assert "Target met" in page and "target 50%" in page


def test_a_housing_corporation_sees_only_its_own_figures(login, cases):
    coordinator = _page(login("coordinator"))
    page = _page(login("portaal"))
    assert "Cases of Portaal" in page
    assert _caseload(page) == CASELOAD["Portaal"] != _caseload(coordinator)
    assert _figure(page, "caseload-total") == "4"
    assert _figure(page, "evaluations-overdue") == "1"
    assert _figure(page, "evaluations-due-soon") == "1"
    assert _figure(page, "agreements-awaiting") == "1"
    assert _figure(page, "open-interventions") == "1"
    assert "LK-D-P1" in page and "LK-D-M" not in page
    assert _quarter_table(page) == PORTAAL_QUARTERS
    assert _figure(page, "success-rate") == "100%" and "Target met" in page
    assert _figure(page, "relapse-followups-due") == "0"
    assert _money(_figure(page, "debt-original")) == Decimal("1500.00")
    assert _money(_figure(page, "debt-current")) == Decimal("900.00")
    assert _money(_figure(page, "costs-avoided")) == Decimal("25000.00")


def test_without_follow_ups_the_success_rate_says_so(login, world):
    page = _page(login("mitros"))
    assert _figure(page, "success-text") == "No follow-ups recorded yet."
    assert 'id="kpi-success-rate"' not in page
    assert _caseload(page) == ZERO and _figure(page, "open-interventions") == "0"
    assert "No open interventions." in page


def test_anonymous_visitors_are_sent_to_the_login_page(app, world):
    response = app.test_client().get("/")
    assert response.status_code == 302
    assert response.headers["Location"].rstrip("/").endswith("/login")


def test_charts_are_inline_svg_with_tables_and_nothing_from_other_hosts(login, cases):
    page = _page(login("coordinator"))
    dashboard = page[page.index("portal-dashboard"):page.index("<footer")]
    charts = re.findall(r"<svg\b[^>]*>", dashboard)
    assert len(charts) == 4  # caseload, quarters, success rate, debts
    for chart in charts:
        assert 'role="img"' in chart and "aria-label=" in chart
    assert dashboard.count("<svg") == dashboard.count("<title id=")
    tables = re.findall(r'<table[^>]*id="table-([a-z]+)"', dashboard)
    assert {"caseload", "quarters", "success", "debts"} <= set(tables)  # every chart's numbers as a table
    assert "<script" not in dashboard  # no chart library: the charts are drawn on the server
    references = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', page)
    assert references
    external = [r for r in references if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", r, re.I)
                and not re.match(r"^(?:https?:)?//portal\.test(?:/|$)", r, re.I)]
    assert external == []


# ---- the dashboard and the workbook agree on the demo data ---------------------------------------

@pytest.fixture
def demo(app):
    """The demo data in an otherwise empty database (as tests/test_demo_data.py loads it)."""
    from demo_data import seed_demo

    with app.app_context():
        _empty_case_tables()
        seed_demo()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()


def _summary(app, today: date) -> dict:
    with app.test_request_context(), force_locale("en"):
        organisation = db.session.execute(sa.select(Organisation).filter_by(name="Het Vierde Huis")).scalar_one()
        workbook = PartnerWorkbook(db.session, organisation, kpi.quarter_of(today), today=today)
        book = load_workbook(workbook.build())
        rows = {row[0]: row[1:] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
        db.session.remove()
    return rows


def test_dashboard_and_partner_workbook_agree_on_the_demo_data(demo):
    app = demo
    today = date.today()
    page = _page(PortalClient(app.test_client()).login("coordinator"))
    summary = _summary(app, today)

    with app.app_context(), app.test_request_context(), force_locale("en"):
        s = db.session
        caseload = kpi.caseload_by_status(s, ALL_CASES)
        for status in TrajectoryStatus:
            assert summary[str(status.label)][0] == caseload[status] == _caseload(page)[status], status
        overdue = kpi.evaluations_overdue(s, ALL_CASES, today, builders.settings().evaluation_interval_months)
        assert summary["Overdue today"][0] == overdue == int(_figure(page, "evaluations-overdue"))
        awaiting = kpi.agreements_awaiting_signatures(s, ALL_CASES)
        assert summary["Agreements awaiting signatures"][0] == awaiting == int(_figure(page, "agreements-awaiting"))
        original, current = kpi.debt_totals(s, ALL_CASES)
        assert Decimal(str(summary["Total inventoried"][0])) == original == _money(_figure(page, "debt-original"))
        assert Decimal(str(summary["Total current balance"][0])) == current == _money(_figure(page, "debt-current"))
        # The demo is meant to show every section with something in it.
        assert sum(caseload.values()) > 0 and overdue > 0 and awaiting > 0 and original > current > 0
        db.session.remove()


def test_aggregate_kpis_agree_with_the_records_on_the_demo_data(demo):
    """The SQL aggregates against the same rules applied to every loaded record in Python."""
    app = demo
    today = date.today()
    with app.app_context():
        s = db.session
        trajectories = s.scalars(sa.select(Trajectory)).all()
        completed = [t for t in trajectories if t.status == S.completed]
        followed_up = [t for t in completed if t.relapse is not None]
        assert kpi.success_rate(s, ALL_CASES) == (sum(not t.relapse for t in followed_up), len(followed_up))
        assert kpi.success_rate(s, ALL_CASES)[1] > 0
        assert kpi.completed_count(s, ALL_CASES) == len(completed)
        assert kpi.relapse_followups_due(s, ALL_CASES, today) == sum(
            t.relapse is None and t.relapse_followup_due <= today for t in completed)

        rows = kpi.referrals_and_endings_per_quarter(s, ALL_CASES, today)
        labels = [label for label, *_ in rows]
        referrals = Counter(kpi.quarter_of(t.referral_date) for t in trajectories)
        ended = Counter((kpi.quarter_of(t.actual_end_date), t.status) for t in trajectories if t.actual_end_date)
        assert rows == [(q, referrals[q], ended[(q, S.completed)], ended[(q, S.ended_early)]) for q in labels]
        assert labels[-1] == kpi.quarter_of(today) and len(labels) == 8
        assert sum(r + c + e for _, r, c, e in rows) > 0

        interventions = s.scalars(sa.select(Intervention)).all()
        assert kpi.open_interventions(s, ALL_CASES) == sum(i.closed_on is None for i in interventions)
        db.session.remove()


def test_a_signature_on_another_agreement_does_not_sign_this_one(app, world):
    """Gemeente Utrecht signed the first case's agreement only: the second still awaits its signature."""
    with app.app_context():
        org = builders.organisation
        agreements = []
        for number, gemeente_signs in (("LK-S-1", True), ("LK-S-2", False)):
            trajectory = builders.trajectory(builders.tenant(number), status=S.agreement)
            agreement = builders.agreement(trajectory)
            signers = [org(name) for name in ["Portaal", "Het Vierde Huis"] + (["Gemeente Utrecht"] if gemeente_signs else [])]
            db.session.add(Signature(agreement=agreement, party=SigningParty.tenant, signed_by=number,
                                     signed_on=date(2026, 11, 1)))
            db.session.add_all([Signature(agreement=agreement, party=SigningParty.organisation, organisation=signer,
                                          signed_by=signer.name, signed_on=date(2026, 11, 2)) for signer in signers])
            agreements.append(agreement)
        db.session.commit()
        assert [a.is_fully_signed for a in agreements] == [True, False]
        assert kpi.agreements_awaiting_signatures(db.session, ALL_CASES) == 1
        assert kpi.agreements_awaiting_signatures(db.session, world["Portaal"]) == 1
        db.session.remove()


@pytest.mark.parametrize("today", [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 30),
                                   date(2026, 3, 31), date(2026, 5, 31), date(2026, 6, 1)])
def test_due_and_overdue_counts_agree_with_each_next_evaluation_date_around_the_months_end(app, world, today):
    """Counted from an index range (reports.kpi.due_by), the figures match the dates shown on the pages,
    also where adding the interval runs into a shorter month (30 November + 3 months = 28 February)."""
    starts = [date(2025, 11, day) for day in range(26, 31)] + [date(2025, 12, 1), date(2025, 12, 31)] + \
        [date(2026, 2, day) for day in (27, 28)] + [date(2026, 3, 1)]
    with app.app_context():
        for index, start in enumerate(starts):
            builders.trajectory(builders.tenant(f"LK-E-{index:02d}"), start_date=start)
        db.session.commit()
        interval = builders.settings().evaluation_interval_months
        next_dates = [t.next_evaluation_date for t in db.session.scalars(sa.select(Trajectory))]
        assert kpi.evaluations_overdue(db.session, ALL_CASES, today, interval) == sum(d < today for d in next_dates)
        for days in (0, 1, 30):
            end = today + timedelta(days=days)
            assert kpi.evaluations_due_between(db.session, ALL_CASES, today, end, interval) == \
                sum(today <= d <= end for d in next_dates), (today, days)
        db.session.remove()


def test_the_workbooks_case_sheets_agree_with_the_records_on_the_demo_data(demo):
    """Read as SQL values, every sheet shows what the records say: the parties still to sign as
    Agreement.missing_signatures names them, each trajectory's organisations and figures."""
    app = demo
    with app.app_context(), app.test_request_context(), force_locale("en"):
        organisation = db.session.execute(sa.select(Organisation).filter_by(name="Het Vierde Huis")).scalar_one()
        book = load_workbook(PartnerWorkbook(db.session, organisation, kpi.quarter_of(date.today())).build())
        agreements = list(book["Agreements"].iter_rows(min_row=2, values_only=True))
        expected = {
            (a.trajectory.tenant.client_number, a.agreement_version, a.drawn_up_on): ", ".join(a.missing_signatures) or None
            for a in db.session.scalars(sa.select(Agreement))
        }
        shown = {(row[0], row[1], row[2].date()): row[-1] for row in agreements}
        assert shown == expected
        assert any(shown.values()) and not all(shown.values())  # the demo has both kinds

        header, *rows = list(book["Trajectories"].iter_rows(values_only=True))
        by_number = {}
        for row in rows:
            by_number.setdefault(row[0], []).append(dict(zip(header, row)))
        for trajectory in db.session.scalars(sa.select(Trajectory)):
            row = next(r for r in by_number[trajectory.tenant.client_number]
                       if r["Referral date"].date() == trajectory.referral_date)
            assert row["Involved organisations"] == ", ".join(o.name for o in trajectory.involved_organisations)
            assert row["Referral reasons"] == (trajectory.referral_reasons or None)
            assert Decimal(str(row["Total current debt"])) == trajectory.total_current_debt
            assert (row["Next evaluation"].date() if row["Next evaluation"] else None) == trajectory.next_evaluation_date
        db.session.remove()
