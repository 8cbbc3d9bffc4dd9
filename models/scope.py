"""Who sees which case: the one rule, as SQL the database can use its indexes for.

A model declares `__scope__`: "public" (every logged-in user), "self" (it owns a rule
below), or the relationship path to the model that owns one ("trajectory",
"agreement.trajectory"). Anything else is refused, so an undeclared model is never shown.
"""
import contextvars
import time
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .tenant import Tenant
from .trajectory import Trajectory, trajectory_organisation

ALL_CASES = "all"


def visible_trajectory_ids(organisation_id: int):
    """The ids of the trajectories the organisation referred or is involved in, as one set.

    Two index reads joined by UNION (trajectory (referring_organisation_id, ...), trajectory_organisation
    (organisation_id, trajectory_id)), never `referring = ? OR id IN (...)` over the trajectory table:
    PostgreSQL cannot read that OR from an index and scans the whole trajectory table for every
    count and page of a debt, evaluation or tenant list.
    """
    return sa.union(
        sa.select(Trajectory.id).where(Trajectory.referring_organisation_id == organisation_id),
        sa.select(trajectory_organisation.c.trajectory_id).where(trajectory_organisation.c.organisation_id == organisation_id),
    )


# A trajectory's or tenant's own row is tested on its own columns, each branch an uncorrelated
# `IN (SELECT ...)` read from one index alone, never `trajectory.id IN (SELECT trajectory.id ...)`:
# that self-join doubled the cost of every count and page of a scoped user.
def _trajectory_rule(organisation_id: int):
    involved = sa.select(trajectory_organisation.c.trajectory_id).where(
        trajectory_organisation.c.organisation_id == organisation_id
    )
    return sa.or_(Trajectory.referring_organisation_id == organisation_id, Trajectory.id.in_(involved))


def _tenant_rule(organisation_id: int):
    if _PER_ROW.get():
        # Row by row: a tenant of another corporation is looked up in its own few trajectories.
        return sa.or_(Tenant.housing_corporation_id == organisation_id,
                      Tenant.trajectories.any(_trajectory_rule(organisation_id)))
    tenants_in_cases = sa.union(
        sa.select(Trajectory.tenant_id).where(Trajectory.referring_organisation_id == organisation_id),
        sa.select(Trajectory.tenant_id)
        .join(trajectory_organisation, trajectory_organisation.c.trajectory_id == Trajectory.id)
        .where(trajectory_organisation.c.organisation_id == organisation_id),
    )
    return sa.or_(Tenant.housing_corporation_id == organisation_id, Tenant.id.in_(tenants_in_cases))


def _visible_ids(model, scope):
    """The ids of a rule owner's visible rows, as a set to test a foreign key against."""
    if model is Trajectory:
        return visible_trajectory_ids(scope)
    return sa.select(model.id).where(OWN_RULES[model](scope))


OWN_RULES = {Trajectory: _trajectory_rule, Tenant: _tenant_rule}


def is_declared(model) -> bool:
    return getattr(model, "__scope__", None) is not None


def visible_clause(model, scope):
    """A WHERE clause limiting `model` to `scope`: ALL_CASES, an organisation id, or None (nothing)."""
    declared = getattr(model, "__scope__", None)
    if declared is None:
        raise LookupError(f"{model.__name__} declares no __scope__; refusing to show it")
    if declared == "public" or scope == ALL_CASES:
        return sa.true()
    if scope is None:
        return sa.false()
    if declared == "self":
        return OWN_RULES[model](scope)
    return _follow(model, declared, scope)


def _follow(model, path: str, scope):
    """Walk many-to-one relations to the rule's owner, as nested `fk IN (SELECT id ...)` (or EXISTS: `scope_per_row`)."""
    if not path:
        return OWN_RULES[model](scope)
    relation_name, _, rest = path.partition(".")
    relation = getattr(model, relation_name).property
    (local_column,) = relation.local_columns
    target = relation.mapper.class_
    if _PER_ROW.get():
        # Test each row's parent by its primary key (EXISTS): see `scope_per_row`.
        return getattr(model, relation_name).has(_follow(target, rest, scope))
    # Gather the visible parents' ids once, through their indexes.
    if not rest:
        return local_column.in_(_visible_ids(target, scope))
    return local_column.in_(sa.select(target.id).where(_follow(target, rest, scope)))


