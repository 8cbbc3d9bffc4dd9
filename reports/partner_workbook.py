"""The workbook one organisation takes to the partner meeting: summary and case lists for a quarter."""
from datetime import date, timedelta
from operator import itemgetter

import sqlalchemy as sa

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l

from models import (
    Agreement, Debt, Evaluation, Organisation, OrganisationKind, SigningParty, Tenant, Trajectory,
    trajectory_organisation,
)
from models.scope import ALL_CASES, visible_clause
from models.settings import policy

from . import kpi
from .xlsx import Column, XlsxWorkbook


def scope_of(organisation: Organisation):
    """The coordinator's workbook covers every case; any other organisation's, its own."""
    return ALL_CASES if organisation.kind == OrganisationKind.coordinator else organisation.id


class PartnerWorkbook:
    """Builds the workbook; `pseudonymise` shows client numbers instead of names and leaves out address and BSN."""

    def __init__(self, session, organisation, period: str, pseudonymise=False, include_bsn=False,
                 today=None, interval_months=None):
        self.session = session
        self.organisation = organisation
        self.scope = scope_of(organisation)
        self.period = period
        self.start, self.end = kpi.quarter_bounds(period)
        self.pseudonymise = pseudonymise
        self.include_bsn = include_bsn and not pseudonymise
        self.today = today or date.today()
        self.interval_months = interval_months or policy().evaluation_interval_months
        self.yes_no = (str(_l("Yes")), str(_l("No")))

    def build(self):
        book = XlsxWorkbook()
        book.add_key_values(_l("Summary"), self.summary_rows())
        book.add_sheet(_l("Trajectories"), *self.trajectory_sheet())
        book.add_sheet(_l("Evaluations"), *self.evaluation_sheet())
        book.add_sheet(_l("Debts"), *self.debt_sheet())
        book.add_sheet(_l("Agreements"), *self.agreement_sheet())
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
    # Read as values straight from SQL: a corporation's 300,000 debts without an object per row.

    def trajectory_sheet(self):
        organisation = sa.orm.aliased(Organisation)
        involved = (
            sa.select(sa.func.aggregate_strings(Organisation.name, NAME_SEPARATOR))
            .join(trajectory_organisation, trajectory_organisation.c.organisation_id == Organisation.id)
            .where(trajectory_organisation.c.trajectory_id == Trajectory.id)
            .scalar_subquery()
        )
        sheet = SqlSheet(self.yes_no)
        self._tenant_columns(sheet)
        sheet.add(_l("Status"), Trajectory.status)
        sheet.add(_l("Referral date"), Trajectory.referral_date)
        sheet.add(_l("Referral reasons"), *(getattr(Trajectory, name) for name in Trajectory.REASON_COLUMNS),
                  Trajectory.reason_other, show=Trajectory.describe_reasons)
        sheet.add(_l("Referring organisation"), organisation.name)
        sheet.add(_l("Involved organisations"), involved, show=_names)
        sheet.add(_l("Eviction judgment"), Trajectory.eviction_judgment)
        sheet.add(_l("Start date"), Trajectory.start_date)
        sheet.add(_l("Planned end date"), Trajectory.planned_end_date)
        sheet.add(_l("Actual end date"), Trajectory.actual_end_date)
        sheet.add(_l("Outcome"), Trajectory.outcome)
        sheet.add(_l("Next evaluation"), Trajectory.next_evaluation_date)
        sheet.add(_l("Total current debt"), Trajectory.total_current_debt)
        query = (
            sheet.select().select_from(Trajectory)
            .join(Tenant, Tenant.id == Trajectory.tenant_id)
            .join(organisation, organisation.id == Trajectory.referring_organisation_id)
            .where(visible_clause(Trajectory, self.scope))
            .order_by(Trajectory.referral_date, Trajectory.id)
        )
        return sheet.columns, self._stream(query)

    def evaluation_sheet(self):
        sheet = SqlSheet(self.yes_no)
        self._tenant_columns(sheet, client_number_only=True)
        sheet.add(_l("Planned date"), Evaluation.planned_date)
        sheet.add(_l("Held on"), Evaluation.held_date)
        sheet.add(_l("Assessment"), Evaluation.assessment)
        sheet.add(_l("Rent paid"), Evaluation.rent_paid)
        sheet.add(_l("New debts"), Evaluation.new_debts)
        sheet.add(_l("Nuisance reports"), Evaluation.nuisance_reports)
        sheet.add(_l("Obligations kept"), Evaluation.obligations_kept)
        return sheet.columns, self._stream(self._of_cases(sheet, Evaluation, Evaluation.planned_date))

    def debt_sheet(self):
        sheet = SqlSheet(self.yes_no)
        self._tenant_columns(sheet, client_number_only=True)
        sheet.add(_l("Creditor"), Debt.creditor)
        sheet.add(_l("Category"), Debt.category)
        sheet.add(_l("Status"), Debt.status)
        sheet.add(_l("Original amount"), Debt.original_amount)
        sheet.add(_l("Current balance"), Debt.current_balance)
        sheet.add(_l("Monthly payment"), Debt.monthly_payment)
        sheet.add(_l("Expected future cost"), Debt.is_expected_cost)
        return sheet.columns, self._stream(self._of_cases(sheet, Debt, Debt.category))

    def _of_cases(self, sheet, model, order):
        """The sheet's values of `model`'s rows in the scope's trajectories, grouped by trajectory."""
        return (
            sheet.select().select_from(model)
            .join(Trajectory, model.trajectory_id == Trajectory.id)
            .join(Tenant, Tenant.id == Trajectory.tenant_id)
            .where(visible_clause(Trajectory, self.scope))
            .order_by(Trajectory.id, order, model.id)
        )

    def _stream(self, query):
        return self.session.execute(query.execution_options(yield_per=2000))

    def agreement_sheet(self):
        sheet = SqlSheet(self.yes_no)
        self._tenant_columns(sheet, client_number_only=True)
        sheet.add(_l("Version"), Agreement.agreement_version)
        sheet.add(_l("Drawn up on"), Agreement.drawn_up_on)
        sheet.add(_l("Status"), Agreement.status)
        sheet.add(_l("Valid from"), Agreement.valid_from)
        sheet.add(_l("Valid until"), Agreement.valid_until)
        sheet.add(_l("Still to sign"), *kpi.still_to_sign(NAME_SEPARATOR), show=_still_to_sign)
        return sheet.columns, self._stream(self._of_cases(sheet, Agreement, Agreement.drawn_up_on))

    def _tenant_columns(self, sheet, client_number_only=False):
        sheet.add(_l("Client number"), Tenant.client_number)
        if self.pseudonymise or client_number_only:
            return
        sheet.add(_l("Name"), Tenant.first_name, Tenant.last_name, show=_joined)
        if self.include_bsn:
            sheet.add(_l("BSN"), Tenant.bsn)
        sheet.add(_l("Address"), Tenant.street, Tenant.house_number, show=_joined)
        sheet.add(_l("Postcode"), Tenant.postcode)
        sheet.add(_l("City"), Tenant.city)


