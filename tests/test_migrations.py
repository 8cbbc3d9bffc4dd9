"""The migrations build the whole schema: an empty database upgraded to head matches the models."""
import shutil
import uuid
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, migrate, upgrade
from sqlalchemy.engine import make_url

from app import create_app
from config import BASE_DIR
from models import Model, triggers
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


# ---- migrations cannot lose the triggers that keep the stored figures -----------------------------
# SQLite's batch mode rebuilds a table to add a column with a server default, and a rebuilt table has
# lost its triggers; migrations/env.py installs them again (models/triggers.py). These tests run the
# portal's own env.py on a copy of the migrations directory with a throwaway revision on top.


def _migrations_copy(tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(BASE_DIR / "migrations", directory, ignore=shutil.ignore_patterns("__pycache__"))
    return directory


THROWAWAY_REVISION = '''"""Throwaway: a column with a server default on every table that bears triggers"""
from alembic import op
import sqlalchemy as sa

revision = "throwaway"
down_revision = {head!r}
branch_labels = None
depends_on = None
TABLES = {tables!r}


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("checked", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("checked")
'''


def _a_case(connection):
    """One trajectory (referred by Portaal, Buurtteam involved) with two debts, a held evaluation and
    an agreement the tenant signed, written before the migration under test."""
    tables = Model.metadata.tables
    connection.execute(sa.insert(tables["organisation"]), [
        {"id": 1, "name": "Het Vierde Huis", "kind": "coordinator"},
        {"id": 2, "name": "Portaal", "kind": "housing_corporation"},
        {"id": 3, "name": "Buurtteam Overvecht", "kind": "neighbourhood_team"},
    ])
    connection.execute(sa.insert(tables["tenant"]).values(
        id=1, client_number="LK-1", first_name="A", last_name="B", housing_corporation_id=2))
    connection.execute(sa.insert(tables["trajectory"]).values(
        id=1, tenant_id=1, referring_organisation_id=2, status="running", referral_date=date(2025, 1, 1),
        eviction_judgment="none"))
    connection.execute(sa.insert(tables["trajectory_organisation"]).values(trajectory_id=1, organisation_id=3))
    connection.execute(sa.insert(tables["debt"]), [
        {"id": 1, "trajectory_id": 1, "creditor": "Eneco", "category": "energy", "original_amount": Decimal("120"),
         "current_balance": Decimal("100")},
        {"id": 2, "trajectory_id": 1, "creditor": "Vitens", "category": "energy", "original_amount": Decimal("50"),
         "current_balance": Decimal("50")},
    ])
    connection.execute(sa.insert(tables["evaluation"]).values(
        id=1, trajectory_id=1, planned_date=date(2025, 3, 1), held_date=date(2025, 3, 1)))
    connection.execute(sa.insert(tables["agreement"]).values(id=1, trajectory_id=1, drawn_up_on=date(2025, 2, 1)))
    connection.execute(sa.insert(tables["obligation"]).values(
        agreement_id=1, party="tenant", description="Rent on time"))
    connection.execute(sa.insert(tables["signature"]).values(
        id=1, agreement_id=1, party="tenant", signed_by="A. B.", signed_on=date(2025, 2, 2)))


def _figures(connection):
    trajectory, agreement = Model.metadata.tables["trajectory"], Model.metadata.tables["agreement"]
    figures = connection.execute(sa.select(
        trajectory.c.total_current_debt, trajectory.c.total_original_debt, trajectory.c.last_evaluation_held_on,
    ).where(trajectory.c.id == 1)).one()
    return tuple(figures), dict(connection.execute(sa.select(agreement.c.id, agreement.c.signatures_missing)).all())


def _assert_the_figures_follow_writes(engine):
    """Debts, evaluations, signatures, involved organisations, the referrer and a new agreement
    written after the migration: each stored figure follows in the same transaction."""
    tables = Model.metadata.tables
    debt, evaluation, signature = tables["debt"], tables["evaluation"], tables["signature"]
    involved = tables["trajectory_organisation"]
    steps = [
        ("a debt added", sa.insert(debt).values(id=3, trajectory_id=1, creditor="CJIB", category="other",
                                                original_amount=Decimal("30"), current_balance=Decimal("25")),
         (Decimal("175"), Decimal("200"), date(2025, 3, 1)), {1: 2}),
        ("a balance paid off", sa.update(debt).where(debt.c.id == 1).values(current_balance=Decimal("60")),
         (Decimal("135"), Decimal("200"), date(2025, 3, 1)), {1: 2}),
        ("a debt deleted", sa.delete(debt).where(debt.c.id == 2),
         (Decimal("85"), Decimal("150"), date(2025, 3, 1)), {1: 2}),
        ("a later evaluation held", sa.insert(evaluation).values(
            id=2, trajectory_id=1, planned_date=date(2025, 6, 1), held_date=date(2025, 6, 2)),
         (Decimal("85"), Decimal("150"), date(2025, 6, 2)), {1: 2}),
        ("not held after all", sa.update(evaluation).where(evaluation.c.id == 2).values(held_date=None),
         (Decimal("85"), Decimal("150"), date(2025, 3, 1)), {1: 2}),
        ("the held one deleted", sa.delete(evaluation).where(evaluation.c.id == 1),
         (Decimal("85"), Decimal("150"), None), {1: 2}),
        ("the referrer signs", sa.insert(signature).values(
            id=2, agreement_id=1, party="organisation", organisation_id=2, signed_by="P", signed_on=date(2025, 2, 3)),
         (Decimal("85"), Decimal("150"), None), {1: 1}),
        ("the involved team leaves", sa.delete(involved).where(involved.c.organisation_id == 3),
         (Decimal("85"), Decimal("150"), None), {1: 0}),
        ("and joins again", sa.insert(involved).values(trajectory_id=1, organisation_id=3),
         (Decimal("85"), Decimal("150"), None), {1: 1}),
        ("another referrer", sa.update(tables["trajectory"]).where(tables["trajectory"].c.id == 1)
         .values(referring_organisation_id=1),
         (Decimal("85"), Decimal("150"), None), {1: 2}),
        ("a new agreement", sa.insert(tables["agreement"]).values(id=2, trajectory_id=1, drawn_up_on=date(2025, 7, 1)),
         (Decimal("85"), Decimal("150"), None), {1: 2, 2: 3}),
        ("the tenant's signature withdrawn", sa.delete(signature).where(signature.c.id == 1),
         (Decimal("85"), Decimal("150"), None), {1: 3, 2: 3}),
    ]
    for what, statement, trajectory_figures, signatures_missing in steps:
        with engine.begin() as connection:
            connection.execute(statement)
            assert _figures(connection) == (trajectory_figures, signatures_missing), what


def _assert_the_rules_are_whole(engine, rows_before):
    with engine.connect() as connection:
        assert triggers.out_of_date(connection) == []
        assert set(triggers.trigger_names()) <= set(
            name for name, in connection.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'" if engine.dialect.name == "sqlite" else
                "SELECT DISTINCT trigger_name FROM information_schema.triggers")))
        # Rebuilding `trajectory` or `agreement` did not take the rows that refer to them along.
        assert _row_counts(connection) == rows_before


