"""How values read on screen: one formatter per kind of column, in the user's language."""
import enum
from datetime import date, datetime
from decimal import Decimal

from flask_babel import format_currency, format_date, get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

DATE_PATTERNS = {"nl": "dd-MM-yyyy", "en": "d MMM yyyy"}


def _language() -> str:
    locale = get_locale()
    return locale.language if locale else "nl"


def show_date(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, DATE_PATTERNS.get(_language(), "dd-MM-yyyy"))


def show_money(value) -> str:
    if value is None:
        return ""
    return format_currency(Decimal(value), "EUR", format="¤ #,##0.00", currency_digits=True)


def show_money_cell(value) -> Markup:
    """An amount on a page: kept on one line, and right-aligned in a table (static/portal.css)."""
    if value is None:
        return Markup("")
    return Markup('<span class="portal-money">{}</span>').format(show_money(value))


def show_bool(value) -> str:
    if value is None:
        return ""
    return str(_l("Yes")) if value else str(_l("No"))


def show_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _member(enum_class, value):
    try:
        return enum_class(getattr(value, "value", value))
    except ValueError:
        return None


def enum_formatter(enum_class):
    """FAB hands list and show widgets an enum's stored key; staff read its translated label."""

    def show_enum(value) -> str:
        if value in (None, ""):
            return ""
        member = _member(enum_class, value)
        return str(member.label) if member is not None else str(value)

    return show_enum


def badge_formatter(enum_class):
    """As `enum_formatter`, as a colour badge (the member's `badge`): a status read at a glance."""

    def show_badge(value):
        if value in (None, ""):
            return ""
        member = _member(enum_class, value)
        return show_status(member) if member is not None else str(value)

    return show_badge


def show_status(value) -> Markup:
    """An enum as a colour badge; the colour is decided by the member's `badge` if it has one."""
    if value is None:
        return Markup("")
    badge = getattr(value, "badge", None) or "default"
    return Markup('<span class="label label-{} portal-badge">{}</span>').format(badge, escape(str(value)))


def mask_bsn(value) -> str:
    """A BSN where it is not needed (lists, their exports): only its last three digits."""
    if not value:
        return ""
    return "●●●●●●" + str(value)[-3:]


def formatter_for(column, markup=True):
    """The formatter for a mapped column, by its SQL type. For a page (`markup`) statuses are badges
    and amounts stay on one line; without, every value is plain text."""
    import sqlalchemy as sa

    column_type = getattr(column, "type", None)
    if isinstance(column_type, sa.Enum) and column_type.enum_class is not None:
        enum_class = column_type.enum_class
        if markup and hasattr(enum_class, "badges") and enum_class.badges():
            return badge_formatter(enum_class)
        return enum_formatter(enum_class)
    if isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float):
        return (show_money_cell if markup else show_money) if column_type.scale == 2 else show_text
    if isinstance(column_type, (sa.Date, sa.DateTime)):
        return show_date
    if isinstance(column_type, sa.Boolean):
        return show_bool
    return show_text
