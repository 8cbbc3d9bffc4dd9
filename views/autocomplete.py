"""Choosing a case record in a form by typing a few letters, instead of from a list of all of them.

A form field for a many-to-one relation to a case table (tenant, trajectory, agreement, evaluation:
tables that grow with the caseload) would otherwise render one `<option>` per record in scope,
which at production scale makes a debt form too large and slow to use (figures in
benchmarks/README.md). This field renders only the record
chosen so far; the browser asks the view's `autocomplete` endpoint for the records matching what
the user types (select2's ajax mode, already shipped with Flask-AppBuilder), and a posted id is
looked up again, within the user's scope, so a crafted POST cannot pick a record outside it.
"""
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import Field
from wtforms.validators import StopValidation
from wtforms.widgets import html_params

SCRIPT = "autocomplete.js"


class AutocompleteWidget:
    """A `<select>` holding only the chosen record; static/autocomplete.js turns it into a search box."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        options = ['<option value=""></option>']
        if field.data is not None:
            options.append(f'<option value="{escape(field.data.id)}" selected>{escape(str(field.data))}</option>')
        attributes = html_params(
            name=field.name, class_="portal-autocomplete form-control",
            data_url=url_for(field.endpoint, field=field.short_name),
            data_placeholder=str(_l("Type to search")), required=field.flags.required, **kwargs,
        )
        script = html_params(src=url_for("static", filename=SCRIPT), defer=True, nonce=_nonce())
        return Markup(f'<select {attributes}>{"".join(options)}</select><script {script}></script>')


def _nonce():
    """This response's Content-Security-Policy nonce, as FAB's templates put it on their scripts (if any)."""
    nonce = current_app.jinja_env.globals.get("csp_nonce")
    return nonce() if nonce else False


class AutocompleteField(Field):
    """A related record, chosen by id; `lookup(id)` returns it if the user may choose it, else None."""

    widget = AutocompleteWidget()

    def __init__(self, label=None, validators=None, lookup=None, endpoint=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.lookup = lookup
        self.endpoint = endpoint
        self._submitted = None

    def _value(self):
        return str(self.data.id) if self.data is not None else ""

    def process_formdata(self, valuelist):
        # No value posted (the field left out of a form opened from a related list): keep what is set.
        if not valuelist:
            return
        value = (valuelist[0] or "").strip()
        if value in ("", "__None"):
            self.data = None
            return
        self._submitted = value
        self.data = self.lookup(value)

    def pre_validate(self, form):
        if self._submitted is not None and self.data is None:
            raise StopValidation(_l("Not a valid choice."))
