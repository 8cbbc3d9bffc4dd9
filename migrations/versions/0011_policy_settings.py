"""Policy settings an Admin changes in the portal

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:00:00

One row (id 1) holding the policy settings an Admin saved on the settings page; while it is
absent the environment's defaults apply. Versioned for optimistic locking, as the case records.
A new table only: no existing table is rebuilt, so no trigger is touched.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'policy_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('evaluation_interval_months', sa.Integer(), nullable=False),
        sa.Column('evaluation_due_soon_days', sa.Integer(), nullable=False),
        sa.Column('minimum_duration_months', sa.Integer(), nullable=False),
        sa.Column('maximum_duration_months', sa.Integer(), nullable=False),
        sa.Column('relapse_followup_months', sa.Integer(), nullable=False),
        sa.Column('success_target_percent', sa.Integer(), nullable=False),
        sa.Column('eviction_cost_eur', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('retention_years_tenant', sa.Integer(), nullable=False),
        sa.Column('retention_years_case_notes', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade():
    op.drop_table('policy_settings')
