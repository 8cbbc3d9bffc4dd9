"""The policy settings page: an Admin changes the settings in force, for every worker at once."""
from flask import flash, url_for
from flask_appbuilder import SimpleFormView
from flask_appbuilder.forms import DynamicForm
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField, IntegerField
from wtforms.validators import InputRequired

from models import db
from models.settings import PolicySettings, SettingError, StalePolicy, is_money, save_policy, stored_policy

from .fields import AmountField, FiniteAmount, WholeNumber
from .widgets import PortalFormWidget

STALE_MESSAGE = _l("Another Admin saved the settings after you opened this page. Nothing was saved: "
                   "reload the page to see the values in force, then make your changes again.")


def _field(setting):
    """A form field for one setting: its label and help text as declared, its bounds in the help."""
    low, high = setting.metadata["minimum"], setting.metadata["maximum"]
    description = _l("%(help)s Allowed: %(minimum)s to %(maximum)s.", help=setting.metadata["help"],
                     minimum=low, maximum=high)
    # The portal's own inputs, as on every form: amounts in Dutch or English notation, digits 0-9 only.
    if is_money(setting):
        return AmountField(setting.metadata["label"], places=2, description=description,
                           validators=[InputRequired(), FiniteAmount()])
    return IntegerField(setting.metadata["label"], description=description, validators=[InputRequired(), WholeNumber()])


class PolicySettingsForm(DynamicForm):
    """One field per setting of PolicySettings, plus the version the values were read at."""

    version = HiddenField()

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        try:
            PolicySettings(**self.values())
        except SettingError as error:
            self[error.name].errors = [*self[error.name].errors, str(error)]
            return False
        return True

    def values(self) -> dict:
        return {setting.name: self[setting.name].data for setting in PolicySettings.settings()}


for _setting in PolicySettings.settings():
    setattr(PolicySettingsForm, _setting.name, _field(_setting))


class SaveFormWidget(PortalFormWidget):
    submit_label = _l("Save settings")


class PolicySettingsView(SimpleFormView):
    """Admin only: no portal role is given its permission (views.security)."""

    route_base = "/policy-settings"
    form = PolicySettingsForm
    form_title = _l("Policy settings")
    form_template = "portal/edit.html"
    edit_widget = SaveFormWidget
    default_view = "this_form_get"
    read_roles = ()  # no portal role gets the page; FAB gives Admin every permission

    def form_get(self, form):
        settings, version = stored_policy(db.session)
        for name, value in settings.as_dict().items():
            form[name].data = value
        form.version.data = version

    def form_post(self, form):
        try:
            version = int(form.version.data or 0)
        except ValueError:
            version = -1
        try:
            save_policy(db.session, form.values(), version)
            db.session.commit()
        except SettingError as error:
            db.session.rollback()
            form[error.name].errors = [*form[error.name].errors, str(error)]
            return self._form_again(form)
        except (StalePolicy, StaleDataError, IntegrityError):
            # StaleDataError/IntegrityError: another Admin saved between our read and our write.
            db.session.rollback()
            flash(STALE_MESSAGE, "danger")
            return self._form_again(form)
        flash(_l("The policy settings are saved; they apply from the next page opened."), "success")
        return None

    def get_redirect(self):
        return url_for(".this_form_get")

    def _form_again(self, form):
        return self.render_template(self.form_template, title=self.form_title,
                                    widgets=self._get_edit_widget(form=form), appbuilder=self.appbuilder)
