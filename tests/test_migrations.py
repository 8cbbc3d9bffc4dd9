"""The migrations build the whole schema: an empty database upgraded to head matches the models."""
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from app import create_app
from models import Model
from models.base import built_on


def _scratch_database(app, tmp_path):
    """A new, empty database next to the test database (same server for PostgreSQL)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        return str(url.set(database=str(tmp_path / "migrations.db"))), lambda: None
    name = f"portal_migration_check_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture
def migrated(app, tmp_path):
    """The engine of a new, empty database upgraded to head by the migrations."""
    url, drop = _scratch_database(app, tmp_path)
    try:
        scratch = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with scratch.app_context():
            upgrade()
            engine = scratch.extensions["sqlalchemy"].engine
            yield engine
            engine.dispose()
    finally:
        drop()


# Alembic cannot compare an index on an expression; the next test checks that one by name.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_upgrade_to_head_matches_the_models(migrated):
    with migrated.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            "include_object": lambda obj, name, type_, reflected, compare_to:
                reflected or built_on(obj, connection.dialect.name),
        })
        differences = compare_metadata(context, Model.metadata)
    assert differences == [], differences


TRIGGERS = [f"{table}_figures_{event}" for table in ("debt", "evaluation") for event in ("insert", "update", "delete")] + [
    f"{table}_signatures_missing_{event}" for table, events in (
        ("signature", ("insert", "update", "delete")), ("trajectory_organisation", ("insert", "update", "delete")),
        ("trajectory", ("update",)), ("agreement", ("insert", "update")),
    ) for event in events
]


def test_upgrade_creates_the_expression_index_and_the_triggers(migrated):
    """What compare_metadata cannot see: the index on an expression, and the triggers of migrations 0006-0007."""
    with migrated.connect() as connection:
        if migrated.dialect.name == "sqlite":
            found = dict(connection.execute(sa.text(
                "SELECT name, type FROM sqlite_master WHERE type IN ('index', 'trigger')")).all())
        else:
            found = dict(connection.execute(sa.text(
                "SELECT indexname, 'index' FROM pg_indexes WHERE tablename = 'trajectory' "
                "UNION SELECT DISTINCT trigger_name, 'trigger' FROM information_schema.triggers")).all())
    assert found.get("ix_trajectory_status_evaluation_base") == "index"
    missing = [name for name in TRIGGERS if found.get(name) != "trigger"]
    assert not missing, f"triggers missing: {missing}"


def test_records_made_before_ownership_get_their_recorder_from_the_audit_trail(app, tmp_path):
    """Migration 0010: the organisation of a record's "created" entry, else the creator's, else the coordinator."""
    url, drop = _scratch_database(app, tmp_path)
    try:
        scratch = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with scratch.app_context():
            upgrade(revision="0009")
            engine = scratch.extensions["sqlalchemy"].engine
            with engine.begin() as connection:
                run = lambda sql, **values: connection.execute(sa.text(sql), values)  # noqa: E731
                for pk, name, kind in ((1, "Het Vierde Huis", "coordinator"), (2, "Gemeente Utrecht", "municipality"),
                                       (3, "Portaal", "housing_corporation")):
                    run("INSERT INTO organisation (id, name, kind, version) VALUES (:id, :name, :kind, 1)",
                        id=pk, name=name, kind=kind)
                run("INSERT INTO ab_user (id, first_name, last_name, username, email, active, organisation_id, "
                    "session_generation) VALUES (7, 'G', 'T', 'gemeente', 'g@example.nl', true, 2, 0)")
                run("INSERT INTO tenant (id, client_number, first_name, last_name, housing_corporation_id, version) "
                    "VALUES (1, 'LK-1', 'A', 'B', 3, 1)")
                run("INSERT INTO trajectory (id, tenant_id, referring_organisation_id, status, referral_date, "
                    "reason_rent_arrears, reason_nuisance, reason_damage, reason_care_avoidance, eviction_judgment, "
                    "version) VALUES (1, 1, 3, 'running', '2025-01-01', false, false, false, false, 'none', 1)")
                for pk, creditor in ((1, "named in the trail"), (2, "creator known"), (3, "unknown")):
                    run("INSERT INTO debt (id, trajectory_id, creditor, category, status, original_amount, "
                        "current_balance, is_expected_cost, version) VALUES (:id, 1, :creditor, 'energy', "
                        "'inventoried', 10, 10, false, 1)", id=pk, creditor=creditor)
                trail = "INSERT INTO audit_entry (at, user_id, username, organisation_name, action, record_type, " \
                        "record_id) VALUES ('2025-01-02 10:00:00', :user, :username, :organisation, 'create', 'debt', :id)"
                run(trail, user=None, username="portaal", organisation="Portaal", id=1)
                run(trail, user=7, username="gemeente", organisation=None, id=2)
            upgrade()
            with engine.connect() as connection:
                recorded = dict(connection.execute(sa.text(
                    "SELECT id, recorded_by_organisation_id FROM debt ORDER BY id")).all())
                users = dict(connection.execute(sa.text("SELECT id, recorded_by_user_id FROM debt ORDER BY id")).all())
            engine.dispose()
        assert recorded == {1: 3, 2: 2, 3: 1}
        assert users == {1: None, 2: 7, 3: None}
    finally:
        drop()
