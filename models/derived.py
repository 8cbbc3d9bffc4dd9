"""The session's view of the figures the database keeps on `trajectory` (migration 0006's triggers).

A trigger recounts a trajectory's debt totals and last held evaluation when a debt or evaluation
is written; the Trajectory objects already in the session still hold the old figures. After each
flush those objects forget them, so the next read in the same request fetches what the database
now has.
"""
import sqlalchemy as sa
from sqlalchemy.orm import Session

from .debt import Debt
from .evaluation import Evaluation
from .trajectory import Trajectory

STORED_FIGURES = {
    Debt: ("total_current_debt", "total_original_debt"),
    Evaluation: ("last_evaluation_held_on",),
}


def _trajectory_ids(obj):
    """The trajectory the row belongs to now, and the one it belonged to before this flush."""
    state = sa.inspect(obj)
    history = state.attrs.trajectory_id.history
    return {obj.trajectory_id, *history.deleted} - {None}


@sa.event.listens_for(Session, "after_flush")
def _forget_recounted_figures(session, flush_context):
    stale = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        figures = STORED_FIGURES.get(type(obj))
        if figures:
            for trajectory_id in _trajectory_ids(obj):
                stale.setdefault(trajectory_id, set()).update(figures)
    for trajectory_id, figures in stale.items():
        trajectory = session.identity_map.get(sa.inspect(Trajectory).identity_key_from_primary_key((trajectory_id,)))
        if trajectory is not None:
            session.expire(trajectory, list(figures))
