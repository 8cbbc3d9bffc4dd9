"""Bulk seeding of a scratch portal database for benchmarks: Core inserts in large batches.

Not for tests or demos: the data is synthetic and only realistic in shape and distribution.
"""
import random
import time
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from models import (
    Debt, DebtCategory, DebtStatus, Evaluation, Assessment, EvictionJudgment, Household, Model, Organisation,
    OrganisationKind, PortalUser, Tenant, Trajectory, TrajectoryStatus, db, trajectory_organisation,
)

BATCH = 20_000
PASSWORD = "Bench-2026!"
STATUS_WEIGHTS = {
    TrajectoryStatus.referred: 4, TrajectoryStatus.intake: 4, TrajectoryStatus.financial_overview: 4,
    TrajectoryStatus.agreement: 4, TrajectoryStatus.running: 44, TrajectoryStatus.completed: 25,
    TrajectoryStatus.ended_early: 15,
}
CITIES = ["Utrecht", "Nieuwegein", "Zeist", "Houten", "IJsselstein", "Maarssen", "Vleuten", "De Meern"]
LAST_NAMES = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos",
              "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "El Amrani",
              "Yilmaz", "Öztürk", "Nguyen", "Bouzid", "Kaya"]
FIRST_NAMES = ["Anna", "Jan", "Fatima", "Mohamed", "Sanne", "Kees", "Emma", "Noah", "Ayşe", "Daan", "Lotte", "Bram"]


