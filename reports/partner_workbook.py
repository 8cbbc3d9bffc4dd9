"""The workbook one organisation takes to the partner meeting: summary and case lists for a quarter."""
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from models import Agreement, Debt, Evaluation, Organisation, OrganisationKind, Trajectory
from models.scope import ALL_CASES, visible_clause

from . import kpi
from .xlsx import Column, XlsxWorkbook


def scope_of(organisation: Organisation):
    """The coordinator's workbook covers every case; any other organisation's, its own."""
    return ALL_CASES if organisation.kind == OrganisationKind.coordinator else organisation.id


class PartnerWorkbook:
    """Builds the workbook; `pseudonymise` shows client numbers instead of names and leaves out address and BSN."""

    def __init__(self, session, organisation, period: str, pseudonymise=False, include_bsn=False,
                 today=None, interval_months=3):
        self.session = session
        self.organisation = organisation
        self.scope = scope_of(organisation)
        self.period = period
        self.start, self.end = kpi.quarter_bounds(period)
        self.pseudonymise = pseudonymise
        self.include_bsn = include_bsn and not pseudonymise
        self.today = today or date.today()
        self.interval_months = interval_months
        self.yes_no = (str(_l("Yes")), str(_l("No")))

    def build(self):
        book = XlsxWorkbook()
        book.add_key_values(_l("Summary"), self.summary_rows())
        book.add_sheet(_l("Trajectories"), self.trajectory_columns(), self._trajectories())
        book.add_sheet(_l("Evaluations"), self.evaluation_columns(), self._children(Evaluation, Evaluation.planned_date))
        book.add_sheet(_l("Debts"), self.debt_columns(), self._children(Debt, Debt.category))
        book.add_sheet(_l("Agreements"), self.agreement_columns(), self._children(Agreement, Agreement.drawn_up_on))
        return book.save()

    def description(self) -> str:
        """For the audit trail: which workbook was made."""
        return f"{self.organisation.name}, {self.period}" + (", pseudonymised" if self.pseudonymise else "")

    def file_name(self) -> str:
        suffix = "-pseudonymised" if self.pseudonymise else ""
        name = "".join(c if c.isalnum() else "-" for c in self.organisation.name.lower())
        return f"partner-meeting-{name}-{self.period}{suffix}.xlsx"

    # ---- the summary -------------------------------------------------------------------

    def summary_rows(self):
        session, scope = self.session, self.scope
        next_start = self.end + timedelta(days=1)
        next_end = next_start + relativedelta(months=3) - timedelta(days=1)
        original, current = kpi.debt_totals(session, scope)
        endings = kpi.endings_between(session, scope, self.start, self.end)
        rows = [
            (_l("Partner meeting %(org)s, %(period)s", org=self.organisation.name, period=self.period),),
            (_l("Period"), self.start, self.end),
            (_l("Made on"), self.today),
            (),
            (_l("Caseload by status"),),
            *[(status.label, count) for status, count in kpi.caseload_by_status(session, scope).items()],
            (),
            (_l("In the period"),),
            (_l("Referrals"), kpi.referrals_between(session, scope, self.start, self.end)),
            *[(_l("Ended: %(status)s", status=status.label), count) for status, count in endings.items()],
            (_l("Evaluations held"), kpi.evaluations_held_between(session, scope, self.start, self.end)),
            (),
            (_l("Evaluations"),),
            (_l("Overdue today"), kpi.evaluations_overdue(session, scope, self.today, self.interval_months)),
            (_l("Due next quarter"),
             kpi.evaluations_due_between(session, scope, next_start, next_end, self.interval_months)),
            (_l("Agreements awaiting signatures"), kpi.agreements_awaiting_signatures(session, scope)),
            (),
            (_l("Debts"),),
            (_l("Total inventoried"), original),
            (_l("Total current balance"), current),
            (),
            (_l("Debts by category and status"),),
            (_l("Category"), _l("Status"), _l("Number"), _l("Original amount"), _l("Current balance")),
            *[(category.label, status.label, number, orig, cur)
              for category, status, number, orig, cur in kpi.debts_by_category_and_status(session, scope)],
        ]
        return rows

    # ---- the case lists ----------------------------------------------------------------

    def _trajectories(self):
        query = (
            self.session.query(Trajectory)
            .options(joinedload(Trajectory.tenant), joinedload(Trajectory.referring_organisation),
                     selectinload(Trajectory.involved_organisations))
            .filter(visible_clause(Trajectory, self.scope))
            .order_by(Trajectory.referral_date, Trajectory.id)
        )
        return query.yield_per(1000)

    def _children(self, model, order):
        query = (
            self.session.query(model)
            .options(joinedload(model.trajectory).joinedload(Trajectory.tenant))
            .join(Trajectory, model.trajectory_id == Trajectory.id)
            .filter(visible_clause(Trajectory, self.scope))
            .order_by(Trajectory.id, order, model.id)
        )
        if model is Agreement:
            query = query.options(
                selectinload(Agreement.signatures),
                joinedload(Agreement.trajectory).selectinload(Trajectory.involved_organisations),
            )
        return query.yield_per(1000)

    def _tenant_columns(self, tenant_of):
        columns = [Column(_l("Client number"), lambda r: tenant_of(r).client_number)]
        if self.pseudonymise:
            return columns
        columns.append(Column(_l("Name"), lambda r: tenant_of(r).full_name))
        if self.include_bsn:
            columns.append(Column(_l("BSN"), lambda r: tenant_of(r).bsn))
        columns += [
            Column(_l("Address"), lambda r: " ".join(filter(None, [tenant_of(r).street, tenant_of(r).house_number]))),
            Column(_l("Postcode"), lambda r: tenant_of(r).postcode),
            Column(_l("City"), lambda r: tenant_of(r).city),
        ]
        return columns

    def trajectory_columns(self):
        return [
            *self._tenant_columns(lambda t: t.tenant),
            Column(_l("Status"), lambda t: t.status),
            Column(_l("Referral date"), lambda t: t.referral_date),
            Column(_l("Referral reasons"), lambda t: t.referral_reasons),
            Column(_l("Referring organisation"), lambda t: t.referring_organisation),
            Column(_l("Involved organisations"), lambda t: t.involved_organisations),
            Column(_l("Eviction judgment"), lambda t: t.eviction_judgment),
            Column(_l("Start date"), lambda t: t.start_date),
            Column(_l("Planned end date"), lambda t: t.planned_end_date),
            Column(_l("Actual end date"), lambda t: t.actual_end_date),
            Column(_l("Outcome"), lambda t: t.outcome),
            Column(_l("Next evaluation"), lambda t: t.next_evaluation_date),
            Column(_l("Total current debt"), lambda t: t.total_current_debt),
        ]

    def evaluation_columns(self):
        return [
            *self._tenant_columns(lambda e: e.trajectory.tenant)[:1],
            Column(_l("Planned date"), lambda e: e.planned_date),
            Column(_l("Held on"), lambda e: e.held_date),
            Column(_l("Assessment"), lambda e: e.assessment),
            Column(_l("Rent paid"), lambda e: e.rent_paid, self.yes_no),
            Column(_l("New debts"), lambda e: e.new_debts, self.yes_no),
            Column(_l("Nuisance reports"), lambda e: e.nuisance_reports),
            Column(_l("Obligations kept"), lambda e: e.obligations_kept, self.yes_no),
        ]

    def debt_columns(self):
        return [
            *self._tenant_columns(lambda d: d.trajectory.tenant)[:1],
            Column(_l("Creditor"), lambda d: d.creditor),
            Column(_l("Category"), lambda d: d.category),
            Column(_l("Status"), lambda d: d.status),
            Column(_l("Original amount"), lambda d: d.original_amount),
            Column(_l("Current balance"), lambda d: d.current_balance),
            Column(_l("Monthly payment"), lambda d: d.monthly_payment),
            Column(_l("Expected future cost"), lambda d: d.is_expected_cost, self.yes_no),
        ]

    def agreement_columns(self):
        return [
            *self._tenant_columns(lambda a: a.trajectory.tenant)[:1],
            Column(_l("Version"), lambda a: a.agreement_version),
            Column(_l("Drawn up on"), lambda a: a.drawn_up_on),
            Column(_l("Status"), lambda a: a.status),
            Column(_l("Valid from"), lambda a: a.valid_from),
            Column(_l("Valid until"), lambda a: a.valid_until),
            Column(_l("Still to sign"), lambda a: a.missing_signatures),
        ]


def organisations_for(session, scope):
    """The organisations whose workbook a user with `scope` may make."""
    query = session.query(Organisation).order_by(Organisation.name)
    if scope == ALL_CASES:
        return query.all()
    if scope is None:
        return []
    return query.filter(Organisation.id == scope).all()

