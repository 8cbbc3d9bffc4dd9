"""The demo data: fills an empty database completely and consistently, and never touches real data."""
import re
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

import builders
from conftest import ACCOUNTS, PortalClient, _empty_case_tables
from demo_data import DEMO_PREFIX, DemoDataRefused, seed_demo
from models import (
    Agreement, AgreementStatus, Assessment, Debt, DebtCategory, DebtStatus, Evaluation, EvictionJudgment,
    Intervention, Model, Organisation, OrganisationKind, PortalUser, SigningParty, Step, StepRefused, Tenant,
    Trajectory, TrajectoryOutcome, TrajectoryStatus, db,
)
from models.workflow import NEXT_STEP
from views.fields import POSTCODE, bsn_is_valid

RUNNING = TrajectoryStatus.running
COMPLETED = TrajectoryStatus.completed
EARLY = (TrajectoryStatus.referred, TrajectoryStatus.intake, TrajectoryStatus.financial_overview)


@pytest.fixture
def empty_db(app):
    """An empty database (roles and permissions kept): what `seed-demo` expects."""
    with app.app_context():
        _empty_case_tables()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()


@pytest.fixture
def demo_app(empty_db):
    """The app with the demo data loaded into the empty database; yields the summary."""
    with empty_db.app_context():
        summary = seed_demo()
        db.session.remove()
    yield summary


@pytest.fixture
def seeded(demo_app, app):
    """As `demo_app`, inside an app context for querying the rows."""
    with app.app_context():
        yield demo_app
        db.session.remove()


def _all(model):
    return db.session.scalars(sa.select(model)).all()


def _row_counts() -> dict:
    with db.engine.connect() as connection:
        return {
            table.name: connection.scalar(sa.select(sa.func.count()).select_from(table))
            for table in Model.metadata.sorted_tables
        }


def test_seeding_an_empty_database_covers_the_whole_process(seeded):
    assert "Demo data loaded" in seeded
    tenants = _all(Tenant)
    assert 55 <= len(tenants) <= 65
    assert all(t.client_number.startswith(DEMO_PREFIX) for t in tenants)
    trajectories = _all(Trajectory)
    assert {t.status for t in trajectories} == set(TrajectoryStatus)
    assert sum(t.status == RUNNING for t in trajectories) > len(trajectories) / 3  # most are running
    assert any(len(t.trajectories) == 2 for t in tenants)
    debts = _all(Debt)
    assert {d.category for d in debts} == set(DebtCategory)
    assert {d.status for d in debts} == set(DebtStatus)
    assert any(d.is_expected_cost for d in debts)
    assert {o.name for o in _all(Organisation)} >= {"Het Vierde Huis", "Gemeente Utrecht", "Portaal", "Mitros"}
    assert {e.assessment for e in _all(Evaluation) if e.held_date} == set(Assessment)
    assert max(a.agreement_version for a in _all(Agreement)) == 2
    ended_early = {t.outcome for t in trajectories if t.status == TrajectoryStatus.ended_early}
    assert ended_early == set(TrajectoryOutcome) - {TrajectoryOutcome.completed}
    assert {t.relapse for t in trajectories if t.status == TrajectoryStatus.completed} >= {True, False}


def test_demo_tenants_look_real_but_are_valid(seeded):
    tenants = _all(Tenant)
    with_bsn = [t for t in tenants if t.bsn]
    assert len(tenants) / 3 < len(with_bsn) < len(tenants) * 2 / 3
    assert all(bsn_is_valid(t.bsn) for t in with_bsn)
    assert len({t.bsn for t in with_bsn}) == len(with_bsn)
    assert all(re.fullmatch(r"[1-9][0-9]{3} [A-Z]{2}", t.postcode) for t in tenants)
    assert all(POSTCODE.match(t.postcode) for t in tenants)  # the form's rule: no SA, SD, SS
    assert all(t.date_of_birth < date.today() for t in tenants)
    assert all(isinstance(t.monthly_rent, Decimal) and t.monthly_rent == t.monthly_rent.quantize(Decimal("0.01"))
               for t in tenants)
    corporations = {t.housing_corporation.name for t in tenants}
    assert corporations == {"Portaal", "Mitros"}
    portaal = sum(t.housing_corporation.name == "Portaal" for t in tenants)
    assert abs(portaal - len(tenants) / 2) <= len(tenants) / 10
    assert any(t.psychosocial_notes for t in tenants) and not all(t.psychosocial_notes for t in tenants)


