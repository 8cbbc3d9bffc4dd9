"""Hostile posts to every add and edit form: never a 5xx, all or nothing, exactly what was sent, nothing reflected.

The forms are read from the running app, not listed here: every registered portal CRUD view the
account's role may add to or edit, its fields parsed from the rendered page (inputs, selects,
multiple selects, textareas, the hidden row version). Each field gets values chosen by its kind —
text, date (the input's data-format), select options, checkboxes, numbers judged by the model's
column type — mixed with hostile ones: empty, very long, unicode (RTL, emoji, NUL, control
characters), markup and script, SQL fragments, huge and negative numbers, NaN and infinities,
impossible dates, wrong types (a list for a scalar, text in a number), ids of records outside the
account's cases, missing fields and extra unknown ones (id, version, a hidden BSN, a status the
form does not offer).

Per form and account, three passes over the same checks:
- a scope sweep: every select that chooses a case (trajectory, tenant, agreement, evaluation) set
  to each case outside the account's own (for Portaal: Mitros's), in the add and the edit form;
- a value sweep (one account suffices): each core hostile value in every field at once, then in
  the fields that did not refuse it; a failure is narrowed down to the fields that cause it;
- Hypothesis (derandomized, 25 examples per form): a few fields changed, dropped, doubled or added.
Every post starts from the same database (the cases below, rebuilt when an earlier post changed
anything), so a failure reproduces on its own and Hypothesis shrinks it to a minimal post.
(FUZZ_NO_SHRINK=1 skips the shrinking: quicker while many findings are open, less minimal.)

Checked for every post:
- never a server error: no exception escapes the app and no 5xx is answered;
- a refused post (anything but a redirect) changes no row of any case table, audit trail included;
- an accepted post stores exactly what was sent (up to the app's few normalisations: postcodes as
  "1234 AB", BSNs without spaces and dots, whitespace-only as no value, " 7" as record 7), keeps
  every field of an edited record that the post left as the form showed it, changes nothing but
  its own record (its links, new audit entries and new child records aside), stores no control
  character and no text longer than its column, and leaves the record inside the account's cases,
  pointing at no case outside them;
- markup that was sent never comes back unescaped: not on the refused form, not on the saved
  record's pages, and on a refused form a text field shows it escaped.

Run as a coordinator (sees every case) and as Portaal's caseworker (sees only Portaal's cases).
The test reports every finding at once, one per kind of check and screen, each with its post.
"""
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from werkzeug.datastructures import MultiDict

import authority_truth
import builders
from models import (
    AgreementStatus, Assessment, Contact, Debt, DebtCategory, EvictionJudgment, Household, Intervention, Model, Obligation,
    ObligationStatus, Organisation, PortalUser, Signature, SigningParty, db,
)
from test_access_matrix import EVERY_ROW, _valid_bsns, ground_truth, registered_crud_views
from views.base import PortalModelView
from views.fields import CONTROL_CHARACTERS, Bsn, DutchPostcode

ACCOUNTS = ("coordinator", "portaal")
EXAMPLES_PER_VIEW = 25
# The sweep tries values, not scope: one account that may use every form is enough.
SWEEP_ACCOUNTS = ("coordinator",)
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_VIEW, deadline=None, derandomize=True, database=None,
    phases=[Phase.explicit, Phase.generate] if os.environ.get("FUZZ_NO_SHRINK") else list(Phase),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
# Tables the check compares before and after every post: every table but Flask-AppBuilder's own
# (a login updates the account's row, which is not what a form post may or may not change).
CASE_TABLES = [t for t in Model.metadata.sorted_tables if not t.name.startswith("ab_")]

# ---- values ------------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MARKUP = (SCRIPT, IMG, "<b onmouseover=alert(1)>x</b>", "</textarea><script>alert(1)</script>")
# What a browser would execute if a posted value came back unescaped.
RAW_MARKERS = ("<script>alert(1)", "<img src=x onerror=alert(1)>", "<b onmouseover=alert(1)>")
SQL = ("'; DROP TABLE tenant; --", "1 OR 1=1", "' OR '1'='1", "1); DELETE FROM debt; --")
HOSTILE = (
    "", " ", "\t", " " * 300, "x" * 10_000, "é" * 2_000, "😀" * 300, "\u202eRTL override\u202c", "مرحبا بالعالم",
    "Ｆｕｌｌｗｉｄｔｈ", "\u200b", "\ufeff", "\x00", "a\x00b", "\x07bell", "\x1b[31mred", "line\r\nbreak",
    "\x0b", "\x1f", "\x7f", "\u2028", *MARKUP, *SQL, "9" * 40, "-1", "0", "NaN", "Infinity", "1e309", "null",
    "None", "true", "[]", "{}", "{{7*7}}", "%s%n", "../../etc/passwd",
)
# Tried in every field of every form at once by the sweep (a failure is then narrowed to its fields).
CORE_HOSTILE = (
    "", " " * 300, "x" * 10_000, "a\x00b", "\x0b", "😀\u202eمرحبا" * 20, SCRIPT, IMG, "'; DROP TABLE tenant; --",
    "9" * 40, "-1", "NaN", "1e309", "2026-02-30",
)
TODAY = date.today()
DATES = (
    "2026-02-30", "0000-00-00", "31-12-2026", "99999-01-01", "2026-13-01", "2026-00-10", "1899-12-31",
    "2201-01-01", "0001-01-01", "9999-12-31", "2026-1-1", " 2026-01-01", "2026-01-01 ", "2026-01-01T00:00",
    "20260101", "2026/01/01", TODAY.isoformat(), (TODAY + timedelta(days=1)).isoformat(),
    (TODAY - timedelta(days=1)).isoformat(),
)
INTEGERS = (
    "0", "1", "7", "1000000", "1000001", "-1", "-0", "+3", " 7 ", "1.5", "1,5", "1e3", "0x10", "١٢",
    "2147483648", "9223372036854775808", "9" * 40, "1" * 5000,
)
DECIMALS = (
    "0", "0.00", "12.34", "12.345", "-0.01", "-0", "9999999999.99", "10000000000.00", "1e309", "-1e309",
    "1E+999999999", "1e-999999", "1E+99999999999999999", "sNaN", "-NaN", "-Infinity", "1,50", "€ 12",
    "1_000.00", " 5 ", "١٢", "1.234,56", "1,234.56", "€ 1.234,56", "1.2.3,45", "1,234", "12,5,0",
)
BOGUS_IDS = ("__None", "", "0", "-1", "999999", "2147483648", "9" * 40, "1.0", " 1", "01", "abc", "1 OR 1=1")