# Between the names aggregate_strings joins: a character no organisation's name holds.
NAME_SEPARATOR = "\x1f"


def _names(joined):
    """Organisation names from aggregate_strings, in alphabetical order as on the trajectory's page."""
    return ", ".join(sorted(joined.split(NAME_SEPARATOR))) if joined else None


def _still_to_sign(tenant_missing, referrer, involved):
    """The parties of kpi.still_to_sign as Agreement.missing_signatures lists them."""
    names = [str(SigningParty.tenant.label)] if tenant_missing else []
    names += [referrer] if referrer else []
    names += sorted(involved.split(NAME_SEPARATOR)) if involved else []
    return names or None


def _joined(*parts):
    return " ".join(part for part in parts if part) or None


class SqlSheet:
    """A sheet's columns as SQL expressions, read back by position from each row of values."""

    def __init__(self, yes_no):
        self.yes_no = yes_no
        self.expressions = []
        self.columns = []

    def add(self, header, *expressions, show=None):
        """A column of one expression, or of several that `show` turns into the one value shown."""
        start, end = len(self.expressions), len(self.expressions) + len(expressions)
        self.expressions.extend(expressions)
        read = itemgetter(start) if show is None else (lambda row: show(*row[start:end]))
        self.columns.append(Column(header, read, self.yes_no))

    def select(self):
        return sa.select(*self.expressions)


def organisations_for(session, scope):
    """The organisations whose workbook a user with `scope` may make."""
    query = session.query(Organisation).order_by(Organisation.name)
    if scope == ALL_CASES:
        return query.all()
    if scope is None:
        return []
    return query.filter(Organisation.id == scope).all()