def test_demo_trajectories_are_consistent(seeded):
    today = date.today()
    for t in _all(Trajectory):
        assert t.referring_organisation == t.tenant.housing_corporation
        assert t.coordinator.organisation.name == "Het Vierde Huis"
        if t.counsellor:
            assert t.counsellor.organisation.name == "Gemeente Utrecht"
        kinds = [o.kind for o in t.involved_organisations]
        assert OrganisationKind.coordinator in kinds and OrganisationKind.municipality in kinds
        assert kinds.count(OrganisationKind.neighbourhood_team) == 1
        assert t.referral_reasons
        if t.start_date:
            assert t.planned_end_date > t.start_date
            assert t.referral_date < t.start_date
        if t.status in (TrajectoryStatus.completed, TrajectoryStatus.ended_early):
            assert t.outcome is not None and t.start_date < t.actual_end_date <= today
            assert (t.outcome == TrajectoryOutcome.completed) == (t.status == TrajectoryStatus.completed)
        else:
            assert t.outcome is None and t.actual_end_date is None
        if t.status not in EARLY:
            assert t.eviction_judgment.value in ("requested", "obtained") and t.eviction_judgment_date
        if t.status == RUNNING:
            assert t.planned_end_date > today


def test_agreements_are_signed_as_their_status_says(seeded):
    today = date.today()
    for agreement in _all(Agreement):
        trajectory = agreement.trajectory
        assert agreement.valid_from < agreement.valid_until
        assert all(s.signed_on <= today for s in agreement.signatures)
        assert all((s.party == SigningParty.tenant) == (s.organisation is None) for s in agreement.signatures)
        assert all(o.party == SigningParty.tenant or o.organisation for o in agreement.obligations)
        assert any(o.party == SigningParty.tenant for o in agreement.obligations)
        if trajectory.status == TrajectoryStatus.agreement:
            assert agreement.status == AgreementStatus.awaiting_signatures
            assert agreement.signatures and not agreement.is_fully_signed
        else:
            assert agreement.is_fully_signed
            assert len(agreement.signatures) == 1 + len(trajectory.parties)
        if trajectory.status == RUNNING and agreement.agreement_version == max(
            a.agreement_version for a in trajectory.agreements
        ):
            assert agreement.status == AgreementStatus.in_force


def test_demo_money_is_decimal_and_adds_up(seeded):
    cent = Decimal("0.01")
    for debt in _all(Debt):
        for amount in (debt.original_amount, debt.current_balance):
            assert isinstance(amount, Decimal) and amount == amount.quantize(cent) and amount >= 0
        assert debt.current_balance <= debt.original_amount
        if debt.status == DebtStatus.payment_arrangement:
            assert Decimal("0") < debt.monthly_payment <= debt.current_balance
        else:
            assert debt.monthly_payment is None
        if debt.status == DebtStatus.settled:
            assert debt.current_balance == 0


def test_evaluations_show_overdue_and_due_soon_cases(seeded, app):
    today = date.today()
    settings = builders.settings()
    interval = relativedelta(months=settings.evaluation_interval_months)
    assert all(e.held_date <= today for e in _all(Evaluation) if e.held_date)
    running = sa.select(Trajectory).where(Trajectory.status == RUNNING)
    next_dates = [
        t.next_evaluation_date
        for t in db.session.scalars(running)
    ]
    overdue = [d for d in next_dates if d < today]
    due_soon = [d for d in next_dates if today <= d <= today + relativedelta(days=settings.evaluation_due_soon_days)]
    assert len(overdue) >= 3 and len(due_soon) >= 3
    assert len(overdue) < len(next_dates) / 3
    for trajectory in _all(Trajectory):
        if trajectory.status in (RUNNING, TrajectoryStatus.completed) and trajectory.start_date < today - interval:
            assert any(e.held_date for e in trajectory.evaluations)


def _history(trajectory) -> list:
    return sorted(trajectory.status_changes, key=lambda change: change.changed_at)