def _insert(table, rows):
    """Bulk inserts: COPY on PostgreSQL (its statement triggers then run once per batch of rows, not
    once per row as an executemany would make them), executemany on SQLite (row triggers either way)."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), BATCH):
            connection.execute(sa.insert(table), rows[start:start + BATCH])
        return
    columns = list(rows[0])
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(column) for column in columns])


def create_schema(engine):
    Model.metadata.drop_all(engine)
    Model.metadata.create_all(engine)


def seed(app, tenants: int, trajectories: int, debts: int, evaluations: int, organisations: int = 40,
         seed_value: int = 2026, log=print) -> dict:
    """Fill an empty schema; returns the organisation ids by kind and timings."""
    rng = random.Random(seed_value)
    started = time.perf_counter()
    today = date.today()
    with app.app_context():
        from commands import sync_roles

        sync_roles()
        kinds = ([OrganisationKind.coordinator, OrganisationKind.municipality]
                 + [OrganisationKind.housing_corporation] * 8
                 + [OrganisationKind.neighbourhood_team] * 20
                 + [OrganisationKind.care_provider] * 6 + [OrganisationKind.debt_assistance] * 4)[:organisations]
        _insert(Organisation.__table__, [
            {"id": i + 1, "name": f"Organisatie {i + 1:02d} ({kind.value})", "kind": kind.value, "version": 1}
            for i, kind in enumerate(kinds)
        ])
        by_kind = {}
        for i, kind in enumerate(kinds):
            by_kind.setdefault(kind, []).append(i + 1)
        corporations = by_kind[OrganisationKind.housing_corporation]
        coordinator = by_kind[OrganisationKind.coordinator][0]
        municipality = by_kind[OrganisationKind.municipality][0]
        teams = by_kind[OrganisationKind.neighbourhood_team]
        helpers = by_kind.get(OrganisationKind.care_provider, []) + by_kind.get(OrganisationKind.debt_assistance, [])

        tenant_rows, tenant_corporation = [], {}
        for i in range(1, tenants + 1):
            # Corporations differ in size, as real ones do: the first holds the largest share.
            corporation = corporations[min(int(rng.expovariate(0.35)), len(corporations) - 1)]
            tenant_corporation[i] = corporation
            tenant_rows.append({
                "id": i, "client_number": f"LK-{i:07d}", "first_name": rng.choice(FIRST_NAMES),
                "last_name": f"{rng.choice(LAST_NAMES)} {i}", "date_of_birth": date(1950, 1, 1) + timedelta(days=rng.randrange(20000)),
                "postcode": f"{rng.randint(3400, 3599)} {rng.choice('ABCDEFGHJKLMNPRTVWXZ')}{rng.choice('ABCDEFGHJKLMNPRTVWXZ')}",
                "city": rng.choice(CITIES), "street": "Teststraat", "house_number": str(rng.randint(1, 300)),
                "housing_corporation_id": corporation, "household": rng.choice(list(Household)).value,
                "monthly_rent": Decimal(rng.randint(40000, 90000)) / 100, "version": 1,
            })
        _insert(Tenant.__table__, tenant_rows)
        log(f"  {tenants:,} tenants in {time.perf_counter() - started:.1f} s")

        statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
        trajectory_rows, links, running = [], [], []
        for i in range(1, trajectories + 1):
            tenant_id = i if i <= tenants else rng.randint(1, tenants)
            status = rng.choices(statuses, weights)[0]
            referral = today - timedelta(days=rng.randint(30, 3650))
            started_on = referral + timedelta(days=rng.randint(20, 90)) if status not in (
                TrajectoryStatus.referred, TrajectoryStatus.intake, TrajectoryStatus.financial_overview) else None
            if started_on and started_on > today:
                started_on = today - timedelta(days=1)
            ended = status in (TrajectoryStatus.completed, TrajectoryStatus.ended_early)
            trajectory_rows.append({
                "id": i, "tenant_id": tenant_id, "referring_organisation_id": tenant_corporation[tenant_id],
                "status": status.value, "referral_date": referral, "reason_rent_arrears": rng.random() < 0.8,
                "reason_nuisance": rng.random() < 0.4, "reason_damage": rng.random() < 0.2,
                "reason_care_avoidance": rng.random() < 0.3,
                "eviction_judgment": rng.choice([EvictionJudgment.requested, EvictionJudgment.obtained]).value,
                "start_date": started_on,
                "planned_end_date": started_on + timedelta(days=730 + rng.randint(0, 730)) if started_on else None,
                "actual_end_date": min(today, started_on + timedelta(days=rng.randint(200, 1400))) if ended and started_on else None,
                "version": 1,
            })
            involved = {coordinator, municipality, rng.choice(teams)}
            if helpers and rng.random() < 0.3:
                involved.add(rng.choice(helpers))
            links.extend({"trajectory_id": i, "organisation_id": org} for org in involved)
            if status == TrajectoryStatus.running:
                running.append((i, started_on))
        _insert(Trajectory.__table__, trajectory_rows)
        _insert(trajectory_organisation, links)
        log(f"  {trajectories:,} trajectories in {time.perf_counter() - started:.1f} s")

        categories, debt_statuses = list(DebtCategory), list(DebtStatus)
        debt_rows = []
        for i in range(1, debts + 1):
            original = Decimal(rng.randint(2000, 800000)) / 100
            debt_rows.append({
                "id": i, "trajectory_id": rng.randint(1, trajectories), "creditor": f"Schuldeiser {rng.randint(1, 400)}",
                "category": rng.choice(categories).value, "status": rng.choice(debt_statuses).value,
                "original_amount": original, "current_balance": (original * Decimal(rng.randint(0, 100)) / 100).quantize(Decimal("0.01")),
                "is_expected_cost": rng.random() < 0.05, "registered_on": today - timedelta(days=rng.randint(1, 2000)),
                "version": 1,
            })
            if len(debt_rows) == BATCH * 5:
                _insert(Debt.__table__, debt_rows)
                debt_rows = []
        _insert(Debt.__table__, debt_rows)
        log(f"  {debts:,} debts in {time.perf_counter() - started:.1f} s")

        assessments = list(Assessment)
        evaluation_rows = []
        for i in range(1, evaluations + 1):
            trajectory_id, start = running[rng.randrange(len(running))] if running else (rng.randint(1, trajectories), None)
            planned = (start or today) + timedelta(days=rng.randint(0, 1000))
            held = planned if planned <= today and rng.random() < 0.9 else None
            evaluation_rows.append({
                "id": i, "trajectory_id": trajectory_id, "planned_date": planned, "held_date": held,
                "assessment": rng.choice(assessments).value if held else None, "rent_paid": rng.random() < 0.8,
                "version": 1,
            })
            if len(evaluation_rows) == BATCH * 5:
                _insert(Evaluation.__table__, evaluation_rows)
                evaluation_rows = []
        _insert(Evaluation.__table__, evaluation_rows)
        log(f"  {evaluations:,} evaluations in {time.perf_counter() - started:.1f} s")

        sm = app.appbuilder.sm
        password = generate_password_hash(PASSWORD)
        for username, organisation, role in (("coordinator", coordinator, "Coordinator"),
                                             ("corporation", corporations[0], "Caseworker")):
            db.session.add(PortalUser(username=username, first_name=username, last_name="Bench",
                                      email=f"{username}@bench.example.nl", active=True, password=password,
                                      roles=[sm.find_role(role)], organisation_id=organisation))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                for table in ("organisation", "tenant", "trajectory", "debt", "evaluation"):
                    connection.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
                connection.execute(sa.text("ANALYZE"))
        else:
            with db.engine.begin() as connection:
                connection.execute(sa.text("ANALYZE"))
    return {"largest_corporation": corporations[0], "coordinator": coordinator, "seconds": time.perf_counter() - started}
