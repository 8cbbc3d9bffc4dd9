"""The database's own rules: the triggers that keep the stored figures, defined once for both databases.

A trajectory's debt totals and last held evaluation, and an agreement's number of signatures
still missing, are columns that the database recounts in the same transaction as every write
(models/derived.py is the session's side of it). SQLite gets row triggers; PostgreSQL gets
statement triggers (one recount per statement, however many rows it writes, as one grouped join)
that first lock the rows they recount, so two transactions writing at the same time cannot
overwrite each other's count with one that missed the other's rows.

Migrations 0006 and 0007 install them; after every `flask db upgrade` (or downgrade) `migrations/env.py`
installs them again, with a recount, when one is missing or differs from its definition here.
SQLite rebuilds a table to add a column with a server default (Alembic's batch mode), and the
rebuilt table has lost its triggers. Changing a definition here is therefore enough: the next
upgrade installs it. A definition may only use columns that exist from migration 0007 on, since
the old migrations install it too.
"""
import re
from dataclasses import dataclass

import sqlalchemy as sa

# ---- a trajectory's debt totals and last held evaluation (migration 0006) -------------------------

# What each child table's rows add up to on their trajectory: (column, SQL over the child rows).
TRAJECTORY_FIGURES = {
    "debt": {
        "total_current_debt": "coalesce(sum(current_balance), 0)",
        "total_original_debt": "coalesce(sum(original_amount), 0)",
    },
    "evaluation": {
        "last_evaluation_held_on": "max(held_date)",
    },
}
# Row updates that change a figure (SQLite lists them on the trigger; PostgreSQL's statement triggers see every update).
_FIGURE_INPUTS = {"debt": ("current_balance", "original_amount"), "evaluation": ("held_date",)}


def _recount(table, trajectory_id):
    """SET clause assignments recounting `table`'s figures for the trajectory `trajectory_id`."""
    return ", ".join(
        f"{column} = (SELECT {expression} FROM {table} WHERE {table}.trajectory_id = {trajectory_id})"
        for column, expression in TRAJECTORY_FIGURES[table].items()
    )


def _figures_sqlite(table):
    watched = ", ".join(["trajectory_id", *_FIGURE_INPUTS[table]])
    return [
        f"CREATE TRIGGER {table}_figures_insert AFTER INSERT ON {table} BEGIN "
        f"UPDATE trajectory SET {_recount(table, 'NEW.trajectory_id')} WHERE id = NEW.trajectory_id; END",
        f"CREATE TRIGGER {table}_figures_update AFTER UPDATE OF {watched} ON {table} BEGIN "
        f"UPDATE trajectory SET {_recount(table, 'trajectory.id')} "
        f"WHERE id IN (OLD.trajectory_id, NEW.trajectory_id); END",
        f"CREATE TRIGGER {table}_figures_delete AFTER DELETE ON {table} BEGIN "
        f"UPDATE trajectory SET {_recount(table, 'OLD.trajectory_id')} WHERE id = OLD.trajectory_id; END",
    ]


