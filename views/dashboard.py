"""The home page after login: the partners' figures for the cases the user may see.

Every figure comes from `reports.kpi`, the module the partner-meeting workbook uses too, so the
two never disagree. The charts are inline SVG drawn on the server (the portal runs on closed
networks: nothing is loaded from another host, no JavaScript library), and every chart has a
table with the same numbers next to it.
"""
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask import g, redirect
from flask_appbuilder import IndexView, expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models import TrajectoryStatus, db
from models.scope import ALL_CASES
from models.settings import policy
from reports import kpi

from .base import security_manager
from .formatting import show_money

# Chart geometry, in SVG user units; the SVG scales to the panel's width.
CHART_WIDTH = 600
LABEL_WIDTH = 170
VALUE_ROOM = 110
BAR_HEIGHT = 22
BAR_GAP = 8
PLOT_TOP = 34
PLOT_HEIGHT = 170
AXIS_ROOM = 26
# Charts in a third of the page: drawn about as wide as they show, so their text stays legible.
NARROW_WIDTH = 320
NARROW_VALUE_ROOM = 100
NARROW_LABEL_ROOM = 20

# Series of the quarter chart: key, label, CSS class (colours in static/portal.css).
QUARTER_SERIES = (
    ("referrals", _l("Referrals"), "chart-referrals"),
    ("completed", _l("Completed"), "chart-completed"),
    ("ended_early", _l("Ended early"), "chart-ended-early"),
)


def today() -> date:
    """The day the figures are for (one place, so tests can fix it)."""
    return date.today()


def horizontal_bars(rows, css="chart-bar") -> dict:
    """Geometry of a horizontal bar chart, labels left of the bars: `rows` of (label, value, shown value)."""
    largest = max((value for _, value, _ in rows), default=0)
    room = CHART_WIDTH - LABEL_WIDTH - VALUE_ROOM
    bars = []
    for index, (label, value, shown) in enumerate(rows):
        length = round(room * float(value) / float(largest), 1) if largest and value > 0 else 0
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        bars.append({
            "label": label, "value": value, "shown": shown, "x": LABEL_WIDTH, "y": y, "width": length,
            "height": BAR_HEIGHT, "text_y": y + BAR_HEIGHT / 2 + 5, "value_x": LABEL_WIDTH + length + 6,
            "label_x": LABEL_WIDTH - 8, "label_y": y + BAR_HEIGHT / 2 + 5, "label_anchor": "end", "css": css,
        })
    return {
        "width": CHART_WIDTH, "height": BAR_GAP + len(rows) * (BAR_HEIGHT + BAR_GAP), "axis_x": LABEL_WIDTH,
        "bars": bars,
    }


def narrow_bars(rows, css="chart-bar", width=NARROW_WIDTH) -> dict:
    """As `horizontal_bars`, for a narrow panel: each label above its bar."""
    largest = max((value for _, value, _ in rows), default=0)
    room = width - NARROW_VALUE_ROOM
    step = NARROW_LABEL_ROOM + BAR_HEIGHT + BAR_GAP
    bars = []
    for index, (label, value, shown) in enumerate(rows):
        length = round(room * float(value) / float(largest), 1) if largest and value > 0 else 0
        y = index * step + NARROW_LABEL_ROOM
        bars.append({
            "label": label, "value": value, "shown": shown, "x": 0, "y": y, "width": length,
            "height": BAR_HEIGHT, "text_y": y + BAR_HEIGHT / 2 + 5, "value_x": length + 6,
            "label_x": 0, "label_y": y - 5, "label_anchor": "start", "css": css,
        })
    return {"width": width, "height": len(rows) * step, "axis_x": None, "bars": bars}


def target_bar(percent, target, width=NARROW_WIDTH) -> dict:
    """Geometry of the success-rate bar: 0-100 % across `width`, with the target marked."""
    scale = width / 100
    return {
        "width": width, "fill": round(scale * (percent or 0), 1), "target_x": round(scale * target, 1),
        "anchor": "end" if target > 80 else ("start" if target < 20 else "middle"),
    }


