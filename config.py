"""Portal settings: secrets and database from the environment, policy as named settings."""
import os
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
    # The policy itself (views.hardening.password_complexity) is set by init_hardening as
    # FAB_PASSWORD_COMPLEXITY_VALIDATOR; it applies to FAB's user, reset-password and user-API forms.
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None

    # Login and session hardening (views/hardening.py).
    # Passwords: at least this many characters, with a lowercase letter, a capital, a digit and
    # another character.
    PASSWORD_MIN_LENGTH = _int_env("PASSWORD_MIN_LENGTH", 12)
    # Failed logins (wrong password or unknown account) allowed per account and per client address
    # before the login answers 429 without checking the password; successful logins never count.
    LOGIN_FAILURES_PER_ACCOUNT = os.environ.get("LOGIN_FAILURES_PER_ACCOUNT", "5 per 15 minutes")
    LOGIN_FAILURES_PER_ADDRESS = os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "20 per 15 minutes")
    # Where those failures are counted: shared by all workers (e.g. redis://127.0.0.1:6379/0),
    # or this process's memory when unset.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or "memory://"
    # Reverse proxies in front of the portal whose X-Forwarded-For/-Proto may be trusted (0: none).
    TRUSTED_PROXY_COUNT = _int_env("TRUSTED_PROXY_COUNT", 0)
    # A session without a request for this long is logged out.
    SESSION_IDLE_MINUTES = _int_env("SESSION_IDLE_MINUTES", 30)
    # However active, a session ends this long after its login (a stolen cookie kept busy ends too).
    SESSION_ABSOLUTE_HOURS = _int_env("SESSION_ABSOLUTE_HOURS", 12)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Always True in production (init_hardening enforces it, also when PORTAL_ENV is set per app).
    SESSION_COOKIE_SECURE = PORTAL_ENV == "production"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = PORTAL_ENV == "production"

    # Languages: Dutch first.
    BABEL_DEFAULT_LOCALE = "nl"
    BABEL_TRANSLATION_DIRECTORIES = f"{BASE_DIR / 'translations'};translations"
    LANGUAGES = {
        "nl": {"flag": "nl", "name": "Nederlands"},
        "en": {"flag": "gb", "name": "English"},
    }

    # The policy settings (evaluation interval, durations, retention, ...) are models.settings.PolicySettings:
    # their defaults come from the environment (policy_defaults below), an Admin's values from the
    # database (the settings page).
    LIST_PAGE_SIZE = 25
    # Lists count their rows as far as their pager reaches, at most this many, and say "more than ..."
    # beyond (views/paging.py): an exact count reads every row in scope on every page; "count all" on
    # the list still gives it.
    LIST_COUNT_LIMIT = _int_env("LIST_COUNT_LIMIT", 1000)


MINIMUM_SECRET_KEY_LENGTH = 32


def policy_defaults(environ=os.environ):
    """The policy settings' defaults from the environment (EVALUATION_INTERVAL_MONTHS, ...).

    An invalid value stops the start with one line naming the variable, not a traceback.
    """
    from models.settings import PolicySettings, SettingError

    try:
        return PolicySettings.from_environment(environ)
    except SettingError as error:
        raise SystemExit(f"Invalid policy setting in the environment: {error}") from None


def check_production_safety(config) -> None:
    """Refuse to serve production with the development secret, with debug on or with a safeguard off."""
    if config.get("PORTAL_ENV") != "production":
        return
    if config.get("SECRET_KEY") in (None, "", DEVELOPMENT_SECRET_KEY):
        raise RuntimeError("Set SECRET_KEY in the environment before running in production.")
    if len(config.get("SECRET_KEY")) < MINIMUM_SECRET_KEY_LENGTH:
        raise RuntimeError(
            f"SECRET_KEY is too short for production: use at least {MINIMUM_SECRET_KEY_LENGTH} random "
            "characters, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    if config.get("DEBUG"):
        raise RuntimeError("Debug mode must be off in production.")
    if not config.get("WTF_CSRF_ENABLED", True):
        raise RuntimeError("CSRF protection (WTF_CSRF_ENABLED) must stay on in production.")
    if not config.get("FAB_PASSWORD_COMPLEXITY_ENABLED"):
        raise RuntimeError("The password policy (FAB_PASSWORD_COMPLEXITY_ENABLED) must stay on in production.")
    if not (config.get("LOGIN_FAILURES_PER_ACCOUNT") and config.get("LOGIN_FAILURES_PER_ADDRESS")):
        raise RuntimeError("Login throttling (LOGIN_FAILURES_PER_ACCOUNT/_PER_ADDRESS) must be set in production.")
