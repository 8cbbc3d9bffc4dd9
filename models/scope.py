"""Who sees which case: the one rule, as SQL the database can use its indexes for.

A model declares `__scope__`: "public" (every logged-in user), "self" (it owns a rule
below), or the relationship path to the model that owns one ("trajectory",
"agreement.trajectory"). Anything else is refused, so an undeclared model is never shown.
"""
import sqlalchemy as sa

from .tenant import Tenant
from .trajectory import Trajectory, trajectory_organisation

ALL_CASES = "all"


def visible_trajectory_ids(organisation_id: int):
    """Trajectories the organisation referred or is involved in."""
    involved = sa.select(trajectory_organisation.c.trajectory_id).where(
        trajectory_organisation.c.organisation_id == organisation_id
    )
    return sa.select(Trajectory.id).where(
        sa.or_(Trajectory.referring_organisation_id == organisation_id, Trajectory.id.in_(involved))
    )


def _trajectory_rule(organisation_id: int):
    return Trajectory.id.in_(visible_trajectory_ids(organisation_id))


def _tenant_rule(organisation_id: int):
    tenants_in_cases = sa.select(Trajectory.tenant_id).where(
        Trajectory.id.in_(visible_trajectory_ids(organisation_id))
    )
    return sa.or_(Tenant.housing_corporation_id == organisation_id, Tenant.id.in_(tenants_in_cases))


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
    """Walk many-to-one relations to the rule's owner, as nested `fk IN (SELECT id ...)`."""
    if not path:
        return OWN_RULES[model](scope)
    relation_name, _, rest = path.partition(".")
    relation = getattr(model, relation_name).property
    (local_column,) = relation.local_columns
    target = relation.mapper.class_
    return local_column.in_(sa.select(target.id).where(_follow(target, rest, scope)))
