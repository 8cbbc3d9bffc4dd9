"""The partners' figures: one aggregate query each, over the trajectories a scope allows.

Every function takes the session and a scope (models.scope.ALL_CASES, an organisation id, or
None) and returns plain numbers, so the dashboard and the partner-meeting workbook show the
same figures from the same code.
"""
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import contains_eager, joinedload

from models import (
    Agreement, AgreementStatus, Debt, Evaluation, Intervention, Organisation, Signature, SigningParty, Trajectory,
    TrajectoryStatus, trajectory_organisation,
)
from models.scope import ALL_CASES, visible_clause

CENT = Decimal("0.01")


def _in_scope(scope):
    return visible_clause(Trajectory, scope)


def caseload_by_status(session, scope) -> dict:
    """Number of trajectories per status, every status present (zero where none)."""
    rows = session.execute(
        sa.select(Trajectory.status, sa.func.count()).where(_in_scope(scope)).group_by(Trajectory.status)
    ).all()
    counts = Counter({status: 0 for status in TrajectoryStatus})
    counts.update(dict(rows))
    return {status: counts[status] for status in TrajectoryStatus}


def referrals_between(session, scope, start: date, end: date) -> int:
    return session.execute(
        sa.select(sa.func.count()).where(_in_scope(scope), Trajectory.referral_date.between(start, end))
    ).scalar_one()


def endings_between(session, scope, start: date, end: date) -> dict:
    """Trajectories that ended in the period, completed and ended early."""
    rows = session.execute(
        sa.select(Trajectory.status, sa.func.count())
        .where(_in_scope(scope), Trajectory.actual_end_date.between(start, end),
               Trajectory.status.in_([TrajectoryStatus.completed, TrajectoryStatus.ended_early]))
        .group_by(Trajectory.status)
    ).all()
    found = dict(rows)
    return {status: found.get(status, 0) for status in (TrajectoryStatus.completed, TrajectoryStatus.ended_early)}


def evaluations_held_between(session, scope, start: date, end: date) -> int:
    return session.execute(
        sa.select(sa.func.count(Evaluation.id))
        .join(Trajectory, Evaluation.trajectory_id == Trajectory.id)
        .where(_in_scope(scope), Evaluation.held_date.between(start, end))
    ).scalar_one()


def latest_base_due_by(day: date, interval_months: int) -> date:
    """The latest date from which the next evaluation (that date plus the interval, clamped to the
    month's end as relativedelta does) falls on or before `day`.

    Adding months only ever moves a date forward or keeps it, so every earlier base is due by then
    too: "due by `day`" is the index range `evaluation_base_date <= latest_base_due_by(day)`.
    Plain subtraction is not enough at a month's end (due 28 February from 30 November as well).
    """
    months = relativedelta(months=interval_months)
    base = day - months
    while base + timedelta(days=1) + months <= day:
        base += timedelta(days=1)
    return base


def due_by(day: date, interval_months: int):
    """Running trajectories whose next evaluation falls on or before `day` (read from the index)."""
    return sa.and_(Trajectory.status == TrajectoryStatus.running,
                   Trajectory.evaluation_base_date <= latest_base_due_by(day, interval_months))


def evaluations_due(session, scope, day: date, interval_months: int):
    """Query of the running trajectories whose next evaluation falls on or before `day`, most urgent first."""
    return (
        session.query(Trajectory).filter(_in_scope(scope), due_by(day, interval_months))
        .order_by(Trajectory.evaluation_base_date, Trajectory.id)
    )


def evaluations_overdue(session, scope, today: date, interval_months: int) -> int:
    """Running trajectories whose next evaluation date lies before today."""
    return session.execute(
        sa.select(sa.func.count()).where(_in_scope(scope), due_by(today - timedelta(days=1), interval_months))
    ).scalar_one()


def evaluations_due_between(session, scope, start: date, end: date, interval_months: int) -> int:
    """Running trajectories whose next evaluation date falls in [start, end]."""
    return session.execute(
        sa.select(sa.func.count()).where(_in_scope(scope), _due_between(start, end, interval_months))
    ).scalar_one()


# The signing rule of Agreement.missing_signatures, in SQL (needs Agreement and Trajectory in the query):
# the tenant, the referring organisation and every involved organisation sign (counted per agreement
# by migration 0007's triggers; named here for the workbook). With the party named, each test is one
# probe of the index ix_signature_agreement_party, never a signature row.

def _signed_by_tenant():
    return sa.exists().where(Signature.agreement_id == Agreement.id, Signature.party == SigningParty.tenant)


def _signed_by(organisation_id):
    return sa.exists().where(
        Signature.agreement_id == Agreement.id, Signature.party == SigningParty.organisation,
        Signature.organisation_id == organisation_id,
    )


