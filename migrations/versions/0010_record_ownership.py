"""Every record inside a case keeps the organisation and member of staff that recorded it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 20:10:00

A record inside a case belongs to the organisation that recorded it (models.authority): that
organisation edits and deletes it, the coordinating organisation always may. Existing rows get
it from the audit trail's "created" entry (the organisation named in it, else the creator's
organisation); where the trail does not know, the coordinating organisation owns the record.

On SQLite the columns are added with ALTER TABLE, never by rebuilding the tables: a rebuild
would drop the triggers of migrations 0006 and 0007 that keep the stored figures, and dropping
`agreement` with foreign keys enforced would delete its obligations and signatures. A foreign key
added by ALTER TABLE does not reflect its ON DELETE, so both keep the default (NO ACTION): an
organisation or account that recorded case records is not deleted (accounts are deactivated).
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TABLES = ("agreement", "obligation", "signature", "debt", "evaluation", "intervention")


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            op.execute(f"ALTER TABLE {table} ADD COLUMN recorded_by_organisation_id INTEGER CONSTRAINT "
                       f"fk_{table}_recorded_by_organisation_id_organisation REFERENCES organisation (id)")
            op.execute(f"ALTER TABLE {table} ADD COLUMN recorded_by_user_id INTEGER CONSTRAINT "
                       f"fk_{table}_recorded_by_user_id_ab_user REFERENCES ab_user (id)")
        else:
            op.add_column(table, sa.Column("recorded_by_organisation_id", sa.Integer(), nullable=True))
            op.add_column(table, sa.Column("recorded_by_user_id", sa.Integer(), nullable=True))
            op.create_foreign_key(f"fk_{table}_recorded_by_organisation_id_organisation", table, "organisation",
                                  ["recorded_by_organisation_id"], ["id"])
            op.create_foreign_key(f"fk_{table}_recorded_by_user_id_ab_user", table, "ab_user",
                                  ["recorded_by_user_id"], ["id"])
        op.create_index(f"ix_{table}_recorded_by_organisation_id", table, ["recorded_by_organisation_id"])
        _fill_from_the_audit_trail(table)


def _fill_from_the_audit_trail(table):
    created = (f"FROM audit_entry a WHERE a.record_type = '{table}' AND a.record_id = {table}.id "
               f"AND a.action = 'create'")
    op.execute(f"""
        UPDATE {table} SET
          recorded_by_user_id = (SELECT u.id {created.replace('FROM audit_entry a', 'FROM audit_entry a JOIN ab_user u ON u.id = a.user_id')}
                                 ORDER BY a.id LIMIT 1),
          recorded_by_organisation_id = COALESCE(
            (SELECT o.id {created.replace('FROM audit_entry a', 'FROM audit_entry a JOIN organisation o ON o.name = a.organisation_name')}
             ORDER BY a.id LIMIT 1),
            (SELECT u.organisation_id {created.replace('FROM audit_entry a', 'FROM audit_entry a JOIN ab_user u ON u.id = a.user_id')}
             ORDER BY a.id LIMIT 1),
            (SELECT MIN(id) FROM organisation WHERE kind = 'coordinator'))
    """)


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        op.drop_index(f"ix_{table}_recorded_by_organisation_id", table_name=table)
        if not sqlite:
            op.drop_constraint(f"fk_{table}_recorded_by_user_id_ab_user", table, type_="foreignkey")
            op.drop_constraint(f"fk_{table}_recorded_by_organisation_id_organisation", table, type_="foreignkey")
        # SQLite (3.35+) drops a plain column in place; a column with a REFERENCES clause it cannot
        # drop without a rebuild, which would lose the triggers: on SQLite the columns stay, unused.
        if not sqlite:
            op.drop_column(table, "recorded_by_user_id")
            op.drop_column(table, "recorded_by_organisation_id")