printable = st.text(st.characters(codec="utf-8"), max_size=40)
plain = st.text(alphabet="abcXYZ -'.é", min_size=1, max_size=30)
hostile = st.sampled_from(HOSTILE)


def _dates():
    return st.one_of(
        st.dates(date(1990, 1, 1), date(2100, 12, 31)).map(date.isoformat),
        st.sampled_from(DATES),
        st.dates(date(1, 1, 1), date(9999, 12, 31)).map(date.isoformat),
        hostile,
    )


# ---- reading a rendered form -----------------------------------------------------------------


@dataclass
class FormField:
    name: str
    widget: str  # text, textarea, hidden, checkbox, date, select, multiple
    values: list  # what a browser would post for it now
    options: list = field(default_factory=list)
    date_format: str = None
    kind: str = None  # set by classify(): text, integer, decimal, date, checkbox, enum, yesno, relation, multiple, select, hidden
    related: type = None


class _FormParser(HTMLParser):
    """The fields of the page's model form, with the values a browser would send."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fields = {}
        self._in_form = False
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == "model_form":
            self._in_form = True
            return
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if kind == "checkbox":
                value = attrs.get("value") or "on"
                checkbox = self.fields.setdefault(name, FormField(name, "checkbox", [], [value]))
                if "checked" in attrs:
                    checkbox.values.append(value)
            elif kind not in ("submit", "button", "reset", "file", "image"):
                widget = "hidden" if kind == "hidden" else "date" if kind == "date" or attrs.get("data-format") else "text"
                self.fields[name] = FormField(name, widget, [attrs.get("value") or ""],
                                              date_format=attrs.get("data-format"))
        elif tag == "select" and name:
            self._select = self.fields[name] = FormField(name, "multiple" if "multiple" in attrs else "select", [])
        elif tag == "option" and self._select is not None:
            value = attrs.get("value") or ""
            self._select.options.append(value)
            if "selected" in attrs:
                self._select.values.append(value)
        elif tag == "textarea" and name:
            self._textarea = self.fields[name] = FormField(name, "textarea", [""])

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.values[0] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            if self._select.widget == "select" and not self._select.values and self._select.options:
                self._select.values.append(self._select.options[0])  # a browser posts the first option
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea.values[0]
            self._textarea.values[0] = text[2:] if text.startswith("\r\n") else text[1:] if text.startswith("\n") else text
            self._textarea = None
        elif tag == "form":
            self._in_form = False


def parse_form(html) -> dict:
    parser = _FormParser()
    parser.feed(html)
    return parser.fields


def classify(view, fields):
    """Each field's kind, from its widget and, for numbers, yes/no and relations, from the model."""
    mapper = sa.inspect(view.datamodel.obj)
    for f in fields.values():
        column = _column(mapper, f.name)
        column_type = column.type if column is not None else None
        if f.widget in ("hidden", "checkbox", "date"):
            f.kind = f.widget
        elif f.widget in ("select", "multiple"):
            if f.name in mapper.relationships:
                f.kind = "multiple" if f.widget == "multiple" else "relation"
                f.related = mapper.relationships[f.name].mapper.class_
            elif isinstance(column_type, sa.Boolean):
                f.kind = "yesno"
            elif isinstance(column_type, sa.Enum):
                f.kind = "enum"
            else:
                f.kind = "select"
        elif isinstance(column_type, sa.Integer):
            f.kind = "integer"
        elif isinstance(column_type, sa.Numeric):
            f.kind = "decimal"
        else:
            f.kind = "text"
    return fields


def _column(mapper, name):
    prop = mapper.attrs.get(name) if name in mapper.attrs else None
    if isinstance(prop, sa.orm.ColumnProperty) and isinstance(prop.columns[0], sa.Column):
        return prop.columns[0]
    return None


# ---- what a post should store -------------------------------------------------------------------


class Uninterpretable(Exception):
    """The app accepted a value the test cannot read as the field's kind."""


def _strptime_format(data_format):
    return (data_format or "yyyy-MM-dd").replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d")


def expected_value(view, f, values, form_default):
    """What the record must hold after the app accepted `values` (all values posted for the field)."""
    blank = not values or (isinstance(values[0], str) and values[0].strip() == "")
    if values and blank and f.kind in ("yesno", "enum", "relation", "select"):
        return None  # whitespace only is no choice
    if f.kind == "checkbox":
        return bool(values) and values[0] not in ("false", "")
    if f.kind == "multiple":
        return set(values)
    if f.kind in ("relation", "select"):
        return None if not values or values[0] in ("__None", "") else values[0]
    if f.kind == "yesno":
        if not values:
            return None
        return {"yes": True, "no": False, "": None}[values[0]] if values[0] in ("yes", "no", "") else _uninterpretable(values)
    if f.kind == "enum":
        return None if not values or values[0] == "" else values[0]
    if f.kind == "text":
        if not values:
            return form_default
        value = values[0]
        if value.strip():  # the declared normalisations run only on a non-blank value
            checks = [type(v) for v in (view.validators_columns or {}).get(f.name, [])]
            if DutchPostcode in checks:
                value = value.strip().upper()
                value = f"{value[:4]} {value[-2:]}"
            if Bsn in checks:
                value = value.strip().replace(".", "").replace(" ", "")
        return value
    if blank:
        return form_default if not values else None
    try:
        if f.kind == "integer":
            return int(values[0])
        if f.kind == "decimal":
            return _amount(values[0])
        if f.kind == "date":
            return datetime.strptime(" ".join(values), _strptime_format(f.date_format)).date()
    except (ValueError, ArithmeticError):
        _uninterpretable(values)
    return _uninterpretable(values)