def _involved_signed():
    # Correlated by name: two levels down, SQLAlchemy would otherwise give the inner query an
    # `agreement` of its own, and a signature on any agreement would count for this one.
    return _signed_by(trajectory_organisation.c.organisation_id).correlate(Agreement, trajectory_organisation)


def still_to_sign(separator: str):
    """Three SQL values that together name who has not signed, in Agreement.missing_signatures' order:
    whether the tenant has not, the referring organisation's name if it is no involved one and has
    not, and the involved organisations that have not, joined by `separator`."""
    referrer_involved = sa.exists().where(
        trajectory_organisation.c.trajectory_id == Trajectory.id,
        trajectory_organisation.c.organisation_id == Trajectory.referring_organisation_id,
    )
    referrer = sa.select(Organisation.name).where(Organisation.id == Trajectory.referring_organisation_id)
    involved = (
        sa.select(sa.func.aggregate_strings(Organisation.name, separator))
        .select_from(trajectory_organisation)
        .join(Organisation, Organisation.id == trajectory_organisation.c.organisation_id)
        .where(trajectory_organisation.c.trajectory_id == Agreement.trajectory_id, ~_involved_signed())
        .correlate(Agreement)
    )
    return (
        ~_signed_by_tenant(),
        sa.case((sa.and_(~referrer_involved, ~_signed_by(Trajectory.referring_organisation_id)),
                 referrer.scalar_subquery()), else_=None),
        involved.scalar_subquery(),
    )


def _awaiting_signatures():
    """Agreements not (yet) ended that lack a signature (needs Agreement in the query), read from the
    count the database keeps on every agreement (Agreement.signatures_missing)."""
    return sa.and_(Agreement.signatures_missing > 0, Agreement.status != AgreementStatus.ended)


def agreements_awaiting_signatures(session, scope) -> int:
    """Agreements of open trajectories that are not (yet) ended and lack a signature."""
    return session.execute(
        sa.select(sa.func.count(Agreement.id))
        .join(Trajectory, Agreement.trajectory_id == Trajectory.id)
        .where(_in_scope(scope), _awaiting_signatures(), Trajectory.status.in_(TrajectoryStatus.open_statuses()))
    ).scalar_one()


def debt_totals(session, scope) -> tuple:
    """(total inventoried at the start, total current balance) over the scope's debts.

    Summed over the trajectories' stored totals (kept by the database, see models.trajectory):
    one row per trajectory instead of one per debt.
    """
    original, current = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Trajectory.total_original_debt), 0),
                  sa.func.coalesce(sa.func.sum(Trajectory.total_current_debt), 0))
        .where(_in_scope(scope))
    ).one()
    return Decimal(original).quantize(CENT), Decimal(current).quantize(CENT)


def debts_by_category_and_status(session, scope) -> list:
    """Rows of (category, status, number of debts, original total, current total)."""
    return [
        tuple(row) for row in session.execute(
            sa.select(Debt.category, Debt.status, sa.func.count(Debt.id), sa.func.sum(Debt.original_amount),
                      sa.func.sum(Debt.current_balance))
            .join(Trajectory, Debt.trajectory_id == Trajectory.id)
            .where(_in_scope(scope))
            .group_by(Debt.category, Debt.status)
            .order_by(Debt.category, Debt.status)
        )
    ]


def quarter_bounds(label: str) -> tuple:
    """'2026-Q3' -> (1 July 2026, 30 September 2026); ValueError with a clear message otherwise."""
    try:
        year_text, quarter_text = label.strip().upper().split("-Q")
        year, quarter = int(year_text), int(quarter_text)
        if not (1 <= quarter <= 4 and 1900 <= year <= 2200):
            raise ValueError
    except ValueError:
        raise ValueError(f"'{label}' is not a quarter; write it as 2026-Q3.") from None
    start = date(year, 3 * quarter - 2, 1)
    return start, start + relativedelta(months=3) - timedelta(days=1)


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


# ---- the dashboard's figures (the workbook may use them too) ----------------------------------

def completed_count(session, scope) -> int:
    """Trajectories completed (not ended early): each one an eviction avoided."""
    return session.execute(
        sa.select(sa.func.count()).where(_in_scope(scope), Trajectory.status == TrajectoryStatus.completed)
    ).scalar_one()


def costs_avoided(session, scope, cost_per_eviction: Decimal) -> Decimal:
    """Estimated costs avoided: completed trajectories times the cost of one eviction (a setting)."""
    return evictions_avoided_cost(completed_count(session, scope), cost_per_eviction)


def evictions_avoided_cost(completed: int, cost_per_eviction: Decimal) -> Decimal:
    return completed * Decimal(cost_per_eviction)


