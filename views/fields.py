"""Form fields and validators shared by every portal form."""
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import DecimalField, SelectField
from wtforms.validators import StopValidation, ValidationError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
POSTCODE = re.compile(r"^[1-9][0-9]{3} ?(?!SA|SD|SS)[A-Z]{2}$")
# What an amount may hold once a leading "€" is gone: digits 0-9, separators and a minus. Python's
# Decimal() also reads "1e3", "1_000" and other scripts' digits, which nobody means as an amount.
AMOUNT_CHARACTERS = re.compile(r"-?[0-9.,]+")
WHOLE_NUMBER = re.compile(r"\s*[-+]?[0-9]+\s*")
DIGITS_ONLY = _l("Type numbers with the digits 0 to 9.")


def lf_line_breaks(text):
    """Browsers send a text area's line breaks as CRLF; notes keep LF, as every other writer stores
    them, so a form saved unchanged leaves its notes (and the audit trail) unchanged."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if isinstance(text, str) else text


class EnumSelectField(SelectField):
    """A select of an enum's members, labelled in the user's language; unknown keys are form errors."""

    def __init__(self, enum_class, label=None, validators=None, required=False, **kwargs):
        self.enum_class = enum_class
        choices = [] if required else [("", "—")]
        super().__init__(
            label, validators=validators, choices=choices, coerce=self._coerce,
            widget=Select2Widget(), **kwargs,
        )
        self.required = required
        if required:
            self.flags.required = True

    def _coerce(self, value):
        if value in (None, "") or isinstance(value, self.enum_class):
            return value or None
        try:
            return self.enum_class(value)
        except ValueError:
            return value  # pre_validate turns an unknown key into a form error

    def iter_choices(self):
        options = [] if self.required else [("", "—")]
        options += [(m.value, m.label) for m in self.enum_class]
        for value, label in options:
            selected = (self.data.value if isinstance(self.data, self.enum_class) else self.data) == value or (
                not value and self.data is None
            )
            yield (value, label, selected, {})

    def pre_validate(self, form):
        if self.data is None:
            if self.required:
                raise ValidationError(_l("Choose a value."))
            return
        if not isinstance(self.data, self.enum_class):
            raise ValidationError(_l("Not a valid choice."))


class YesNoUnknownField(SelectField):
    """A yes/no question that may still be open: "—" stays None instead of becoming "no"."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators=validators, choices=[], widget=Select2Widget(), **kwargs)

    def iter_choices(self):
        current = {True: "yes", False: "no"}.get(self.data, "")
        for value, label in (("", "—"), ("yes", _l("Yes")), ("no", _l("No"))):
            yield (value, label, value == current, {})

    def process_data(self, value):
        self.data = value if value in (True, False) else None

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = {"yes": True, "no": False}.get(valuelist[0], valuelist[0] or None)

    def pre_validate(self, form):
        if self.data not in (True, False, None):
            raise ValidationError(_l("Not a valid choice."))


class NoControlCharacters:
    """Reject invisible control characters (they corrupt exports and some databases refuse them)."""

    def __call__(self, form, field):
        if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
            # Stop here: later validators (FAB's Unique) would send the text to the database,
            # and PostgreSQL refuses NUL bytes with an error instead of an answer.
            raise StopValidation(_l("Remove the invisible control characters from this text."))


class MaxLength:
    """At most `maximum` characters; the input's maxlength attribute states it to the browser."""

    def __init__(self, maximum: int):
        self.maximum = maximum
        self.field_flags = {"maxlength": maximum}

    def __call__(self, form, field):
        if not isinstance(field.data, str) or len(field.data) <= self.maximum:
            return
        # Stop: no later check may send the text to the database. An earlier message (not a postcode,
        # say) is reason enough; one message per field.
        message = _l("Use at most %(maximum)s characters (this text has %(count)s).",
                     maximum=self.maximum, count=len(field.data))
        raise StopValidation(None if field.errors else message)


class EmailAddress:
    """An optional e-mail address, checked for its form only (no look-up of the domain)."""

    def __call__(self, form, field):
        if not field.data:
            return
        try:
            validate_email(field.data, check_deliverability=False)
        except EmailNotValidError:
            raise ValidationError(_l("Enter an e-mail address, for example naam@voorbeeld.nl.")) from None


def has_other_digits(text: str) -> bool:
    """Digits of another script ("١٢٣", "１２３", "𝟏𝟐𝟑"): int() and Decimal() read them as numbers."""
    return any(c.isdigit() and not c.isascii() for c in text)


class DutchPostcode:
    """A Dutch postcode, stored in the canonical form `1234 AB`."""

    def __call__(self, form, field):
        if not field.data:
            return
        value = field.data.strip().upper()
        if not POSTCODE.match(value):
            raise ValidationError(_l("Enter a Dutch postcode, for example 3511 AB."))
        field.data = f"{value[:4]} {value[-2:]}"


