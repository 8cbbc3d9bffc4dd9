"""Portal settings: secrets and database from the environment, policy as named settings."""
import os
from decimal import Decimal
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"


def _int_env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Config:
    """Defaults for development; production overrides come from the environment."""

    PORTAL_ENV = os.environ.get("PORTAL_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'portal.db'}"
    )
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Flask-AppBuilder
    APP_NAME = "Laatste Kans"
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    FAB_ADD_SECURITY_VIEWS = True
    FAB_API_SWAGGER_UI = False
    # The schema and the permissions belong to migrations and `flask init-roles`,
    # never to a web worker starting up.
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = False
    FAB_PASSWORD_COMPLEXITY_ENABLED = False
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None

    # Languages: Dutch first.
    BABEL_DEFAULT_LOCALE = "nl"
    BABEL_TRANSLATION_DIRECTORIES = f"{BASE_DIR / 'translations'};translations"
    LANGUAGES = {
        "nl": {"flag": "nl", "name": "Nederlands"},
        "en": {"flag": "gb", "name": "English"},
    }

    # Policy settings of the Laatste Kansbeleid.
    EVALUATION_INTERVAL_MONTHS = _int_env("EVALUATION_INTERVAL_MONTHS", 3)
    # "Due soon" on the evaluations page and the dashboard.
    EVALUATION_DUE_SOON_DAYS = _int_env("EVALUATION_DUE_SOON_DAYS", 30)
    # A trajectory completes after two to four years; earlier only with a coordinator's recorded reason.
    MINIMUM_DURATION_YEARS = _int_env("MINIMUM_DURATION_YEARS", 2)
    # After completion: when to ask whether the tenant relapsed.
    RELAPSE_FOLLOWUP_MONTHS = _int_env("RELAPSE_FOLLOWUP_MONTHS", 12)
    # The partners' aim: share of followed-up completions without relapse.
    SUCCESS_TARGET_PERCENT = _int_env("SUCCESS_TARGET_PERCENT", 75)
    # Estimated cost of one eviction (court, bailiff, storage, shelter), for "costs avoided".
    EVICTION_COST_EUR = Decimal(os.environ.get("EVICTION_COST_EUR", "25000"))
    # Retention, in years after a tenant's last trajectory ended: what identifies the tenant
    # ("tenant") and the free-text notes in their case records ("case_notes").
    RETENTION_YEARS = {
        "tenant": _int_env("RETENTION_YEARS_TENANT", 7),
        "case_notes": _int_env("RETENTION_YEARS_CASE_NOTES", 7),
    }
    LIST_PAGE_SIZE = 25


def check_production_safety(config) -> None:
    """Refuse to serve production with the development secret or with debug on."""
    if config.get("PORTAL_ENV") != "production":
        return
    if config.get("SECRET_KEY") in (None, "", DEVELOPMENT_SECRET_KEY):
        raise RuntimeError("Set SECRET_KEY in the environment before running in production.")
    if config.get("DEBUG"):
        raise RuntimeError("Debug mode must be off in production.")
