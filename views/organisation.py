"""Screens for the parties and their people."""
from flask_babel import lazy_gettext as _l

from models import Contact, Organisation

from .base import PortalInterface, PortalModelView


class ContactView(PortalModelView):
    datamodel = PortalInterface(Contact, load_options=[])
    list_title = _l("Contacts")
    show_title = _l("Contact")
    add_title = _l("Add contact")
    edit_title = _l("Edit contact")
    write_roles = ("Caseworker",)

    list_columns = ["name", "function", "organisation", "email", "phone"]
    show_columns = add_columns = edit_columns = ["organisation", "name", "function", "email", "phone"]
    search_columns = ["name", "function", "organisation", "email"]
    base_order = ("name", "asc")

    def record_name(self):
        return _l("The contact")


class OrganisationView(PortalModelView):
    datamodel = PortalInterface(Organisation)
    list_title = _l("Organisations")
    show_title = _l("Organisation")
    add_title = _l("Add organisation")
    edit_title = _l("Edit organisation")
    write_roles = ()

    list_columns = ["name", "kind", "city", "phone", "email"]
    show_columns = add_columns = edit_columns = ["name", "kind", "city", "phone", "email"]
    search_columns = ["name", "kind", "city"]
    base_order = ("name", "asc")
    related_views = [ContactView]

    def record_name(self):
        return _l("The organisation")
