"""The choices of the Laatste Kans process; keys are stored, labels are translated."""
from flask_babel import lazy_gettext as _l

from .base import LabelledEnum


class OrganisationKind(LabelledEnum):
    housing_corporation = "housing_corporation"
    coordinator = "coordinator"
    municipality = "municipality"
    neighbourhood_team = "neighbourhood_team"
    care_provider = "care_provider"
    debt_assistance = "debt_assistance"
    other = "other"

    @classmethod
    def labels(cls):
        return {
            cls.housing_corporation: _l("Housing corporation"),
            cls.coordinator: _l("Coordinating organisation"),
            cls.municipality: _l("Municipality"),
            cls.neighbourhood_team: _l("Neighbourhood team"),
            cls.care_provider: _l("Care provider"),
            cls.debt_assistance: _l("Debt assistance"),
            cls.other: _l("Other"),
        }


class Household(LabelledEnum):
    single = "single"
    couple = "couple"
    single_parent = "single_parent"
    family = "family"
    other = "other"

    @classmethod
    def labels(cls):
        return {
            cls.single: _l("Single person"),
            cls.couple: _l("Couple without children"),
            cls.single_parent: _l("Single parent"),
            cls.family: _l("Family with children"),
            cls.other: _l("Other"),
        }


class TrajectoryStatus(LabelledEnum):
    referred = "referred"
    intake = "intake"
    financial_overview = "financial_overview"
    agreement = "agreement"
    running = "running"
    completed = "completed"
    ended_early = "ended_early"

    @classmethod
    def labels(cls):
        return {
            cls.referred: _l("Referred"),
            cls.intake: _l("Intake"),
            cls.financial_overview: _l("Financial overview"),
            cls.agreement: _l("Agreement"),
            cls.running: _l("Running"),
            cls.completed: _l("Completed"),
            cls.ended_early: _l("Ended early"),
        }

    @classmethod
    def open_statuses(cls):
        return [s for s in cls if s not in (cls.completed, cls.ended_early)]

    @classmethod
    def badges(cls):
        preparing = "info"
        return {
            cls.referred: preparing, cls.intake: preparing, cls.financial_overview: preparing,
            cls.agreement: preparing, cls.running: "primary", cls.completed: "success", cls.ended_early: "danger",
        }


class EvictionJudgment(LabelledEnum):
    none = "none"
    requested = "requested"
    obtained = "obtained"

    @classmethod
    def labels(cls):
        return {
            cls.none: _l("Not requested"),
            cls.requested: _l("Requested"),
            cls.obtained: _l("Obtained"),
        }


class TrajectoryOutcome(LabelledEnum):
    completed = "completed"
    dropped_out = "dropped_out"
    evicted = "evicted"
    moved = "moved"
    deceased = "deceased"
    other = "other"

    @classmethod
    def labels(cls):
        return {
            cls.completed: _l("Completed successfully"),
            cls.dropped_out: _l("Dropped out"),
            cls.evicted: _l("Evicted"),
            cls.moved: _l("Moved"),
            cls.deceased: _l("Deceased"),
            cls.other: _l("Other"),
        }


class AgreementStatus(LabelledEnum):
    draft = "draft"
    awaiting_signatures = "awaiting_signatures"
    in_force = "in_force"
    ended = "ended"
    superseded = "superseded"

    @classmethod
    def labels(cls):
        return {
            cls.draft: _l("Draft"),
            cls.awaiting_signatures: _l("Awaiting signatures"),
            cls.in_force: _l("In force"),
            cls.ended: _l("Ended"),
            cls.superseded: _l("Superseded"),
        }

    @classmethod
    def closed_statuses(cls):
        return (cls.ended, cls.superseded)

    @classmethod
    def badges(cls):
        return {cls.draft: "default", cls.awaiting_signatures: "warning", cls.in_force: "success", cls.ended: "default",
                cls.superseded: "default"}


class ObligationStatus(LabelledEnum):
    open = "open"
    kept = "kept"
    not_kept = "not_kept"

    @classmethod
    def labels(cls):
        return {cls.open: _l("Open"), cls.kept: _l("Kept"), cls.not_kept: _l("Not kept")}

    @classmethod
    def badges(cls):
        return {cls.open: "default", cls.kept: "success", cls.not_kept: "danger"}


class DebtCategory(LabelledEnum):
    rent_arrears = "rent_arrears"
    energy = "energy"
    water = "water"
    health_insurance = "health_insurance"
    tax_benefits = "tax_benefits"
    cjib_fines = "cjib_fines"
    municipal_taxes = "municipal_taxes"
    telecom = "telecom"
    bank_credit = "bank_credit"
    private = "private"
    other = "other"

    @classmethod
    def labels(cls):
        return {
            cls.rent_arrears: _l("Rent arrears"),
            cls.energy: _l("Energy"),
            cls.water: _l("Water"),
            cls.health_insurance: _l("Health insurance"),
            cls.tax_benefits: _l("Tax and benefits"),
            cls.cjib_fines: _l("CJIB fines"),
            cls.municipal_taxes: _l("Municipal taxes"),
            cls.telecom: _l("Telecom"),
            cls.bank_credit: _l("Bank and credit"),
            cls.private: _l("Private loan"),
            cls.other: _l("Other"),
        }


class DebtStatus(LabelledEnum):
    inventoried = "inventoried"
    payment_arrangement = "payment_arrangement"
    in_debt_assistance = "in_debt_assistance"
    settled = "settled"
    disputed = "disputed"

    @classmethod
    def labels(cls):
        return {
            cls.inventoried: _l("Inventoried"),
            cls.payment_arrangement: _l("Payment arrangement"),
            cls.in_debt_assistance: _l("In debt assistance"),
            cls.settled: _l("Settled"),
            cls.disputed: _l("Disputed"),
        }

    @classmethod
    def badges(cls):
        return {
            cls.inventoried: "default", cls.payment_arrangement: "info", cls.in_debt_assistance: "primary",
            cls.settled: "success", cls.disputed: "warning",
        }


class Assessment(LabelledEnum):
    on_track = "on_track"
    concerns = "concerns"
    serious_problems = "serious_problems"

    @classmethod
    def labels(cls):
        return {
            cls.on_track: _l("On track"),
            cls.concerns: _l("Concerns"),
            cls.serious_problems: _l("Serious problems"),
        }

    @classmethod
    def badges(cls):
        return {cls.on_track: "success", cls.concerns: "warning", cls.serious_problems: "danger"}


class SigningParty(LabelledEnum):
    tenant = "tenant"
    organisation = "organisation"

    @classmethod
    def labels(cls):
        return {cls.tenant: _l("Tenant"), cls.organisation: _l("Organisation")}
