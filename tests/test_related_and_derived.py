"""Related records where staff look for them, and derived figures computed, not stored."""
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta

import builders
from models import Signature, SigningParty, TrajectoryStatus, db


@pytest.fixture
def case(app, world):
    with app.app_context():
        tenant = builders.tenant(first_name="Fatima", last_name="El Amrani")
        start = date.today() - timedelta(days=300)
        trajectory = builders.trajectory(tenant, start_date=start)
        builders.debt(trajectory, balance="1234.56", original="2000.00", creditor="Eneco")
        builders.debt(trajectory, balance="100.00", creditor="Vitens")
        held = date.today() - timedelta(days=40)
        builders.evaluation(trajectory, planned=held, held=held)
        builders.evaluation(trajectory, planned=start + timedelta(days=90), held=start + timedelta(days=92))
        agreement = builders.agreement(trajectory)
        db.session.add(Signature(agreement=agreement, party=SigningParty.tenant, signed_by="Fatima El Amrani",
                                 signed_on=date.today()))
        db.session.commit()
        return {"tenant": tenant.id, "trajectory": trajectory.id, "agreement": agreement.id, "held": held,
                "start": start}


def test_tenant_page_lists_their_trajectories(login, case):
    html = login("coordinator").get(f"/tenantview/show/{case['tenant']}").get_data(as_text=True)
    assert f"/trajectoryview/show/{case['trajectory']}" in html
    assert f"_flt_0_tenant={case['tenant']}" in html  # a trajectory can be added from here


def test_trajectory_page_shows_agreement_debts_and_evaluations(login, case):
    client = login("coordinator")
    client.get("/lang/en")
    html = client.get(f"/trajectoryview/show/{case['trajectory']}").get_data(as_text=True)
    assert "Eneco" in html and "Vitens" in html
    assert f"/agreementview/show/{case['agreement']}" in html
    assert "Still to sign" in html and "Still to sign: Portaal, Gemeente Utrecht, Het Vierde Huis" in html
    assert "Fatima El Amrani" in html  # the tenant's signature
    for child in ("debtview", "evaluationview", "agreementview"):
        assert f"/{child}/add?_flt_0_trajectory={case['trajectory']}" in html
    assert f"/signatureview/add?_flt_0_agreement={case['agreement']}" in html
    assert f"/obligationview/add?_flt_0_agreement={case['agreement']}" in html


def test_total_current_debt_is_the_sum_of_balances(login, case):
    client = login("coordinator")
    html = client.get(f"/trajectoryview/show/{case['trajectory']}").get_data(as_text=True)
    assert "€\xa01.334,56" in html or "€ 1.334,56" in html
    listing = client.get("/trajectoryview/list/").get_data(as_text=True)
    assert "1.334,56" in listing


def test_next_evaluation_follows_the_last_held_one_and_the_setting(app, login, case):
    client = login("coordinator")
    with app.app_context():
        interval = builders.settings().evaluation_interval_months
    expected = case["held"] + relativedelta(months=interval)
    html = client.get(f"/trajectoryview/show/{case['trajectory']}").get_data(as_text=True)
    assert expected.strftime("%d-%m-%Y") in html
    other = 1 if interval != 1 else 4
    with app.app_context():
        builders.set_policy(evaluation_interval_months=other)
    html = client.get(f"/trajectoryview/show/{case['trajectory']}").get_data(as_text=True)
    assert (case["held"] + relativedelta(months=other)).strftime("%d-%m-%Y") in html
    assert expected.strftime("%d-%m-%Y") not in html


def test_next_evaluation_counts_from_the_start_when_none_was_held(app, login, world):
    with app.app_context():
        start = date.today() - timedelta(days=10)
        trajectory_id = builders.trajectory(builders.tenant(), start_date=start).id
        db.session.commit()
        interval = builders.settings().evaluation_interval_months
    html = login("coordinator").get(f"/trajectoryview/show/{trajectory_id}").get_data(as_text=True)
    assert (start + relativedelta(months=interval)).strftime("%d-%m-%Y") in html


def test_no_next_evaluation_before_the_trajectory_runs(app, login, world):
    with app.app_context():
        trajectory = builders.trajectory(builders.tenant(), status=TrajectoryStatus.intake)
        db.session.commit()
        assert trajectory.next_evaluation_date is None
