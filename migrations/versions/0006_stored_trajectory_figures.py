"""Stored trajectory figures kept by triggers; indexes for the evaluations due, the debt order and the agreement status

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:00:00

A trajectory's total current and original debt and the date of its last held evaluation become
columns, filled from the existing rows and from then on recounted by triggers on `debt` and
`evaluation` in the same transaction as every write. SQLite gets row triggers; PostgreSQL gets
statement triggers (one recount per statement, however many rows it writes, as one grouped join)
that first lock the trajectories they recount, so two transactions writing debts of one trajectory
at the same time cannot overwrite each other's total with a count that missed the other's rows.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# What each child table's rows add up to on their trajectory: (column, SQL over the child rows).
FIGURES = {
    "debt": {
        "total_current_debt": "coalesce(sum(current_balance), 0)",
        "total_original_debt": "coalesce(sum(original_amount), 0)",
    },
    "evaluation": {
        "last_evaluation_held_on": "max(held_date)",
    },
}


def _recount(table, trajectory_id):
    """SET clause assignments recounting `table`'s figures for the trajectory `trajectory_id`."""
    return ", ".join(
        f"{column} = (SELECT {expression} FROM {table} WHERE {table}.trajectory_id = {trajectory_id})"
        for column, expression in FIGURES[table].items()
    )


def _sqlite_triggers(table):
    watched = ", ".join(["trajectory_id", *{"debt": ["current_balance", "original_amount"],
                                            "evaluation": ["held_date"]}[table]])
    return [
        f"CREATE TRIGGER {table}_figures_insert AFTER INSERT ON {table} BEGIN "
        f"UPDATE trajectory SET {_recount(table, 'NEW.trajectory_id')} WHERE id = NEW.trajectory_id; END",
        f"CREATE TRIGGER {table}_figures_update AFTER UPDATE OF {watched} ON {table} BEGIN "
        f"UPDATE trajectory SET {_recount(table, 'trajectory.id')} "
        f"WHERE id IN (OLD.trajectory_id, NEW.trajectory_id); END",
        f"CREATE TRIGGER {table}_figures_delete AFTER DELETE ON {table} BEGIN "
        f"UPDATE trajectory SET {_recount(table, 'OLD.trajectory_id')} WHERE id = OLD.trajectory_id; END",
    ]


def _postgresql_triggers(table):
    function = f"recount_trajectory_{table}_figures"
    body = f"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    affected integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT trajectory_id) INTO affected FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT trajectory_id) INTO affected
        FROM (SELECT trajectory_id FROM new_rows UNION SELECT trajectory_id FROM old_rows) AS changed;
    ELSE
        SELECT array_agg(DISTINCT trajectory_id) INTO affected FROM old_rows;
    END IF;
    IF affected IS NULL THEN
        RETURN NULL;
    END IF;
    -- Lock first, in one order: the recount below is a new statement, so it also sees the rows
    -- that a concurrent transaction committed while this one waited for the lock.
    PERFORM 1 FROM trajectory WHERE id = ANY(affected) ORDER BY id FOR UPDATE;
    UPDATE trajectory SET {", ".join(f"{column} = recount.{column}" for column in FIGURES[table])}
    FROM (SELECT affected.id, {", ".join(f"{expression} AS {column}" for column, expression in FIGURES[table].items())}
          FROM unnest(affected) AS affected(id) LEFT JOIN {table} ON {table}.trajectory_id = affected.id
          GROUP BY affected.id) AS recount
    WHERE trajectory.id = recount.id;
    RETURN NULL;
END
$$"""
    return [
        body,
        f"CREATE TRIGGER {table}_figures_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_figures_update AFTER UPDATE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_figures_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def upgrade():
    with op.batch_alter_table('trajectory', schema=None) as batch_op:
        batch_op.add_column(sa.Column('total_current_debt', sa.Numeric(precision=12, scale=2), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('total_original_debt', sa.Numeric(precision=12, scale=2), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_evaluation_held_on', sa.Date(), nullable=True))
    op.create_index('ix_trajectory_total_current_debt', 'trajectory', ['total_current_debt'], unique=False)
    op.create_index('ix_agreement_status', 'agreement', ['status'], unique=False)
    op.create_index('ix_trajectory_status_evaluation_base', 'trajectory',
                    ['status', sa.text('coalesce(last_evaluation_held_on, start_date)'), 'referring_organisation_id'],
                    unique=False)

    for table in FIGURES:
        op.execute(f"UPDATE trajectory SET {_recount(table, 'trajectory.id')}")
    dialect = op.get_bind().dialect.name
    for table in FIGURES:
        for statement in (_postgresql_triggers(table) if dialect == "postgresql" else _sqlite_triggers(table)):
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in FIGURES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_figures_{event}" + (f" ON {table}" if dialect == "postgresql" else ""))
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS recount_trajectory_{table}_figures()")
    op.drop_index('ix_agreement_status', table_name='agreement')
    op.drop_index('ix_trajectory_status_evaluation_base', table_name='trajectory')
    op.drop_index('ix_trajectory_total_current_debt', table_name='trajectory')
    with op.batch_alter_table('trajectory', schema=None) as batch_op:
        batch_op.drop_column('last_evaluation_held_on')
        batch_op.drop_column('total_original_debt')
        batch_op.drop_column('total_current_debt')
