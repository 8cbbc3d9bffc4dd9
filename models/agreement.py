"""The woonbegeleidingsovereenkomst: obligations of every party, in force once all have signed."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import relationship

from .base import Model, RecordedMixin, VersionedMixin, enum_column
from .enums import AgreementStatus, ObligationStatus, SigningParty


class Agreement(RecordedMixin, VersionedMixin, Model):
    """One version of a trajectory's agreement, linked to the rental contract."""

    __tablename__ = "agreement"
    __label__ = _l("Agreement")
    __plural__ = _l("Agreements")
    __scope__ = "trajectory"
    __step_fields__ = ("status",)
    __workbook__ = "drawn_up_on"
    __workbook_computed__ = ("missing_signatures",)

    id = sa.Column(sa.Integer, primary_key=True)
    trajectory_id = sa.Column(
        sa.Integer, sa.ForeignKey("trajectory.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    agreement_version = sa.Column(sa.Integer, nullable=False, default=1, info={"label": _l("Version"), "list": True})
    rental_contract_number = sa.Column(sa.String(50), info={"label": _l("Rental contract number"), "case_note": True})
    drawn_up_on = sa.Column(sa.Date, nullable=False, index=True, info={"label": _l("Drawn up on"), "list": True})
    valid_from = sa.Column(sa.Date, info={"label": _l("Valid from")})
    valid_until = sa.Column(sa.Date, info={"label": _l("Valid until")})
    # Indexed: "awaiting signatures" is the list's everyday filter, and a few among a region's agreements.
    status = enum_column(
        AgreementStatus, nullable=False, default=AgreementStatus.draft, index=True, info={"label": _l("Status"), "list": True}
    )
    notes = sa.Column(sa.Text, info={"label": _l("Notes"), "case_note": True})
    # len(missing_signatures), kept by the database (triggers of migration 0007) whenever a signature,
    # the trajectory's organisations or this agreement's trajectory change: "awaiting signatures" is
    # then read from an index instead of testing every agreement's signatures.
    signatures_missing = sa.Column(sa.Integer, nullable=False, default=0, server_default="0", index=True,
                                   info={"label": _l("Signatures missing"), "workbook": False, "kept_by_database": True})

    trajectory = relationship("Trajectory", back_populates="agreements", info={"label": _l("Trajectory"), "list": True})
    obligations = relationship(
        "Obligation", back_populates="agreement", cascade="all, delete-orphan", order_by="Obligation.due_date"
    )
    signatures = relationship(
        "Signature", back_populates="agreement", cascade="all, delete-orphan", order_by="Signature.signed_on"
    )

    @property
    def missing_signatures(self) -> list[str]:
        """The parties (tenant, referring and involved organisations) that have not signed yet."""
        signed_orgs = {s.organisation_id for s in self.signatures if s.party == SigningParty.organisation}
        missing = []
        if not any(s.party == SigningParty.tenant for s in self.signatures):
            missing.append(str(SigningParty.tenant.label))
        missing.extend(
            org.name for org in self.trajectory.parties if org.id not in signed_orgs
        )
        return missing

    @property
    def is_fully_signed(self) -> bool:
        return not self.missing_signatures

    @hybrid_property
    def display_name(self) -> str:
        return f"{self.trajectory} – v{self.agreement_version}"

    @display_name.expression
    def display_name(cls):
        from .trajectory import Trajectory

        trajectory = sa.select(Trajectory.display_name).where(Trajectory.id == cls.trajectory_id).scalar_subquery()
        return trajectory + " – v" + sa.cast(cls.agreement_version, sa.String)

    def __str__(self) -> str:
        return self.display_name


class Obligation(RecordedMixin, VersionedMixin, Model):
    """What one party (or the tenant) must do under the agreement, and by when."""

    __tablename__ = "obligation"
    __label__ = _l("Obligation")
    __plural__ = _l("Obligations")
    __scope__ = "agreement.trajectory"
    # A party other than the coordinator records obligations of its own organisation (or the tenant's).
    __own_party_field__ = "organisation"

    id = sa.Column(sa.Integer, primary_key=True)
    agreement_id = sa.Column(
        sa.Integer, sa.ForeignKey("agreement.id", ondelete="CASCADE"), nullable=False, index=True
    )
    party = enum_column(SigningParty, nullable=False, info={"label": _l("Party"), "list": True})
    organisation_id = sa.Column(sa.Integer, sa.ForeignKey("organisation.id", ondelete="RESTRICT"), index=True)
    description = sa.Column(sa.Text, nullable=False, info={"label": _l("Obligation"), "list": True, "case_note": True})
    due_date = sa.Column(sa.Date, info={"label": _l("Due date"), "list": True})
    status = enum_column(
        ObligationStatus, nullable=False, default=ObligationStatus.open, info={"label": _l("Status"), "list": True}
    )

    agreement = relationship("Agreement", back_populates="obligations", info={"label": _l("Agreement")})
    organisation = relationship("Organisation", foreign_keys=[organisation_id], info={"label": _l("Organisation"), "list": True})

    def __str__(self) -> str:
        return (self.description or "")[:60]


class Signature(RecordedMixin, VersionedMixin, Model):
    """A party's signature on an agreement: the tenant, or an involved organisation."""

    __tablename__ = "signature"
    __label__ = _l("Signature")
    __plural__ = _l("Signatures")
    __scope__ = "agreement.trajectory"
    # A party signs for itself; the coordinator may record a paper signature on its behalf.
    __own_party_field__ = "organisation"
    # "Has the tenant / this organisation signed?" (agreements awaiting signatures) from the index alone.
    __table_args__ = (sa.Index("ix_signature_agreement_party", "agreement_id", "party", "organisation_id"),)

    id = sa.Column(sa.Integer, primary_key=True)
    agreement_id = sa.Column(
        sa.Integer, sa.ForeignKey("agreement.id", ondelete="CASCADE"), nullable=False, index=True
    )
    party = enum_column(SigningParty, nullable=False, info={"label": _l("Party"), "list": True})
    organisation_id = sa.Column(sa.Integer, sa.ForeignKey("organisation.id", ondelete="RESTRICT"), index=True)
    signed_by = sa.Column(sa.String(150), nullable=False, info={"label": _l("Signed by"), "list": True, "case_note": True})
    signed_on = sa.Column(sa.Date, nullable=False, info={"label": _l("Signed on"), "list": True})

    agreement = relationship("Agreement", back_populates="signatures", info={"label": _l("Agreement")})
    organisation = relationship("Organisation", foreign_keys=[organisation_id], info={"label": _l("Organisation"), "list": True})

    @property
    def recorded_on_behalf(self) -> bool:
        """Recorded by another organisation than the signing one (the coordinator, from a paper signature)."""
        return self.party == SigningParty.organisation and self.recorded_by_organisation_id not in (
            None, self.organisation_id)

    def __str__(self) -> str:
        return f"{self.signed_by} ({self.organisation or SigningParty.tenant.label})"