def _amount(text):
    """An amount as staff may type it: a lone comma is a decimal comma, and with both separators
    the last one is the decimal sign ("€ 1.234,56" and "1,234.56" are both 1234.56)."""
    value = text.strip().removeprefix("€").strip()
    if "," in value and "." in value:
        sign = "," if value.rfind(",") > value.rfind(".") else "."
        whole, _, fraction = value.rpartition(sign)
        value = whole.replace("." if sign == "," else ",", "") + "." + fraction
    elif value.count(",") == 1:
        value = value.replace(",", ".")
    return Decimal(value)


def _uninterpretable(values):
    raise Uninterpretable(f"accepted {values!r}, which the test cannot read")


def stored_value(f, record):
    value = getattr(record, f.name)
    if f.kind == "multiple":
        return {str(o.id) for o in value}
    if f.kind == "relation":
        return None if value is None else str(value.id)
    if f.kind == "enum":
        return None if value is None else value.value
    return value


def same(f, expected, stored):
    """Whether `stored` is what was sent; blank text (whitespace only) may be stored as no value."""
    if f.kind == "text":
        blank = isinstance(expected, str) and not expected.strip()
        return (expected or "") == (stored or "") or (blank and not stored)
    if f.kind == "relation" and expected is not None:
        return _as_id(expected) == _as_id(stored)  # " 7" or "07" chooses record 7: a harmless reading of an id
    if f.kind == "multiple":
        return {_as_id(v) for v in expected} == {_as_id(v) for v in stored}
    return expected == stored


def _as_id(value):
    try:
        return int(str(value).strip())
    except ValueError:
        return value


def column_default(column):
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        return default.arg
    if column.server_default is not None:
        return int(column.server_default.arg) if str(column.server_default.arg).isdigit() else column.server_default.arg
    return None


# ---- the database: one set of cases, rebuilt whenever a post changed it --------------------------


def build_cases(app, recorded_by=None):
    """A rich Portaal case and a Mitros-only case, every child record of each, and some contacts; the case
    records recorded by the organisation `recorded_by` (an id), so that its staff may edit them."""
    bsns = _valid_bsns()
    with app.app_context():
        organisations = {o.name: o for o in db.session.execute(db.select(Organisation)).scalars()}
        org = organisations.__getitem__
        contacts = {
            name: Contact(organisation=org(name), name=f"Contact {name}", function="Casemanager",
                          email=f"contact{i}@example.nl", phone="030-1234567")
            for i, name in enumerate(("Het Vierde Huis", "Portaal", "Mitros", "Buurtteam Overvecht"))
        }
        db.session.add_all(contacts.values())
        layout = [
            ("Portaal", 1, ("Het Vierde Huis", "Gemeente Utrecht", "Buurtteam Overvecht")),
            ("Mitros", 2, ("Het Vierde Huis", "Buurtteam Zuidwest")),  # nothing Portaal may see
        ]
        for corporation, number, involved in layout:
            tenant = builders.tenant(
                f"LK-F-{number:04d}", corporation, first_name=f"Fuzz{number}", last_name="de Vries",
                date_of_birth=date(1980, 5, 17), bsn=next(bsns), street="Oudegracht", house_number="12a",
                postcode="3511 AB", city="Utrecht", phone="06-12345678", email=f"huurder{number}@example.nl",
                household=Household.single, household_size=1, rental_contract_number=f"HC-{number}",
                monthly_rent=Decimal("612.45"), problem_areas="huurachterstand",
                psychosocial_notes=f"PSYCHOSOCIAL-{number}",
            )
            trajectory = builders.trajectory(
                tenant, involved=involved, start_date=TODAY - timedelta(days=100),
                planned_end_date=TODAY + timedelta(days=630), reason_rent_arrears=True, reason_other="Overlast",
                eviction_judgment=EvictionJudgment.requested, eviction_judgment_date=TODAY - timedelta(days=120),
                coordinator=contacts["Het Vierde Huis"], counsellor=contacts[corporation], notes="Intake gedaan",
            )
            builders.debt(trajectory, balance="180.50", original="250.00", category=DebtCategory.water,
                          monthly_payment=Decimal("25.00"), registered_on=TODAY - timedelta(days=90),
                          notes="Regeling")
            evaluation = builders.evaluation(
                trajectory, planned=TODAY - timedelta(days=10), held=TODAY - timedelta(days=9),
                participants="Huurder, Het Vierde Huis", assessment=Assessment.concerns, rent_paid=True,
                new_debts=False, nuisance_reports=1, obligations_kept=True, interventions_agreed="Budgetcoach",
                notes="Gesprek",
            )
            db.session.add(Intervention(evaluation=evaluation, description="Budgetcoach inzetten",
                                        responsible_organisation=org("Het Vierde Huis"),
                                        due_date=TODAY + timedelta(days=14)))
            agreement = builders.agreement(
                trajectory, rental_contract_number=f"HC-{number}", valid_from=TODAY - timedelta(days=25),
                valid_until=TODAY + timedelta(days=700), notes="Opgesteld",
            )
            db.session.add(Obligation(agreement=agreement, party=SigningParty.organisation, organisation=org(corporation),
                                      description="Huurachterstand bevriezen", due_date=TODAY + timedelta(days=60),
                                      status=ObligationStatus.open))
            db.session.add(Signature(agreement=agreement, party=SigningParty.tenant, signed_by=tenant.full_name,
                                     signed_on=TODAY - timedelta(days=20)))
            db.session.add(Signature(agreement=agreement, party=SigningParty.organisation, organisation=org("Het Vierde Huis"),
                                     signed_by="M. de Coördinator", signed_on=TODAY - timedelta(days=19)))
            # A new version still in draft: its obligations are open to the party that records them.
            draft = builders.agreement(trajectory, agreement_version=2, status=AgreementStatus.draft,
                                       rental_contract_number=f"HC-{number}", notes="Concept")
            db.session.add(Obligation(agreement=draft, party=SigningParty.tenant, description="Budgetcoaching volgen",
                                      due_date=TODAY + timedelta(days=90), status=ObligationStatus.open))
        db.session.flush()
        for model in authority_truth.CASE_RECORDS:
            db.session.execute(sa.update(model).values(recorded_by_organisation_id=recorded_by))
        db.session.commit()


