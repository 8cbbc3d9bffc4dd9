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
The triggers are defined in models/triggers.py, their one place for both databases.
"""
from alembic import op
import sqlalchemy as sa

from models import triggers


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


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

    for statement in triggers.install_statements(op.get_bind().dialect.name, [triggers.TRAJECTORY_FIGURES_RULE]):
        op.execute(statement)


def downgrade():
    for statement in triggers.drop_statements(op.get_bind().dialect.name, [triggers.TRAJECTORY_FIGURES_RULE]):
        op.execute(statement)
    op.drop_index('ix_agreement_status', table_name='agreement')
    op.drop_index('ix_trajectory_status_evaluation_base', table_name='trajectory')
    op.drop_index('ix_trajectory_total_current_debt', table_name='trajectory')
    with op.batch_alter_table('trajectory', schema=None) as batch_op:
        batch_op.drop_column('last_evaluation_held_on')
        batch_op.drop_column('total_original_debt')
        batch_op.drop_column('total_current_debt')
