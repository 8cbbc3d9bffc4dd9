"""The parties of the process and the people who work there."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import relationship

from .base import Model, VersionedMixin, enum_column
from .enums import OrganisationKind


class Organisation(VersionedMixin, Model):
    """A party in the Laatste Kans process: corporation, coordinator, municipality, team."""

    __tablename__ = "organisation"
    __label__ = _l("Organisation")
    __plural__ = _l("Organisations")
    __scope__ = "public"
    __owner__ = "id"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(150), nullable=False, unique=True, info={"label": _l("Name"), "list": True})
    kind = enum_column(OrganisationKind, nullable=False, index=True, info={"label": _l("Kind"), "list": True})
    city = sa.Column(sa.String(100), info={"label": _l("City"), "list": True})
    phone = sa.Column(sa.String(30), info={"label": _l("Phone"), "list": True})
    email = sa.Column(sa.String(254), info={"label": _l("E-mail"), "list": True, "format": "email"})

    contacts = relationship("Contact", back_populates="organisation", order_by="Contact.name")

    @hybrid_property
    def display_name(self) -> str:
        """How the record reads in lists and exports (the SQL form lets exports select it directly)."""
        return self.name or ""

    @display_name.expression
    def display_name(cls):
        return cls.name

    def __str__(self) -> str:
        return self.display_name


class Contact(VersionedMixin, Model):
    """A person at an organisation: coordinator, counsellor, caseworker."""

    __tablename__ = "contact"
    __label__ = _l("Contact")
    __plural__ = _l("Contacts")
    __scope__ = "public"
    # An organisation keeps its own people.
    __owner__ = "organisation_id"
    __party_fields__ = ("organisation",)

    id = sa.Column(sa.Integer, primary_key=True)
    organisation_id = sa.Column(
        sa.Integer, sa.ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    name = sa.Column(sa.String(150), nullable=False, info={"label": _l("Name"), "list": True})
    function = sa.Column(sa.String(100), info={"label": _l("Function"), "list": True})
    email = sa.Column(sa.String(254), info={"label": _l("E-mail"), "list": True, "format": "email"})
    phone = sa.Column(sa.String(30), info={"label": _l("Phone"), "list": True})

    organisation = relationship("Organisation", back_populates="contacts", info={"label": _l("Organisation"), "list": True})

    @hybrid_property
    def display_name(self) -> str:
        if self.organisation is not None:
            return f"{self.name} ({self.organisation.name})"
        return self.name or ""

    @display_name.expression
    def display_name(cls):
        organisation = sa.select(Organisation.name).where(Organisation.id == cls.organisation_id).scalar_subquery()
        return cls.name + " (" + organisation + ")"

    def __str__(self) -> str:
        return self.display_name
