"""The lifecycle: explicit, guarded, recorded steps; evaluations due; interventions; relapse follow-up."""
import re
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta

import builders
from conftest import form_values, messages
from models import (
    AgreementStatus, Assessment, EvictionJudgment, Intervention, Signature, SigningParty, StatusChange, Trajectory,
    TrajectoryOutcome, TrajectoryStatus, db,
)


def _trajectory(app, trajectory_id):
    with app.app_context():
        trajectory = db.session.get(Trajectory, trajectory_id)
        db.session.expunge_all()
        return trajectory


@pytest.fixture
def referred(app, world):
    with app.app_context():
        trajectory = builders.trajectory(builders.tenant(), status=TrajectoryStatus.referred)
        db.session.commit()
        return trajectory.id


def step(client, trajectory_id, target, **form):
    # Any page with a form gives the session's CSRF token, also to users who may not see the step page.
    return client.post_form(f"/trajectoryview/step/{trajectory_id}/{target}", form, form_url="/partner-workbook/form")


def test_the_whole_course_through_the_pages(app, login, referred, world):
    client = login("coordinator")
    client.get("/lang/en")
    page = client.get(f"/trajectoryview/show/{referred}").get_data(as_text=True)
    assert f"/trajectoryview/step/{referred}/intake" in page and f"/trajectoryview/step/{referred}/ended_early" in page

    confirm = client.get(f"/trajectoryview/step/{referred}/intake").get_data(as_text=True)
    assert "Confirm: Intake" in confirm
    assert step(client, referred, "intake", remark="Intake met buurtteam gepland").status_code == 302
    assert step(client, referred, "financial_overview").status_code == 302

    refused = step(client, referred, "agreement")
    assert refused.status_code == 200
    assert any("eviction judgment" in m for m in messages(refused))
    assert _trajectory(app, referred).status == TrajectoryStatus.financial_overview

    with app.app_context():
        db.session.get(Trajectory, referred).eviction_judgment = EvictionJudgment.obtained
        db.session.commit()
    assert step(client, referred, "agreement").status_code == 302

    with app.app_context():
        agreement = builders.agreement(db.session.get(Trajectory, referred))
        db.session.add(Signature(agreement=agreement, party=SigningParty.tenant, signed_by="Anna", signed_on=date.today()))
        db.session.commit()
    refused = step(client, referred, "running")
    assert any("still needs the signature of: Portaal, Gemeente Utrecht, Het Vierde Huis" in m for m in messages(refused))

    with app.app_context():
        agreement = db.session.get(Trajectory, referred).agreements[0]
        for name in ("Portaal", "Gemeente Utrecht", "Het Vierde Huis"):
            db.session.add(Signature(agreement=agreement, party=SigningParty.organisation,
                                     organisation=builders.organisation(name), signed_by=name, signed_on=date.today()))
        db.session.commit()
    assert step(client, referred, "running").status_code == 302
    with app.app_context():
        trajectory = db.session.get(Trajectory, referred)
        assert trajectory.status == TrajectoryStatus.running and trajectory.start_date == date.today()
        assert trajectory.agreements[0].status == AgreementStatus.in_force

    page = client.get(f"/trajectoryview/show/{referred}").get_data(as_text=True)
    history = re.search(r'id="status-history">(.*?)</table>', page, re.S).group(1)
    assert history.count("<tr>") == 1 + 4  # header and the four steps taken
    assert "Intake met buurtteam gepland" in history and "Coordinator Test" in history


def test_completion_waits_for_the_minimum_duration(app, login, world):
    with app.app_context():
        minimum = builders.settings().minimum_duration_months
        trajectory_id = builders.trajectory(builders.tenant(), start_date=date.today() - relativedelta(months=minimum - 6)).id
        db.session.commit()
    # Completing is the coordinator's step; the referring corporation does not get to take it at all.
    caseworker = login("portaal")
    caseworker.get("/lang/en")
    refused = step(caseworker, trajectory_id, "completed", override_reason="Verhuisd naar zorginstelling")
    assert refused.status_code == 403
    assert _trajectory(app, trajectory_id).status == TrajectoryStatus.running

    coordinator = login("coordinator")
    coordinator.get("/lang/en")
    refused = step(coordinator, trajectory_id, "completed")
    assert any("Give the reason" in m for m in messages(refused))
    assert _trajectory(app, trajectory_id).status == TrajectoryStatus.running

    assert step(coordinator, trajectory_id, "completed", override_reason="Alle schulden afgelost").status_code == 302
    with app.app_context():
        trajectory = db.session.get(Trajectory, trajectory_id)
        assert trajectory.status == TrajectoryStatus.completed and trajectory.outcome == TrajectoryOutcome.completed
        assert trajectory.actual_end_date == date.today()
        assert trajectory.status_changes[0].override_reason == "Alle schulden afgelost"


