import logging
import warnings
from contextlib import contextmanager, nullcontext
from logging.config import fileConfig

import sqlalchemy as sa
from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name)
logger = logging.getLogger('alembic.env')

# SQLite cannot reflect the index on an expression, so autogenerate and batch mode skip it with a
# warning on every run; tests/test_migrations.py checks that the migrations build it.
for _message in (r".*expression-based index 'ix_trajectory_status_evaluation_base'",
                 r".*expression-based index ix_trajectory_status_evaluation_base"):
    warnings.filterwarnings("ignore", message=_message)


def get_engine():
    try:
        # this works with Flask-SQLAlchemy<3 and Alchemical
        return current_app.extensions['migrate'].db.engine
    except (TypeError, AttributeError):
        # this works with Flask-SQLAlchemy>=3
        return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    # Every table, Flask-AppBuilder's security tables included, lives on FAB's Model.
    from models import Model

    return Model.metadata


def _built_on_this_database(schema_object, name, type_, reflected, compare_to):
    """Autogenerate leaves out what this database does not build (PostgreSQL-only trigram indexes)."""
    from models.base import built_on

    return reflected or built_on(schema_object, context.get_bind().dialect.name)


def _render_item(type_, obj, autogen_context):
    """Write a server default that SQLAlchemy spells per database (`sa.false()`, `sa.func.now()`) as
    that expression, not as the SQL of the database the migration was drafted on: SQLite's `0` for
    false fails on PostgreSQL ("default expression is of type integer")."""
    if type_ == "server_default" and isinstance(obj, sa.schema.DefaultClause):
        value = obj.arg
        if isinstance(value, (sa.sql.elements.True_, sa.sql.elements.False_)):
            return "sa.true()" if isinstance(value, sa.sql.elements.True_) else "sa.false()"
        if isinstance(value, sa.sql.functions.FunctionElement) and not list(value.clauses):
            return f"sa.func.{value.name}()"
    return False


@contextmanager
def _sqlite_batch_mode_safe(connection):
    """SQLite's batch mode rebuilds a table by copying it, dropping the old one and renaming the copy.
    With foreign keys enforced, dropping `trajectory` or `agreement` would delete the rows that refer
    to them (ON DELETE CASCADE) or fail; and the rename would fail on every trigger of another table
    that names the table ("error in trigger ...: no such table"). While the migrations run, foreign
    keys are off (the pragma only takes effect outside a transaction) and checked afterwards, and the
    rename leaves other tables' references alone (legacy_alter_table), as they name the table already."""
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.exec_driver_sql("PRAGMA legacy_alter_table=ON")
    connection.commit()
    try:
        yield
        violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if violations:
            raise RuntimeError(f"The migrations left rows that refer to missing rows: {violations[:10]}")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.exec_driver_sql("PRAGMA legacy_alter_table=OFF")
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def _keep_the_stored_figures(connection):
    """Install the triggers that keep the stored figures again (drop-if-exists, create, recount) when
    one is missing or differs from its definition in models/triggers.py. On SQLite, Alembic's batch
    mode rebuilds a table to add a column with a server default (or to drop or alter one), and the
    rebuilt table has lost its triggers; a migration may also drop them, or a definition change."""
    from models import triggers

    rules = triggers.rules_in_force(connection)
    stale = triggers.out_of_date(connection, rules)
    if not stale:
        return
    logger.info("Installing the stored figures' triggers again, with a recount (missing or changed: %s)",
                ", ".join(stale))
    with nullcontext() if connection.in_transaction() else connection.begin():
        for statement in triggers.install_statements(connection.dialect.name, rules):
            connection.exec_driver_sql(statement)


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()
        _install_the_triggers_in_the_script()


def _install_the_triggers_in_the_script():
    """An SQL script (`flask db upgrade --sql`) cannot look at the database: it ends by installing
    the triggers of every rule the target revision has, with a recount, as the online run would
    when a rebuild lost them."""
    from models import triggers

    migration_context = context.get_context()
    if "destination_rev" not in migration_context.opts:
        return
    destination = context.get_revision_argument()
    revisions = migration_context.opts["script"].revision_map.iterate_revisions(destination, "base")
    reached = {revision.revision for revision in revisions} if destination else set()
    rules = [rule for rule in triggers.RULES if rule.since in reached]
    for statement in triggers.install_statements(migration_context.dialect.name, rules):
        context.execute(statement)


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    # A copy: the callbacks below close over this run's config, and the app's dict outlives the run.
    conf_args = dict(current_app.extensions['migrate'].configure_args)
    conf_args.setdefault("include_object", _built_on_this_database)
    conf_args.setdefault("render_item", _render_item)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection, _sqlite_batch_mode_safe(connection):
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        with context.begin_transaction():
            context.run_migrations()
            # Only a command that moves the schema (upgrade, downgrade, stamp) writes; `migrate`,
            # `current` and `check` only read.
            if "destination_rev" in context.get_context().opts:
                _keep_the_stored_figures(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
