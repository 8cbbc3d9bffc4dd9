"""Agreements keep the number of parties still to sign, recounted by triggers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00

`agreement.signatures_missing` is Agreement.missing_signatures counted by the database: the tenant,
the referring organisation and every involved organisation that has not signed. Triggers recount
it whenever what it depends on changes: a signature, an organisation joining or leaving the
trajectory, the trajectory's referring organisation, the agreement's trajectory. On PostgreSQL
the affected agreements are locked before the recount, so two parties signing at the same moment
cannot leave it at one still to sign. The dashboard and the partner workbook count "awaiting
signatures" from an index on it instead of testing every agreement's signatures (320 ms). The
triggers are defined in models/triggers.py, their one place for both databases.
"""
from alembic import op
import sqlalchemy as sa

from models import triggers


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signatures_missing', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_agreement_signatures_missing', 'agreement', ['signatures_missing'], unique=False)
    for statement in triggers.install_statements(op.get_bind().dialect.name, [triggers.SIGNATURES_MISSING_RULE]):
        op.execute(statement)


def downgrade():
    for statement in triggers.drop_statements(op.get_bind().dialect.name, [triggers.SIGNATURES_MISSING_RULE]):
        op.execute(statement)
    op.drop_index('ix_agreement_signatures_missing', table_name='agreement')
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.drop_column('signatures_missing')