def test_completion_after_the_minimum_duration_needs_no_exception(app, login, world):
    with app.app_context():
        minimum = builders.settings().minimum_duration_months
        trajectory_id = builders.trajectory(builders.tenant(), start_date=date.today() - relativedelta(months=minimum)).id
        db.session.commit()
    assert step(login("coordinator"), trajectory_id, "completed").status_code == 302
    assert _trajectory(app, trajectory_id).status == TrajectoryStatus.completed


def test_ending_early_needs_an_outcome(app, login, referred):
    client = login("coordinator")
    client.get("/lang/en")
    assert any("Choose why" in m for m in messages(step(client, referred, "ended_early")))
    assert step(client, referred, "ended_early", outcome="moved", remark="Naar Amersfoort").status_code == 302
    trajectory = _trajectory(app=client.client.application, trajectory_id=referred)
    assert trajectory.status == TrajectoryStatus.ended_early and trajectory.outcome == TrajectoryOutcome.moved
    assert step(client, referred, "intake").status_code == 200  # nothing follows an end


def test_status_cannot_be_edited_freely(app, login, referred):
    client = login("coordinator")
    url = f"/trajectoryview/edit/{referred}"
    values = form_values(client.get(url).get_data(as_text=True))
    assert "status" not in values and "outcome" not in values
    values.update(status="completed", outcome="completed", actual_end_date="2026-01-01", notes="bijgewerkt")
    assert client.post_form(url, values).status_code == 302
    trajectory = _trajectory(app, referred)
    assert trajectory.status == TrajectoryStatus.referred and trajectory.outcome is None and trajectory.notes == "bijgewerkt"


@pytest.mark.parametrize("username,expected", [("viewer", (302, 403)), ("gemeente", (403,)), ("portaal", (403,)),
                                               ("mitros", (404,))])
def test_only_writers_in_scope_take_steps(app, login, referred, username, expected):
    response = step(login(username), referred, "intake") if username != "mitros" else login(username).get(
        f"/trajectoryview/step/{referred}/intake")
    assert response.status_code in expected
    assert _trajectory(app, referred).status == TrajectoryStatus.referred
    with app.app_context():
        assert db.session.query(StatusChange).count() == 0


def test_unknown_step_targets_are_not_found(login, referred):
    assert login("coordinator").get(f"/trajectoryview/step/{referred}/flying").status_code == 404


@pytest.fixture
def running(app, world):
    with app.app_context():
        trajectory = builders.trajectory(builders.tenant(), start_date=date.today() - timedelta(days=200))
        db.session.commit()
        return trajectory.id


def test_serious_problems_need_an_intervention(app, login, running, world):
    client = login("coordinator")
    client.get("/lang/en")
    held = date.today().isoformat()
    evaluation = {"trajectory": str(running), "planned_date": held, "held_date": held, "assessment": "serious_problems"}
    refused = client.post_form("/evaluationview/add", evaluation)
    assert any("Serious problems need at least one intervention" in m for m in messages(refused))
    with app.app_context():
        assert db.session.query(Intervention).count() == 0

    accepted = client.post_form("/evaluationview/add", {
        **evaluation, "intervention_description": "Budgetcoach twee keer per week",
        "intervention_organisation": str(world["Buurtteam Overvecht"]),
        "intervention_due_date": (date.today() + timedelta(days=14)).isoformat(),
    })
    assert accepted.status_code == 302, messages(accepted)
    with app.app_context():
        intervention = db.session.query(Intervention).one()
        assert intervention.responsible_organisation.name == "Buurtteam Overvecht" and intervention.is_open
        intervention_id = intervention.id
    page = client.get(f"/trajectoryview/show/{running}").get_data(as_text=True)
    assert "Budgetcoach twee keer per week" in re.search(r'id="open-interventions">(.*?)</table>', page, re.S).group(1)

    edit = f"/interventionview/edit/{intervention_id}"
    values = form_values(client.get(edit).get_data(as_text=True))
    values.update(closed_on=date.today().isoformat(), result="Huur weer op tijd betaald")
    assert client.post_form(edit, values).status_code == 302
    assert 'id="open-interventions"' not in client.get(f"/trajectoryview/show/{running}").get_data(as_text=True)


