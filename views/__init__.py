"""Registers every portal screen with Flask-AppBuilder, in the order staff use them."""
from flask_babel import lazy_gettext as _l

from .agreement import AgreementView, ObligationView, SignatureView
from .audit import AuditView
from .base import PortalModelView
from .debt import DebtView
from .evaluation import EvaluationsDueView, EvaluationView, InterventionView
from .organisation import ContactView, OrganisationView
from .reports import PartnerWorkbookView
from .settings import PolicySettingsView
from .tenant import TenantView
from .trajectory import TrajectoryView

CATEGORY_LABELS = {"Cases": _l("Cases"), "Parties": _l("Parties"), "Reports": _l("Reports")}


def register_views(appbuilder) -> list:
    """Add the menu and views; returns the portal views (for permissions and tests)."""
    menu = [
        (TenantView, "Tenants", _l("Tenants"), "fa-user", "Cases"),
        (TrajectoryView, "Trajectories", _l("Trajectories"), "fa-road", "Cases"),
        (AgreementView, "Agreements", _l("Agreements"), "fa-file-signature", "Cases"),
        (DebtView, "Debts", _l("Debts"), "fa-euro-sign", "Cases"),
        (EvaluationsDueView, "Evaluations due", _l("Evaluations due"), "fa-bell", "Cases"),
        (EvaluationView, "Evaluations", _l("Evaluations"), "fa-calendar-check", "Cases"),
        (InterventionView, "Interventions", _l("Interventions"), "fa-life-ring", "Cases"),
        (OrganisationView, "Organisations", _l("Organisations"), "fa-building", "Parties"),
        (ContactView, "Contacts", _l("Contacts"), "fa-address-book", "Parties"),
    ]
    views = []
    for view_class, name, label, icon, category in menu:
        views.append(appbuilder.add_view(view_class, name, label=label, icon=icon, category=category,
                                         category_label=CATEGORY_LABELS[category]))
    for view_class in (ObligationView, SignatureView):
        views.append(appbuilder.add_view_no_menu(view_class))
    views.append(appbuilder.add_view(
        AuditView, "Audit trail", label=_l("Audit trail"), icon="fa-history", category="Reports",
        category_label=CATEGORY_LABELS["Reports"],
    ))
    views.append(appbuilder.add_view(
        PartnerWorkbookView, "Partner meeting workbook", label=_l("Partner meeting workbook"),
        icon="fa-file-excel", category="Reports", category_label=CATEGORY_LABELS["Reports"],
    ))
    # Beside the user accounts and roles: Admin's menu (its permission is Admin's only).
    views.append(appbuilder.add_view(
        PolicySettingsView, "Policy settings", label=_l("Policy settings"), icon="fa-sliders-h",
        category="Security", category_label=_l("Security"),
    ))
    return views


__all__ = ["register_views", "PortalModelView"]