def _completed():
    return Trajectory.status == TrajectoryStatus.completed


def _relapse_followup_due_by(today: date):
    """Completed trajectories whose follow-up date has come and whose answer is not recorded yet."""
    return sa.and_(_completed(), Trajectory.relapse.is_(None), Trajectory.relapse_followup_due <= today)


def _due_between(start: date, end: date, interval_months: int):
    return sa.and_(due_by(end, interval_months),
                   Trajectory.evaluation_base_date > latest_base_due_by(start - timedelta(days=1), interval_months))


def success_rate(session, scope) -> tuple:
    """(completed without relapse, completed whose relapse follow-up was recorded).

    Completions whose follow-up is still to come count in neither: the rate is over what is known.
    """
    without_relapse, followed_up = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((Trajectory.relapse == sa.false(), 1), else_=0)), 0),
            sa.func.count(Trajectory.relapse),
        ).where(_in_scope(scope), _completed())
    ).one()
    return int(without_relapse), int(followed_up)


def relapse_followups_due(session, scope, today: date) -> int:
    """Completed trajectories whose relapse follow-up date has come and whose answer is not recorded yet."""
    return session.execute(
        sa.select(sa.func.count()).where(_in_scope(scope), _relapse_followup_due_by(today))
    ).scalar_one()


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _quarter_window(today: date, quarters: int) -> tuple:
    """(first day, last day, labels) of the last `quarters` quarters up to and including today's."""
    first = _quarter_start(today) - relativedelta(months=3 * (quarters - 1))
    last = _quarter_start(today) + relativedelta(months=3) - timedelta(days=1)
    return first, last, [quarter_of(first + relativedelta(months=3 * i)) for i in range(quarters)]


def referrals_and_endings_per_quarter(session, scope, today: date, quarters: int = 8) -> list:
    """Rows of (quarter label, referrals, completed, ended early) for the last `quarters` quarters
    up to and including today's, oldest first, every quarter present (zeros where none).

    Counted per month in SQL (two aggregate queries), folded into quarters here.
    """
    first, last, labels = _quarter_window(today, quarters)
    referrals = Counter()
    completed = Counter()
    ended_early = Counter()

    year, month = sa.extract("year", Trajectory.referral_date), sa.extract("month", Trajectory.referral_date)
    for y, m, number in session.execute(
        sa.select(year, month, sa.func.count())
        .where(_in_scope(scope), Trajectory.referral_date.between(first, last))
        .group_by(year, month)
    ):
        referrals[quarter_of(date(int(y), int(m), 1))] += number

    year, month = sa.extract("year", Trajectory.actual_end_date), sa.extract("month", Trajectory.actual_end_date)
    for y, m, status, number in session.execute(
        sa.select(year, month, Trajectory.status, sa.func.count())
        .where(_in_scope(scope), Trajectory.actual_end_date.between(first, last),
               Trajectory.status.in_([TrajectoryStatus.completed, TrajectoryStatus.ended_early]))
        .group_by(year, month, Trajectory.status)
    ):
        target = completed if status == TrajectoryStatus.completed else ended_early
        target[quarter_of(date(int(y), int(m), 1))] += number

    return [(label, referrals[label], completed[label], ended_early[label]) for label in labels]


def _open_interventions(query, scope):
    return (
        query.join(Evaluation, Intervention.evaluation_id == Evaluation.id)
        .join(Trajectory, Evaluation.trajectory_id == Trajectory.id)
        .where(_in_scope(scope), Intervention.closed_on.is_(None))
    )


def open_interventions(session, scope) -> int:
    """Interventions agreed after an evaluation and not closed yet."""
    return session.execute(
        _open_interventions(sa.select(sa.func.count(Intervention.id)), scope)
    ).scalar_one()


def open_intervention_list(session, scope, limit: int = 10) -> list:
    """The first `limit` open interventions by due date, with trajectory, tenant and organisation loaded."""
    query = (
        _open_interventions(sa.select(Intervention), scope)
        .options(
            contains_eager(Intervention.evaluation).contains_eager(Evaluation.trajectory)
            .joinedload(Trajectory.tenant),
            joinedload(Intervention.responsible_organisation),
        )
        .order_by(Intervention.due_date, Intervention.id)
        .limit(limit)
    )
    return list(session.execute(query).unique().scalars())


def evaluations_due_soon(session, scope, today: date, interval_months: int, days: int) -> int:
    """Running trajectories whose next evaluation falls from today up to `days` days ahead."""
    return evaluations_due_between(session, scope, today, today + timedelta(days=days), interval_months)