def test_evaluations_due_lists_overdue_and_soon_most_urgent_first(app, login, world):
    today = date.today()
    with app.app_context():
        settings = builders.settings()
        interval, days = settings.evaluation_interval_months, settings.evaluation_due_soon_days
        assert days >= 10 and today + timedelta(days=days) < today + relativedelta(months=interval, days=-10)
        # Due two months ago, in ten days, in an interval less ten days, three months ago.
        overdue = builders.trajectory(builders.tenant("LK-D-0001"), start_date=today - relativedelta(months=interval + 2))
        soon = builders.trajectory(builders.tenant("LK-D-0002"), start_date=today - relativedelta(months=interval) + timedelta(days=10))
        later = builders.trajectory(builders.tenant("LK-D-0003"), start_date=today - timedelta(days=10))
        very_overdue = builders.trajectory(builders.tenant("LK-D-0004", "Mitros"), involved=("Het Vierde Huis",),
                                           start_date=today - relativedelta(months=3 * interval + 3))
        held = today - relativedelta(months=interval + 3)
        builders.evaluation(very_overdue, planned=held, held=held)
        builders.trajectory(builders.tenant("LK-D-0005"), status=TrajectoryStatus.intake)
        db.session.commit()
    client = login("coordinator")
    client.get("/lang/en")
    page = client.get("/evaluations-due/").get_data(as_text=True)
    order = [m for m in re.findall(r"LK-D-000\d", page)]
    assert order == ["LK-D-0004", "LK-D-0001", "LK-D-0002"]
    assert f"2 overdue, 1 due within {days} days" in page
    # Portaal sees its own cases only.
    portaal = login("portaal").get("/evaluations-due/").get_data(as_text=True)
    assert re.findall(r"LK-D-000\d", portaal) == ["LK-D-0001", "LK-D-0002"]
    # A shorter interval moves every due date on the next request; no case record changes.
    with app.app_context():
        builders.set_policy(evaluation_interval_months=1)
    page = client.get("/evaluations-due/").get_data(as_text=True)
    assert re.findall(r"LK-D-000\d", page) == ["LK-D-0004", "LK-D-0001", "LK-D-0002", "LK-D-0003"]


def test_relapse_follow_up_is_recorded_for_completed_trajectories(app, login, world):
    with app.app_context():
        done = builders.trajectory(builders.tenant("LK-R-0001"), status=TrajectoryStatus.completed,
                                   start_date=date(2023, 1, 1), actual_end_date=date(2025, 6, 30))
        running = builders.trajectory(builders.tenant("LK-R-0002"), start_date=date(2025, 1, 1))
        db.session.commit()
        done_id, running_id = done.id, running.id
    client = login("coordinator")
    client.get("/lang/en")
    assert "30-06-2026" in client.get(f"/trajectoryview/show/{done_id}").get_data(as_text=True) or \
        "30 Jun 2026" in client.get(f"/trajectoryview/show/{done_id}").get_data(as_text=True)

    url = f"/trajectoryview/edit/{done_id}"
    values = form_values(client.get(url).get_data(as_text=True))
    assert values["relapse"] == ""  # not yet asked: neither yes nor no
    values.update(relapse="no", relapse_followup_date="2026-07-01", relapse_remark="Woont zelfstandig")
    assert client.post_form(url, values).status_code == 302
    with app.app_context():
        assert db.session.get(Trajectory, done_id).relapse is False

    url = f"/trajectoryview/edit/{running_id}"
    values = form_values(client.get(url).get_data(as_text=True))
    values.update(relapse="yes", relapse_followup_date="2026-07-01")
    refused = client.post_form(url, values)
    assert any("only for a completed trajectory" in m for m in messages(refused))
    with app.app_context():
        assert db.session.get(Trajectory, running_id).relapse is None


def test_an_assessment_needs_a_held_date(app, login, running):
    client = login("coordinator")
    client.get("/lang/en")
    refused = client.post_form("/evaluationview/add", {"trajectory": str(running), "planned_date": date.today().isoformat(),
                                                       "assessment": Assessment.on_track.value})
    assert any("fill in the date it was held" in m for m in messages(refused))


def test_ending_a_case_ends_every_version_of_its_agreement(app, login, running):
    """A newer draft beside the version in force: both end with the case, none stays in force."""
    with app.app_context():
        trajectory = db.session.get(Trajectory, running)
        builders.agreement(trajectory, status=AgreementStatus.in_force)
        builders.agreement(trajectory, agreement_version=2, status=AgreementStatus.draft)
        db.session.commit()
    response = step(login("coordinator"), running, "ended_early", outcome="dropped_out")
    assert response.status_code == 302
    with app.app_context():
        statuses = {a.agreement_version: a.status for a in db.session.get(Trajectory, running).agreements}
    assert statuses == {1: AgreementStatus.ended, 2: AgreementStatus.ended}
