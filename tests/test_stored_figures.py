"""The figures the database keeps on a trajectory (its debt totals, its last held evaluation) stay
equal to a recount of its debts and evaluations, whoever writes them and however.

They are kept by triggers (migration 0006): through the portal's forms, through plain SQL that
bypasses the application, when a debt moves to another trajectory, when rows are deleted, and on
PostgreSQL when two transactions write to the same trajectory at once.
"""
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

import builders
from conftest import form_values
from models import (
    Agreement, Debt, DebtCategory, DebtStatus, Evaluation, Signature, SigningParty, Trajectory, TrajectoryStatus, db,
)

STORED = ("total_current_debt", "total_original_debt", "last_evaluation_held_on")


def stored_and_recounted(app, trajectory_id):
    with app.app_context():
        trajectory = db.session.get(Trajectory, trajectory_id)
        stored = {name: getattr(trajectory, name) for name in STORED}
        recounted = builders.recounted_figures(trajectory)
        db.session.remove()
    return stored, recounted


@pytest.fixture
def two_cases(app, world):
    with app.app_context():
        first = builders.trajectory(builders.tenant("LK-F-0001"), start_date=date.today() - timedelta(days=200))
        second = builders.trajectory(builders.tenant("LK-F-0002"), start_date=date.today() - timedelta(days=100))
        db.session.commit()
        return first.id, second.id


def _debt_form(client, url, **values):
    page = client.get(url)
    assert page.status_code == 200
    data = {**form_values(page.get_data(as_text=True)), **values}
    return client.post_form(url, data)


def test_debts_saved_through_the_forms_keep_the_totals(app, login, two_cases):
    first, second = two_cases
    client = login("coordinator")
    client.get("/lang/en")
    for balance, original in (("250.10", "300.00"), ("49.90", "49.90")):
        response = _debt_form(client, f"/debtview/add?_flt_0_trajectory={first}", creditor="Eneco",
                              category=DebtCategory.energy.name, status=DebtStatus.inventoried.name,
                              original_amount=original, current_balance=balance)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    stored, recounted = stored_and_recounted(app, first)
    assert stored == recounted
    assert stored["total_current_debt"] == Decimal("300.00") and stored["total_original_debt"] == Decimal("349.90")
    page = client.get(f"/trajectoryview/show/{first}").get_data(as_text=True)
    assert "300.00" in page or "300,00" in page

    with app.app_context():
        debt_id = db.session.scalars(sa.select(Debt.id).where(Debt.trajectory_id == first).order_by(Debt.id)).first()
    # A lower balance, and the debt moved to the other trajectory: both totals follow.
    response = _debt_form(client, f"/debtview/edit/{debt_id}", current_balance="200.00", trajectory=str(second))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    for trajectory_id, expected in ((first, Decimal("49.90")), (second, Decimal("200.00"))):
        stored, recounted = stored_and_recounted(app, trajectory_id)
        assert stored == recounted and stored["total_current_debt"] == expected

    response = client.post_form(f"/debtview/delete/{debt_id}", {}, form_url=f"/debtview/show/{debt_id}")
    assert response.status_code == 302
    stored, recounted = stored_and_recounted(app, second)
    assert stored == recounted and stored["total_current_debt"] == Decimal("0")


def test_evaluations_keep_the_last_held_date(app, login, two_cases):
    first, _ = two_cases
    with app.app_context():
        trajectory = db.session.get(Trajectory, first)
        earlier = builders.evaluation(trajectory, planned=date.today() - timedelta(days=120),
                                      held=date.today() - timedelta(days=118))
        later = builders.evaluation(trajectory, planned=date.today() - timedelta(days=30),
                                    held=date.today() - timedelta(days=29))
        planned = builders.evaluation(trajectory, planned=date.today() + timedelta(days=60))
        db.session.commit()
        ids = earlier.id, later.id, planned.id
    stored, recounted = stored_and_recounted(app, first)
    assert stored == recounted and stored["last_evaluation_held_on"] == date.today() - timedelta(days=29)

    with app.app_context():
        db.session.get(Evaluation, ids[1]).held_date = None  # "not held after all"
        db.session.commit()
    stored, recounted = stored_and_recounted(app, first)
    assert stored == recounted and stored["last_evaluation_held_on"] == date.today() - timedelta(days=118)

    with app.app_context():
        for evaluation_id in ids:
            db.session.delete(db.session.get(Evaluation, evaluation_id))
        db.session.commit()
    stored, recounted = stored_and_recounted(app, first)
    assert stored == recounted and stored["last_evaluation_held_on"] is None