def snapshot() -> dict:
    """{table: set of rows} of every case table (call inside an app context).

    Without the figures the database recounts itself (a debt's save changes its trajectory's total):
    tests/test_stored_figures.py checks those.
    """
    with db.engine.connect() as connection:
        return {t.name: frozenset(tuple(row) for row in connection.execute(sa.select(*_written_columns(t))))
                for t in CASE_TABLES}


def _written_columns(table):
    return [c for c in table.columns if not c.info.get("kept_by_database")]


def _without_audit(tables):
    return {name: rows for name, rows in tables.items() if name != "audit_entry"}


def rows_of(table_name, rows):
    columns = [c.key for c in _written_columns(Model.metadata.tables[table_name])]
    return [dict(zip(columns, row)) for row in rows]


def differences(before, after) -> dict:
    """{table: (removed rows, added rows)} as dicts, for the tables that differ."""
    return {
        name: (rows_of(name, before[name] - after[name]), rows_of(name, after[name] - before[name]))
        for name in before if before[name] != after[name]
    }


# ---- findings ------------------------------------------------------------------------------------

_FINDING_TYPES = {}


def finding(check, route, field_name=None):
    """An AssertionError subclass per (check, screen, field): Hypothesis shrinks each one separately."""
    key = (check, route, field_name)
    if key not in _FINDING_TYPES:
        name = "Finding_" + re.sub(r"\W+", "_", "_".join(k for k in key if k))
        _FINDING_TYPES[key] = type(name, (AssertionError,), {"key": key})
    return _FINDING_TYPES[key]


def short(value, limit=60):
    if isinstance(value, (list, tuple, set)):
        return "[" + ", ".join(short(v, limit) for v in value) + "]"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…({len(value) if isinstance(value, str) else '?'} chars)"


# ---- one account fuzzing every form it may use -----------------------------------------------------


