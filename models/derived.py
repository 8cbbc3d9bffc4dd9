"""The session's view of the figures the database keeps itself (the triggers of models/triggers.py).

A trigger recounts a trajectory's debt totals and last held evaluation when a debt or evaluation
is written, and an agreement's number of signatures missing when a signature, the trajectory's
organisations or the agreement change; the objects already in the session still hold the old
figures. After each flush those objects forget them, so the next read in the same request
fetches what the database now has.
"""
import sqlalchemy as sa
from sqlalchemy.orm import Session

from .agreement import Agreement, Signature
from .debt import Debt
from .evaluation import Evaluation
from .trajectory import Trajectory

TRAJECTORY_FIGURES = {
    Debt: ("total_current_debt", "total_original_debt"),
    Evaluation: ("last_evaluation_held_on",),
}
SIGNATURES_MISSING = ("signatures_missing",)


def _before_and_now(obj, name):
    """The value of a foreign key now, and the one it had before this flush."""
    history = sa.inspect(obj).attrs[name].history
    return {getattr(obj, name), *history.deleted} - {None}


@sa.event.listens_for(Session, "after_flush")
def _forget_recounted_figures(session, flush_context):
    trajectories, agreements = {}, set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        figures = TRAJECTORY_FIGURES.get(type(obj))
        if figures:
            for trajectory_id in _before_and_now(obj, "trajectory_id"):
                trajectories.setdefault(trajectory_id, set()).update(figures)
        elif isinstance(obj, Signature):
            agreements |= _before_and_now(obj, "agreement_id")
        elif isinstance(obj, Agreement):
            agreements.add(obj.id)
        elif isinstance(obj, Trajectory):
            # Its organisations or referrer may have changed: every agreement of it may be recounted.
            agreements |= {a.id for a in session.identity_map.values()
                           if isinstance(a, Agreement) and a.trajectory_id == obj.id}
    for trajectory_id, figures in trajectories.items():
        _expire(session, Trajectory, trajectory_id, figures)
    for agreement_id in agreements - {None}:
        _expire(session, Agreement, agreement_id, SIGNATURES_MISSING)


def _expire(session, model, pk, names):
    obj = session.identity_map.get(sa.inspect(model).identity_key_from_primary_key((pk,)))
    if obj is not None and obj not in session.deleted:
        session.expire(obj, list(names))
