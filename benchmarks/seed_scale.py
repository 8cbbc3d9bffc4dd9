"""Fill a scratch portal database at production scale, for benchmarks/pages.py.

    .venv/bin/python benchmarks/seed_scale.py                          # SQLite, /tmp/portal-scale.db
    .venv/bin/python benchmarks/seed_scale.py --database /tmp/x.db --scale 0.1
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/scale_helper .venv/bin/python benchmarks/seed_scale.py

At scale 1: 100,000 tenants, 120,000 trajectories, 1,000,000 debts and 500,000 evaluations
across 40 organisations (benchmarks/seeding.py, bulk Core inserts), plus what the other screens
and the dashboard read: an agreement for every trajectory past the financial overview, with its
signatures (complete once the trajectory runs), obligations, and an intervention after one
evaluation in ten. The users "coordinator" (Coordinator) and "corporation" (Caseworker at the
largest housing corporation) log in with password Bench-2026!.

The schema comes from the Alembic migrations (flask_migrate.upgrade), so the indexes measured
are the migrated ones. The target database is emptied first: the SQLite file is deleted, a
PostgreSQL database has its public schema dropped. Never point it at a database you want to keep.
"""
import argparse
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

DEFAULT_DATABASE = "/tmp/portal-scale.db"
FULL = {"tenants": 100_000, "trajectories": 120_000, "debts": 1_000_000, "evaluations": 500_000}


def database_url(database: str | None) -> str:
    url = os.environ.get("DATABASE_URL")
    if url and not database:
        return url
    return f"sqlite:///{database or DEFAULT_DATABASE}"


def make_app(url: str):
    os.environ.setdefault("PORTAL_ENV", "development")
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "benchmark",
                       "TESTING": True})


def reset_database(url: str) -> None:
    """An empty target: no file (SQLite) or an empty public schema (PostgreSQL)."""
    import sqlalchemy as sa

    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def migrate(app) -> None:
    from flask_migrate import upgrade

    from models import db

    with app.app_context():
        upgrade()
        db.session.remove()


