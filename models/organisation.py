"""The parties of the process and the people who work there."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import relationship

from .base import Model, VersionedMixin, enum_column
from .enums import OrganisationKind


class Organisation(VersionedMixin, Model):
    """A party in the Laatste Kans process: corporation, coordinator, municipality, team."""

    __tablename__ = "organisation"
    __scope__ = "public"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(150), nullable=False, unique=True, info={"label": _l("Name")})
    kind = enum_column(OrganisationKind, nullable=False, index=True, info={"label": _l("Kind")})
    city = sa.Column(sa.String(100), info={"label": _l("City")})
    phone = sa.Column(sa.String(30), info={"label": _l("Phone")})
    email = sa.Column(sa.String(254), info={"label": _l("E-mail")})

    contacts = relationship("Contact", back_populates="organisation", order_by="Contact.name")

    def __str__(self) -> str:
        return self.name or ""


class Contact(VersionedMixin, Model):
    """A person at an organisation: coordinator, counsellor, caseworker."""

    __tablename__ = "contact"
    __scope__ = "public"

    id = sa.Column(sa.Integer, primary_key=True)
    organisation_id = sa.Column(
        sa.Integer, sa.ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    name = sa.Column(sa.String(150), nullable=False, info={"label": _l("Name")})
    function = sa.Column(sa.String(100), info={"label": _l("Function")})
    email = sa.Column(sa.String(254), info={"label": _l("E-mail")})
    phone = sa.Column(sa.String(30), info={"label": _l("Phone")})

    organisation = relationship("Organisation", back_populates="contacts", info={"label": _l("Organisation")})

    def __str__(self) -> str:
        if self.organisation is not None:
            return f"{self.name} ({self.organisation.name})"
        return self.name or ""
