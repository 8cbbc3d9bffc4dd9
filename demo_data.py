"""Fictional demo cases for the Laatste Kans portal, loaded by `flask --app app seed-demo`.

Everything here is invented: tenants, addresses, BSNs, contract numbers, people at the
organisations. Dates are planned relative to `date.today()`, so the demo shows overdue
evaluations and missing signatures on whatever day it is given, and drawn from
`random.Random(2026)`, so two runs on the same day produce the same cases.

The demo exercises the whole lifecycle: every trajectory has the status history of the steps
that brought it where it is, some wait at a guard (no eviction judgment yet, signatures
missing), serious problems have interventions (some still open, some late), and completed
trajectories show relapse follow-ups done, due and not yet due.

The loader only ever fills an EMPTY database. It recognises its own earlier work (and then does
nothing) and refuses anything else, so it can never mix fictional cases into real ones.
"""
import itertools
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app

import commands
from models import (
    Agreement, AgreementStatus, Assessment, Contact, Debt, DebtCategory, DebtStatus, Evaluation,
    EvictionJudgment, Household, Intervention, Obligation, ObligationStatus, Organisation, OrganisationKind,
    PortalUser, Signature, SigningParty, StatusChange, Tenant, Trajectory, TrajectoryOutcome,
    TrajectoryStatus, db,
)
from models.settings import PolicySettings, stored_policy
from views.security import ADMIN, CASEWORKER, COORDINATOR, FINANCE, VIEWER

SEED = 2026
DEMO_PREFIX = "LK-DEMO-"
DEMO_PASSWORD = "Demo-2026!"
CENT = Decimal("0.01")
Status = TrajectoryStatus

# ---------------------------------------------------------------------------------------------
# The parties and the demo accounts
# ---------------------------------------------------------------------------------------------

COORDINATOR_FUNCTION = "Coördinator Laatste Kansbeleid"
COUNSELLOR_FUNCTION = "Trajectbegeleider"
VIERDE_HUIS, GEMEENTE = "Het Vierde Huis", "Gemeente Utrecht"
PORTAAL, MITROS = "Portaal", "Mitros"
OVERVECHT, ZUIDWEST = "Buurtteam Overvecht", "Buurtteam Zuidwest"
LISTER, SCHULDHULP = "Lister", "Schuldhulp Utrecht"


@dataclass(frozen=True)
class OrganisationSpec:
    name: str
    kind: OrganisationKind
    mail_domain: str
    phone: str
    contacts: tuple  # (name, function, phone)


ORGANISATIONS = (
    OrganisationSpec(VIERDE_HUIS, OrganisationKind.coordinator, "vierdehuis.example.nl", "030-2300100", (
        ("Marieke van den Berg", COORDINATOR_FUNCTION, "030-2300111"),
        ("Jasper Hoekstra", COORDINATOR_FUNCTION, "030-2300112"),
        ("Samira Benali", COORDINATOR_FUNCTION, "030-2300113"),
        ("Henk Wolters", "Teamleider", "030-2300110"),
    )),
    OrganisationSpec(GEMEENTE, OrganisationKind.municipality, "utrecht.example.nl", "030-2861000", (
        ("Ruud Verbeek", COUNSELLOR_FUNCTION, "030-2861021"),
        ("Lotte Kuipers", COUNSELLOR_FUNCTION, "030-2861022"),
        ("Hakan Demir", COUNSELLOR_FUNCTION, "030-2861023"),
        ("Ellen de Wit", "Consulent financiële ondersteuning", "030-2861030"),
    )),
    OrganisationSpec(PORTAAL, OrganisationKind.housing_corporation, "portaal.example.nl", "030-2978000", (
        ("Wouter Smits", "Sociaal beheerder", "030-2978041"),
        ("Inge Bosman", "Sociaal beheerder", "030-2978042"),
        ("Karin Willems", "Medewerker incasso", "030-2978050"),
    )),
    OrganisationSpec(MITROS, OrganisationKind.housing_corporation, "mitros.example.nl", "030-2845000", (
        ("Fleur Aalbers", "Sociaal beheerder", "030-2845061"),
        ("Mustafa Ouali", "Sociaal beheerder", "030-2845062"),
        ("Bart Verschoor", "Woonconsulent", "030-2845070"),
    )),
    OrganisationSpec(OVERVECHT, OrganisationKind.neighbourhood_team, "buurtteamovervecht.example.nl",
                     "030-2631400", (
        ("Nadia Chaouch", "Buurtteammedewerker", "030-2631411"),
        ("Tom de Lange", "Buurtteammedewerker", "030-2631412"),
        ("Gerda Hofman", "Buurtteammedewerker", "030-2631413"),
    )),
    OrganisationSpec(ZUIDWEST, OrganisationKind.neighbourhood_team, "buurtteamzuidwest.example.nl",
                     "030-2631500", (
        ("Eva Maas", "Buurtteammedewerker", "030-2631511"),
        ("Orhan Yıldız", "Buurtteammedewerker", "030-2631512"),
        ("Sanne Dijkman", "Buurtteammedewerker", "030-2631513"),
    )),
    OrganisationSpec(LISTER, OrganisationKind.care_provider, "lister.example.nl", "030-2365800", (
        ("Joyce Vermeulen", "Ambulant woonbegeleider", "030-2365821"),
        ("Pieter Blom", "Ambulant woonbegeleider", "030-2365822"),
    )),
    OrganisationSpec(SCHULDHULP, OrganisationKind.debt_assistance, "schuldhulp.example.nl", "030-2860700", (
        ("Monique Kok", "Schuldhulpverlener", "030-2860711"),
        ("Dirk-Jan Vos", "Schuldhulpverlener", "030-2860712"),
    )),
)
DEMO_ORGANISATIONS = tuple(spec.name for spec in ORGANISATIONS)

# username: (role, organisation, first name, last name); e-mail is <username>@demo.example.nl.
ACCOUNTS = {
    "admin": (ADMIN, VIERDE_HUIS, "Demo", "Beheerder"),
    "coordinator": (COORDINATOR, VIERDE_HUIS, "Marieke", "van den Berg"),
    "portaal": (CASEWORKER, PORTAAL, "Wouter", "Smits"),
    "mitros": (CASEWORKER, MITROS, "Fleur", "Aalbers"),
    "gemeente": (FINANCE, GEMEENTE, "Ruud", "Verbeek"),
    "buurtteam": (CASEWORKER, OVERVECHT, "Nadia", "Chaouch"),
    "viewer": (VIEWER, MITROS, "Bart", "Verschoor"),
}
MARKER_USER = "admin"
# Who records the lifecycle steps: the corporation's caseworker registers the intake, the coordinator the rest.
CORPORATION_ACCOUNTS = {PORTAAL: "portaal", MITROS: "mitros"}
STEP_USER = "coordinator"


def account_email(username: str) -> str:
    return f"{username}@demo.example.nl"


# ---------------------------------------------------------------------------------------------
# Tenant content
# ---------------------------------------------------------------------------------------------