def _row_counts(connection):
    return {table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("trajectory_organisation", "debt", "evaluation", "agreement", "obligation", "signature")}


def test_a_column_with_a_server_default_on_every_table_with_triggers_keeps_the_figures(app, tmp_path):
    directory = _migrations_copy(tmp_path)
    head = ScriptDirectory(str(directory)).get_current_head()
    (directory / "versions" / "throwaway.py").write_text(
        THROWAWAY_REVISION.format(head=head, tables=sorted(triggers.watched_tables())))
    url, drop = _scratch_database(app, tmp_path)
    try:
        scratch = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with scratch.app_context():
            upgrade(directory=str(directory), revision=head)
            engine = scratch.extensions["sqlalchemy"].engine
            with engine.begin() as connection:
                _a_case(connection)
                assert _figures(connection) == ((Decimal("150"), Decimal("170"), date(2025, 3, 1)), {1: 2})
                rows_before = _row_counts(connection)

            upgrade(directory=str(directory))
            with engine.connect() as connection:
                for table in triggers.watched_tables():
                    assert "checked" in {column["name"] for column in sa.inspect(connection).get_columns(table)}
            _assert_the_rules_are_whole(engine, rows_before)
            # Down again rebuilds every table once more on SQLite.
            downgrade(directory=str(directory), revision=head)
            _assert_the_rules_are_whole(engine, rows_before)
            upgrade(directory=str(directory))
            _assert_the_figures_follow_writes(engine)
            with engine.connect() as connection:
                assert connection.execute(sa.text("SELECT checked FROM debt WHERE id = 3")).scalar_one() in (False, 0)
            engine.dispose()
    finally:
        drop()


def _models_with_two_new_debt_fields():
    """The portal's metadata with a boolean with a server default and a date added to Debt, as a
    developer adds them to models/debt.py; the real models are left alone."""
    metadata = sa.MetaData(naming_convention=Model.metadata.naming_convention)
    for table in Model.metadata.sorted_tables:
        copied = table.to_metadata(metadata)
        for index in table.indexes:  # which database an index is built on (models.base.built_on)
            if getattr(index, "_ddl_if", None) is not None:
                next(i for i in copied.indexes if i.name == index.name)._ddl_if = index._ddl_if
    debt = metadata.tables["debt"]
    debt.append_column(sa.Column("written_off", sa.Boolean, nullable=False, server_default=sa.false()))
    debt.append_column(sa.Column("written_off_on", sa.Date))
    return metadata