# ---- per row, per set, or joined --------------------------------------------------------------

_PER_ROW = contextvars.ContextVar("scope_per_row", default=False)
_JOINED = contextvars.ContextVar("scope_joined", default=False)


@contextmanager
def scope_per_row():
    """Scope clauses built inside test each row's parent by its primary key instead of gathering
    the ids of every visible parent first: for queries that read few rows.

    `fk IN (SELECT id FROM parent WHERE ...)` suits a count over many rows (the foreign-key index
    is the way in). But it makes SQLite gather every visible parent before reading a single row:
    for one page of a long sorted list its planner, assuming the subquery yields a couple of dozen
    rows, then drives the page from the foreign-key index and sorts every visible row (all of a
    corporation's evaluations); for a record's related list (one trajectory's debts) it gathers
    every visible trajectory to check a handful of debts. A correlated `EXISTS` cannot drive the
    query: the page walks its sort index and stops after its rows, the related list checks its own
    rows only (figures in benchmarks/README.md). views.base.PortalInterface decides which queries those are.
    """
    token = _PER_ROW.set(True)
    try:
        yield
    finally:
        _PER_ROW.reset(token)


@contextmanager
def scope_joined():
    """Queries limited inside (`limit_query`) join the parents on the way to the rule's owner
    instead of nesting `fk IN (SELECT ...)` per step: for a count that stops early.

    Nested sets are gathered whole before the first row is counted: an intervention's scope
    (evaluation, then trajectory) first collects every evaluation of a corporation to count the
    first hundred interventions. Joined, the database starts from the visible trajectories and
    walks down their foreign-key indexes until it has enough, and a
    small organisation's count touches only its own few rows.
    """
    token = _JOINED.set(True)
    try:
        yield
    finally:
        _JOINED.reset(token)


# A scope that holds at least this share of all trajectories is broad (see `is_broad`).
BROAD_SHARE = 0.10
# How long a measured share is trusted; it only steers the shape of queries, never what they return.
SHARE_SECONDS = 600
_shares: dict = {}


def is_broad(session, scope) -> bool:
    """Whether `scope` sees a large share of all cases, so that its queries should test rows one by one.

    SQLite does not weigh the two shapes of a scope clause against each other: `fk IN (SELECT ...)`
    always starts from the visible parents, a correlated `EXISTS` always walks the table. Starting
    from the parents suits an organisation with few cases (it never reads another's rows); for one
    that sees a third of the region, walking the table (through the index of the page's order, or of
    a selective filter such as a status) finds a page, or the rows a count stops at, long
    before all its parents are gathered (figures in benchmarks/README.md).
    """
    if scope in (ALL_CASES, None):
        return scope == ALL_CASES
    key = (str(session.get_bind().url), scope)
    known = _shares.get(key)
    now = time.monotonic()
    if known is None or now - known[1] > SHARE_SECONDS:
        visible = session.execute(sa.select(sa.func.count()).where(_trajectory_rule(scope))).scalar()
        total = session.execute(sa.select(sa.func.count(Trajectory.id))).scalar()
        known = _shares[key] = ((visible / total) if total else 0.0, now)
    return known[0] >= BROAD_SHARE


def forget_shares() -> None:
    """Measure every scope's share afresh (after a database was emptied and refilled)."""
    _shares.clear()


def limit_query(query, model, scope):
    """`query` of `model` limited to `scope`, as `visible_clause` or, inside `scope_joined`, joined."""
    declared = getattr(model, "__scope__", None)
    if not _JOINED.get() or declared in (None, "public", "self") or scope in (ALL_CASES, None):
        clause = visible_clause(model, scope)
        return query if isinstance(clause, sa.sql.elements.True_) else query.filter(clause)
    *steps, last = declared.split(".")
    current = model
    for name in steps:
        # An alias of its own, so a join the list already makes for a filter or an order never clashes.
        parent = aliased(getattr(current, name).property.mapper.class_)
        query = query.join(parent, getattr(current, name).of_type(parent))
        current = parent
    relation = getattr(current, last).property
    (local_column,) = relation.local_columns
    foreign_key = getattr(current, relation.parent.get_property_by_column(local_column).key)
    return query.filter(foreign_key.in_(_visible_ids(relation.mapper.class_, scope)))
