"""The tenant (huurder) at risk of eviction."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import relationship

from .base import Model, Money, VersionedMixin, enum_column, trigram_index
from .enums import Household


def postcode_area(postcode):
    """What retention keeps of a postcode: its digits, as the area counts for the figures and the street does not."""
    return sa.func.substr(postcode, 1, 4)


class Tenant(VersionedMixin, Model):
    """A tenant; BSN and psychosocial notes are special-category data (AVG art. 9/87)."""

    __tablename__ = "tenant"
    __label__ = _l("Tenant")
    __plural__ = _l("Tenants")
    __scope__ = "self"
    # The housing corporation registers and keeps its tenant; moving it to another is the coordinator's call.
    __owner__ = "housing_corporation_id"
    __party_fields__ = ("housing_corporation",)
    # Where the scope (the tenant's housing corporation) and the list's order (last name) meet; and
    # the names and client number the list searches for.
    __table_args__ = (
        sa.Index("ix_tenant_corporation_last_name", "housing_corporation_id", "last_name"),
        trigram_index("ix_tenant_last_name_trgm", "last_name"),
        trigram_index("ix_tenant_first_name_trgm", "first_name"),
        trigram_index("ix_tenant_client_number_trgm", "client_number"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    client_number = sa.Column(sa.String(20), nullable=False, unique=True, info={"label": _l("Client number"), "list": True,
                                                                                     "retained": True})
    first_name = sa.Column(sa.String(100), nullable=False, info={"label": _l("First name"), "list": True, "personal": True,
                                                                      "erase_to": "Geanonimiseerd"})
    last_name = sa.Column(sa.String(100), nullable=False, index=True, info={"label": _l("Last name"), "list": True, "personal": True})
    date_of_birth = sa.Column(sa.Date, info={"label": _l("Date of birth"), "personal": True})
    bsn = sa.Column(sa.String(9), info={"label": _l("BSN"), "list": True, "personal": True, "sensitive": True})
    street = sa.Column(sa.String(150), info={"label": _l("Street"), "personal": True})
    house_number = sa.Column(sa.String(20), info={"label": _l("House number"), "personal": True})
    postcode = sa.Column(sa.String(7), info={"label": _l("Postcode"), "list": True, "personal": True,
                                                "erase_to": postcode_area})
    # The city stays after retention: it counts for the figures and identifies no one.
    city = sa.Column(sa.String(100), info={"label": _l("City"), "list": True, "retained": True})
    phone = sa.Column(sa.String(30), info={"label": _l("Phone"), "personal": True})
    email = sa.Column(sa.String(254), info={"label": _l("E-mail"), "personal": True, "format": "email"})
    household = enum_column(Household, info={"label": _l("Household")})
    household_size = sa.Column(sa.Integer, info={"label": _l("Household size")})
    housing_corporation_id = sa.Column(
        sa.Integer, sa.ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    rental_contract_number = sa.Column(sa.String(50), info={"label": _l("Rental contract number"), "personal": True})
    monthly_rent = sa.Column(Money, info={"label": _l("Monthly rent")})
    problem_areas = sa.Column(sa.String(255), info={"label": _l("Problem areas"), "case_note": True})
    psychosocial_notes = sa.Column(
        sa.Text, info={"label": _l("Psychosocial notes"), "case_note": True, "sensitive": True}
    )
    anonymised_on = sa.Column(sa.Date, info={"label": _l("Anonymised on"), "set_by_portal": True})

    housing_corporation = relationship("Organisation", info={"label": _l("Housing corporation"), "list": True})
    trajectories = relationship(
        "Trajectory", back_populates="tenant", order_by="Trajectory.referral_date.desc()"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @hybrid_property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.client_number})"

    @display_name.expression
    def display_name(cls):
        return cls.first_name + " " + cls.last_name + " (" + cls.client_number + ")"

    def __str__(self) -> str:
        return self.display_name