@pytest.mark.filterwarnings("ignore:.*expression-based index")
@pytest.mark.parametrize("drafted_on", ["sqlite", "the test database"])
def test_a_new_debt_field_is_the_model_lines_and_flask_db_migrate(app, tmp_path, monkeypatch, drafted_on):
    """`flask db migrate` drafts a migration for a boolean with a server default and a date on Debt
    that upgrades on both databases, whichever one it was drafted on, with the triggers intact."""
    if drafted_on != "sqlite" and make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite":
        pytest.skip("the test database is SQLite: the other case drafts on it")
    directory = _migrations_copy(tmp_path)
    head = ScriptDirectory(str(directory)).get_current_head()
    url, drop = _scratch_database(app, tmp_path)
    try:
        target = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        draft = target if drafted_on != "sqlite" else create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'draft.db'}", "TESTING": True})
        with draft.app_context():
            upgrade(directory=str(directory))
            with monkeypatch.context() as patched:
                patched.setattr(Model, "metadata", _models_with_two_new_debt_fields())
                migrate(directory=str(directory), message="debts written off")
        drafted, = (directory / "versions").glob("*_debts_written_off.py")
        source = drafted.read_text()
        assert "add_column(sa.Column('written_off', sa.Boolean(), server_default=sa.false(), nullable=False))" \
            in source, source
        assert "add_column(sa.Column('written_off_on', sa.Date(), nullable=True))" in source, source

        with target.app_context():
            engine = target.extensions["sqlalchemy"].engine
            upgrade(directory=str(directory), revision=head)
            with engine.begin() as connection:
                _a_case(connection)
                rows_before = _row_counts(connection)
            upgrade(directory=str(directory))
            _assert_the_rules_are_whole(engine, rows_before)
            with engine.connect() as connection:
                written_off = connection.execute(sa.text("SELECT written_off FROM debt WHERE id = 1")).scalar_one()
            assert written_off in (False, 0)  # the existing debts got the server default
            _assert_the_figures_follow_writes(engine)
            engine.dispose()
    finally:
        drop()


def test_the_next_upgrade_restores_a_lost_or_altered_trigger_and_recounts(migrated):
    """A trigger dropped or replaced (by hand, or by a migration that dropped a table) is installed
    again by the next `flask db upgrade`, even with nothing to migrate, and the figures it missed
    are recounted."""
    sqlite = migrated.dialect.name == "sqlite"
    with migrated.begin() as connection:
        _a_case(connection)
        connection.execute(sa.text("DROP TRIGGER debt_figures_insert" + ("" if sqlite else " ON debt")))
        if sqlite:
            connection.execute(sa.text("DROP TRIGGER debt_figures_delete"))
            connection.execute(sa.text("CREATE TRIGGER debt_figures_delete AFTER DELETE ON debt BEGIN SELECT 1; END"))
        else:
            connection.execute(sa.text("CREATE OR REPLACE FUNCTION recount_trajectory_debt_figures() RETURNS trigger "
                                       "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$"))
        connection.execute(sa.insert(Model.metadata.tables["debt"]).values(
            id=9, trajectory_id=1, creditor="Essent", category="energy", original_amount=Decimal("5"),
            current_balance=Decimal("5")))
        assert triggers.out_of_date(connection) == (
            ["debt_figures_delete", "debt_figures_insert"] if sqlite
            else ["debt_figures_insert", "recount_trajectory_debt_figures"])
        assert _figures(connection)[0][0] == Decimal("150")  # the new debt went uncounted

    upgrade()
    with migrated.begin() as connection:
        assert triggers.out_of_date(connection) == []
        assert _figures(connection)[0][:2] == (Decimal("155"), Decimal("175"))
        connection.execute(sa.delete(Model.metadata.tables["debt"]).where(Model.metadata.tables["debt"].c.id == 1))
        assert _figures(connection)[0][:2] == (Decimal("55"), Decimal("55"))


def test_flask_db_migrate_at_head_drafts_nothing(app, tmp_path):
    """Autogenerate sees no difference for what it cannot compare or this database does not build:
    the triggers, the index on an expression, PostgreSQL's trigram indexes."""
    directory = _migrations_copy(tmp_path)
    drafts_before = sorted((directory / "versions").glob("*.py"))
    url, drop = _scratch_database(app, tmp_path)
    try:
        scratch = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with scratch.app_context():
            upgrade(directory=str(directory))
            migrate(directory=str(directory), message="nothing to draft")
            scratch.extensions["sqlalchemy"].engine.dispose()
        assert sorted((directory / "versions").glob("*.py")) == drafts_before
    finally:
        drop()
