"""Login, session and response hardening (rate limits, password policy, cookies, headers).

Everything here is wired up by `init_hardening(app)`, called once by `create_app`:

* failed logins are counted per account and per client address (the form login is the only one:
  Flask-AppBuilder's token login is switched off in views/security.py); over a limit the login
  POST answers 429 before any password is checked;
* a password policy, hooked into Flask-AppBuilder's user and reset-password forms and its user
  API; `password_problems` gives the same verdict to the command line;
* session cookies HttpOnly, SameSite=Lax and (in production) Secure; a session ends when it sits
  idle, when it reaches its absolute lifetime, and when its user logs out, gets a new password or
  is deactivated (a per-user session generation, so a copied cookie stops working too);
* security headers on every response, with a Content-Security-Policy whose per-request nonce
  Flask-AppBuilder's templates put on their `<script>` tags.
"""
import functools
import hashlib
import hmac
import logging
import math
import secrets
import time
from datetime import timedelta

from flask import current_app, flash, g, has_request_context, jsonify, redirect, request, session
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import lazy_gettext as _l
from flask_babel import LazyString
from flask_login import current_user, logout_user, user_logged_in
from limits import parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, MovingWindowSupport, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

DEFAULT_PASSWORD_MIN_LENGTH = 12
# Where the time of the last request of a logged-in session is kept (seconds since the epoch).
LAST_ACTIVITY_KEY = "_portal_last_activity"
# The last-activity stamp is rewritten at most this often, so not every request re-sends the cookie.
ACTIVITY_RESOLUTION_SECONDS = 10
# When the session logged in (seconds since the epoch), for the absolute lifetime.
LOGIN_TIME_KEY = "_portal_login_time"
# The user's session generation at login; the session is valid while the user still has it.
GENERATION_KEY = "_portal_session_generation"
# Where Flask-Login keeps the logged-in user's id: still there when that user was deleted or deactivated.
USER_ID_KEY = "_user_id"
SESSION_ENDED_MESSAGE = _l(
    "Your session has ended: you logged out, your password was changed or your account was deactivated. "
    "Please log in again."
)
# Inline `style="..."` attributes are all over Flask-AppBuilder's templates (the hidden delete and
# action forms, the login box, pagination), so style attributes stay allowed; style elements and
# style sheets must come from the portal itself. Scripts: only our own files and inline scripts
# carrying this request's nonce (no 'unsafe-inline', no 'unsafe-eval').
CONTENT_SECURITY_POLICY = (
    ("default-src", "'self'"),
    ("script-src", "'self' 'nonce-{nonce}'"),
    # Fallback for browsers without the CSP level 3 style-src-elem / style-src-attr directives.
    ("style-src", "'self' 'unsafe-inline'"),
    ("style-src-elem", "'self' 'nonce-{nonce}'"),
    ("style-src-attr", "'unsafe-inline'"),
    ("img-src", "'self' data:"),
    ("font-src", "'self'"),
    ("connect-src", "'self'"),
    ("object-src", "'none'"),
    ("base-uri", "'self'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
)


# ---- Password policy -------------------------------------------------------------------------

def _min_length() -> int:
    try:
        return int(current_app.config.get("PASSWORD_MIN_LENGTH", DEFAULT_PASSWORD_MIN_LENGTH))
    except RuntimeError:  # no app context (a script, a unit test)
        return DEFAULT_PASSWORD_MIN_LENGTH


def password_policy_text() -> str:
    """The whole policy in one sentence, for form descriptions and error messages."""
    return str(_l(
        "A password needs at least %(length)s characters, with a lowercase letter, a capital letter, "
        "a digit and another character such as - or !.", length=_min_length(),
    ))


def password_problems(password) -> list[str]:
    """What is wrong with `password` under the portal's policy; an empty list means it is fine."""
    password = password if isinstance(password, str) else ""
    length = _min_length()
    problems = []
    if len(password) < length:
        problems.append(_l("Use at least %(length)s characters (this one has %(count)s).",
                           length=length, count=len(password)))
    if not any(c.islower() for c in password):
        problems.append(_l("Add a lowercase letter."))
    if not any(c.isupper() for c in password):
        problems.append(_l("Add a capital letter."))
    if not any(c.isdigit() for c in password):
        problems.append(_l("Add a digit."))
    if not any(not c.isalnum() for c in password):
        problems.append(_l("Add a character that is not a letter or digit, such as - or !."))
    return [str(problem) for problem in problems]


def password_complexity(password) -> None:
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: raises with every problem in one clear message."""
    problems = password_problems(password)
    if problems:
        raise PasswordComplexityValidationError(" ".join(problems))


def _describe_password_fields() -> None:
    """Tell users the policy on FAB's password fields (FAB's reset form says it checks nothing)."""
    from flask_appbuilder.security.forms import ResetPasswordForm
    from flask_appbuilder.security.views import UserDBModelView

    description = LazyString(password_policy_text)
    for field in (ResetPasswordForm.password, UserDBModelView.add_form_extra_fields.get("password")):
        if field is not None and hasattr(field, "kwargs"):
            field.kwargs["description"] = description


# ---- Failed-login throttling -----------------------------------------------------------------

def _per_request(name: str, make):
    """A value kept for this request only (on the request, not on `g`: an app context can outlive
    a request, e.g. in tests, and a nonce must never serve two responses)."""
    holder = request._get_current_object() if has_request_context() else g._get_current_object()
    attribute = f"_portal_{name}"
    if not hasattr(holder, attribute):
        setattr(holder, attribute, make())
    return getattr(holder, attribute)


def client_address() -> str:
    return request.remote_addr or "unknown"


class LoginThrottle:
    """Counts failed logins per account and per address in the rate-limit storage.

    The storage is RATELIMIT_STORAGE_URI (e.g. redis://host:6379/0, shared by every worker) or,
    when unset, this process's memory. When a shared storage cannot be reached, the counts go to
    this process's memory for as long as that lasts: logins stay possible and still limited.
    """

    NAMESPACE = "portal-login-failures"
    # After the shared storage failed, how long to count in memory before trying it again.
    RETRY_PRIMARY_SECONDS = 30

    def __init__(self, app):
        self.per_account = parse(app.config["LOGIN_FAILURES_PER_ACCOUNT"])
        self.per_address = parse(app.config["LOGIN_FAILURES_PER_ADDRESS"])
        self.storage_uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
        options = dict(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {})
        if self.storage_uri.startswith(("redis", "rediss", "valkey")):
            # A login must not hang on an unreachable Redis: fail over to memory within seconds.
            options.setdefault("socket_connect_timeout", 2)
            options.setdefault("socket_timeout", 2)
        self.storage = storage_from_string(self.storage_uri, wrap_exceptions=True, **options)
        self.strategy = self._strategy_for(self.storage)
        self.fallback = None if isinstance(self.storage, MemoryStorage) else self._strategy_for(MemoryStorage())
        self._primary_down_until = 0.0
        self._key = hashlib.sha256(b"portal-login-throttle:" + _bytes(app.secret_key)).digest()

    @staticmethod
    def _strategy_for(storage):
        # A moving window counts exactly the failures of the last N minutes.
        if isinstance(storage, MovingWindowSupport):
            return MovingWindowRateLimiter(storage)
        return FixedWindowRateLimiter(storage)

    def _call(self, method, *args):
        if self.fallback is not None and time.monotonic() < self._primary_down_until:
            return getattr(self.fallback, method)(*args)
        try:
            return getattr(self.strategy, method)(*args)
        except StorageError:
            if self.fallback is None:
                raise
            # Count in memory for a while instead of waiting on a dead storage at every call.
            self._primary_down_until = time.monotonic() + self.RETRY_PRIMARY_SECONDS
            log.exception("Login throttle storage %s unreachable; counting failed logins in this process's "
                          "memory for %ss", _safe_uri(self.storage_uri), self.RETRY_PRIMARY_SECONDS)
            return getattr(self.fallback, method)(*args)

    def _digest(self, value: str) -> str:
        # Keys never hold a username (sometimes a mistyped password) or an address in clear text.
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:40]

    def _account(self, username) -> str:
        """One key per account, whether it is named by username (any case) or e-mail address."""
        name = username.strip() if isinstance(username, str) else ""
        cache = _per_request("login_throttle_accounts", dict)
        if name not in cache:
            user = None
            if name and getattr(current_app, "appbuilder", None) is not None:
                sm = current_app.appbuilder.sm
                user = sm.find_user(username=name) or sm.find_user(email=name)
            cache[name] = f"user:{user.id}" if user is not None else f"name:{name.casefold()}"
        return cache[name]

    def _limits(self, username, address):
        return (
            (self.per_account, (self.NAMESPACE, "account", self._digest(self._account(username)))),
            (self.per_address, (self.NAMESPACE, "address", self._digest(address))),
        )

    def retry_after(self, username, address):
        """Seconds until the next attempt is allowed, or None when this login may be tried now."""
        waits = []
        for limit, identifiers in self._limits(username, address):
            if not self._call("test", limit, *identifiers):
                stats = self._call("get_window_stats", limit, *identifiers)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        return max(waits) if waits else None

    def record_failure(self, username, address) -> None:
        for limit, identifiers in self._limits(username, address):
            self._call("hit", limit, *identifiers)

    def record_success(self, username) -> None:
        # The account's own count starts again; the address count does not, or an attacker with one
        # valid account could clear it between guesses at other accounts.
        limit, identifiers = self._limits(username, "")[0]
        self._call("clear", limit, *identifiers)

    def clear(self, username, address) -> None:
        for limit, identifiers in self._limits(username, address):
            self._call("clear", limit, *identifiers)

    def reset(self) -> None:
        """Forget every count (tests; an administrator after an incident)."""
        for strategy in (self.strategy, self.fallback):
            if strategy is not None:
                try:
                    strategy.storage.reset()
                except StorageError:
                    log.exception("Could not reset the login throttle storage")


def _bytes(value) -> bytes:
    return value if isinstance(value, bytes) else str(value or "").encode("utf-8")


def _safe_uri(uri: str) -> str:
    # Never log a storage password.
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def throttle() -> LoginThrottle:
    return current_app.extensions["portal_login_throttle"]


def _throttled_response(seconds: int):
    minutes = max(1, math.ceil(seconds / 60))
    message = str(_l(
        "Too many failed login attempts for this account or from this address. For your safety, "
        "logging in is blocked for now: try again in %(minutes)s minutes. If you forgot your "
        "password, ask your coordinator to reset it.", minutes=minutes,
    ))
    appbuilder = current_app.appbuilder
    response = current_app.make_response(appbuilder.sm.auth_view.render_template(
        "portal/login_throttled.html", title=str(_l("Login blocked")), message=message,
        login_url=appbuilder.get_url_for_login,
    ))
    response.status_code = 429
    response.headers["Retry-After"] = str(seconds)
    return response


def _guard_authenticator(sm, name: str) -> None:
    """Wrap sm.auth_user_db/auth_user_ldap so that every failed attempt is counted."""
    original = getattr(sm, name, None)
    if original is None or getattr(original, "_portal_throttled", False):
        return

    @functools.wraps(original)
    def authenticate(username, password, *args, **kwargs):
        if not has_request_context() or "portal_login_throttle" not in current_app.extensions:
            return original(username, password, *args, **kwargs)
        limiter, address = throttle(), client_address()
        if limiter.retry_after(username, address) is not None:
            # Normally refused with 429 before the view runs; this guards any other caller.
            log.warning("Login of %r from %s refused without a password check: throttled", username, address)
            return None
        user = original(username, password, *args, **kwargs)
        if user:
            limiter.record_success(username)
        else:
            limiter.record_failure(username, address)
        return user

    authenticate._portal_throttled = True
    setattr(sm, name, authenticate)


# ---- Content-Security-Policy nonce -----------------------------------------------------------

def csp_nonce() -> str:
    """This request's nonce; FAB's `baselib.get_nonce()` calls this (as the `csp_nonce` global)."""
    return _per_request("csp_nonce", lambda: secrets.token_urlsafe(18))


def content_security_policy(nonce: str) -> str:
    return "; ".join(f"{name} {sources.format(nonce=nonce)}" for name, sources in CONTENT_SECURITY_POLICY)


# ---- Set-up ----------------------------------------------------------------------------------

def _stamp_login(sender, user, **extra):
    # A fresh login starts the idle clock and the absolute lifetime, and carries the user's generation.
    now = int(time.time())
    session[LAST_ACTIVITY_KEY] = now
    session[LOGIN_TIME_KEY] = now
    session[GENERATION_KEY] = user.session_generation


def keep_this_session(user) -> None:
    """After the user's own password change: this session stays, every other one has ended."""
    session[GENERATION_KEY] = user.session_generation


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def session_end_reason(idle_minutes: int, absolute_hours: int):
    """Why this request's session must end now, or None while it is valid (its idle clock then moves on)."""
    if not current_user.is_authenticated:
        # The cookie names a user who was deleted or deactivated since (Flask-Login then loads nobody).
        return SESSION_ENDED_MESSAGE if USER_ID_KEY in session else None
    if session.get(GENERATION_KEY) != current_user.session_generation:
        return SESSION_ENDED_MESSAGE
    now = time.time()
    started = session.get(LOGIN_TIME_KEY)
    if not _is_number(started) or now - started > absolute_hours * 3600:
        # Also a session from before the lifetime existed: a replayed cookie cannot live for ever.
        return _l("You were logged out because you logged in more than %(hours)s hours ago. Please log in again.",
                  hours=absolute_hours)
    last = session.get(LAST_ACTIVITY_KEY)
    # (A stamp slightly in the future, from a worker whose clock runs ahead, counts as active.)
    if not _is_number(last) or now - last > idle_minutes * 60:
        return _l("You were logged out after %(minutes)s minutes without activity. Please log in again.",
                  minutes=idle_minutes)
    if now - last >= ACTIVITY_RESOLUTION_SECONDS:
        session[LAST_ACTIVITY_KEY] = int(now)
    return None


def _wants_json() -> bool:
    # The API, and the search boxes' lookups (select2 asks for JSON), cannot follow a login page.
    if request.path.startswith("/api/"):
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def end_session(message):
    """Log this session out: JSON 401 for the API and lookups, else the login page with `message`."""
    logout_user()
    for key in (LAST_ACTIVITY_KEY, LOGIN_TIME_KEY, GENERATION_KEY):
        session.pop(key, None)
    g.user = current_user
    message = str(message)
    if _wants_json():
        return jsonify(message=message), 401
    flash(message, "warning")
    next_url = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(current_app.appbuilder.get_url_for_login_with(next_url))


def init_hardening(app) -> None:
    """Apply every hardening measure to the app; called once by create_app."""
    config = app.config
    production = config.get("PORTAL_ENV") == "production"

    # Cookies. In production they only travel over HTTPS, whatever else the config says.
    config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    if production:
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True

    # Idle timeout. The idle check below logs out with a message; Flask itself refuses a session
    # cookie signed more than twice the idle time ago (a backstop, also without that check).
    idle_minutes = int(config.get("SESSION_IDLE_MINUTES", 30))
    if idle_minutes <= 0:
        raise RuntimeError("SESSION_IDLE_MINUTES must be a positive number of minutes.")
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=2 * idle_minutes)
    # However active, a session ends this long after its login (a stolen cookie kept busy dies too).
    absolute_hours = int(config.get("SESSION_ABSOLUTE_HOURS", 12))
    if absolute_hours <= 0:
        raise RuntimeError("SESSION_ABSOLUTE_HOURS must be a positive number of hours.")

    # Password policy in FAB's user form, reset-password forms and user API.
    if not config.get("FAB_PASSWORD_COMPLEXITY_VALIDATOR"):
        config["FAB_PASSWORD_COMPLEXITY_VALIDATOR"] = password_complexity
    _describe_password_fields()

    # Client addresses: behind N reverse proxies, the address is the one the proxies report.
    proxies = int(config.get("TRUSTED_PROXY_COUNT") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    # Failed-login throttling, for every login endpoint there is.
    limiter = LoginThrottle(app)
    app.extensions["portal_login_throttle"] = limiter
    if production and limiter.storage_uri.startswith("memory"):
        log.warning("Login failures are counted per process: set RATELIMIT_STORAGE_URI (e.g. redis://...) "
                    "when running more than one worker.")
    sm = app.appbuilder.sm
    form_login = f"{sm.auth_view.endpoint}.login"
    if form_login not in app.view_functions:
        raise RuntimeError(f"Cannot throttle logins: no endpoint {form_login}.")
    for name in ("auth_user_db", "auth_user_ldap"):
        _guard_authenticator(sm, name)

    @app.before_request
    def refuse_throttled_login():
        if request.method != "POST" or request.endpoint != form_login:
            return None
        address = client_address()
        username = request.form.get("username")
        seconds = throttle().retry_after(username, address)
        if seconds is None:
            return None
        log.warning("Login of %r from %s refused: too many failed attempts", username, address)
        return _throttled_response(seconds)

    user_logged_in.connect(_stamp_login)

    @app.before_request
    def end_expired_session():
        endpoint = request.endpoint or ""
        if endpoint == "static" or endpoint.endswith(".static"):
            return None
        reason = session_end_reason(idle_minutes, absolute_hours)
        return None if reason is None else end_session(reason)

    # Security headers, and the nonce FAB's templates ask for.
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
