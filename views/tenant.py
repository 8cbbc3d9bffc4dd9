"""Screens for tenants."""
import io
from datetime import date

from flask import abort, send_file
from flask_appbuilder import expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from flask_appbuilder.models.sqla.filters import FilterEqual

from models import AuditAction, OrganisationKind, Tenant, record_access
from reports import subject_access
from reports.xlsx import XLSX_MIMETYPE

from .base import PortalInterface, PortalModelView
from .fields import Bsn, DutchPostcode, NotInFuture
from .formatting import mask_bsn
from .trajectory import TrajectoryView

PERSONAL = ["client_number", "first_name", "last_name", "date_of_birth", "bsn"]
ADDRESS = ["street", "house_number", "postcode", "city", "phone", "email"]
HOUSING = ["housing_corporation", "rental_contract_number", "monthly_rent", "household", "household_size"]
CARE = ["problem_areas", "psychosocial_notes"]
FIELDSETS = [
    (_l("Personal details"), {"fields": PERSONAL}),
    (_l("Address and contact"), {"fields": ADDRESS}),
    (_l("Housing"), {"fields": HOUSING}),
    (_l("Problems and care"), {"fields": CARE}),
]


class TenantView(PortalModelView):
    datamodel = PortalInterface(Tenant, load_options=[joinedload(Tenant.housing_corporation)])
    add_title = _l("Register tenant")
    edit_title = _l("Edit tenant")

    # The BSN column is there only for roles that may see it, and shows its last three digits.
    list_masks = {"bsn": mask_bsn}
    show_columns = add_columns = edit_columns = PERSONAL + ADDRESS + HOUSING + CARE
    show_fieldsets = add_fieldsets = edit_fieldsets = FIELDSETS
    search_columns = ["client_number", "last_name", "first_name", "postcode", "city", "housing_corporation"]
    order_columns = ["client_number", "last_name", "first_name", "postcode", "city"]
    base_order = ("last_name", "asc")
    validators_columns = {
        "postcode": [DutchPostcode()],
        "bsn": [Bsn()],
        "date_of_birth": [NotInFuture()],
    }
    add_form_query_rel_fields = edit_form_query_rel_fields = search_form_query_rel_fields = {
        "housing_corporation": [["kind", FilterEqual, OrganisationKind.housing_corporation]]
    }
    related_views = [TrajectoryView]
    audit_views = True
    show_template = "portal/tenant_show.html"
    # Subject access is the coordinator's duty: not every writer gets it.
    restricted_permissions = {"can_subject_access": ("Coordinator",)}

    @expose("/subject-access/<pk>/<kind>")
    @has_access
    def subject_access(self, pk, kind):
        """Everything the portal holds about this tenant, as .xlsx or JSON (inzageverzoek)."""
        tenant = self.datamodel.get(pk, self._base_filters)
        if tenant is None or kind not in ("xlsx", "json"):
            abort(404)
        record_access(self.datamodel.session, AuditAction.subject_access, "tenant", tenant.id, detail=kind)
        sections = subject_access.collect(self.datamodel.session, tenant)
        name = f"inzage-{tenant.client_number}-{date.today().isoformat()}.{kind}"
        if kind == "json":
            return send_file(io.BytesIO(subject_access.as_json(sections)), mimetype="application/json",
                             as_attachment=True, download_name=name)
        return send_file(subject_access.as_workbook(sections), mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=name)