FIRST_NAMES = (
    "Anouk", "Bram", "Chantal", "Daan", "Esra", "Fatima", "Gerrit", "Hanneke", "Ilse", "Jeroen",
    "Kevin", "Latifa", "Mohamed", "Noor", "Orlando", "Priya", "Ricardo", "Sanne", "Tamara", "Youssef",
    "Wendy", "Zeynep", "Marco", "Petra", "Dennis", "Sandra", "Rachid", "Naima", "Henk", "Ingrid",
    "Mehmet", "Aylin", "Shanti", "Roy", "Kim", "Patrick", "Jolanda", "Ahmed", "Linda", "Stefan",
    "Melissa", "Hans", "Soraya", "Bilal", "Gwen", "Romano", "Yvonne", "Karim",
)
LAST_NAMES = (
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos",
    "Peters", "Hendriks", "van Dijk", "El Amrani", "Yılmaz", "Bouzid", "Kaya", "Doğan", "Ramdin",
    "Sital", "Pinas", "Veldhuis", "Koster", "van Leeuwen", "Brouwer", "Dekker", "van der Heijden",
    "Kramer", "Schouten", "Verhoeven", "Postma", "Tahiri", "Öztürk", "Kartosen", "Wijnands",
    "Hoogendoorn", "van Rijn", "Lambrechts", "Nijhof", "Boukhari",
)
# Streets of each neighbourhood team's area, with the postcode digits of that part of Utrecht.
STREETS = {
    OVERVECHT: (
        ("Zambesidreef", "3561"), ("Tigrisdreef", "3561"), ("Gangesdreef", "3562"),
        ("Donaudreef", "3562"), ("Amazonedreef", "3564"), ("Wolgadreef", "3564"),
    ),
    ZUIDWEST: (
        ("Marshallaan", "3527"), ("Churchilllaan", "3527"), ("Trumanlaan", "3527"),
        ("Europalaan", "3526"), ("Afrikalaan", "3526"), ("Aziëlaan", "3526"),
    ),
}
# Letters for postcodes: without S and D no code can end in the forbidden SA, SD or SS.
POSTCODE_LETTERS = "ABCEGHJKLMNPRTVWXZ"
HOUSEHOLDS = {  # household: (weight, possible sizes)
    Household.single: (45, (1,)),
    Household.single_parent: (25, (2, 3, 4)),
    Household.couple: (10, (2,)),
    Household.family: (15, (3, 4, 5, 6)),
    Household.other: (5, (2, 3)),
}
# (problem area, psychosocial note) for the tenants whose file holds special-category detail.
PSYCHOSOCIAL = (
    ("psychische problemen", "Depressieve klachten; huisarts en POH-GGZ zijn betrokken."),
    ("verslaving", "Alcoholgebruik; staat open voor hulp van de verslavingszorg."),
    ("vermoeden LVB", "Vermoeden van een licht verstandelijke beperking; hulp nodig bij post en formulieren."),
    ("rouw", "Partner vorig jaar overleden; de partner deed altijd de financiën."),
    ("eerder dakloos", "Eerder dakloos geweest; wantrouwend naar instanties."),
    ("angstklachten", "Angstklachten; huisbezoek werkt beter dan afspraken op kantoor."),
    ("gokproblemen", "Gokproblemen; in contact met de verslavingszorg."),
    ("laaggeletterdheid", "Leest moeilijk; brieven worden samen met de begeleider doorgenomen."),
)
OTHER_REASONS = ("Woningvervuiling", "Vermoeden van illegale onderhuur", "Klachten over huisdieren")

# ---------------------------------------------------------------------------------------------
# How the cases are spread over the process
# ---------------------------------------------------------------------------------------------

# Where a running case stands in its evaluation cycle; "overdue" and "due_soon" feed the dashboards,
# "trouble" was evaluated recently with serious problems and has interventions still open.
RUNNING_RHYTHMS = ("new",) * 3 + ("overdue",) * 5 + ("due_soon",) * 6 + ("regular",) * 11 + ("trouble",) * 3
# Financial-overview cases that cannot go on to the agreement: the eviction judgment is not there yet.
JUDGMENT_PENDING = 2
# The completed cases: (relapse follow-up, completed before the minimum duration with a recorded reason).
# Follow-up "no_relapse"/"relapse" = done and recorded; "due" = its date has passed, not recorded yet;
# "not_due" = ended less than the follow-up period ago.
COMPLETED_CASES = (
    ("no_relapse", False), ("no_relapse", False), ("no_relapse", True), ("relapse", False),
    ("due", False), ("due", True), ("not_due", False), ("not_due", True),
)
EARLY_END_OUTCOMES = (
    TrajectoryOutcome.dropped_out, TrajectoryOutcome.evicted, TrajectoryOutcome.moved,
    TrajectoryOutcome.deceased, TrajectoryOutcome.other, TrajectoryOutcome.dropped_out,
)
STATUS_COUNTS = (
    (Status.referred, 4), (Status.intake, 4), (Status.financial_overview, 5), (Status.agreement, 5),
    (Status.running, len(RUNNING_RHYTHMS)), (Status.completed, len(COMPLETED_CASES)), (Status.ended_early, len(EARLY_END_OUTCOMES)),
)
# Tenants who come back: the status of their current case and the outcome of the earlier one.
RETURNING_TENANTS = (
    (Status.referred, TrajectoryOutcome.completed),  # relapsed after completing
    (Status.intake, TrajectoryOutcome.dropped_out),
    (Status.running, TrajectoryOutcome.dropped_out),
)
REVISED_AGREEMENTS = 4
AGREEMENT_STATUSES = {
    Status.agreement: AgreementStatus.awaiting_signatures,
    Status.running: AgreementStatus.in_force,
    # A trajectory that has ended no longer has an agreement in force.
    Status.completed: AgreementStatus.ended,
    Status.ended_early: AgreementStatus.ended,
}

# ---------------------------------------------------------------------------------------------
# Agreement, debt and evaluation content
# ---------------------------------------------------------------------------------------------

# (description, due in months after the start; None = for the whole term of the agreement)
RENT_OBLIGATION = ("Huur maandelijks op tijd betalen", None)
NUISANCE_OBLIGATION = ("Geen overlast veroorzaken voor de buren", None)
TENANT_OBLIGATIONS = (
    ("Meewerken aan budgetbeheer via de gemeente", 1),
    ("Afspraken met het buurtteam nakomen en huisbezoek toestaan", None),
    ("Post openen en wekelijks met de begeleider doornemen", 2),
    ("Woning schoon en heel houden", None),
    ("Nieuwe schulden direct melden bij de trajectbegeleider", None),
)
ORGANISATION_OBLIGATIONS = {
    OrganisationKind.coordinator: (
        "Periodiek evalueren met alle partijen en bij problemen direct ingrijpen", None,
    ),
    OrganisationKind.municipality: ("Financieel overzicht actueel houden en budgetbeheer inrichten", 2),
    OrganisationKind.neighbourhood_team: ("Wekelijks huisbezoek en hulp bij post en administratie", None),
    OrganisationKind.care_provider: ("Ambulante woonbegeleiding bieden, twee uur per week", None),
    OrganisationKind.debt_assistance: ("Aanvraag minnelijke schuldregeling indienen bij de schuldeisers", 3),
    OrganisationKind.housing_corporation: (
        "Ontruimingsvonnis niet uitvoeren zolang de afspraken worden nagekomen", None,
    ),
}

