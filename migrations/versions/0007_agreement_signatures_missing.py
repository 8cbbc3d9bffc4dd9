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
signatures" from an index on it instead of testing every agreement's signatures (320 ms).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The agreement (as `agreement`) counted against its signatures, in Agreement.missing_signatures' terms.
SIGNED = ("EXISTS (SELECT 1 FROM signature WHERE signature.agreement_id = agreement.id "
          "AND signature.party = 'organisation' AND signature.organisation_id = {organisation})")
MISSING = f"""(
    (CASE WHEN EXISTS (SELECT 1 FROM signature WHERE signature.agreement_id = agreement.id
                       AND signature.party = 'tenant') THEN 0 ELSE 1 END)
    + (SELECT count(*) FROM trajectory WHERE trajectory.id = agreement.trajectory_id
       AND NOT EXISTS (SELECT 1 FROM trajectory_organisation AS involved
                       WHERE involved.trajectory_id = trajectory.id
                       AND involved.organisation_id = trajectory.referring_organisation_id)
       AND NOT {SIGNED.format(organisation="trajectory.referring_organisation_id")})
    + (SELECT count(*) FROM trajectory_organisation AS involved WHERE involved.trajectory_id = agreement.trajectory_id
       AND NOT {SIGNED.format(organisation="involved.organisation_id")})
)"""

# What each watched table's rows say about which agreements to recount: (table, SQL of agreement ids
# for one row, as a format string over the row's alias).
SOURCES = {
    "signature": "SELECT {row}.agreement_id",
    "trajectory_organisation": "SELECT agreement.id FROM agreement WHERE agreement.trajectory_id = {row}.trajectory_id",
    "trajectory": "SELECT agreement.id FROM agreement WHERE agreement.trajectory_id = {row}.id",
    "agreement": "SELECT {row}.id",
}
# Row updates that matter (SQLite lists them on the trigger; PostgreSQL's statement triggers see every update).
WATCHED = {
    "signature": "agreement_id, party, organisation_id",
    "trajectory_organisation": "trajectory_id, organisation_id",
    "trajectory": "referring_organisation_id",
    "agreement": "trajectory_id",
}


def _sqlite_triggers(table):
    statements = []
    rows = {"insert": ["NEW"], "update": ["OLD", "NEW"], "delete": ["OLD"]}
    if table in ("trajectory", "agreement"):
        # A new trajectory has no agreement yet; a trajectory or agreement that goes takes its count along.
        rows = {"update": ["NEW"]} if table == "trajectory" else {"insert": ["NEW"], "update": ["NEW"]}
    for event, aliases in rows.items():
        of = f" OF {WATCHED[table]}" if event == "update" else ""
        affected = " UNION ".join(SOURCES[table].format(row=alias) for alias in aliases)
        statements.append(
            f"CREATE TRIGGER {table}_signatures_missing_{event} AFTER {event.upper()}{of} ON {table} BEGIN "
            f"UPDATE agreement SET signatures_missing = {MISSING} WHERE agreement.id IN ({affected}); END"
        )
    return statements


def _postgresql_triggers(table):
    function = f"recount_signatures_missing_from_{table}"
    if table in ("trajectory", "agreement"):
        return _postgresql_row_triggers(table, function)
    body = f"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    affected integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT id) INTO affected FROM ({_from_rows(table, 'new_rows')}) AS changed(id);
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT id) INTO affected
        FROM ({_from_rows(table, 'new_rows')} UNION {_from_rows(table, 'old_rows')}) AS changed(id);
    ELSE
        SELECT array_agg(DISTINCT id) INTO affected FROM ({_from_rows(table, 'old_rows')}) AS changed(id);
    END IF;
    IF affected IS NULL THEN
        RETURN NULL;
    END IF;
    {_LOCK_THEN_RECOUNT.format(where="agreement.id = ANY(affected)")}
    RETURN NULL;
END
$$"""
    events = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
              "delete": "OLD TABLE AS old_rows"}
    return [body] + [
        f"CREATE TRIGGER {table}_signatures_missing_{event} AFTER {event.upper()} ON {table} "
        f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for event, transition in events.items()
    ]


# Lock first, in one order: the recount is a new statement, so it also sees the signatures that a
# concurrent transaction committed while this one waited for the lock.
_LOCK_THEN_RECOUNT = """PERFORM 1 FROM agreement WHERE {where} ORDER BY id FOR UPDATE;
    UPDATE agreement SET signatures_missing = """ + MISSING.replace("{", "{{").replace("}", "}}") + """ WHERE {where};"""


def _postgresql_row_triggers(table, function):
    """Row triggers that fire only when the watched column changes: the trajectory's row is also
    rewritten by migration 0006's triggers with every debt and evaluation."""
    where = "agreement.trajectory_id = NEW.id" if table == "trajectory" else "agreement.id = NEW.id"
    body = f"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_LOCK_THEN_RECOUNT.format(where=where)}
    RETURN NULL;
END
$$"""
    triggers = [
        f"CREATE TRIGGER {table}_signatures_missing_update AFTER UPDATE OF {WATCHED[table]} ON {table} FOR EACH ROW "
        f"WHEN (OLD.{WATCHED[table]} IS DISTINCT FROM NEW.{WATCHED[table]}) EXECUTE FUNCTION {function}()",
    ]
    if table == "agreement":
        triggers.append(f"CREATE TRIGGER agreement_signatures_missing_insert AFTER INSERT ON agreement "
                        f"FOR EACH ROW EXECUTE FUNCTION {function}()")
    return [body, *triggers]


def _from_rows(table, rows):
    """The agreement ids a transition table's rows touch (PostgreSQL)."""
    if table == "signature":
        return f"SELECT agreement_id FROM {rows}"
    return f"SELECT agreement.id FROM agreement JOIN {rows} ON agreement.trajectory_id = {rows}.trajectory_id"


def _triggers(dialect):
    for table in SOURCES:
        yield from (_postgresql_triggers(table) if dialect == "postgresql" else _sqlite_triggers(table))


def upgrade():
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signatures_missing', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_agreement_signatures_missing', 'agreement', ['signatures_missing'], unique=False)
    op.execute(f"UPDATE agreement SET signatures_missing = {MISSING}")
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in SOURCES:
        for event in ("insert", "update", "delete"):
            name = f"{table}_signatures_missing_{event}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS recount_signatures_missing_from_{table}()")
    op.drop_index('ix_agreement_signatures_missing', table_name='agreement')
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.drop_column('signatures_missing')