class FormFuzzer:
    def __init__(self, app, client, username):
        self.app, self.client, self.username = app, client, username
        self._recorder = None
        self._writable = {}
        with app.app_context():
            self.recorded_by = authority_truth.account(username).organisation_id
        self.stats = Counter()
        with app.app_context():
            empty = db.session.execute(sa.select(sa.func.count()).select_from(Model.metadata.tables["tenant"])).scalar() == 0
            db.session.remove()
        if empty:
            build_cases(app, recorded_by=self.recorded_by)
        with app.app_context():
            table = Organisation.__table__
            with db.engine.connect() as connection:
                self.organisations = {row.id: dict(row._mapping) for row in connection.execute(sa.select(table))}
            user = db.session.execute(db.select(PortalUser).filter_by(username=username)).scalar_one()
            self.permissions = {(pv.permission.name, pv.view_menu.name) for role in user.roles for pv in role.permissions}
            self.canonical = self.last = snapshot()
        # Parsed forms, reused while the cases are the ones they were read from: a refused post changes nothing.
        self.forms = {}
        self.forms_valid_for = _without_audit(self.canonical)
        if not empty:
            with app.app_context():
                recorders = set(db.session.execute(sa.select(Debt.recorded_by_organisation_id)).scalars())
            if recorders != {self.recorded_by}:
                self.last = None  # cases another account's fuzzer built: rebuilt as this account's own
                self.ensure_clean()
        self._load_truth()
        self.views = [
            view for view in registered_crud_views(app)
            if isinstance(view, PortalModelView) and self.modes(view)
        ]

    def recorder(self) -> dict:
        """The values the portal records as "recorded by" for this account."""
        if self._recorder is None:
            user = db.session.execute(db.select(PortalUser).filter_by(username=self.username)).scalar_one()
            self._recorder = {"recorded_by_organisation_id": user.organisation_id, "recorded_by_user_id": user.id}
        return self._recorder

    def modes(self, view):
        """What the account may do on this screen: add (if the rules let it add such records at all) and
        edit, both only where it owns a record whose form can serve as the example."""
        if not self.visible(view.datamodel.obj):
            return []
        with self.app.app_context():
            adds = authority_truth.may_add(authority_truth.account(self.username), view.datamodel.obj)
        return [mode for mode in ("add", "edit") if (f"can_{mode}", view.class_permission_name) in self.permissions
                and (mode == "edit" or adds)]

    def _load_truth(self):
        self._writable = {}
        with self.app.app_context():
            self.truth, _ = ground_truth(self.username)
            self.all_ids = {model: sorted(r.id for r in db.session.execute(db.select(model)).scalars())
                            for model in self.truth}

    def ensure_clean(self):
        """Rebuild the cases when the previous post changed anything, so every example starts alike."""
        if self.last == self.canonical:
            return
        with self.app.app_context():
            organisation = Organisation.__table__
            others = [table for table in reversed(CASE_TABLES) if table is not organisation]
            with db.engine.begin() as connection:
                for table in others:
                    connection.execute(table.delete())
                    if connection.dialect.name == "postgresql" and "id" in table.columns:
                        # Restart the ids too, so the rebuilt cases get the same ids, as on SQLite.
                        connection.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), 1, false)"))
                connection.execute(organisation.delete().where(organisation.c.id.not_in(list(self.organisations))))
                for pk, row in self.organisations.items():
                    connection.execute(organisation.update().where(organisation.c.id == pk).values(**row))
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.text(
                        "SELECT setval(pg_get_serial_sequence('organisation', 'id'), (SELECT max(id) FROM organisation))"))
            db.session.remove()
        build_cases(self.app, recorded_by=self.recorded_by)
        with self.app.app_context():
            self.canonical = self.last = snapshot()
        self._load_truth()
        if _without_audit(self.canonical) != self.forms_valid_for:
            self.forms.clear()  # the rebuilt cases differ from the ones the cached forms were read from
            self.forms_valid_for = _without_audit(self.canonical)

    def visible(self, model):
        """The account's records of this kind that it may edit (the write rules, tests/authority_truth.py)."""
        if model not in self._writable:
            seen = self.truth[model]
            ids = self.all_ids[model] if seen is EVERY_ROW else sorted(seen)
            with self.app.app_context():
                acc = authority_truth.account(self.username)
                self._writable[model] = [pk for pk in ids if authority_truth.may_edit(acc, db.session.get(model, pk))]
                db.session.remove()
        return self._writable[model]

    # -- building a post

    def form(self, url):
        """The fields of the form at `url` as rendered for the current cases (parsed once per set of cases)."""
        if url not in self.forms:
            self.forms[url] = parse_form(self.page(url))
        return {name: FormField(f.name, f.widget, list(f.values), list(f.options), f.date_format)
                for name, f in self.forms[url].items()}

    def page(self, url):
        response = self.client.get(url)
        assert response.status_code == 200, f"{self.username} cannot open {url} ({response.status_code})"
        return response.get_data(as_text=True)

    def strategy(self, view, f):
        """Values for one field, by its kind, mixed with the hostile ones."""
        if f.kind == "text":
            return st.one_of(hostile, printable, plain)
        if f.kind == "integer":
            return st.one_of(st.sampled_from(INTEGERS), st.integers(-(2 ** 80), 2 ** 80).map(str), hostile)
        if f.kind == "decimal":
            return st.one_of(st.sampled_from(DECIMALS), st.decimals(allow_nan=True, allow_infinity=True).map(str), hostile)
        if f.kind == "date":
            return _dates()
        if f.kind == "checkbox":
            return st.sampled_from(["y", "on", "false", "", "0", "no", SCRIPT, "\x00"])
        if f.kind == "yesno":
            return st.one_of(st.sampled_from(["yes", "no", "", "maybe", "true", "1", "YES", "__None"]), hostile)
        if f.kind == "enum":
            return st.one_of(st.sampled_from(f.options or [""]),
                             st.sampled_from(["bogus", "", "__None", "Referred", " none", "none ", "1"]), hostile)
        if f.kind == "hidden":
            current = f.values[0] if f.values else ""
            bumped = str(int(current) + 1) if current.isdigit() else "2"
            return st.one_of(st.sampled_from([current, bumped, "", "0", "-1", "abc", "9" * 40, f" {current}"]), hostile)
        ids = self._ids(f)
        if f.kind == "multiple":
            return st.lists(ids, max_size=4)
        return ids

    def _ids(self, f):
        choices = [o for o in f.options if o not in ("", "__None")]
        others = [str(pk) for pk in self.all_ids.get(f.related, [])]  # includes records outside the account's cases
        parts = [st.sampled_from(BOGUS_IDS), st.sampled_from(SQL)]
        if choices:
            parts.insert(0, st.sampled_from(choices))
        if others:
            parts.insert(1, st.sampled_from(others))
        return st.one_of(parts)

    def extra_values(self):
        ids = [str(pk) for ids in self.all_ids.values() for pk in ids[:3]]
        return st.one_of(st.sampled_from(ids or ["1"]), st.sampled_from(["completed", "ended_early", "999999999"]), hostile)

    def draw_changes(self, data, view, fields, mode):
        names = [n for n in fields if n != "csrf_token"]
        mapper = sa.inspect(view.datamodel.obj)
        extras = sorted({*mapper.attrs.keys(), "id", "version", "row_version", "unknown_field"} - set(fields))
        scalars = [n for n in names if fields[n].kind != "multiple"]
        value_of = {n: self.strategy(view, fields[n]) for n in names}
        setting = st.sampled_from(names).flatmap(lambda n: st.tuples(st.just("set"), st.just(n), value_of[n]))
        change = st.one_of(
            setting,
            setting,
            st.sampled_from(names).map(lambda n: ("drop", n, None)),
            st.sampled_from(scalars).flatmap(
                lambda n: st.tuples(st.just("list"), st.just(n), st.lists(value_of[n], min_size=2, max_size=3))),
            st.sampled_from(extras).flatmap(lambda n: st.tuples(st.just("extra"), st.just(n), self.extra_values())),
        )
        return data.draw(st.lists(change, max_size=4), label="changes")

    # -- one example

    def example(self, view, data):
        """One Hypothesis example: a few fields of one form changed, the post checked."""
        self.ensure_clean()
        mode = data.draw(st.sampled_from(self.modes(view)), label="mode")
        target = data.draw(st.sampled_from(self.visible(view.datamodel.obj)), label="record")
        url, fields = self.prepare(view, mode, target)
        self.post(view, mode, target, url, fields, self.draw_changes(data, view, fields, mode))

    def sweep(self, view):
        """Each core hostile value in every field of the form at once, then again in the fields that did not
        refuse it, until the post is accepted; a failure is narrowed down to the fields that cause it."""
        failures = []
        model, modes = view.datamodel.obj, self.modes(view)
        for index, value in enumerate(CORE_HOSTILE):
            mode = modes[index % len(modes)]

            def attempt(names):
                self.ensure_clean()
                target = self.visible(model)[0]
                url, fields = self.prepare(view, mode, target)
                return self.post(view, mode, target, url, fields, [("set", n, value) for n in names])

            self.ensure_clean()
            fields = self.prepare(view, mode, self.visible(model)[0])[1]
            names = [n for n, f in fields.items() if f.kind not in ("hidden", None)]
            try:
                for _ in range(3):  # every field, then (twice at most) the fields that did not refuse it
                    accepted, html = attempt(names)
                    refusing = fields_with_errors(html) & set(names)
                    if accepted or not refusing:
                        break
                    names = [n for n in names if n not in refusing]
            except AssertionError as error:
                narrowed = []
                for name in names:
                    try:
                        attempt([name])
                    except AssertionError as single:
                        narrowed.append(single)
                failures.extend(narrowed or [error])
        return failures

    def sweep_scope(self, view):
        """Every select of the form that chooses a case, set to each case outside the account's own: refused."""
        failures = []
        model = view.datamodel.obj
        for mode in self.modes(view):
            self.ensure_clean()
            for name, f in self.prepare(view, mode, self.visible(model)[0])[1].items():
                if f.kind not in ("relation", "multiple") or self.truth.get(f.related, EVERY_ROW) is EVERY_ROW:
                    continue
                for pk in [pk for pk in self.all_ids[f.related] if pk not in self.truth[f.related]]:
                    self.ensure_clean()
                    target = self.visible(model)[0]
                    url, fields = self.prepare(view, mode, target)
                    value = [str(pk)] if f.kind == "multiple" else str(pk)
                    try:
                        self.post(view, mode, target, url, fields, [("set", name, value)])
                    except AssertionError as error:
                        failures.append(error)
        return failures

    def prepare(self, view, mode, target):
        """The url and the fields of the form as a browser would post them; for an add, filled in from a record."""
        route, model = view.route_base, view.datamodel.obj
        edit_url = f"{route}/edit/{target}"
        edit_fields = self.form(edit_url)
        if mode == "edit":
            url, fields = edit_url, edit_fields
        else:
            # A new record: the add form, filled in with the values of an existing one of the account's records.
            url, fields = f"{route}/add", self.form(f"{route}/add")
            mapper = sa.inspect(model)
            for name, f in fields.items():
                if name != "csrf_token" and name in edit_fields:
                    f.values = list(edit_fields[name].values)
                column = _column(mapper, name)
                if column is not None and column.unique:
                    f.values = [f"Fuzz {name}"[: getattr(column.type, "length", None) or 40]]
        # Fields that are no column of the record (an evaluation's first intervention) start filled in,
        # so that what they store is reached too.
        mapper = sa.inspect(model)
        for name, f in fields.items():
            if name == "csrf_token" or name in mapper.attrs or f.widget in ("hidden", "checkbox"):
                continue
            if f.widget in ("select", "multiple") and not [v for v in f.values if v not in ("", "__None")]:
                f.values = [o for o in f.options if o not in ("", "__None")][:1] or f.values
            elif f.widget == "date" and not f.values[0]:
                f.values = [(TODAY + timedelta(days=7)).strftime(_strptime_format(f.date_format))]
            elif f.widget in ("text", "textarea") and not f.values[0]:
                f.values = ["Fuzz"]
        return url, classify(view, fields)

    def post(self, view, mode, target, url, fields, changes):
        """Post the form with `changes` applied, and check everything the module docstring promises."""
        route, model = view.route_base, view.datamodel.obj
        fields = dict(fields)
        csrf = fields.pop("csrf_token").values[0]
        posted = {name: list(f.values) for name, f in fields.items()}
        for op, name, value in changes:
            if op == "set":
                posted[name] = list(value) if isinstance(value, list) else [value]
            elif op == "drop":
                posted.pop(name, None)
            elif op == "list":
                posted[name] = list(value)
            else:
                posted[name] = [value]
        pairs = [("csrf_token", csrf)] + [(name, v) for name, values in posted.items() for v in values]
        post = Post(self.username, mode, url, changes, posted)

        with self.app.app_context():
            before = snapshot()
            post.record_before = self.record_values(view, fields, target) if mode == "edit" else {}
        try:
            response = self.client.client.post(url, data=MultiDict(pairs), content_type="multipart/form-data")
        except Exception as error:  # the app raised: a 500 in production
            with self.app.app_context():
                self.last = snapshot()
            written = differences(before, self.last)
            raise finding("server error", route)(
                post.describe(f"raised {type(error).__module__}.{type(error).__name__}: "
                              f"{str(error).splitlines()[0][:300]}"
                              + (f"; and wrote {sorted(written)}" if written else ""))
            ) from error
        with self.app.app_context():
            self.last = after = snapshot()
        html = response.get_data(as_text=True)
        status = response.status_code
        location = response.headers.get("Location", "")
        if status >= 500:
            raise finding("5xx", route)(post.describe(f"answered {status}"))
        if status in (301, 302, 303) and "/login" in location:
            raise finding("logged out", route)(post.describe(f"redirected to {location}"))
        accepted = status in (301, 302, 303)
        foreign = any(
            f.related in self.truth and self.truth[f.related] is not EVERY_ROW
            and any(v.isdigit() and int(v) in self.all_ids[f.related] and int(v) not in self.truth[f.related]
                    for v in posted.get(name, []))
            for name, f in fields.items() if f.kind in ("relation", "multiple")
        )
        outcome = ("accepted" if accepted else f"refused {status}") + (", with an id outside own cases" if foreign else "")
        self.stats[(route, mode, outcome)] += 1
        if not accepted:
            written = differences(before, after)
            if written:
                raise finding("refused but written", route)(
                    post.describe(f"answered {status}, yet changed {describe_changes(written)}"))
            self.check_reflection(route, post, html, fields if status == 200 else {})
            return False, html
        saved = self.check_changes(view, post, before, after, target if mode == "edit" else None)
        self.check_stored(view, fields, post, before, saved, mode, target)
        self.check_scope(view, fields, post, before, saved)
        if any(marker_in(v) for values in posted.values() for v in values):
            for page_url in (f"{route}/show/{saved}", f"{route}/edit/{saved}", f"{route}/list/", "/",
                             *self.related_forms(model)):
                page = self.client.get(page_url)
                if page.status_code >= 500:
                    raise finding("5xx after save", route)(post.describe(f"then {page_url} answered {page.status_code}"))
                self.check_reflection(route, post, page.get_data(as_text=True), {}, where=page_url)
        return True, html

    def related_forms(self, model):
        """Add forms that offer records of `model` in a select (their option labels show the saved values)."""
        urls = []
        for view in self.views:
            mapper = sa.inspect(view.datamodel.obj)
            columns = set(view.add_columns or [])
            if "add" in self.modes(view) and any(
                r.key in columns and r.mapper.class_ is model for r in mapper.relationships
            ):
                urls.append(f"{view.route_base}/add")
        return urls

    # -- the checks

    def check_reflection(self, route, post, html, rendered, where=None):
        for name, values in post.posted.items():
            for value in values:
                for marker in RAW_MARKERS:
                    if marker in value and marker in html:
                        raise finding("reflected unescaped", route, name)(
                            post.describe(f"{where or 'the refused form'} contains the raw {marker!r}"))
        for name, f in rendered.items():
            values = post.posted.get(name)
            if f.kind == "text" and values and values[0] in MARKUP and str(escape(values[0])) not in html:
                raise finding("typed value lost", route, name)(
                    post.describe(f"the refused form does not show {values[0]!r} (escaped) in {name}"))

    def check_changes(self, view, post, before, after, target):
        """The accepted post changed only its own record, its links, audit entries and new children."""
        route, table = view.route_base, view.datamodel.obj.__table__
        written = differences(before, after)
        removed, added = written.get(table.name, ([], []))
        if target is None:
            new = [row["id"] for row in added]
            if removed or len(new) != 1:
                raise finding("accepted add without one new record", route)(
                    post.describe(f"redirected, but {table.name} changed by {describe_changes(written)}"))
            saved = new[0]
        else:
            saved = target
            if any(row["id"] != target for row in [*removed, *added]):
                raise finding("changed other records", route)(post.describe(f"changed {describe_changes(written)}"))
        mapper = sa.inspect(view.datamodel.obj)
        links = {r.secondary.name: r for r in mapper.relationships if r.secondary is not None}
        for name, (gone, new_rows) in written.items():
            if name == table.name:
                continue
            other = Model.metadata.tables[name]
            if name == "audit_entry":
                ok = not gone
            elif name in links:
                keys = [c.name for c in other.columns if any(fk.column.table is table for fk in c.foreign_keys)]
                ok = all(row[k] == saved for row in [*gone, *new_rows] for k in keys)
            else:
                keys = [c.name for c in other.columns if any(fk.column.table is table for fk in c.foreign_keys)]
                ok = not gone and keys and all(row[k] == saved for row in new_rows for k in keys)
            if not ok:
                raise finding("changed other records", route, name)(
                    post.describe(f"also changed {describe_changes({name: (gone, new_rows)})}"))
        for name, (gone, new_rows) in written.items():
            if name == "audit_entry":
                continue
            columns = Model.metadata.tables[name].columns
            for row in new_rows:
                for column, value in row.items():
                    if not isinstance(value, str):
                        continue
                    if CONTROL_CHARACTERS.search(value):
                        raise finding("control character stored", route)(
                            post.describe(f"stored {short(value)} in {name}.{column}"))
                    length = getattr(columns[column].type, "length", None)
                    if length and len(value) > length:
                        raise finding("longer than its column", route)(
                            post.describe(f"stored {len(value)} characters in {name}.{column}, "
                                          f"declared {columns[column].type}"))
        return saved

    def record_values(self, view, fields, pk):
        """{field: value} of the record's fields that the form shows (call inside an app context)."""
        mapper = sa.inspect(view.datamodel.obj)
        record = db.session.get(view.datamodel.obj, pk)
        return {name: stored_value(f, record) for name, f in fields.items() if name in mapper.attrs and f.kind != "hidden"}

    def check_stored(self, view, fields, post, before, saved, mode, target):
        route, model = view.route_base, view.datamodel.obj
        mapper = sa.inspect(model)
        form_class = view.add_form if mode == "add" else view.edit_form
        before_row = next((r for r in rows_of(model.__tablename__, before[model.__tablename__]) if r["id"] == target), None)
        with self.app.app_context():
            # An edit changes what was changed: a field posted back as the form showed it keeps its value.
            touched = {name for _, name, _ in post.changes}
            after = self.record_values(view, fields, saved) if mode == "edit" else {}
            for name, value in post.record_before.items():
                if name not in touched and after[name] != value:
                    raise finding("unchanged field changed", route, name)(
                        post.describe(f"{name} was {short(value)}, the form showed {short(post.posted.get(name))}, "
                                      f"and saving it made it {short(after[name])}"))
            db.session.remove()
            record = db.session.get(model, saved)
            for name, f in fields.items():
                if name not in mapper.attrs or f.kind == "hidden":
                    continue
                unbound = getattr(form_class, name, None)
                default = unbound.kwargs.get("default") if unbound is not None else None
                try:
                    expected = expected_value(view, f, post.posted.get(name, []), default)
                except Uninterpretable as error:
                    raise finding("accepted nonsense", route, name)(post.describe(f"{name}: {error}")) from None
                stored = stored_value(f, record)
                if not same(f, expected, stored):
                    raise finding("stored differs", route, name)(
                        post.describe(f"{name}: sent {short(post.posted.get(name))}, expected {short(expected)}, "
                                      f"stored {short(stored)}"))
            # Fields the form does not offer (a hidden BSN, id, version, status) keep their value.
            covered = {c.key for r in mapper.relationships if r.key in fields for c in r.local_columns}
            for name in post.posted:
                column = _column(mapper, name)
                if name in fields or column is None or column.key in covered:
                    continue
                stored = getattr(record, name)
                if column.info.get("kept_by_database"):
                    allowed = {builders.recounted_figures(record)[name]}
                elif name == "version":
                    allowed = {1} if mode == "add" else {before_row["version"], before_row["version"] + 1}
                elif name == "id":
                    allowed = {saved}
                elif column.info.get("set_by_portal"):
                    # Who recorded it is the portal's to say: the account saving it, never the form.
                    allowed = {self.recorder()[column.key]} if mode == "add" else {before_row[column.name]}
                elif mode == "add":
                    allowed = {column_default(column)}
                    if any(fk.column.table.name == "organisation" for fk in column.foreign_keys):
                        # A party the account may not choose is its own organisation (the referrer, the
                        # tenant's corporation, a contact's or signature's organisation): shown, not posted.
                        allowed.add(self.recorder()["recorded_by_organisation_id"])
                else:
                    allowed = {before_row[column.name]}
                if _plain(stored) not in {_plain(a) for a in allowed}:
                    raise finding("field outside the form changed", route, name)(
                        post.describe(f"{name} is {short(stored)}, expected {short(allowed)}"))

    def check_scope(self, view, fields, post, before, saved):
        """A saved record stays within the account's cases and points at no case outside them."""
        route, model = view.route_base, view.datamodel.obj
        with self.app.app_context():
            truth_after, _ = ground_truth(self.username)
            record = db.session.get(model, saved)
            if truth_after[model] is not EVERY_ROW and saved not in truth_after[model]:
                raise finding("saved outside own cases", route)(
                    post.describe(f"{model.__name__} {saved} is no longer among {self.username}'s cases"))
            for name, f in fields.items():
                if f.kind not in ("relation", "multiple") or f.related not in self.truth:
                    continue
                allowed = self.truth[f.related]
                if allowed is EVERY_ROW:
                    continue
                value = getattr(record, name)
                pointed = {o.id for o in value} if f.kind == "multiple" else ({value.id} if value is not None else set())
                if pointed - set(allowed):
                    raise finding("points outside own cases", route, name)(
                        post.describe(f"{name} now points at {f.related.__name__} {sorted(pointed - set(allowed))}, "
                                      f"outside {self.username}'s cases"))


