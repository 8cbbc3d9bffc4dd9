"""Trigram indexes for "contains" searches on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:40:00

A list search "contains jansen" is `ILIKE '%jansen%'`, which no ordinary index can answer: on
PostgreSQL a corporation's tenant search read every tenant (196 ms). pg_trgm's GIN indexes answer
it for the texts the lists search in large tables. pg_trgm ships with PostgreSQL and is a trusted
extension: the database's owner may create it. SQLite gets nothing (it has no such index; its scan
stays within the targets, see benchmarks/pages.py).
"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

INDEXES = {
    "ix_tenant_last_name_trgm": ("tenant", "last_name"),
    "ix_tenant_first_name_trgm": ("tenant", "first_name"),
    "ix_tenant_client_number_trgm": ("tenant", "client_number"),
    "ix_debt_creditor_trgm": ("debt", "creditor"),
    "ix_intervention_description_trgm": ("intervention", "description"),
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in INDEXES.items():
        op.create_index(name, table, [column], unique=False, postgresql_using="gin",
                        postgresql_ops={column: "gin_trgm_ops"})


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