# Creditors per category (rent arrears go to the tenant's own corporation) and amount range in euros.
DEBTS = {
    DebtCategory.rent_arrears: ((), (0, 0)),
    DebtCategory.energy: (("Eneco", "Vattenfall", "Essent"), (250, 2400)),
    DebtCategory.water: (("Vitens",), (80, 600)),
    DebtCategory.health_insurance: (("Zilveren Kruis", "CZ", "VGZ", "CAK (wanbetalersregeling)"), (350, 3500)),
    DebtCategory.tax_benefits: (("Belastingdienst/Toeslagen", "Belastingdienst"), (400, 7500)),
    DebtCategory.cjib_fines: (("CJIB",), (90, 1400)),
    DebtCategory.municipal_taxes: (("BghU",), (150, 900)),
    DebtCategory.telecom: (("KPN", "Odido", "Ziggo", "Vodafone"), (100, 1200)),
    DebtCategory.bank_credit: (("ING", "Rabobank", "ABN AMRO", "Santander Consumer Finance"), (500, 9000)),
    DebtCategory.private: (("Familie (broer)", "Familie (moeder)", "Kennis uit de buurt"), (200, 3000)),
    DebtCategory.other: (("DUO", "Wehkamp", "Tandartspraktijk Overvecht"), (100, 2000)),
}
# Costs the financial overview expects to come: (creditor, category, note, amount range)
EXPECTED_COSTS = (
    ("Eneco", DebtCategory.energy, "Verwachte eindafrekening energie", (150, 700)),
    ("BghU", DebtCategory.municipal_taxes, "Aanslag gemeentelijke belastingen komend jaar", (300, 600)),
    ("Zilveren Kruis", DebtCategory.health_insurance, "Eigen risico zorgverzekering", (385, 385)),
    ("Vitens", DebtCategory.water, "Jaarafrekening water", (60, 250)),
)
DEBT_STATUS_WEIGHTS = {
    Status.referred: {DebtStatus.inventoried: 85, DebtStatus.disputed: 15},
    Status.intake: {DebtStatus.inventoried: 85, DebtStatus.disputed: 15},
    Status.financial_overview: {DebtStatus.inventoried: 85, DebtStatus.disputed: 15},
    Status.agreement: {
        DebtStatus.inventoried: 35, DebtStatus.payment_arrangement: 30,
        DebtStatus.in_debt_assistance: 25, DebtStatus.disputed: 10,
    },
    Status.running: {
        DebtStatus.payment_arrangement: 40, DebtStatus.in_debt_assistance: 25, DebtStatus.settled: 25,
        DebtStatus.disputed: 5, DebtStatus.inventoried: 5,
    },
    Status.completed: {DebtStatus.settled: 70, DebtStatus.payment_arrangement: 30},
    Status.ended_early: {
        DebtStatus.inventoried: 25, DebtStatus.payment_arrangement: 30, DebtStatus.in_debt_assistance: 25,
        DebtStatus.settled: 10, DebtStatus.disputed: 10,
    },
}
DEBT_NOTES = {
    DebtStatus.disputed: "Vordering betwist: bedrag klopt niet met de eigen administratie.",
    DebtStatus.in_debt_assistance: "Opgenomen in het minnelijk traject via Schuldhulp Utrecht.",
    DebtStatus.payment_arrangement: "Betalingsregeling getroffen via de trajectbegeleider.",
}
MONTHLY_PAYMENTS = (15, 20, 25, 35, 50, 75, 100)

ASSESSMENT_WEIGHTS = {Assessment.on_track: 78, Assessment.concerns: 17, Assessment.serious_problems: 5}
# (what, who is responsible, due within (low, high) days of the evaluation). The responsible party is
# one of the trajectory's own: "team" its neighbourhood team, "debt" Schuldhulp Utrecht when involved
# (else the municipality), "care" Lister when involved (else the neighbourhood team).
INTERVENTIONS = {
    Assessment.concerns: (
        ("Extra huisbezoek door het buurtteam de komende maand.", "team", (21, 35)),
        ("Budgetbeheer aangescherpt: vaste lasten direct na binnenkomst van de uitkering.", "municipality",
         (14, 28)),
        ("Gesprek over klachten van buren; afspraken op papier gezet.", "corporation", (14, 30)),
        ("Nieuwe schuld doorgeven aan Schuldhulp Utrecht en een regeling treffen.", "debt", (21, 42)),
    ),
    Assessment.serious_problems: (
        ("Crisisoverleg met alle partijen binnen een week.", "coordinator", (7, 7)),
        ("Corporatie stuurt een laatste waarschuwing; het vonnis kan alsnog worden uitgevoerd.", "corporation",
         (7, 14)),
        ("Huurachterstand binnen twee weken inlopen met bijzondere bijstand.", "municipality", (14, 14)),
        ("Intensievere begeleiding: twee huisbezoeken per week.", "care", (28, 56)),
    ),
}
# Concerns lead to an intervention of their own this often; serious problems always do.
CONCERNS_INTERVENTION_CHANCE = 0.4
INTERVENTION_RESULTS = (
    "Uitgevoerd; huurder houdt zich weer aan de afspraken.",
    "Afgerond: de achterstand is ingelopen.",
    "Gedaan en besproken bij de volgende evaluatie.",
    "Uitgevoerd; vastgelegd in het dossier.",
)
ENDED_INTERVENTION_RESULT = {
    True: "Zonder resultaat: huurder bleef onbereikbaar; het traject is beëindigd.",
    False: "Vervallen: het traject is beëindigd.",
}

# The status history: short remarks on some steps, always on the last.
STEP_REMARKS = {
    Status.intake: ("Aanmelding compleet; intakegesprek gepland.", "Huurder staat open voor het traject."),
    Status.financial_overview: (
        "Intake gehouden met huurder en buurtteam.", "Gemeente stelt het financieel overzicht op.",
    ),
    Status.agreement: (
        "Financieel overzicht rond; overeenkomst opgesteld.", "Vonnis aangevraagd; overeenkomst ter ondertekening.",
    ),
    Status.running: ("Alle handtekeningen binnen; traject gestart.", "Overeenkomst getekend bij de corporatie."),
    Status.completed: (
        "Traject afgerond; alle afspraken nagekomen.", "Afgerond in de slotevaluatie met alle partijen.",
    ),
}
ENDED_EARLY_REMARKS = {
    TrajectoryOutcome.dropped_out: "Huurder wil niet meer meewerken en is onbereikbaar.",
    TrajectoryOutcome.evicted: "Afspraken herhaaldelijk niet nagekomen; vonnis uitgevoerd.",
    TrajectoryOutcome.moved: "Huurder is verhuisd naar familie buiten Utrecht.",
    TrajectoryOutcome.deceased: "Huurder is overleden.",
    TrajectoryOutcome.other: "Traject gestopt in overleg met alle partijen.",
}
STEP_REMARK_CHANCE = 0.5
OVERRIDE_REASONS = (
    "Alle schulden afgelost en afspraken anderhalf jaar nagekomen; partners akkoord met eerder afronden.",
    "Schuldregeling afgerond en bewindvoering ingesteld; verdere begeleiding vanuit het traject niet nodig.",
    "Huurder gaat samenwonen in een andere woning; doelen bereikt, partners akkoord met afronden.",
)
RELAPSE_REMARKS = {
    False: (
        "Geen nieuwe achterstand; huurder regelt de eigen zaken zelfstandig.",
        "Huur een jaar lang op tijd betaald; geen klachten van buren.",
        "Geen terugval: budgetbeheer vrijwillig voortgezet, geen nieuwe schulden.",
    ),
    True: ("Opnieuw huurachterstand opgebouwd na baanverlies; buurtteam weer betrokken.",),
}
PENDING_JUDGMENT_NOTE = (
    "Financieel overzicht rond, maar het ontruimingsvonnis is nog niet aangevraagd: "
    "de overeenkomst kan pas worden opgesteld als dat er is."
)
REVISION_NOTE = "Versie 2 na evaluatie: budgetbeheer verlengd en extra huisbezoeken afgesproken."
MISSED_EVALUATION_NOTE = "Niet doorgegaan: huurder was niet thuis. Nieuwe datum nog plannen."


