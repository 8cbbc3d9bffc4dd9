"""What every page's frame needs: its title, its language, its place in the menu, its error pages.

`templates/portal/base.html` draws the frame (Flask-AppBuilder's own `appbuilder/base.html`
extends it); the helpers it calls live here, registered as template globals by `init_layout`.
"""
import logging
from urllib.parse import urlsplit

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import get_locale, refresh
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Flask-AppBuilder's template filters that answer for the logged-in user.
PERMISSION_FILTERS = ("is_item_visible", "is_menu_visible", "get_actions_on_list", "get_actions_on_show")

# Error pages staff can meet; every other status keeps Werkzeug's plain answer.
ERROR_PAGES = {
    400: (_l("This request cannot be handled"),
          _l("Something in the address or the form does not fit. Go back, check what you entered and try again.")),
    403: (_l("You do not have permission for this"),
          _l("Your role does not allow this page or action. Ask your coordinator if you need it for your work.")),
    404: (_l("Not found"),
          _l("This page or record does not exist, or it is not one of your organisation's cases.")),
    405: (_l("This request cannot be handled"),
          _l("This page cannot be opened this way. Use the buttons and links of the portal.")),
}
# Flask-WTF's reason ("The CSRF token is missing.") is English and technical.
CSRF_DETAIL = _l("The form's security code is missing or no longer valid, for example because the page was opened "
                 "before you last logged in. Nothing was saved. Open the page again and send the form once more.")


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale else current_app.config.get("BABEL_DEFAULT_LOCALE", "nl")


def page_title(title=None) -> str:
    """The browser tab's text: the page first (tabs are narrow), then the portal."""
    name = current_app.config.get("APP_NAME", "Laatste Kans")
    title = str(title or "").strip()
    return f"{title} – {name}" if title and title != name else name


def safe_next(target) -> str | None:
    """`target` if it is a path on this portal (never another host: no open redirect), else None."""
    if not target or not isinstance(target, str):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def language_links() -> list:
    """(code, name, url) of every other language; the link comes back to this very page (after a
    refused form: to the form itself, opened afresh)."""
    here = request.full_path.rstrip("?")
    languages = current_app.config.get("LANGUAGES", {})
    return [
        (code, spec.get("name", code), url_for("LanguageView.switch", code=code, next=here))
        for code, spec in languages.items() if code != current_language()
    ]


def active_view_name() -> str:
    """The menu entry (view class name) this page belongs to, to mark its place in the menu.

    A screen without an entry of its own names the one it belongs under (`menu_entry`).
    """
    name = (request.endpoint or "").split(".", 1)[0]
    for view in current_app.appbuilder.baseviews:
        if view.endpoint == name:
            return getattr(view, "menu_entry", None) or name
    return name


class LanguageView(BaseView):
    """Switch the interface language and return to the page the switch was made on."""

    route_base = "/language"
    default_view = "switch"

    @expose("/<code>")
    def switch(self, code):
        if code not in current_app.config.get("LANGUAGES", {}):
            return redirect(self.appbuilder.get_url_for_index)
        session["locale"] = code
        refresh()
        return redirect(safe_next(request.args.get("next")) or self.appbuilder.get_url_for_index)


def error_page(error: HTTPException):
    """A 400/403/404/405 inside the portal's frame, in the user's language; the API keeps its JSON."""
    if request.path.startswith("/api/") or error.code not in ERROR_PAGES:
        return error
    heading, explanation = ERROR_PAGES[error.code]
    # abort(400, description=...) carries a message for the user; Werkzeug's stock texts are not shown.
    detail = error.description if error.description != type(error).description else None
    if isinstance(error, CSRFError):
        detail = CSRF_DETAIL
    if not hasattr(g, "user"):
        # Refused before Flask-AppBuilder's own hook ran (CSRF is checked first); the menu needs the user.
        g.user = current_user
    try:
        body = render_template(
            "portal/error.html", title=heading, explanation=explanation, detail=detail, code=error.code,
            base_template=current_app.appbuilder.base_template, appbuilder=current_app.appbuilder,
        )
    except Exception:  # the frame itself failed (e.g. while logging in): the plain answer still helps
        log.exception("Error page %s could not be drawn", error.code)
        return error
    return body, error.code


def per_request(check):
    """`check` as a filter that Jinja runs at every rendering, never while compiling."""
    # Jinja computes a plain filter with constant arguments (`'can_add' | is_item_visible('EvaluationView')`)
    # once, when it compiles the template: for whoever's page came first, and then for everyone.

    @pass_context
    def checked(context, *args, **kwargs):
        return check(*args, **kwargs)

    return checked


def favicon():
    return current_app.send_static_file("favicon.svg")


def init_layout(app, appbuilder) -> None:
    """Template helpers, permission filters checked per request, the language switch, the error pages, the favicon."""
    appbuilder.add_view_no_menu(LanguageView())
    from .formatting import show_status

    app.jinja_env.globals.update(
        current_language=current_language, page_title=page_title, language_links=language_links,
        active_view_name=active_view_name, show_status=show_status,
    )
    for name in PERMISSION_FILTERS:
        app.jinja_env.filters[name] = per_request(app.jinja_env.filters[name])
    for code in ERROR_PAGES:
        app.register_error_handler(code, error_page)
    # Browsers ask for /favicon.ico whatever the page says; answer it instead of logging a 404.
    app.add_url_rule("/favicon.ico", "favicon", favicon)