def _figures_postgresql(table):
    function = f"recount_trajectory_{table}_figures"
    figures = TRAJECTORY_FIGURES[table]
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
    UPDATE trajectory SET {", ".join(f"{column} = recount.{column}" for column in figures)}
    FROM (SELECT affected.id, {", ".join(f"{expression} AS {column}" for column, expression in figures.items())}
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


# ---- an agreement's number of signatures missing (migration 0007) --------------------------------

# Agreement.missing_signatures counted by the database: the tenant, the referring organisation and
# every involved organisation that has not signed (the agreement as `agreement`).
_SIGNED = ("EXISTS (SELECT 1 FROM signature WHERE signature.agreement_id = agreement.id "
           "AND signature.party = 'organisation' AND signature.organisation_id = {organisation})")
SIGNATURES_MISSING = f"""(
    (CASE WHEN EXISTS (SELECT 1 FROM signature WHERE signature.agreement_id = agreement.id
                       AND signature.party = 'tenant') THEN 0 ELSE 1 END)
    + (SELECT count(*) FROM trajectory WHERE trajectory.id = agreement.trajectory_id
       AND NOT EXISTS (SELECT 1 FROM trajectory_organisation AS involved
                       WHERE involved.trajectory_id = trajectory.id
                       AND involved.organisation_id = trajectory.referring_organisation_id)
       AND NOT {_SIGNED.format(organisation="trajectory.referring_organisation_id")})
    + (SELECT count(*) FROM trajectory_organisation AS involved WHERE involved.trajectory_id = agreement.trajectory_id
       AND NOT {_SIGNED.format(organisation="involved.organisation_id")})
)"""

# What each watched table's rows say about which agreements to recount, as SQL over one row's alias.
_AGREEMENTS_OF = {
    "signature": "SELECT {row}.agreement_id",
    "trajectory_organisation": "SELECT agreement.id FROM agreement WHERE agreement.trajectory_id = {row}.trajectory_id",
    "trajectory": "SELECT agreement.id FROM agreement WHERE agreement.trajectory_id = {row}.id",
    "agreement": "SELECT {row}.id",
}
# Row updates that matter (SQLite lists them on the trigger; PostgreSQL's statement triggers see every update).
_SIGNATURE_INPUTS = {
    "signature": "agreement_id, party, organisation_id",
    "trajectory_organisation": "trajectory_id, organisation_id",
    "trajectory": "referring_organisation_id",
    "agreement": "trajectory_id",
}
# The row events each table is watched for: a new trajectory has no agreement yet; a trajectory or
# agreement that goes takes its count along.
_SIGNATURE_EVENTS = {
    "signature": ("insert", "update", "delete"),
    "trajectory_organisation": ("insert", "update", "delete"),
    "trajectory": ("update",),
    "agreement": ("insert", "update"),
}


def _signatures_sqlite(table):
    statements = []
    for event in _SIGNATURE_EVENTS[table]:
        aliases = {"insert": ["NEW"], "update": ["OLD", "NEW"], "delete": ["OLD"]}[event]
        if table in ("trajectory", "agreement"):
            aliases = ["NEW"]
        of = f" OF {_SIGNATURE_INPUTS[table]}" if event == "update" else ""
        affected = " UNION ".join(_AGREEMENTS_OF[table].format(row=alias) for alias in aliases)
        statements.append(
            f"CREATE TRIGGER {table}_signatures_missing_{event} AFTER {event.upper()}{of} ON {table} BEGIN "
            f"UPDATE agreement SET signatures_missing = {SIGNATURES_MISSING} WHERE agreement.id IN ({affected}); END"
        )
    return statements


# Lock first, in one order: the recount is a new statement, so it also sees the signatures that a
# concurrent transaction committed while this one waited for the lock.
_LOCK_THEN_RECOUNT = """PERFORM 1 FROM agreement WHERE {where} ORDER BY id FOR UPDATE;
    UPDATE agreement SET signatures_missing = """ + SIGNATURES_MISSING.replace("{", "{{").replace("}", "}}") + """ WHERE {where};"""


def _agreements_in(table, rows):
    """The agreement ids a transition table's rows touch (PostgreSQL)."""
    if table == "signature":
        return f"SELECT agreement_id FROM {rows}"
    return f"SELECT agreement.id FROM agreement JOIN {rows} ON agreement.trajectory_id = {rows}.trajectory_id"


def _signatures_postgresql(table):
    function = f"recount_signatures_missing_from_{table}"
    if table in ("trajectory", "agreement"):
        return _signatures_postgresql_row_triggers(table, function)
    body = f"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    affected integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT id) INTO affected FROM ({_agreements_in(table, 'new_rows')}) AS changed(id);
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT id) INTO affected
        FROM ({_agreements_in(table, 'new_rows')} UNION {_agreements_in(table, 'old_rows')}) AS changed(id);
    ELSE
        SELECT array_agg(DISTINCT id) INTO affected FROM ({_agreements_in(table, 'old_rows')}) AS changed(id);
    END IF;
    IF affected IS NULL THEN
        RETURN NULL;
    END IF;
    {_LOCK_THEN_RECOUNT.format(where="agreement.id = ANY(affected)")}
    RETURN NULL;
END
$$"""
    transitions = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                   "delete": "OLD TABLE AS old_rows"}
    return [body] + [
        f"CREATE TRIGGER {table}_signatures_missing_{event} AFTER {event.upper()} ON {table} "
        f"REFERENCING {transitions[event]} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for event in _SIGNATURE_EVENTS[table]
    ]


def _signatures_postgresql_row_triggers(table, function):
    """Row triggers that fire only when the watched column changes: the trajectory's row is also
    rewritten by the figure triggers with every debt and evaluation."""
    where = "agreement.trajectory_id = NEW.id" if table == "trajectory" else "agreement.id = NEW.id"
    column = _SIGNATURE_INPUTS[table]
    body = f"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_LOCK_THEN_RECOUNT.format(where=where)}
    RETURN NULL;
END
$$"""
    triggers = [
        f"CREATE TRIGGER {table}_signatures_missing_update AFTER UPDATE OF {column} ON {table} FOR EACH ROW "
        f"WHEN (OLD.{column} IS DISTINCT FROM NEW.{column}) EXECUTE FUNCTION {function}()",
    ]
    if "insert" in _SIGNATURE_EVENTS[table]:
        triggers.append(f"CREATE TRIGGER {table}_signatures_missing_insert AFTER INSERT ON {table} "
                        f"FOR EACH ROW EXECUTE FUNCTION {function}()")
    return [body, *triggers]