def fields_with_errors(html) -> set:
    """Names of the fields a refused form marks with an error (FAB renders it after the field's label)."""
    form = html.partition('id="model_form"')[2].split("</form>", 1)[0]
    chunks = form.split('<label for="')[1:]
    return {chunk.split('"', 1)[0] for chunk in chunks if 'class="alert alert-danger"' in chunk}


def _plain(value):
    return getattr(value, "value", value)


def marker_in(value):
    return isinstance(value, str) and any(marker in value for marker in RAW_MARKERS)


def describe_changes(written) -> str:
    parts = []
    for name, (gone, new) in written.items():
        parts.append(f"{name}: -{len(gone)} +{len(new)} rows")
    return "; ".join(parts)


@dataclass
class Post:
    username: str
    mode: str
    url: str
    changes: list
    posted: dict
    record_before: dict = None  # an edited record's values before the post

    def describe(self, what) -> str:
        changes = ", ".join(
            f"{op} {name}" + ("" if op == "drop" else f"={short(value)}") for op, name, value in self.changes
        ) or "(the form as rendered)"
        form = ", ".join(f"{name}={short(values[0] if len(values) == 1 else values, 40)}"
                         for name, values in self.posted.items())
        return (f"POST {self.url} as {self.username} ({self.mode}): {what}\n"
                f"    changes to the rendered form: {changes}\n    posted: {form}")


