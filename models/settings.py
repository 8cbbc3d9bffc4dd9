"""The policy settings of the Laatste Kansbeleid, in one typed object.

`PolicySettings` declares every setting once: its type, default, bounds, label and help text.
The environment sets the defaults (`PolicySettings.from_environment`, read by the app factory);
an Admin's values are stored in one database row (`StoredPolicy`) and win over the defaults.
`policy()` gives the settings in force, read from the database at most once per request (or
per app context outside requests), and only when something asks for them.
"""
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app, g
from flask_babel import lazy_gettext as _l

from .base import Model, Money, VersionedMixin, db

STORED_ROW_ID = 1
# Replaced settings: refused with a pointer to their successor rather than silently ignored.
REPLACED_VARIABLES = {"MINIMUM_DURATION_YEARS": "MINIMUM_DURATION_MONTHS (e.g. 18 or 24)"}


CENT = Decimal("0.01")


def is_money(setting) -> bool:
    return setting.type is Decimal


class SettingError(ValueError):
    """A setting's value is refused; `name` is the setting's field name."""

    def __init__(self, name: str, message):
        super().__init__(message)
        self.name = name


def _setting(default, minimum, maximum, label, help_text):
    return field(default=default, metadata={"minimum": minimum, "maximum": maximum, "label": label,
                                            "help": help_text})


@dataclass(frozen=True)
class PolicySettings:
    """The values in force; built only from valid values (checked on creation)."""

    evaluation_interval_months: int = _setting(
        3, 1, 12, _l("Evaluation interval (months)"),
        _l("Months between two evaluations of a running trajectory, counted from the last evaluation "
           "held (or the start). A new interval moves every next evaluation date at once."))
    evaluation_due_soon_days: int = _setting(
        30, 1, 366, _l("Due soon (days)"),
        _l("An evaluation planned within this many days counts as due soon on the evaluations page "
           "and the dashboard."))
    minimum_duration_months: int = _setting(
        24, 1, 120, _l("Minimum duration (months)"),
        _l("A trajectory can be completed this many months after its start at the earliest; only a "
           "coordinator can make an exception, with a reason."))
    maximum_duration_months: int = _setting(
        48, 1, 120, _l("Maximum duration (months)"),
        _l("The planned end date of a trajectory lies at most this many months after its start."))
    relapse_followup_months: int = _setting(
        12, 1, 60, _l("Relapse follow-up (months)"),
        _l("Months after completion when the coordinator asks whether the tenant relapsed."))
    success_target_percent: int = _setting(
        75, 1, 100, _l("Success target (%)"),
        _l("The partners' aim: the share of followed-up completions without relapse, shown on the "
           "dashboard."))
    eviction_cost_eur: Decimal = _setting(
        Decimal("25000"), Decimal("0"), Decimal("10000000"), _l("Cost of one eviction (euros)"),
        _l("Estimated cost of one eviction (court, bailiff, storage, shelter), for the costs avoided."))
    retention_years_tenant: int = _setting(
        7, 1, 100, _l("Retention of tenant data (years)"),
        _l("Years after a tenant's last trajectory ended before the retention run erases what identifies "
           "the tenant."))
    retention_years_case_notes: int = _setting(
        7, 1, 100, _l("Retention of case notes (years)"),
        _l("Years after a tenant's last trajectory ended before the retention run erases the free-text "
           "notes in the case records."))

    def __post_init__(self):
        for setting in fields(self):
            value = getattr(self, setting.name)
            low, high = setting.metadata["minimum"], setting.metadata["maximum"]
            if is_money(setting):
                if not isinstance(value, Decimal) or not value.is_finite():
                    raise SettingError(setting.name, _l("Give an amount in euros."))
            elif isinstance(value, bool) or not isinstance(value, int):
                raise SettingError(setting.name, _l("Give a whole number."))
            if not low <= value <= high:
                raise SettingError(setting.name, _l("Give a value from %(minimum)s to %(maximum)s.",
                                                    minimum=low, maximum=high))
            if is_money(setting) and value != value.quantize(CENT):
                raise SettingError(setting.name, _l("Give an amount with at most two decimals."))
        if self.minimum_duration_months > self.maximum_duration_months:
            raise SettingError("maximum_duration_months",
                               _l("The maximum duration cannot be shorter than the minimum duration."))

    @classmethod
    def settings(cls) -> tuple:
        """The dataclass fields, in the order the settings page shows them."""
        return fields(cls)

    def changed(self, **values) -> "PolicySettings":
        """A copy with `values` replaced, checked like any new settings."""
        return replace(self, **values)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def retention_years(self) -> dict:
        """Years of retention per kind of data, as models.retention takes them."""
        return {"tenant": self.retention_years_tenant, "case_notes": self.retention_years_case_notes}

    @classmethod
    def from_environment(cls, environ) -> "PolicySettings":
        """The defaults, with the environment variables (the setting's name in capitals) that are set.

        Raises SettingError naming the variable and the value it refuses.
        """
        for old, new in REPLACED_VARIABLES.items():
            if environ.get(old) not in (None, ""):
                raise SettingError(old.lower(), f"{old} is no longer read: set {new} instead.")
        values = {}
        for setting in cls.settings():
            variable = setting.name.upper()
            text = environ.get(variable)
            if text in (None, ""):
                continue
            try:
                values[setting.name] = parse(setting, text)
            except SettingError as error:
                raise SettingError(setting.name, f"{variable}={text!r}: {error}") from None
        try:
            return cls(**values)
        except SettingError as error:
            value = values.get(error.name, getattr(cls, error.name))
            raise SettingError(error.name, f"{error.name.upper()}={value}: {error}") from None