class DemoDataRefused(Exception):
    """The database holds something other than the demo data; nothing was written."""


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def seed_demo() -> str:
    """Fill an empty database with the demo cases and accounts; returns a one-paragraph summary."""
    commands.sync_roles()
    if _holds_demo_data():
        return (
            f"The database already holds the demo data ({_count(Tenant)} tenants, "
            f"{_count(Trajectory)} trajectories, {len(ACCOUNTS)} demo accounts); nothing was changed."
        )
    today = date.today()
    policy = stored_policy(db.session)[0]
    try:
        _DemoBuilder(random.Random(SEED), today, policy).build()
        db.session.commit()
    except Exception:
        # One transaction: a failure anywhere leaves the database as empty as it was.
        db.session.rollback()
        raise
    return _summary()


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _holds_demo_data() -> bool:
    """False for an empty database, True for one holding exactly the demo data; else refuse."""
    foreign = {
        "tenants": db.session.scalars(
            sa.select(Tenant.client_number).where(~Tenant.client_number.startswith(DEMO_PREFIX)).limit(3)
        ).all(),
        "organisations": db.session.scalars(
            sa.select(Organisation.name).where(Organisation.name.not_in(DEMO_ORGANISATIONS)).limit(3)
        ).all(),
        "users": db.session.scalars(
            sa.select(PortalUser.username).where(PortalUser.username.not_in(tuple(ACCOUNTS))).limit(3)
        ).all(),
    }
    found = "; ".join(f"{kind} such as {', '.join(names)}" for kind, names in foreign.items() if names)
    if found:
        raise DemoDataRefused(
            f"Refusing to load demo data: this database holds data that is not demo data ({found}). "
            "Demo data only goes into an empty database, for example "
            "DATABASE_URL=sqlite:////tmp/demo.db after `flask --app app db upgrade`."
        )
    if not (_count(Organisation) or _count(Tenant) or _count(PortalUser)):
        return False
    marker_present = (
        _count(Organisation, Organisation.name == VIERDE_HUIS)
        and _count(PortalUser, PortalUser.username == MARKER_USER, PortalUser.email == account_email(MARKER_USER))
        and _count(Tenant)
    )
    if marker_present:
        return True
    raise DemoDataRefused(
        "Refusing to load demo data: this database holds only part of the demo data (or data that "
        "looks like it), so loading would mix or duplicate records. Start from an empty database."
    )


def _summary() -> str:
    per_status = db.session.execute(
        sa.select(Trajectory.status, sa.func.count()).group_by(Trajectory.status)
    ).all()
    counts = dict(per_status)
    statuses = ", ".join(f"{status.value} {counts.get(status, 0)}" for status in TrajectoryStatus)
    return (
        f"Demo data loaded: {_count(Organisation)} organisations with {_count(Contact)} contacts; "
        f"{_count(PortalUser)} accounts ({', '.join(ACCOUNTS)}), all with password {DEMO_PASSWORD}; "
        f"{_count(Tenant)} tenants with {_count(Trajectory)} trajectories ({statuses}); "
        f"{_count(Agreement)} agreements with {_count(Obligation)} obligations and "
        f"{_count(Signature)} signatures; {_count(Debt)} debts and expected costs; "
        f"{_count(Evaluation)} evaluations with {_count(Intervention)} interventions "
        f"({_count(Intervention, Intervention.closed_on.is_(None))} open); "
        f"{_count(StatusChange)} status changes."
    )


# ---------------------------------------------------------------------------------------------
# Planning: every case's dates are decided first, so tenants can be numbered oldest first
# ---------------------------------------------------------------------------------------------


def durations_months(policy: PolicySettings) -> list:
    """Planned durations the demo draws from: every half year from the minimum to the maximum duration."""
    low, high = policy.minimum_duration_months, policy.maximum_duration_months
    return sorted({*range(low, high + 1, 6), high})


@dataclass
class Course:
    """The planned dates and outcome of one trajectory, before any row is built."""

    status: TrajectoryStatus
    referral_date: date
    start_date: date | None = None
    planned_end_date: date | None = None
    actual_end_date: date | None = None
    outcome: TrajectoryOutcome | None = None
    rhythm: str | None = None  # running only: see RUNNING_RHYTHMS
    last_held: date | None = None  # running only: the latest held evaluation
    held_count: int = 0
    revised_agreement: bool = False
    follow_up: str | None = None  # completed only: see COMPLETED_CASES
    early_completion: bool = False  # completed before the minimum duration, with a recorded reason
    judgment_pending: bool = False  # financial overview only: no eviction judgment yet
    returning: bool = False  # the tenant had an earlier trajectory
    reasons: dict = field(default_factory=dict)


@dataclass
class TenantPlan:
    courses: list  # oldest first; the last one is the current case


def _days(rng, low: int, high: int) -> timedelta:
    return timedelta(days=rng.randint(low, high))


STARTED_PATH = (Status.intake, Status.financial_overview, Status.agreement, Status.running)


def _path(status: TrajectoryStatus) -> list:
    """The steps from referred to `status`; every demo case that ended did so while running."""
    if status in (Status.completed, Status.ended_early):
        return [*STARTED_PATH, status]
    if status == Status.referred:
        return []
    return list(STARTED_PATH[:STARTED_PATH.index(status) + 1])


def _plan_tenants(rng, today: date, policy: PolicySettings) -> list:
    """One plan per tenant, sorted by first referral so client numbers follow registration."""
    rhythms = list(RUNNING_RHYTHMS)
    rng.shuffle(rhythms)
    early_outcomes = iter(EARLY_END_OUTCOMES)
    completions = iter(COMPLETED_CASES)
    pending = JUDGMENT_PENDING
    plans = []
    for status, count in STATUS_COUNTS:
        for _ in range(count):
            if status == Status.running:
                course = _plan_running(rng, today, policy, rhythms.pop())
            elif status == Status.completed:
                follow_up, early = next(completions)
                end = _completion_date(rng, today, follow_up, policy.relapse_followup_months)
                course = _plan_completed(rng, end, follow_up, early, policy)
            elif status == Status.ended_early:
                course = _plan_ended_early(rng, next(early_outcomes), today, policy)
            else:
                course = _plan_before_start(rng, status, today, policy)
                if status == Status.financial_overview and pending:
                    course.judgment_pending, pending = True, pending - 1
            plans.append(TenantPlan([course]))
    _add_earlier_trajectories(rng, plans, policy)
    _mark_revised_agreements(rng, plans)
    for plan in plans:
        for course in plan.courses:
            course.reasons = _plan_reasons(rng)
    plans.sort(key=lambda plan: plan.courses[0].referral_date)
    return plans


def _plan_before_start(rng, status, today, policy) -> Course:
    """Referred, intake, financial overview or agreement: the later the stage, the older the referral."""
    if status == Status.agreement:
        start = today - _days(rng, 0, 14)
        return Course(
            status, start - _days(rng, 90, 150), start_date=start,
            planned_end_date=start + relativedelta(months=rng.choice(durations_months(policy))),
        )
    age = {Status.referred: (3, 28), Status.intake: (25, 70), Status.financial_overview: (55, 110)}[status]
    return Course(status, today - _days(rng, *age))