# ---- the tests ---------------------------------------------------------------------------------


def _run(fuzzer, view):
    """Fuzz one view; every distinct failure Hypothesis found, each shrunk to its minimal post."""

    @FUZZ_SETTINGS
    @given(data=st.data())
    def fuzz(data):
        fuzzer.example(view, data)

    try:
        fuzz()
    except BaseExceptionGroup as group:
        return _leaves(group)
    except Exception as error:
        return [error]
    return []


def _leaves(group):
    found = []
    for error in group.exceptions:
        found.extend(_leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    return found


@pytest.mark.parametrize("username", ACCOUNTS)
def test_every_form_survives_hostile_posts(app, world, login, username):
    fuzzer = FormFuzzer(app, login(username), username)
    failures = []
    for view in fuzzer.views:
        failures.extend(fuzzer.sweep_scope(view))
        if username in SWEEP_ACCOUNTS:
            failures.extend(fuzzer.sweep(view))
        failures.extend(_run(fuzzer, view))
    grouped = {}
    # One report per kind of finding, screen and field, its shortest post first; where else it was seen, listed.
    for failure in sorted(failures, key=lambda f: len(str(f))):
        grouped.setdefault(type(failure), []).append(failure)
    routes = {view.route_base for view in fuzzer.views}
    untried = [f"{route} {mode}" for route in sorted(routes) for mode in ("add", "edit")
               if any(v.route_base == route and mode in fuzzer.modes(v) for v in fuzzer.views)
               and not any(key[:2] == (route, mode) for key in fuzzer.stats)]
    summary = "\n".join(f"  {route} {mode}: {outcome} ×{n}" for (route, mode, outcome), n in sorted(fuzzer.stats.items()))
    report = "\n\n".join(
        f"[{kind.__name__}] {found[0]}"
        + "".join(f"\n    also: {line}" for line in dict.fromkeys(str(f).splitlines()[0] for f in found[1:])
                  if line != str(found[0]).splitlines()[0])
        for kind, found in grouped.items()
    )
    assert not grouped and not untried, (
        f"{len(grouped)} finding(s) for {username}; never posted: {untried}\n\n{report}\n\nposts:\n{summary}"
    )


def test_the_fuzzer_finds_every_form(app, world):
    """Discovery from the running app reaches every case form, with fields parsed, for both accounts."""
    from conftest import PortalClient

    case_forms = {"/tenantview", "/trajectoryview", "/agreementview", "/obligationview", "/signatureview",
                  "/debtview", "/evaluationview", "/interventionview", "/contactview"}
    for username in ACCOUNTS:
        client = PortalClient(app.test_client()).login(username)
        fuzzer = FormFuzzer(app, client, username)
        routes = {view.route_base for view in fuzzer.views}
        assert case_forms <= routes, (username, sorted(routes))
        assert ("/organisationview" in routes) == (username == "coordinator")  # Caseworkers may not edit organisations
        assert "/auditview" not in routes  # the trail has no add or edit form
        for view in fuzzer.views:
            for mode in fuzzer.modes(view):
                target = fuzzer.visible(view.datamodel.obj)[0]
                url = f"{view.route_base}/add" if mode == "add" else f"{view.route_base}/edit/{target}"
                fields = classify(view, parse_form(fuzzer.page(url)))
                assert "csrf_token" in fields and len(fields) > 2, (url, fields)
                assert all(f.kind for f in fields.values()), url