# ---- the rules, as one list ---------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFigures:
    """Figures stored on `table` in `columns`, kept by triggers on each table of `events`."""

    since: str  # the migration that added the columns and first installed the triggers
    table: str
    columns: tuple
    events: dict  # watched table: the row events it has a trigger for
    trigger_prefix: str  # triggers are named f"{watched table}_{trigger_prefix}_{event}"
    recount: tuple  # statements recounting every stored row from scratch
    sqlite: object  # watched table -> its CREATE statements
    postgresql: object
    function: str  # PostgreSQL trigger function of a watched table: function.format(table=...)

    def triggers(self):
        """{trigger name: watched table}."""
        return {f"{table}_{self.trigger_prefix}_{event}": table
                for table, events in self.events.items() for event in events}


TRAJECTORY_FIGURES_RULE = StoredFigures(
    since="0006",
    table="trajectory",
    columns=tuple(column for figures in TRAJECTORY_FIGURES.values() for column in figures),
    events={table: ("insert", "update", "delete") for table in TRAJECTORY_FIGURES},
    trigger_prefix="figures",
    recount=tuple(f"UPDATE trajectory SET {_recount(table, 'trajectory.id')}" for table in TRAJECTORY_FIGURES),
    sqlite=_figures_sqlite,
    postgresql=_figures_postgresql,
    function="recount_trajectory_{table}_figures",
)
SIGNATURES_MISSING_RULE = StoredFigures(
    since="0007",
    table="agreement",
    columns=("signatures_missing",),
    events=_SIGNATURE_EVENTS,
    trigger_prefix="signatures_missing",
    recount=(f"UPDATE agreement SET signatures_missing = {SIGNATURES_MISSING}",),
    sqlite=_signatures_sqlite,
    postgresql=_signatures_postgresql,
    function="recount_signatures_missing_from_{table}",
)
RULES = (TRAJECTORY_FIGURES_RULE, SIGNATURES_MISSING_RULE)


def watched_tables(rules=RULES):
    """The tables that bear triggers."""
    return {table for rule in rules for table in rule.events}


def trigger_names(rules=RULES):
    """{trigger name: the table it is on}."""
    return {name: table for rule in rules for name, table in rule.triggers().items()}


def drop_statements(dialect, rules=RULES):
    """Drop the rules' triggers (and PostgreSQL functions) if they exist."""
    statements = []
    for rule in rules:
        for name, table in rule.triggers().items():
            statements.append(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
        if dialect == "postgresql":
            statements += [f"DROP FUNCTION IF EXISTS {rule.function.format(table=table)}()" for table in rule.events]
    return statements


def install_statements(dialect, rules=RULES):
    """Drop-if-exists, create, then recount every stored figure: safe to run any number of times,
    and it repairs figures that went stale while a trigger was missing."""
    statements = drop_statements(dialect, rules)
    for rule in rules:
        for table in rule.events:
            statements += rule.postgresql(table) if dialect == "postgresql" else rule.sqlite(table)
    return statements + [statement for rule in rules for statement in rule.recount]


def rules_in_force(connection):
    """The rules whose stored columns this database has (all of them from migration 0007 on)."""
    inspector = sa.inspect(connection)
    tables = set(inspector.get_table_names())
    return tuple(
        rule for rule in RULES
        if rule.table in tables and set(rule.columns) <= {c["name"] for c in inspector.get_columns(rule.table)}
    )


def _kept_definitions(connection):
    """{name: definition} of every trigger (SQLite: its CREATE statement) or trigger function
    (PostgreSQL: its body; a trigger itself as None) in the database."""
    if connection.dialect.name == "postgresql":
        functions = connection.execute(sa.text(
            "SELECT proname, prosrc FROM pg_proc JOIN pg_namespace ON pg_namespace.oid = pronamespace "
            "WHERE nspname = current_schema() AND prorettype = 'trigger'::regtype")).all()
        names = connection.execute(sa.text(
            "SELECT DISTINCT trigger_name FROM information_schema.triggers WHERE trigger_schema = current_schema()"))
        return {**dict(functions), **{name: None for name, in names}}
    return dict(connection.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all())


def _defined(dialect, rules):
    """{name: definition} as _kept_definitions reads it, for what `rules` install."""
    defined = {name: None for name in trigger_names(rules)}
    for rule in rules:
        for table in rule.events:
            for statement in (rule.postgresql(table) if dialect == "postgresql" else rule.sqlite(table)):
                if dialect == "sqlite":
                    defined[re.match(r"CREATE TRIGGER (\w+)", statement).group(1)] = statement
                elif statement.lstrip().startswith("CREATE FUNCTION"):
                    name = re.match(r"\s*CREATE FUNCTION (\w+)", statement).group(1)
                    defined[name] = statement.split("$$")[1]
    return defined


def out_of_date(connection, rules=None):
    """The triggers (and PostgreSQL trigger functions) of the rules in force that this database lacks
    or keeps in another version than the one defined here."""
    rules = rules_in_force(connection) if rules is None else rules
    kept = _kept_definitions(connection)
    return sorted(name for name, definition in _defined(connection.dialect.name, rules).items()
                  if name not in kept or (definition is not None and kept[name] != definition))