def parse(setting, text: str):
    """A setting's value from text (an environment variable), refused with the reason."""
    text = text.strip()
    if is_money(setting):
        try:
            return Decimal(text)
        except InvalidOperation:
            raise SettingError(setting.name, "not an amount (use digits and a decimal point)") from None
    if not text.lstrip("-").isdigit():
        raise SettingError(setting.name, "not a whole number")
    return int(text)


def _column(setting) -> sa.Column:
    kind = Money if is_money(setting) else sa.Integer
    return sa.Column(kind, nullable=False, info={"label": setting.metadata["label"]})


# The values an Admin saved: one row (id 1), with a column per setting; no row means the
# environment's defaults apply. Audited like every record (who, when, old and new values), and
# versioned, so that two Admins saving at once cannot overwrite each other unseen.
StoredPolicy = type("StoredPolicy", (VersionedMixin, Model), {
    "__tablename__": "policy_settings",
    "__scope__": "public",
    "__label__": _l("Policy settings"),
    "__plural__": _l("Policy settings"),
    "__doc__": "The policy settings an Admin saved (one row).",
    "__module__": __name__,
    "id": sa.Column(sa.Integer, primary_key=True),
    **{setting.name: _column(setting) for setting in PolicySettings.settings()},
})


def defaults() -> PolicySettings:
    return current_app.config["POLICY_DEFAULTS"]


def stored_policy(session):
    """(settings in force, version of the stored row or 0 when none) read from the database now."""
    columns = [StoredPolicy.__table__.c[setting.name] for setting in PolicySettings.settings()]
    row = session.execute(sa.select(StoredPolicy.version, *columns).where(StoredPolicy.id == STORED_ROW_ID)).first()
    if row is None:
        return defaults(), 0
    version, *values = row
    try:
        return PolicySettings(**dict(zip((c.name for c in columns), values))), version
    except SettingError as error:
        # Stored under other bounds: the defaults rather than a failing portal.
        current_app.logger.error("Stored policy settings refused (%s); the defaults apply.", error)
        return defaults(), version


def policy() -> PolicySettings:
    """The settings in force, read once per request (or app context), on first use."""
    if "portal_policy" not in g:
        g.portal_policy = stored_policy(db.session)[0]
    return g.portal_policy


def forget_policy() -> None:
    """Let the next `policy()` of this context read the database again (after a save)."""
    g.pop("portal_policy", None)


class StalePolicy(Exception):
    """The settings were changed by someone else since the form was opened."""


def save_policy(session, values: dict, version: int) -> PolicySettings:
    """Store an Admin's values read with `version`; refuses without writing anything.

    Raises SettingError for an invalid value and StalePolicy when the stored row is no longer at
    `version`. The caller commits (and rolls back on StaleDataError or IntegrityError: a save that
    raced with another).
    """
    current, stored_version = stored_policy(session)
    if version != stored_version:
        raise StalePolicy()
    new = current.changed(**values)
    row = session.get(StoredPolicy, STORED_ROW_ID, populate_existing=True)
    if row is None:
        # The first save keeps the values in force until now, so the trail shows old and new.
        row = StoredPolicy(id=STORED_ROW_ID, **current.as_dict())
        session.add(row)
        session.flush()
    for name, value in new.as_dict().items():
        setattr(row, name, value)
    session.flush()
    forget_policy()
    return new
