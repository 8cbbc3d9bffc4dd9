"""The portal's page widgets and its date input, in place of Flask-AppBuilder's."""
from flask_appbuilder.widgets import FormWidget, ShowWidget
from markupsafe import Markup
from wtforms.widgets import html_params

# The range SaneDate accepts; the browser's date picker offers no other.
EARLIEST_DATE, LATEST_DATE = "1900-01-01", "2200-12-31"


class PortalFormWidget(FormWidget):
    """Add and edit forms: see templates/portal/widgets/form.html."""

    template = "portal/widgets/form.html"
    submit_label = None
    submit_icon = None
    # A form that changes the logged-in user's own password names the account (for password managers).
    own_account = False

    def __call__(self, **kwargs):
        kwargs.setdefault("submit_label", self.submit_label)
        kwargs.setdefault("submit_icon", self.submit_icon)
        kwargs.setdefault("own_account", self.own_account)
        return super().__call__(**kwargs)


class OwnPasswordFormWidget(PortalFormWidget):
    own_account = True


class PortalShowWidget(ShowWidget):
    """A record's page, with labelled edit, delete and back buttons."""

    template = "portal/widgets/show.html"


class DateInput:
    """A date field the browser offers a calendar for (`type=date`) and lets be typed in the user's
    own order; the value travels as `yyyy-mm-dd`, the format every portal date field reads.

    Replaces FAB's DatePickerWidget, whose picker spoke English, showed `yyyy-mm-dd` while every
    page shows `dd-mm-yyyy`, and gave every date field the same id.
    """

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("min", EARLIEST_DATE)
        kwargs.setdefault("max", LATEST_DATE)
        if field.flags.required:
            kwargs.setdefault("required", True)
        value = field._value() if hasattr(field, "_value") else (field.data or "")
        classes = " ".join(filter(None, ["form-control portal-date", kwargs.pop("class", ""), kwargs.pop("class_", "")]))
        return Markup(f"<input {html_params(type='date', name=field.name, value=value, class_=classes, **kwargs)}>")