def test_writes_that_bypass_the_portal_keep_the_figures_too(app, two_cases):
    first, second = two_cases
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.insert(Debt.__table__), [
                {"trajectory_id": first, "creditor": f"Import {i}", "category": "energy", "status": "inventoried",
                 "original_amount": Decimal("10.00"), "current_balance": Decimal("7.50"), "is_expected_cost": False,
                 "version": 1}
                for i in range(4)
            ])
            connection.execute(sa.update(Debt.__table__).where(Debt.__table__.c.creditor == "Import 0")
                               .values(trajectory_id=second))
            connection.execute(sa.insert(Evaluation.__table__), [
                {"trajectory_id": second, "planned_date": date(2026, 1, 5), "held_date": date(2026, 1, 6), "version": 1},
            ])
    for trajectory_id, debt_total in ((first, Decimal("22.50")), (second, Decimal("7.50"))):
        stored, recounted = stored_and_recounted(app, trajectory_id)
        assert stored == recounted and stored["total_current_debt"] == debt_total
    assert stored_and_recounted(app, second)[0]["last_evaluation_held_on"] == date(2026, 1, 6)


def test_a_trajectory_read_before_a_debt_is_added_shows_the_new_total_after_it(app, two_cases):
    first, _ = two_cases
    with app.app_context():
        trajectory = db.session.get(Trajectory, first)
        assert trajectory.total_current_debt == 0
        db.session.add(Debt(trajectory=trajectory, creditor="Vitens", category=DebtCategory.water,
                            original_amount=Decimal("80.00"), current_balance=Decimal("80.00")))
        db.session.flush()
        assert trajectory.total_current_debt == Decimal("80.00")
        db.session.rollback()
        assert db.session.get(Trajectory, first).total_current_debt == 0
        db.session.remove()


def at_the_same_moment(engine, table, first_row, second_row):
    """Insert two rows in two transactions at once (PostgreSQL): the second starts while the first is
    still open, and its trigger waits for the row the first one's trigger locked."""
    first_inserted, second_started, failures = threading.Event(), threading.Event(), []

    def second_transaction():
        try:
            with engine.begin() as connection:
                first_inserted.wait(10)
                second_started.set()
                connection.execute(sa.insert(table), second_row)
        except Exception as error:  # reported below, on the test's own thread
            failures.append(error)

    other = threading.Thread(target=second_transaction)
    other.start()
    with engine.begin() as connection:
        connection.execute(sa.insert(table), first_row)
        first_inserted.set()
        second_started.wait(10)
        connection.execute(sa.text("SELECT pg_sleep(0.3)"))  # the second is now waiting for this one
    other.join(20)
    assert not failures, failures