def trajectory_figures(session, scope, today: date, interval_months: int, due_soon_days: int,
                       quarters: int = 8) -> dict:
    """The dashboard's figures over the scope's trajectories, read in one pass over them.

    The same numbers as caseload_by_status, referrals_and_endings_per_quarter, success_rate,
    debt_totals, completed_count, evaluations_overdue, evaluations_due_soon, relapse_followups_due
    and agreements_awaiting_signatures (the same conditions, from the same helpers).

    An organisation's cases (referred by it or involving it) are read row by row whatever the
    query, so they are read once: grouped by status and by the month of referral and of ending
    inside the quarters shown, the rest summed per group. Every case (or none) is different: each
    figure then comes from an index of its own, which beats one pass over every trajectory.
    """
    if scope == ALL_CASES or scope is None:
        return {
            "caseload": caseload_by_status(session, scope),
            "quarters": referrals_and_endings_per_quarter(session, scope, today, quarters),
            "success": success_rate(session, scope),
            "debt": debt_totals(session, scope),
            "completed": completed_count(session, scope),
            "evaluations_overdue": evaluations_overdue(session, scope, today, interval_months),
            "evaluations_due_soon": evaluations_due_soon(session, scope, today, interval_months, due_soon_days),
            "relapse_followups_due": relapse_followups_due(session, scope, today),
            "agreements_awaiting_signatures": agreements_awaiting_signatures(session, scope),
        }
    first, last, labels = _quarter_window(today, quarters)

    def month_in_window(column):
        return sa.case((column.between(first, last),
                        sa.extract("year", column) * 12 + sa.extract("month", column) - 1), else_=None)

    def count_if(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    ended = Trajectory.status.in_([TrajectoryStatus.completed, TrajectoryStatus.ended_early])
    awaiting = (sa.select(sa.func.count(Agreement.id))
                .where(Agreement.trajectory_id == Trajectory.id, _awaiting_signatures()).scalar_subquery())
    referral_month = month_in_window(Trajectory.referral_date)
    ending_month = sa.case((ended, month_in_window(Trajectory.actual_end_date)), else_=None)
    rows = session.execute(
        sa.select(
            Trajectory.status, referral_month, ending_month, sa.func.count(),
            count_if(sa.and_(_completed(), Trajectory.relapse == sa.false())),
            count_if(sa.and_(_completed(), Trajectory.relapse.is_not(None))),
            sa.func.coalesce(sa.func.sum(Trajectory.total_original_debt), 0),
            sa.func.coalesce(sa.func.sum(Trajectory.total_current_debt), 0),
            count_if(due_by(today - timedelta(days=1), interval_months)),
            count_if(_due_between(today, today + timedelta(days=due_soon_days), interval_months)),
            count_if(_relapse_followup_due_by(today)),
            # Per open trajectory, one probe of its agreements by the trajectory's index.
            sa.func.coalesce(sa.func.sum(sa.case((Trajectory.status.in_(TrajectoryStatus.open_statuses()), awaiting),
                                                 else_=0)), 0),
        ).where(_in_scope(scope)).group_by(Trajectory.status, referral_month, ending_month)
    ).all()

    def quarter(month_number):
        return quarter_of(date(int(month_number) // 12, int(month_number) % 12 + 1, 1))

    caseload = Counter({status: 0 for status in TrajectoryStatus})
    referrals, endings = Counter(), {TrajectoryStatus.completed: Counter(), TrajectoryStatus.ended_early: Counter()}
    totals = Counter()
    original = current = Decimal(0)
    for (status, referred, ending, number, without_relapse, followed_up, original_debt, current_debt,
         overdue, due_soon, relapse_due, agreements_awaiting) in rows:
        caseload[status] += number
        if referred is not None:
            referrals[quarter(referred)] += number
        if ending is not None:
            endings[status][quarter(ending)] += number
        totals.update(without_relapse=int(without_relapse), followed_up=int(followed_up), overdue=int(overdue),
                      due_soon=int(due_soon), relapse_due=int(relapse_due),
                      agreements_awaiting=int(agreements_awaiting))
        original += Decimal(str(original_debt))
        current += Decimal(str(current_debt))
    return {
        "caseload": {status: caseload[status] for status in TrajectoryStatus},
        "quarters": [(label, referrals[label], endings[TrajectoryStatus.completed][label],
                      endings[TrajectoryStatus.ended_early][label]) for label in labels],
        "success": (totals["without_relapse"], totals["followed_up"]),
        "debt": (original.quantize(CENT), current.quantize(CENT)),
        "completed": caseload[TrajectoryStatus.completed],
        "evaluations_overdue": totals["overdue"],
        "evaluations_due_soon": totals["due_soon"],
        "relapse_followups_due": totals["relapse_due"],
        "agreements_awaiting_signatures": totals["agreements_awaiting"],
    }