def seed_related(app, rng: random.Random, log=print) -> dict:
    """Agreements, signatures, obligations and interventions, for the screens and the dashboard."""
    import sqlalchemy as sa

    from models import (
        Agreement, AgreementStatus, Evaluation, Intervention, Obligation, ObligationStatus, Signature, SigningParty,
        Trajectory, TrajectoryStatus, db, trajectory_organisation,
    )
    from seeding import BATCH, _insert

    started = time.perf_counter()
    today = date.today()
    with app.app_context():
        connection = db.session.connection()
        involved = {}
        for trajectory_id, organisation_id in connection.execute(
            sa.select(trajectory_organisation.c.trajectory_id, trajectory_organisation.c.organisation_id)
        ):
            involved.setdefault(trajectory_id, []).append(organisation_id)
        trajectories = connection.execute(
            sa.select(Trajectory.id, Trajectory.status, Trajectory.referring_organisation_id, Trajectory.referral_date,
                      Trajectory.start_date)
        ).all()
        past_overview = {TrajectoryStatus.agreement.value, TrajectoryStatus.running.value,
                         TrajectoryStatus.completed.value, TrajectoryStatus.ended_early.value}
        agreements, signatures, obligations = [], [], []
        agreement_id = signature_id = obligation_id = 0
        for trajectory_id, status, referrer, referral, start in trajectories:
            status = getattr(status, "value", status)
            if status not in past_overview:
                continue
            agreement_id += 1
            drawn_up = referral + timedelta(days=rng.randint(10, 60))
            if status == TrajectoryStatus.agreement.value:
                agreement_status = rng.choice([AgreementStatus.draft, AgreementStatus.awaiting_signatures])
            elif status == TrajectoryStatus.running.value:
                agreement_status = AgreementStatus.in_force
            else:
                agreement_status = AgreementStatus.ended
            agreements.append({
                "id": agreement_id, "trajectory_id": trajectory_id, "agreement_version": 1,
                "drawn_up_on": min(drawn_up, today), "valid_from": start, "status": agreement_status.value,
                "version": 1,
            })
            parties = [referrer, *[o for o in involved.get(trajectory_id, []) if o != referrer]]
            complete = status != TrajectoryStatus.agreement.value
            signers = [(SigningParty.tenant, None), *[(SigningParty.organisation, o) for o in parties]]
            if not complete:
                signers = signers[:rng.randint(0, len(signers) - 1)]
            for party, organisation_id in signers:
                signature_id += 1
                signatures.append({
                    "id": signature_id, "agreement_id": agreement_id, "party": party.value,
                    "organisation_id": organisation_id, "signed_by": "Bench Ondertekenaar",
                    "signed_on": min(drawn_up + timedelta(days=rng.randint(0, 20)), today), "version": 1,
                })
            for party, organisation_id in ((SigningParty.tenant, None), (SigningParty.organisation, referrer)):
                obligation_id += 1
                obligations.append({
                    "id": obligation_id, "agreement_id": agreement_id, "party": party.value,
                    "organisation_id": organisation_id, "description": "Huur op tijd betalen" if organisation_id is None
                    else "Maandelijks huisbezoek", "due_date": drawn_up + timedelta(days=365),
                    "status": rng.choice(list(ObligationStatus)).value, "version": 1,
                })
        _insert(Agreement.__table__, agreements)
        _insert(Signature.__table__, signatures)
        _insert(Obligation.__table__, obligations)
        log(f"  {len(agreements):,} agreements, {len(signatures):,} signatures, {len(obligations):,} obligations "
            f"in {time.perf_counter() - started:.1f} s")

        interventions, intervention_id = [], 0
        organisations = sorted({o for orgs in involved.values() for o in orgs})
        for evaluation_id, held in connection.execute(
            sa.select(Evaluation.id, Evaluation.held_date).where(Evaluation.held_date.is_not(None), Evaluation.id % 10 == 0)
        ):
            intervention_id += 1
            interventions.append({
                "id": intervention_id, "evaluation_id": evaluation_id, "description": "Extra begeleiding bij budget",
                "responsible_organisation_id": rng.choice(organisations), "due_date": held + timedelta(days=30),
                "closed_on": None if rng.random() < 0.2 else min(today, held + timedelta(days=rng.randint(5, 60))),
                "version": 1,
            })
            if len(interventions) == BATCH * 5:
                _insert(Intervention.__table__, interventions)
                interventions = []
        _insert(Intervention.__table__, interventions)
        db.session.commit()
        log(f"  {intervention_id:,} interventions in {time.perf_counter() - started:.1f} s")
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                for table in ("agreement", "signature", "obligation", "intervention"):
                    conn.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"))
            # The state autovacuum keeps a live database in: statistics, a visibility map that lets
            # counts read an index alone, and tables without the dead row versions of the load (the
            # triggers rewrite each trajectory once per batch: 109 MB instead of 13 before FULL).
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM FULL ANALYZE"))
        else:
            with db.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))
    return {"agreements": len(agreements), "signatures": len(signatures), "interventions": intervention_id}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help=f"SQLite file (default {DEFAULT_DATABASE}; DATABASE_URL selects PostgreSQL)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (default 1)")
    parser.add_argument("--organisations", type=int, default=40)
    parser.add_argument("--no-related", action="store_true", help="skip agreements, signatures and interventions")
    args = parser.parse_args()

    from seeding import seed

    url = database_url(args.database)
    sizes = {name: max(1, int(number * args.scale)) for name, number in FULL.items()}
    print(f"seeding {url.split('@')[-1]}: " + ", ".join(f"{n:,} {name}" for name, n in sizes.items()), flush=True)
    started = time.perf_counter()
    reset_database(url)
    app = make_app(url)
    migrate(app)
    print(f"  schema migrated to head in {time.perf_counter() - started:.1f} s", flush=True)
    result = seed(app, organisations=args.organisations, log=lambda line: print(line, flush=True), **sizes)
    if not args.no_related:
        seed_related(app, random.Random(7), log=lambda line: print(line, flush=True))
    print(f"done in {time.perf_counter() - started:.1f} s (largest corporation: organisation {result['largest_corporation']})")


if __name__ == "__main__":
    main()