def bsn_is_valid(value: str) -> bool:
    """The 11-proef: 9 digits, weights 9..2 and -1, sum divisible by 11 and not zero."""
    if not re.fullmatch(r"[0-9]{9}", value):
        return False
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1)))
    return total % 11 == 0 and total != 0


class Bsn:
    """An optional burgerservicenummer that passes the 11-proef."""

    def __call__(self, form, field):
        if not field.data:
            field.data = None
            return
        value = field.data.strip().replace(".", "").replace(" ", "")
        if not bsn_is_valid(value):
            raise ValidationError(_l("This is not a valid BSN (9 digits that pass the 11-check)."))
        field.data = value


AMOUNT_EXAMPLE = _l("Enter an amount in euros, for example 1234.56 or 1.234,56.")


def parse_amount(text: str) -> Decimal:
    """An amount as staff type it, in Dutch or English: `1234,56`, `1.234,56`, `€ 1234.56`, `1,234.56`.

    Only the digits 0-9, the two separators and a leading minus count (no exponent, no "NaN", no
    other script's digits). With both separators the last one is the decimal sign and the other must
    group thousands; a lone comma is a decimal comma. One separator before exactly three digits
    (`1.500`, `1,500`) could be either, and is refused. A value that is not an amount is refused (and
    FiniteAmount refuses more than two decimals), never misread.
    """
    value = text.strip()
    if value.startswith("€"):
        value = value[1:].strip()
    if not AMOUNT_CHARACTERS.fullmatch(value):
        raise ValueError(text)
    if re.fullmatch(r"-?[0-9]+[.,][0-9]{3}", value):
        # "1.500" is 1500 to a Dutch reader and 1.5 to an English one: ask, never guess.
        raise ValueError(text)
    if "," in value and "." in value:
        decimal_sign = "," if value.rfind(",") > value.rfind(".") else "."
        thousands = "." if decimal_sign == "," else ","
        whole, _, fraction = value.rpartition(decimal_sign)
        if not re.fullmatch(r"[0-9]{1,3}(%s[0-9]{3})+" % re.escape(thousands), whole) or not fraction.isdigit():
            raise ValueError(text)
        value = f"{whole.replace(thousands, '')}.{fraction}"
    elif value.count(",") == 1:
        value = value.replace(",", ".")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(text) from None


class AmountField(DecimalField):
    """A money field that reads Dutch and English amounts (`parse_amount`) and shows them in the
    user's language: `1234,56` in Dutch, `1234.56` in English."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        if not valuelist[0].strip():
            self.data = None
            return
        if has_other_digits(valuelist[0]):
            self.data = None
            raise ValueError(str(DIGITS_ONLY))
        try:
            self.data = parse_amount(valuelist[0])
        except ValueError:
            self.data = None
            raise ValueError(str(AMOUNT_EXAMPLE)) from None

    def _value(self):
        shown = super()._value()
        locale = get_locale()
        if not self.raw_data and locale is not None and locale.language == "nl":
            return shown.replace(".", ",")
        return shown


class FiniteAmount:
    """A finite, non-negative amount with at most two decimals and below the column's limit."""

    def __init__(self, maximum=Decimal("9999999999.99")):
        self.maximum = maximum

    def __call__(self, form, field):
        value = field.data
        if value is None:
            return
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValidationError(AMOUNT_EXAMPLE)
        if value < 0:
            raise ValidationError(_l("An amount cannot be negative."))
        if value > self.maximum:
            raise ValidationError(_l("This amount is too large."))
        if value != value.quantize(Decimal("0.01")):
            raise ValidationError(_l("Use at most two decimals."))


class WholeNumber:
    """A non-negative whole number, typed in digits 0-9, within what the database can hold."""

    def __call__(self, form, field):
        if field.data is None:
            return
        if field.raw_data and not WHOLE_NUMBER.fullmatch(str(field.raw_data[0])):
            # int() read "١٢", "１２" or "1_000" as a number, which is not what the user typed.
            raise ValidationError(DIGITS_ONLY)
        if not 0 <= field.data <= 1_000_000:
            raise ValidationError(_l("Enter a number between 0 and 1,000,000."))


class NotInFuture:
    """A date that has already happened."""

    def __call__(self, form, field):
        if field.data and field.data > date.today():
            raise ValidationError(_l("This date cannot be in the future."))


class SaneDate:
    """A date in a range a case can have; typos like 20255 fail here, not in the database."""

    def __call__(self, form, field):
        if field.data and not date(1900, 1, 1) <= field.data <= date(2200, 12, 31):
            raise ValidationError(_l("Enter a date between 1900 and 2200."))


class After:
    """This date must come after another date field of the same form."""

    def __init__(self, other: str, message=None):
        self.other = other
        self.message = message

    def __call__(self, form, field):
        other = form._fields.get(self.other)
        if field.data and other is not None and other.data and field.data <= other.data:
            raise ValidationError(
                self.message or _l("This date must be after %(other)s.", other=other.label.text)
            )
