"""Users carry a session generation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00

A session is valid only while it carries its user's `session_generation`: logging out, a new
password and deactivation raise the number, which ends every session of that user, also one
whose cookie was copied. Existing users start at 0. A plain ADD COLUMN (no batch table rebuild
on SQLite), with a server default so that existing rows get their value.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('ab_user', sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