def test_every_trajectory_has_the_history_of_its_steps(seeded):
    # Not in the future, whether the clock is read as local time or as UTC (as Step.run records it).
    now = min(datetime.now(), datetime.now(timezone.utc).replace(tzinfo=None))
    corporation_accounts = {"Portaal": "portaal", "Mitros": "mitros"}
    for t in _all(Trajectory):
        history = _history(t)
        if t.status == TrajectoryStatus.referred:
            assert history == []  # no step taken yet
            continue
        assert history[0].from_status == TrajectoryStatus.referred
        assert history[-1].to_status == t.status
        for change, following in zip(history, history[1:]):
            assert change.to_status == following.from_status
            assert change.changed_at < following.changed_at
        for change in history:
            assert change.to_status in (NEXT_STEP.get(change.from_status), TrajectoryStatus.ended_early)
            assert change.changed_at <= now
            assert change.override_reason is None or change.to_status == COMPLETED
        assert history[0].changed_at.date() > t.referral_date
        assert history[0].changed_by.username == corporation_accounts[t.referring_organisation.name]
        assert all(change.changed_by.username == "coordinator" for change in history[1:])
        if t.status in (RUNNING, COMPLETED, TrajectoryStatus.ended_early):
            started = next(c for c in history if c.to_status == RUNNING)
            assert started.changed_at.date() == t.start_date
        if t.actual_end_date:
            assert history[-1].changed_at.date() == t.actual_end_date
    assert any(c.remark for t in _all(Trajectory) for c in t.status_changes)


def test_completed_trajectories_lasted_the_minimum_or_record_why(seeded, app):
    minimum = relativedelta(months=builders.settings().minimum_duration_months)
    exceptions = 0
    for t in _all(Trajectory):
        if t.status != COMPLETED:
            continue
        completion = _history(t)[-1]
        if t.start_date + minimum <= t.actual_end_date:
            assert completion.override_reason is None
        else:
            assert completion.override_reason, t
            exceptions += 1
    assert exceptions >= 2  # the demo shows the coordinator's exception


def test_some_trajectories_wait_at_a_guard(seeded):
    trajectories = _all(Trajectory)
    overviews = [t for t in trajectories if t.status == TrajectoryStatus.financial_overview]
    waiting = [t for t in overviews if t.eviction_judgment == EvictionJudgment.none]
    assert waiting and len(waiting) < len(overviews)
    for t in overviews:
        step = Step(t, TrajectoryStatus.agreement)
        if t in waiting:
            with pytest.raises(StepRefused):
                step.validate()
        else:
            step.validate()
    unsigned = [t for t in trajectories if t.status == TrajectoryStatus.agreement]
    assert unsigned
    for t in unsigned:
        with pytest.raises(StepRefused):
            Step(t, RUNNING).validate()


def test_problems_found_in_evaluations_get_interventions(seeded):
    today = date.today()
    evaluations = _all(Evaluation)
    assert all(e.interventions for e in evaluations if e.assessment == Assessment.serious_problems)
    assert any(e.interventions for e in evaluations if e.assessment == Assessment.concerns)
    interventions = _all(Intervention)
    for i in interventions:
        evaluation = i.evaluation
        assert evaluation.assessment in (Assessment.concerns, Assessment.serious_problems)
        assert i.responsible_organisation in evaluation.trajectory.parties
        assert i.due_date > evaluation.held_date
        if i.closed_on:
            assert evaluation.held_date <= i.closed_on <= today and i.result
        else:
            assert evaluation.trajectory.status == RUNNING and not i.result
    still_open = [i for i in interventions if i.closed_on is None]
    assert len(still_open) >= 3 and len(still_open) < len(interventions)
    assert any(i.due_date < today for i in still_open)  # late
    assert any(i.due_date >= today for i in still_open)  # not due yet