def _plan_running(rng, today, policy, rhythm) -> Course:
    """A running case, placed so that its next evaluation is overdue, due soon or further off."""
    interval = policy.evaluation_interval_months
    step = relativedelta(months=interval)
    if rhythm == "new":
        held_count, last_held = 0, None
        start = today - _days(rng, 10, 55)
    else:
        # Keep the whole cycle within about three years, whatever the interval setting.
        held_count = rng.randint(1, max(1, min(9, 36 // interval - 2)))
        last_held = {
            "regular": today - _days(rng, 5, 50),
            "trouble": today - _days(rng, 4, 21),
            "due_soon": today - step + _days(rng, 3, 28),
            "overdue": today - step - _days(rng, 15, 80),
        }[rhythm]
        start = last_held - relativedelta(months=interval * held_count)
    # Running means the planned end is still ahead (with some margin).
    margin = today + relativedelta(months=2)
    longest = durations_months(policy)[-1]
    durations = [m for m in durations_months(policy) if start + relativedelta(months=m) > margin] or [longest]
    return Course(
        Status.running, start - _days(rng, 90, 160), start_date=start,
        planned_end_date=start + relativedelta(months=rng.choice(durations)),
        rhythm=rhythm, last_held=last_held, held_count=held_count,
    )


def _completion_date(rng, today: date, follow_up: str, followup_months: int) -> date:
    """When a completed case ended, so that its relapse follow-up is done, due or not due yet."""
    period_ago = today - relativedelta(months=followup_months)
    if follow_up == "not_due":
        return today - _days(rng, 20, max(20, (today - period_ago).days - 20))
    if follow_up == "due":
        return period_ago - _days(rng, 5, 115)
    return period_ago - _days(rng, 45, 500)  # followed up; see _DemoBuilder._set_relapse_follow_up


def _plan_completed(rng, actual_end: date, follow_up: str, early: bool, policy) -> Course:
    """A completed case ending on `actual_end`: after at least the minimum duration, unless `early`."""
    minimum = policy.minimum_duration_months
    planned_months = rng.choice(durations_months(policy))
    if early:
        # Completed a few months short of the minimum; the coordinator recorded why.
        start = actual_end - relativedelta(months=minimum - rng.randint(2, 5)) - _days(rng, 0, 10)
    else:
        # Mostly at the planned end; some longer ones are rounded off half a year early.
        lasted = planned_months if rng.random() < 0.7 else max(minimum, planned_months - 6)
        start = actual_end - relativedelta(months=lasted) - _days(rng, 0, 20)
    return Course(
        Status.completed, start - _days(rng, 90, 160), start_date=start,
        planned_end_date=start + relativedelta(months=planned_months), actual_end_date=actual_end,
        outcome=TrajectoryOutcome.completed, follow_up=follow_up, early_completion=early,
    )


def _plan_ended_early(rng, outcome, end_by: date, policy) -> Course:
    """A case that ended early (from running) before `end_by`."""
    months = rng.choice(durations_months(policy))
    start = end_by - _days(rng, 240, 1200)
    planned_end = start + relativedelta(months=months)
    longest = min((end_by - start).days - 20, (planned_end - start).days - 60)
    actual_end = start + _days(rng, 100, max(100, longest))
    return Course(
        Status.ended_early, start - _days(rng, 90, 160), start_date=start, planned_end_date=planned_end,
        actual_end_date=actual_end, outcome=outcome,
    )


def _add_earlier_trajectories(rng, plans, policy: PolicySettings) -> None:
    """Give a few tenants an older, ended trajectory well before their current referral."""
    for current_status, earlier_outcome in RETURNING_TENANTS:
        plan = next(p for p in plans if p.courses[-1].status == current_status and len(p.courses) == 1)
        current = plan.courses[-1]
        # Long enough before the new referral for the relapse follow-up to have taken place.
        end_by = current.referral_date - _days(rng, 400, 600)
        if earlier_outcome == TrajectoryOutcome.completed:
            # The follow-up found the relapse that brought them back.
            earlier = _plan_completed(rng, end_by - _days(rng, 10, 200), "relapse", False, policy)
        else:
            earlier = _plan_ended_early(rng, earlier_outcome, end_by, policy)
        current.returning = True
        plan.courses.insert(0, earlier)


def _mark_revised_agreements(rng, plans) -> None:
    """Some long-running cases got a second version of their agreement after an evaluation."""
    candidates = [c for p in plans for c in p.courses if c.status == Status.running and c.held_count >= 4]
    for course in rng.sample(candidates, min(REVISED_AGREEMENTS, len(candidates))):
        course.revised_agreement = True


def _plan_reasons(rng) -> dict:
    reasons = {
        "reason_rent_arrears": rng.random() < 0.85,
        "reason_nuisance": rng.random() < 0.35,
        "reason_damage": rng.random() < 0.15,
        "reason_care_avoidance": rng.random() < 0.3,
        "reason_other": rng.choice(OTHER_REASONS) if rng.random() < 0.1 else None,
    }
    if not any(reasons.values()):
        reasons["reason_rent_arrears"] = True  # every referral has at least one reason
    return reasons


# ---------------------------------------------------------------------------------------------
# Building the rows
# ---------------------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    """Plain letters for e-mail addresses: 'Öztürk' -> 'ozturk', 'van den Berg' -> 'vandenberg'."""
    folded = unicodedata.normalize("NFKD", text.replace("ı", "i"))
    return "".join(c for c in folded if c.isascii() and c.isalnum()).lower()


def valid_bsn(rng, used: set) -> str:
    """A BSN that passes the 11-proef, in the 9999xxxxx range that RvIG keeps for test persons.

    Using that range means a demo BSN can never be a real resident's number.
    """
    while True:
        digits = [9, 9, 9, 9] + [rng.randint(0, 9) for _ in range(4)]
        remainder = sum(d * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2))) % 11
        # The check digit counts -1, so it must equal the remainder; 10 is impossible, draw again.
        bsn = "".join(map(str, digits)) + str(remainder)
        if remainder < 10 and bsn not in used:
            used.add(bsn)
            return bsn


class _DemoBuilder:
    """Adds the demo rows to the session; the caller commits."""

    def __init__(self, rng: random.Random, today: date, policy: PolicySettings):
        self.rng = rng
        self.today = today
        self.policy = policy
        self.interval = policy.evaluation_interval_months
        self.organisations: dict[str, Organisation] = {}
        self.contacts: dict[str, list[Contact]] = {}
        self.users: dict[str, PortalUser] = {}
        self.override_reasons = itertools.cycle(OVERRIDE_REASONS)
        self.used_bsns: set = set()
        self.used_names: set = set()
        # Each category is given to one early debt-bearing case, so every category shows up.
        self.uncovered_categories = [c for c in DebtCategory if c != DebtCategory.rent_arrears]

    def build(self) -> None:
        self._add_organisations()
        self._add_accounts()
        for number, plan in enumerate(_plan_tenants(self.rng, self.today, self.policy), start=1):
            tenant = self._add_tenant(number, plan)
            for course in plan.courses:
                self._add_trajectory(tenant, course, team=self._team(number))
        db.session.flush()
        self._name_recorders()

    def _name_recorders(self) -> None:
        """Who recorded what, as the policy divides the work: the coordinator draws up agreements and runs
        evaluations, the municipality makes the financial overview, the corporation records its own arrears,
        and every party signs for itself (the coordinator records the tenant's paper signature)."""
        coordinator = self.organisations[VIERDE_HUIS].id
        for model in (Agreement, Obligation, Evaluation, Intervention):
            db.session.execute(sa.update(model).values(recorded_by_organisation_id=coordinator))
        db.session.execute(sa.update(Signature).values(recorded_by_organisation_id=sa.func.coalesce(
            Signature.organisation_id, coordinator)))
        municipality = self.organisations[GEMEENTE].id
        referrer = sa.select(Trajectory.referring_organisation_id).where(Trajectory.id == Debt.trajectory_id)
        db.session.execute(sa.update(Debt).values(recorded_by_organisation_id=sa.case(
            (Debt.category == DebtCategory.rent_arrears, referrer.scalar_subquery()), else_=municipality)))

    # -- parties ------------------------------------------------------------------------------

    def _add_organisations(self) -> None:
        for spec in ORGANISATIONS:
            organisation = Organisation(
                name=spec.name, kind=spec.kind, city="Utrecht", phone=spec.phone,
                email=f"info@{spec.mail_domain}",
            )
            organisation.contacts = [
                Contact(
                    name=name, function=function, phone=phone,
                    email=f"{_email_name(name)}@{spec.mail_domain}",
                )
                for name, function, phone in spec.contacts
            ]
            db.session.add(organisation)
            self.organisations[spec.name] = organisation
            self.contacts[spec.name] = organisation.contacts

    def _add_accounts(self) -> None:
        # `commands.create_user` commits after every user, which would break the single
        # transaction; this does the same through FAB's add_user without committing.
        sm = current_app.appbuilder.sm
        for username, (role_name, organisation_name, first_name, last_name) in ACCOUNTS.items():
            role = sm.find_role(role_name)
            if role is None:
                raise RuntimeError(f"Role {role_name} is missing although sync_roles() ran.")
            user = sm.add_user(
                username=username, first_name=first_name, last_name=last_name,
                email=account_email(username), role=role, password=DEMO_PASSWORD, commit=False,
            )
            if not user:
                raise RuntimeError(f"The demo account {username} could not be created.")
            user.organisation = self.organisations[organisation_name]
            self.users[username] = user

    def _contact(self, organisation_name: str, function: str | None = None) -> Contact:
        people = [c for c in self.contacts[organisation_name] if function is None or c.function == function]
        return self.rng.choice(people)

    # -- tenants ------------------------------------------------------------------------------

    @staticmethod
    def _team(number: int) -> str:
        return OVERVECHT if number % 2 else ZUIDWEST  # alternate the two neighbourhoods

    @staticmethod
    def _corporation(number: int) -> str:
        # Pairs of two, so the corporation does not follow the neighbourhood.
        return PORTAAL if (number // 2) % 2 == 0 else MITROS

    def _unique_name(self) -> tuple[str, str]:
        while True:
            name = (self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES))
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def _add_tenant(self, number: int, plan: TenantPlan) -> Tenant:
        rng = self.rng
        first_name, last_name = self._unique_name()
        street, digits = rng.choice(STREETS[self._team(number)])
        household = rng.choices(list(HOUSEHOLDS), weights=[w for w, _ in HOUSEHOLDS.values()])[0]
        corporation = self._corporation(number)
        psychosocial = rng.choice(PSYCHOSOCIAL) if rng.random() < 0.45 else None
        tenant = Tenant(
            client_number=f"{DEMO_PREFIX}{number:04d}",
            first_name=first_name, last_name=last_name,
            date_of_birth=date(rng.randint(1952, 2003), rng.randint(1, 12), rng.randint(1, 28)),
            bsn=valid_bsn(rng, self.used_bsns) if rng.random() < 0.5 else None,
            street=street, house_number=str(rng.randint(1, 240)) + rng.choice(("", "", "", "A", "-2", "bis")),
            postcode=f"{digits} {rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}",
            city="Utrecht",
            email=f"{_ascii(first_name)}.{_ascii(last_name)}@example.nl" if rng.random() < 0.3 else None,
            household=household, household_size=rng.choice(HOUSEHOLDS[household][1]),
            housing_corporation=self.organisations[corporation],
            rental_contract_number=f"{corporation[:3].upper()}-{rng.randint(100000, 999999)}",
            monthly_rent=self._money(520, 880),
            problem_areas=_problem_areas(plan, psychosocial),
            psychosocial_notes=psychosocial[1] if psychosocial else None,
        )
        db.session.add(tenant)
        return tenant

    # -- trajectories -------------------------------------------------------------------------

    def _add_trajectory(self, tenant: Tenant, course: Course, team: str) -> None:
        rng = self.rng
        coordinator = self._contact(VIERDE_HUIS, COORDINATOR_FUNCTION)
        counsellor = self._contact(GEMEENTE, COUNSELLOR_FUNCTION)
        # Who signs and attends for each involved organisation.
        parties = {VIERDE_HUIS: coordinator, GEMEENTE: counsellor, team: self._contact(team)}
        if tenant.psychosocial_notes and rng.random() < 0.6:
            parties[LISTER] = self._contact(LISTER)
        if course.status not in (Status.referred, Status.intake) and rng.random() < 0.35:
            parties[SCHULDHULP] = self._contact(SCHULDHULP)
        judgment, judgment_date = self._eviction_judgment(course)
        trajectory = Trajectory(
            tenant=tenant, referring_organisation=tenant.housing_corporation, status=course.status,
            referral_date=course.referral_date, **course.reasons,
            eviction_judgment=judgment, eviction_judgment_date=judgment_date,
            start_date=course.start_date, planned_end_date=course.planned_end_date,
            actual_end_date=course.actual_end_date, outcome=course.outcome,
            coordinator=coordinator,
            # The municipality's counsellor joins once the referral has been accepted.
            counsellor=counsellor if course.status != Status.referred else None,
            involved_organisations=[self.organisations[name] for name in parties],
            notes=self._trajectory_note(course),
        )
        self._set_relapse_follow_up(trajectory, course)
        db.session.add(trajectory)
        step_dates = self._step_dates(course)
        self._add_history(trajectory, course, step_dates)
        self._add_agreements(trajectory, course, parties, drawn_up=step_dates.get(Status.agreement))
        self._add_debts(trajectory, course, has_debt_assistance=SCHULDHULP in parties)
        self._add_evaluations(trajectory, course, parties)

    def _eviction_judgment(self, course: Course):
        """Referred and intake on any state; a financial overview waiting for it has none; from the
        agreement on (and for the other financial overviews) it is requested or obtained (the 'last chance')."""
        if course.judgment_pending:
            return EvictionJudgment.none, None
        if course.status in (Status.referred, Status.intake):
            options, weights = list(EvictionJudgment), (3, 4, 3)
        else:
            options, weights = [EvictionJudgment.requested, EvictionJudgment.obtained], (3, 7)
        judgment = self.rng.choices(options, weights=weights)[0]
        when = course.referral_date - _days(self.rng, 5, 60)
        return judgment, (None if judgment == EvictionJudgment.none else when)

    def _trajectory_note(self, course: Course) -> str | None:
        if course.returning:
            return "Eerder traject gehad; opnieuw aangemeld door de corporatie."
        if course.judgment_pending:
            return PENDING_JUDGMENT_NOTE
        if course.rhythm == "overdue":
            return "Huurder is lastig bereikbaar; evaluatie loopt achter."
        if course.rhythm == "trouble":
            return "Ernstige problemen bij de laatste evaluatie; de interventies lopen nog."
        return None

    def _set_relapse_follow_up(self, trajectory: Trajectory, course: Course) -> None:
        """Completed cases are followed up after the follow-up period; recorded for some, due for others.

        `relapse_followup_date` is the day the follow-up was done, so it stays empty until then.
        """
        if course.status != Status.completed or course.follow_up not in ("no_relapse", "relapse"):
            return
        period = relativedelta(months=self.policy.relapse_followup_months)
        relapse = course.follow_up == "relapse"
        trajectory.relapse_followup_date = min(course.actual_end_date + period + _days(self.rng, 0, 40), self.today)
        trajectory.relapse = relapse
        trajectory.relapse_remark = self.rng.choice(RELAPSE_REMARKS[relapse])

    # -- status history -----------------------------------------------------------------------

    def _step_dates(self, course: Course) -> dict:
        """The day of each step that brought the case to its status (none for a fresh referral)."""
        path = _path(course.status)
        dates = {}
        if path:
            dates[Status.intake] = course.referral_date + _days(self.rng, 3, 14)
        if Status.financial_overview in path:
            dates[Status.financial_overview] = dates[Status.intake] + _days(self.rng, 14, 40)
        if Status.agreement in path:
            dates[Status.agreement] = course.start_date - _days(self.rng, 7, 25)  # the agreement is drawn up
        if Status.running in path:
            dates[Status.running] = course.start_date
        if course.actual_end_date:
            dates[course.status] = course.actual_end_date
        return dates

    def _add_history(self, trajectory: Trajectory, course: Course, step_dates: dict) -> None:
        """One StatusChange per step, as `Step.run` records it, at office hours on the planned days."""
        rng, previous = self.rng, Status.referred
        for target in _path(course.status):
            if target == Status.intake:
                user = self.users[CORPORATION_ACCOUNTS.get(trajectory.referring_organisation.name, STEP_USER)]
            else:
                user = self.users[STEP_USER]
            remark, override = None, None
            if target == Status.ended_early:
                remark = ENDED_EARLY_REMARKS[course.outcome]
            elif target == Status.completed or rng.random() < STEP_REMARK_CHANCE:
                remark = rng.choice(STEP_REMARKS[target])
            if target == Status.completed and course.early_completion:
                override = next(self.override_reasons)
            changed_at = datetime.combine(step_dates[target], time(rng.randint(8, 16), rng.choice((0, 10, 15, 30, 45))))
            trajectory.status_changes.append(StatusChange(
                changed_at=changed_at, changed_by=user, from_status=previous, to_status=target,
                remark=remark, override_reason=override,
            ))
            previous = target

    # -- agreements ---------------------------------------------------------------------------

    def _add_agreements(self, trajectory: Trajectory, course: Course, parties: dict, drawn_up: date | None) -> None:
        status = AGREEMENT_STATUSES.get(course.status)
        if status is None:
            return  # no agreement before the agreement stage
        for version, dates in enumerate(self._agreement_versions(course, status, drawn_up), start=1):
            agreement = self._agreement(trajectory, course, version, *dates)
            partially = agreement.status == AgreementStatus.awaiting_signatures
            self._sign(agreement, trajectory, parties, partially=partially)

    def _agreement_versions(self, course: Course, status: AgreementStatus, drawn_up: date) -> list:
        """(drawn up, valid from, valid until, status) of version 1 and, if revised, version 2.

        Version 1 is drawn up on the day of the step to the agreement stage.
        """
        if not course.revised_agreement:
            return [(drawn_up, course.start_date, course.planned_end_date, status)]
        # Version 2 follows one of the evaluations; version 1 ends the day before it takes effect.
        after = relativedelta(months=self.interval * self.rng.randint(2, course.held_count - 1))
        revised_on = min(course.start_date + after + _days(self.rng, 3, 10), self.today - timedelta(days=14))
        revised_from = revised_on + timedelta(days=7)
        return [
            (drawn_up, course.start_date, revised_from - timedelta(days=1), AgreementStatus.ended),
            (revised_on, revised_from, course.planned_end_date, status),
        ]

    def _agreement(self, trajectory, course, version, drawn_up, valid_from, valid_until, status) -> Agreement:
        agreement = Agreement(
            trajectory=trajectory, agreement_version=version,
            rental_contract_number=trajectory.tenant.rental_contract_number,
            drawn_up_on=drawn_up, valid_from=valid_from, valid_until=valid_until, status=status,
        )
        if version > 1:
            agreement.notes = REVISION_NOTE
        elif course.status == Status.ended_early:
            agreement.notes = f"Beëindigd op {course.actual_end_date:%d-%m-%Y}."
        agreement.obligations = self._obligations(trajectory, course, agreement)
        db.session.add(agreement)
        return agreement

    def _obligations(self, trajectory, course, agreement) -> list:
        tenant_duties = [RENT_OBLIGATION] + self.rng.sample(TENANT_OBLIGATIONS, 2)
        if course.reasons.get("reason_nuisance"):
            tenant_duties.append(NUISANCE_OBLIGATION)
        duties = [(SigningParty.tenant, None, text, months) for text, months in tenant_duties]
        for organisation in [trajectory.referring_organisation, *trajectory.involved_organisations]:
            text, months = ORGANISATION_OBLIGATIONS[organisation.kind]
            duties.append((SigningParty.organisation, organisation, text, months))
        obligations = []
        for party, organisation, text, months in duties:
            due = agreement.valid_until if months is None else agreement.valid_from + relativedelta(months=months)
            obligations.append(Obligation(
                party=party, organisation=organisation, description=text, due_date=due,
                status=self._obligation_status(due, course, agreement),
            ))
        return obligations

    def _obligation_status(self, due: date, course: Course, agreement: Agreement) -> ObligationStatus:
        not_kept_chance = 0.35 if course.status == Status.ended_early else 0.1
        not_kept = self.rng.random() < not_kept_chance  # drawn always, to keep the sequence steady
        if agreement.status == AgreementStatus.awaiting_signatures:
            return ObligationStatus.open
        if course.status == Status.completed:
            return ObligationStatus.kept
        reference = min(self.today, course.actual_end_date or self.today)
        if due > reference:
            return ObligationStatus.open
        return ObligationStatus.not_kept if not_kept else ObligationStatus.kept

    def _sign(self, agreement: Agreement, trajectory: Trajectory, parties: dict, partially=False) -> None:
        """Signatures of the tenant, the referring corporation and every involved organisation.

        `partially` leaves some out.
        """
        referrer = trajectory.referring_organisation.name
        signers = [(SigningParty.tenant, None, trajectory.tenant.full_name)] + [
            (SigningParty.organisation, self.organisations[name], contact.name)
            for name, contact in {**{referrer: self._contact(referrer)}, **parties}.items()
        ]
        if partially:
            signers = self.rng.sample(signers, self.rng.randint(1, len(signers) - 1))
        # In force from valid_from, so everyone signed by then (and never in the future).
        latest = min(agreement.valid_from, self.today)
        for party, organisation, name in signers:
            signed_on = min(agreement.drawn_up_on + _days(self.rng, 0, 10), latest)
            agreement.signatures.append(
                Signature(party=party, organisation=organisation, signed_by=name, signed_on=signed_on)
            )

    # -- debts --------------------------------------------------------------------------------

    def _add_debts(self, trajectory: Trajectory, course: Course, has_debt_assistance: bool) -> None:
        rng = self.rng
        categories = [DebtCategory.rent_arrears] if course.reasons.get("reason_rent_arrears") else []
        # Before the financial overview only the corporation's own arrears are known.
        if course.status not in (Status.referred, Status.intake):
            if self.uncovered_categories:
                categories.append(self.uncovered_categories.pop(0))
            others = [c for c in DebtCategory if c not in categories and c != DebtCategory.rent_arrears]
            categories += rng.sample(others, rng.randint(1, 4))
        registered = min(course.referral_date + _days(rng, 3, 60), self.today)
        for category in categories:
            status = rng.choices(*zip(*DEBT_STATUS_WEIGHTS[course.status].items()))[0]
            if status == DebtStatus.in_debt_assistance and not has_debt_assistance:
                status = DebtStatus.payment_arrangement  # only Schuldhulp runs a debt settlement
            trajectory.debts.append(self._debt(trajectory, category, status, registered))
        if course.status not in (Status.referred, Status.intake) and rng.random() < 0.4:
            creditor, category, note, (low, high) = rng.choice(EXPECTED_COSTS)
            amount = self._money(low, high)
            trajectory.debts.append(Debt(
                creditor=creditor, category=category, status=DebtStatus.inventoried, original_amount=amount,
                current_balance=amount, is_expected_cost=True, registered_on=registered, notes=note,
            ))

    def _debt(self, trajectory, category, status, registered) -> Debt:
        rng = self.rng
        if category == DebtCategory.rent_arrears:
            creditor = trajectory.referring_organisation.name
            original = (trajectory.tenant.monthly_rent * rng.randint(2, 7)).quantize(CENT)
        else:
            creditors, (low, high) = DEBTS[category]
            creditor, original = rng.choice(creditors), self._money(low, high)
        balance, monthly = original, None
        if status == DebtStatus.settled:
            balance = Decimal("0.00")
        elif status == DebtStatus.payment_arrangement:
            balance = (original * rng.randint(30, 95) / 100).quantize(CENT)
            monthly = min(balance, Decimal(rng.choice(MONTHLY_PAYMENTS)).quantize(CENT))
        return Debt(
            creditor=creditor, category=category, status=status, original_amount=original,
            current_balance=balance, monthly_payment=monthly, is_expected_cost=False,
            registered_on=registered, notes=DEBT_NOTES.get(status),
        )

    def _money(self, low: int, high: int) -> Decimal:
        return (Decimal(self.rng.randint(low * 100, high * 100)) / 100).quantize(CENT)

    # -- evaluations --------------------------------------------------------------------------

    def _add_evaluations(self, trajectory: Trajectory, course: Course, parties: dict) -> None:
        if course.status not in (Status.running, Status.completed, Status.ended_early):
            return
        participants = ", ".join(
            [f"{trajectory.tenant.full_name} (huurder)"] + [f"{c.name} ({name})" for name, c in parties.items()]
        )
        dates = self._evaluation_dates(course)
        held = [planned for planned, held_on in dates if held_on]
        for planned, held_on in dates:
            evaluation = Evaluation(trajectory=trajectory, planned_date=planned, held_date=held_on)
            if held_on:
                from_end = len(held) - held.index(planned) - 1  # 0 for the latest held one
                self._fill_findings(evaluation, self._assessment(course, from_end), participants)
                self._add_interventions(evaluation, trajectory, course, parties, latest=from_end == 0)
            elif planned < self.today:
                evaluation.notes = MISSED_EVALUATION_NOTE
            trajectory.evaluations.append(evaluation)

    def _evaluation_dates(self, course: Course) -> list:
        """(planned, held) pairs: one per interval since the start; held is None if not (yet) held."""
        start = course.start_date

        def planned(i):
            return start + relativedelta(months=self.interval * i)

        def jittered(day, latest):
            return max(start, min(day + _days(self.rng, -3, 6), latest))

        if course.status == Status.running:
            pairs = [(planned(i), jittered(planned(i), self.today)) for i in range(1, course.held_count)]
            if course.held_count:
                pairs.append((planned(course.held_count), course.last_held))
            # Overdue: the next one was planned but never held. Otherwise: the next one ahead.
            base = course.last_held or start
            next_planned = planned(course.held_count + 1) if course.rhythm == "overdue" else (
                base + relativedelta(months=self.interval)
            )
            return pairs + [(next_planned, None)]
        end = course.actual_end_date
        pairs, i = [], 1
        while planned(i) <= end:
            pairs.append((planned(i), jittered(planned(i), min(end, self.today))))
            i += 1
        return pairs

    def _assessment(self, course: Course, from_end: int) -> Assessment:
        """Mostly on track; endings and overdue cases get the assessment that explains them."""
        drawn = self.rng.choices(list(ASSESSMENT_WEIGHTS), weights=list(ASSESSMENT_WEIGHTS.values()))[0]
        if course.status == Status.completed and from_end == 0:
            return Assessment.on_track
        if course.outcome in (TrajectoryOutcome.dropped_out, TrajectoryOutcome.evicted) and from_end < 2:
            return Assessment.serious_problems if from_end == 0 else Assessment.concerns
        if course.rhythm == "overdue" and from_end == 0:
            return Assessment.concerns
        if course.rhythm == "trouble" and from_end == 0:
            return Assessment.serious_problems
        return drawn

    def _fill_findings(self, evaluation: Evaluation, assessment: Assessment, participants: str) -> None:
        rng = self.rng
        evaluation.assessment = assessment
        evaluation.participants = participants
        if assessment == Assessment.on_track:
            evaluation.rent_paid, evaluation.new_debts, evaluation.obligations_kept = True, False, True
            evaluation.nuisance_reports = 0
            evaluation.notes = "Afspraken worden nagekomen; huur op tijd betaald."
            return
        serious = assessment == Assessment.serious_problems
        evaluation.rent_paid = False if serious else rng.random() < 0.6
        evaluation.new_debts = rng.random() < (0.6 if serious else 0.3)
        evaluation.nuisance_reports = rng.randint(1, 4) if serious else rng.randint(0, 1)
        evaluation.obligations_kept = False if serious else rng.random() < 0.5
        evaluation.interventions_agreed = rng.choice(INTERVENTIONS[assessment])[0]

    def _add_interventions(self, evaluation: Evaluation, trajectory: Trajectory, course: Course, parties: dict,
                           latest: bool) -> None:
        """Serious problems always get interventions; concerns sometimes, and always for the hard-to-reach.

        Interventions after the latest evaluation of a running case are open, unless some passed their due
        date and were done; the hard-to-reach ("overdue") and "trouble" cases leave theirs open, late once
        past the due date. Earlier ones, and those of ended cases, are closed with their result.
        """
        rng, assessment = self.rng, evaluation.assessment
        if assessment == Assessment.on_track:
            return
        current = latest and course.status == Status.running
        hard_case = course.rhythm in ("overdue", "trouble")
        if assessment == Assessment.concerns and not (current and hard_case) and (
            rng.random() >= CONCERNS_INTERVENTION_CHANCE
        ):
            return  # agreed in the evaluation's own text only
        chosen = rng.sample(INTERVENTIONS[assessment], 1 if assessment == Assessment.concerns else rng.randint(1, 2))
        held = evaluation.held_date
        for description, role, (low, high) in chosen:
            intervention = Intervention(
                description=description, responsible_organisation=self._responsible(role, trajectory, parties),
                due_date=held + _days(rng, low, high),
            )
            done = rng.random() < 0.7  # drawn always, to keep the sequence steady
            if not current or (intervention.due_date < self.today and not hard_case and done):
                self._close(intervention, held, course, latest)
            evaluation.interventions.append(intervention)
        evaluation.interventions_agreed = " ".join(description for description, _, _ in chosen)

    def _responsible(self, role: str, trajectory: Trajectory, parties: dict) -> Organisation:
        """The party that carries out an intervention: always one of the trajectory's own."""
        team = next(name for name in parties if name in STREETS)
        name = {
            "coordinator": VIERDE_HUIS, "municipality": GEMEENTE, "team": team,
            "debt": SCHULDHULP if SCHULDHULP in parties else GEMEENTE,
            "care": LISTER if LISTER in parties else team,
        }.get(role)
        return trajectory.referring_organisation if role == "corporation" else self.organisations[name]

    def _close(self, intervention: Intervention, held: date, course: Course, latest: bool) -> None:
        """Closed around its due date (never after today or the end of the trajectory), with a result."""
        end = course.actual_end_date
        if course.status == Status.ended_early and latest:
            failed = course.outcome in (TrajectoryOutcome.dropped_out, TrajectoryOutcome.evicted)
            intervention.closed_on, intervention.result = end, ENDED_INTERVENTION_RESULT[failed]
            return
        limit = min(self.today, end) if end else self.today
        closing = held + _days(self.rng, 3, (intervention.due_date - held).days + 10)
        intervention.closed_on = max(held, min(closing, limit))
        intervention.result = self.rng.choice(INTERVENTION_RESULTS)


def _email_name(full_name: str) -> str:
    """'Marieke van den Berg' -> 'm.vandenberg', for the example.nl contact addresses."""
    first, _, rest = full_name.partition(" ")
    return f"{_ascii(first)[:1]}.{_ascii(rest)}"


def _problem_areas(plan: TenantPlan, psychosocial) -> str:
    reasons = {key for course in plan.courses for key, value in course.reasons.items() if value}
    areas = []
    if "reason_rent_arrears" in reasons:
        areas += ["huurachterstand", "schulden"]
    if "reason_nuisance" in reasons:
        areas.append("overlast")
    if "reason_damage" in reasons:
        areas.append("schade aan de woning")
    if "reason_care_avoidance" in reasons:
        areas.append("zorgmijding")
    if psychosocial:
        areas.append(psychosocial[0])
    return ", ".join(areas or ["schulden"])