def grouped_bars(rows) -> dict:
    """Geometry of the quarter chart: `rows` of (quarter, referrals, completed, ended early)."""
    largest = max((max(numbers) for _, *numbers in rows), default=0) or 1
    left, right = 10, CHART_WIDTH - 10
    group_width = (right - left) / max(len(rows), 1)
    bar_width = group_width * 0.8 / len(QUARTER_SERIES)
    baseline = PLOT_TOP + PLOT_HEIGHT
    groups = []
    for index, (label, *numbers) in enumerate(rows):
        x0 = left + index * group_width + group_width * 0.1
        bars = []
        for position, ((_, series_label, css), value) in enumerate(zip(QUARTER_SERIES, numbers)):
            height = round(PLOT_HEIGHT * value / largest, 1)
            bars.append({
                "label": series_label, "value": value, "css": css, "x": round(x0 + position * bar_width, 1),
                "y": round(baseline - height, 1), "width": round(bar_width - 2, 1), "height": height,
                "text_x": round(x0 + position * bar_width + (bar_width - 2) / 2, 1),
                "text_y": round(baseline - height - 4, 1),
            })
        groups.append({"label": label, "bars": bars, "label_x": round(left + (index + 0.5) * group_width, 1)})
    legend = [
        {"label": label, "css": css, "x": left + i * 150, "text_x": left + i * 150 + 18}
        for i, (_, label, css) in enumerate(QUARTER_SERIES)
    ]
    return {
        "width": CHART_WIDTH, "height": baseline + AXIS_ROOM, "baseline": baseline, "left": left, "right": right,
        "label_y": baseline + 18, "groups": groups, "legend": legend,
    }


def percentage(part: int, whole: int):
    """Whole percent, rounded half up; None when there is nothing to divide by."""
    if not whole:
        return None
    return int((Decimal(100 * part) / Decimal(whole)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def dashboard_figures(session, scope, day: date, settings) -> dict:
    """Every figure on the dashboard, computed by the kpi module for `scope` on `day` under the policy `settings`."""
    interval = settings.evaluation_interval_months
    due_soon_days = settings.evaluation_due_soon_days
    target = settings.success_target_percent
    cost_per_eviction = settings.eviction_cost_eur

    trajectories = kpi.trajectory_figures(session, scope, day, interval, due_soon_days)
    caseload = trajectories["caseload"]
    open_cases = sum(caseload[status] for status in TrajectoryStatus.open_statuses())
    quarters = trajectories["quarters"]
    without_relapse, followed_up = trajectories["success"]
    rate = percentage(without_relapse, followed_up)
    original, current = trajectories["debt"]
    completed = trajectories["completed"]
    return {
        "today": day,
        "caseload": caseload,
        "caseload_total": sum(caseload.values()),
        "caseload_open": open_cases,
        "caseload_chart": horizontal_bars([(status.label, n, n) for status, n in caseload.items()]),
        "evaluations_overdue": trajectories["evaluations_overdue"],
        "evaluations_due_soon": trajectories["evaluations_due_soon"],
        "due_soon_days": due_soon_days,
        "agreements_awaiting_signatures": trajectories["agreements_awaiting_signatures"],
        "open_interventions": kpi.open_interventions(session, scope),
        "open_intervention_list": kpi.open_intervention_list(session, scope, limit=10),
        "quarters": quarters,
        "quarter_chart": grouped_bars(quarters),
        "without_relapse": without_relapse,
        "followed_up": followed_up,
        "success_percent": rate,
        "success_target": target,
        "success_meets_target": rate is not None and 100 * without_relapse >= target * followed_up,
        "relapse_followups_due": trajectories["relapse_followups_due"],
        "debt_original": original,
        "debt_current": current,
        "debt_reduced_percent": percentage(original - current, original) if original else None,
        "success_chart": target_bar(rate, target),
        "debt_chart": narrow_bars(
            [(_l("Total inventoried"), original, show_money(original)),
             (_l("Total current balance"), current, show_money(current))],
            css="chart-debt",
        ),
        "completed": completed,
        "cost_per_eviction": cost_per_eviction,
        "costs_avoided": kpi.evictions_avoided_cost(completed, cost_per_eviction),
    }


class DashboardView(IndexView):
    """The index page: the dashboard for logged-in users, the login page for anyone else."""

    route_base = ""
    default_view = "index"
    index_template = "portal/dashboard.html"

    @expose("/")
    def index(self):
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        self.update_redirect()
        scope = security_manager().case_scope()
        organisation = getattr(getattr(g, "user", None) or current_user, "organisation", None)
        figures = dashboard_figures(db.session, scope, today(), policy())
        return self.render_template(
            self.index_template, all_cases=scope == ALL_CASES, no_cases=scope is None,
            organisation=organisation, show_money=show_money, **figures,
        )
