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
