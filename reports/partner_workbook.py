"""The workbook one organisation takes to the partner meeting: summary and case lists for a quarter."""
from datetime import date, timedelta
from operator import itemgetter

import sqlalchemy as sa

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l

from models import Organisation, OrganisationKind, SigningParty, Tenant, Trajectory, registry
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
        for entity in sheet_entities():
            book.add_sheet(entity.plural, *self.entity_sheet(entity))
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
    # One sheet per entity that declares `__workbook__` (its order), with the fields it declares for
    # the workbook (models.registry), read as values straight from SQL: a corporation's 300,000 debts
    # without an object per row.

    def entity_sheet(self, entity):
        model = entity.model
        sheet = SqlSheet(self.yes_no)
        # The trajectory's sheet names the tenant; a record inside a trajectory, its client number.
        self._tenant_columns(sheet, client_number_only=bool(entity.case_path))
        mapper = sa.inspect(model)
        for name in registry.declared_fields(model, "workbook"):
            if self.pseudonymise and name in entity.case_notes:
                continue  # free text can name the tenant or a relative (a creditor), whatever else hides them
            relationship = mapper.relationships.get(name)
            if relationship is not None and relationship.mapper.class_ in (Tenant, Trajectory):
                continue  # the case is named by its client number
            if relationship is not None and relationship.secondary is not None:
                sheet.add(registry.field_label(model, name), registry.field_expression(model, name, NAME_SEPARATOR),
                          show=_names)
            else:
                sheet.add(registry.field_label(model, name), registry.field_expression(model, name))
        for name in getattr(model, "__workbook_computed__", ()):
            label, expressions, show = COMPUTED[name](self.pseudonymise)
            sheet.add(label, *expressions, show=show)
        query = _join_case(sheet.select().select_from(model), model, entity.case_path)
        query = query.join(Tenant, Tenant.id == Trajectory.tenant_id).where(visible_clause(Trajectory, self.scope))
        order = getattr(model, entity.workbook_order)
        # The trajectories in their order; every other record grouped by its trajectory.
        query = query.order_by(order, model.id) if not entity.case_path else query.order_by(Trajectory.id, order, model.id)
        return sheet.columns, self._stream(query)

    def _stream(self, query):
        return self.session.execute(query.execution_options(yield_per=2000))

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


def sheet_entities() -> list:
    """The entities with a sheet of their own, the trajectories first."""
    return sorted((e for e in registry.case_entities() if e.workbook_order), key=lambda e: len(e.case_path or ()))


def _join_case(query, model, path):
    """The query of `model`'s rows joined along its case path up to the trajectory."""
    current = model
    for step in path:
        relationship = sa.inspect(current).relationships[step]
        query = query.join(getattr(current, step))
        current = relationship.mapper.class_
    return query


def _referral_reasons(pseudonymise):
    # The other reason is free text: a pseudonymised workbook says only which of the listed reasons apply.
    other = sa.null() if pseudonymise else Trajectory.reason_other
    return (_l("Referral reasons"), [*(getattr(Trajectory, name) for name in Trajectory.REASON_COLUMNS), other],
            Trajectory.describe_reasons)


def _next_evaluation(pseudonymise):
    return _l("Next evaluation"), [Trajectory.next_evaluation_date], None


def _still_to_sign_column(pseudonymise):
    return _l("Still to sign"), list(kpi.still_to_sign(NAME_SEPARATOR)), _still_to_sign


# Columns that are no field but computed in SQL, named by the models' `__workbook_computed__`.
COMPUTED = {"referral_reasons": _referral_reasons, "next_evaluation_date": _next_evaluation,
            "missing_signatures": _still_to_sign_column}

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