def test_relapse_follow_ups_are_done_due_and_not_yet_due(seeded):
    today = date.today()
    trajectories = _all(Trajectory)
    for t in trajectories:
        if t.status != COMPLETED:
            assert (t.relapse, t.relapse_followup_date, t.relapse_remark, t.relapse_followup_due) == (None,) * 4
        elif t.relapse is None:
            assert t.relapse_followup_date is None and t.relapse_remark is None
        else:
            assert t.relapse_followup_due <= t.relapse_followup_date <= today and t.relapse_remark
    completed = [t for t in trajectories if t.status == COMPLETED]
    outcomes = [t.relapse for t in completed if t.relapse is not None]
    assert 0 < outcomes.count(True) < outcomes.count(False)
    due = {t.id for t in completed if t.relapse is None and t.relapse_followup_due <= today}
    assert due and any(t.relapse is None and t.relapse_followup_due > today for t in completed)
    # The SQL side of the hybrid finds the same ones.
    query = sa.select(Trajectory.id).where(Trajectory.relapse.is_(None), Trajectory.relapse_followup_due <= today)
    assert set(db.session.scalars(query)) == due


def test_every_demo_account_can_log_in(demo_app, app):
    # Outside an app context: each request then gets its own, as in production.
    # A failed login also answers 302, so a page behind the login is what proves it worked.
    for username in ACCOUNTS:
        client = PortalClient(app.test_client()).login(username)
        assert client.get("/tenantview/list/").status_code == 200, username
    with pytest.raises(AssertionError, match="login of portaal failed"):
        PortalClient(app.test_client()).login("portaal", "not-the-password")
    with app.app_context():
        for username, (organisation, role) in ACCOUNTS.items():
            user = db.session.scalars(sa.select(PortalUser).filter_by(username=username)).one()
            assert user.organisation.name == organisation
            assert [r.name for r in user.roles] == [role]
        db.session.remove()


def test_a_second_run_changes_nothing(seeded):
    before = _row_counts()
    summary = seed_demo()
    assert "nothing was changed" in summary
    assert _row_counts() == before


def test_the_demo_is_the_same_every_run(empty_db):
    def snapshot():
        return sorted(
            (t.client_number, t.full_name, t.bsn, t.postcode,
             [(tr.status, [(c.to_status, c.changed_at) for c in _history(tr)]) for tr in t.trajectories])
            for t in _all(Tenant)
        ) + sorted((i.description, i.due_date, i.closed_on) for i in _all(Intervention))

    with empty_db.app_context():
        seed_demo()
        first = snapshot()
        db.session.remove()
        _empty_case_tables()
        seed_demo()
        assert snapshot() == first


def _add_real_tenant():
    portaal = Organisation(name="Portaal", kind=OrganisationKind.housing_corporation)
    db.session.add(Tenant(client_number="2024-0042", first_name="Echte", last_name="Huurder",
                          housing_corporation=portaal))


def _add_real_organisation():
    db.session.add(Organisation(name="Woningstichting Elders", kind=OrganisationKind.housing_corporation))


def _add_real_user():
    db.session.add(PortalUser(username="jdevries", first_name="J.", last_name="de Vries",
                              email="j.devries@example.nl", active=True, password="x"))


def _add_part_of_the_demo():
    # What the `world` test fixture leaves: demo organisations and usernames, no tenants.
    hub = Organisation(name="Het Vierde Huis", kind=OrganisationKind.coordinator)
    db.session.add(PortalUser(username="admin", first_name="A", last_name="B", email="admin@example.nl",
                              active=True, password="x", organisation=hub))


@pytest.mark.parametrize(
    "add_data", [_add_real_tenant, _add_real_organisation, _add_real_user, _add_part_of_the_demo]
)
def test_refuses_a_database_with_other_data_and_writes_nothing(empty_db, add_data):
    with empty_db.app_context():
        add_data()
        db.session.commit()
        before = _row_counts()
        with pytest.raises(DemoDataRefused, match="Refusing to load demo data"):
            seed_demo()
        db.session.rollback()
        assert _row_counts() == before


def test_refusal_names_what_it_found(empty_db):
    with empty_db.app_context():
        _add_real_tenant()
        db.session.commit()
        with pytest.raises(DemoDataRefused, match="2024-0042"):
            seed_demo()


def test_a_failure_halfway_leaves_the_database_empty(empty_db, monkeypatch):
    import demo_data

    def explode(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo_data._DemoBuilder, "_add_evaluations", explode)
    with empty_db.app_context():
        before = _row_counts()
        with pytest.raises(RuntimeError, match="disk full"):
            seed_demo()
        assert _row_counts() == before
