"""The audit trail screen: searchable and exportable by Coordinator and Admin, never editable."""
from flask_babel import lazy_gettext as _l

from models import AuditEntry

from .base import PortalInterface, PortalModelView
from .history import record_type_label


class AuditView(PortalModelView):
    datamodel = PortalInterface(AuditEntry)
    list_title = _l("Audit trail")
    show_title = _l("Audit entry")
    # Reading only: no add, edit or delete route exists for audit entries.
    base_permissions = ["can_list", "can_show", "can_export_xlsx"]
    read_roles = ("Coordinator",)
    write_roles = ()

    list_columns = ["at", "username", "organisation_name", "action", "record_type", "record_id", "detail"]
    # The changes are drawn below the entry, field by field (templates/portal/audit_show.html).
    show_columns = ["at", "username", "organisation_name", "action", "record_type", "record_id", "detail"]
    search_columns = ["at", "username", "organisation_name", "action", "record_type", "record_id"]
    order_columns = ["at", "username", "action", "record_type", "record_id"]
    base_order = ("at", "desc")
    page_size = 50
    show_template = "portal/audit_show.html"
    formatters_columns = {"record_type": record_type_label}

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["entry"] = item
        widgets["history"] = []  # the entry is its own history
        return widgets
