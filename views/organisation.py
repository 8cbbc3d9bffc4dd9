"""Screens for the parties and their people."""
from models import Contact, Organisation

from .base import PortalInterface, PortalModelView


class ContactView(PortalModelView):
    datamodel = PortalInterface(Contact, load_options=[])
    write_roles = ("Caseworker",)

    base_order = ("name", "asc")


class OrganisationView(PortalModelView):
    datamodel = PortalInterface(Organisation)
    write_roles = ()

    base_order = ("name", "asc")
    related_views = [ContactView]