def test_two_transactions_adding_debts_to_one_trajectory_at_once_both_count(app, two_cases):
    """PostgreSQL: the second transaction waits for the first and recounts with its rows."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            pytest.skip("SQLite runs one writer at a time; the race exists on PostgreSQL only")
    first, _ = two_cases
    row = {"trajectory_id": first, "creditor": "Tegelijk", "category": "energy", "status": "inventoried",
           "original_amount": Decimal("100.00"), "is_expected_cost": False, "version": 1}
    at_the_same_moment(engine, Debt.__table__, {**row, "current_balance": Decimal("70.00")},
                       {**row, "current_balance": Decimal("30.00")})
    stored, recounted = stored_and_recounted(app, first)
    assert stored == recounted and stored["total_current_debt"] == Decimal("100.00")


# ---- an agreement's number of signatures missing (migration 0007) -------------------------------

def missing_stored_and_recounted(app, agreement_id):
    with app.app_context():
        agreement = db.session.get(Agreement, agreement_id)
        found = agreement.signatures_missing, builders.recounted_figures(agreement)["signatures_missing"]
        db.session.remove()
    return found


@pytest.fixture
def agreement_case(app, world):
    """A trajectory of Portaal with Het Vierde Huis and Gemeente Utrecht involved, and its agreement."""
    with app.app_context():
        trajectory = builders.trajectory(builders.tenant("LK-A-0001"), status=TrajectoryStatus.agreement)
        agreement = builders.agreement(trajectory)
        db.session.commit()
        return {"trajectory": trajectory.id, "agreement": agreement.id}


def test_signing_through_the_forms_counts_down_to_nothing_missing(app, login, agreement_case):
    agreement_id = agreement_case["agreement"]
    assert missing_stored_and_recounted(app, agreement_id) == (4, 4)  # tenant, Portaal, Gemeente, Vierde Huis
    client = login("coordinator")
    with app.app_context():
        organisations = {name: builders.organisation(name).id for name in ("Portaal", "Gemeente Utrecht", "Het Vierde Huis")}
    signers = [("tenant", "", "Anna de Vries")] + [("organisation", str(i), name) for name, i in organisations.items()]
    for left, (party, organisation, name) in zip((3, 2, 1, 0), signers):
        response = client.post_form(f"/signatureview/add?_flt_0_agreement={agreement_id}", {
            "party": party, "organisation": organisation, "signed_by": name, "signed_on": date.today().isoformat(),
        })
        assert response.status_code == 302, response.get_data(as_text=True)[:3000]
        assert missing_stored_and_recounted(app, agreement_id) == (left, left)
    with app.app_context():
        signature_id = db.session.scalars(sa.select(Signature.id).where(Signature.agreement_id == agreement_id)).first()
    response = client.post_form(f"/signatureview/delete/{signature_id}", {}, form_url=f"/signatureview/show/{signature_id}")
    assert response.status_code == 302
    assert missing_stored_and_recounted(app, agreement_id) == (1, 1)


def test_an_organisation_joining_leaving_or_referring_changes_what_is_missing(app, agreement_case):
    agreement_id, trajectory_id = agreement_case["agreement"], agreement_case["trajectory"]
    with app.app_context():
        trajectory = db.session.get(Trajectory, trajectory_id)
        trajectory.involved_organisations.append(builders.organisation("Buurtteam Overvecht"))
        db.session.commit()
    assert missing_stored_and_recounted(app, agreement_id) == (5, 5)
    with app.app_context():
        trajectory = db.session.get(Trajectory, trajectory_id)
        trajectory.involved_organisations = [o for o in trajectory.involved_organisations if o.name != "Gemeente Utrecht"]
        db.session.commit()
    assert missing_stored_and_recounted(app, agreement_id) == (4, 4)
    with app.app_context():
        # Referred by an organisation that is involved already: one party fewer.
        db.session.get(Trajectory, trajectory_id).referring_organisation = builders.organisation("Het Vierde Huis")
        db.session.commit()
    assert missing_stored_and_recounted(app, agreement_id) == (3, 3)


def test_a_signature_written_in_plain_sql_counts_too(app, agreement_case):
    agreement_id = agreement_case["agreement"]
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.insert(Signature.__table__).values(
                agreement_id=agreement_id, party="tenant", signed_by="Anna", signed_on=date.today(), version=1))
        agreement = db.session.get(Agreement, agreement_id)
        assert agreement.signatures_missing == 3
        db.session.add(Signature(agreement=agreement, party=SigningParty.organisation,
                                 organisation=builders.organisation("Portaal"), signed_by="P", signed_on=date.today()))
        db.session.flush()
        assert agreement.signatures_missing == 2  # the session's copy follows the flush
        db.session.rollback()
        db.session.remove()


def test_two_parties_signing_at_the_same_moment_leave_nothing_missing(app, agreement_case):
    """PostgreSQL: the second signature's recount waits for the first and counts it."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            pytest.skip("SQLite runs one writer at a time; the race exists on PostgreSQL only")
        organisations = [builders.organisation(name).id for name in ("Portaal", "Gemeente Utrecht", "Het Vierde Huis")]
        db.session.remove()
    agreement_id = agreement_case["agreement"]
    row = {"agreement_id": agreement_id, "signed_by": "Tegelijk", "signed_on": date.today(), "version": 1}
    with engine.begin() as connection:
        connection.execute(sa.insert(Signature.__table__), [
            {**row, "party": "tenant", "organisation_id": None},
            {**row, "party": "organisation", "organisation_id": organisations[0]},
        ])
    at_the_same_moment(engine, Signature.__table__, {**row, "party": "organisation", "organisation_id": organisations[1]},
                       {**row, "party": "organisation", "organisation_id": organisations[2]})
    assert missing_stored_and_recounted(app, agreement_id) == (0, 0)
