"""The partner-meeting workbook page: choose an organisation you may see and a quarter, download."""
from datetime import date

from flask import send_file
from flask_appbuilder import SimpleFormView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField
from wtforms.validators import DataRequired, ValidationError

from models import AuditAction, Organisation, db, record_access
from reports.kpi import quarter_bounds, quarter_of
from reports.partner_workbook import PartnerWorkbook, organisations_for
from reports.xlsx import XLSX_MIMETYPE

from .base import security_manager
from .widgets import PortalFormWidget


class DownloadFormWidget(PortalFormWidget):
    submit_label = _l("Download workbook")
    submit_icon = "fa-download"


def recent_quarters(today: date, count: int = 8) -> list:
    quarters, year, quarter = [], today.year, (today.month - 1) // 3 + 1
    for _ in range(count):
        quarters.append(f"{year}-Q{quarter}")
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return quarters


class PartnerWorkbookForm(DynamicForm):
    organisation = SelectField(_l("Organisation"), coerce=int, validators=[DataRequired()], widget=Select2Widget())
    period = SelectField(_l("Quarter"), validators=[DataRequired()], widget=Select2Widget())
    pseudonymise = BooleanField(
        _l("Pseudonymised"),
        description=_l("Client numbers instead of names; no address and no BSN."),
    )

    def validate_period(self, field):
        try:
            quarter_bounds(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class PartnerWorkbookView(SimpleFormView):
    route_base = "/partner-workbook"
    form = PartnerWorkbookForm
    form_title = _l("Workbook for the partner meeting")
    default_view = "this_form_get"
    form_template = "portal/edit.html"
    edit_widget = DownloadFormWidget

    def form_get(self, form):
        self._fill_choices(form)
        form.period.data = form.period.data or quarter_of(date.today())

    def _fill_choices(self, form):
        scope = security_manager().case_scope()
        form.organisation.choices = [(o.id, o.name) for o in organisations_for(db.session, scope)]
        form.period.choices = [(q, q) for q in recent_quarters(date.today())]

    # The form is validated against the choices this user may have, so a crafted id answers a form error.
    @expose("/form", methods=["POST"])
    @has_access
    def this_form_post(self):
        self._init_vars()
        form = self.form.refresh()
        self._fill_choices(form)
        if form.validate_on_submit():
            organisation = db.session.get(Organisation, form.organisation.data)
            workbook = PartnerWorkbook(
                db.session, organisation, form.period.data, pseudonymise=form.pseudonymise.data,
                include_bsn=security_manager().sees_sensitive_fields(),
            )
            record_access(db.session, AuditAction.workbook, "organisation", organisation.id, detail=workbook.description())
            return send_file(workbook.build(), mimetype=XLSX_MIMETYPE, as_attachment=True,
                             download_name=workbook.file_name())
        widgets = self._get_edit_widget(form=form)
        return self.render_template(self.form_template, title=self.form_title, widgets=widgets,
                                    appbuilder=self.appbuilder)
