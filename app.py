"""The portal's application factory; `flask --app app ...` finds `app` here."""
import gc

import sqlalchemy as sa
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from flask import Flask, current_app, request, session
from flask_appbuilder import AppBuilder
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from config import BASE_DIR, Config, check_production_safety, policy_defaults
from models import db
from views import register_views
from views.dashboard import DashboardView
from views.hardening import init_hardening
from views.layout import init_layout
from views.base import reject_malformed_list_arguments
from views.security import PortalSecurityManager


@sa.event.listens_for(sa.engine.Engine, "connect")
def _enforce_sqlite_foreign_keys(dbapi_connection, connection_record):
    # SQLite ignores foreign keys unless asked; without this a tenant could lose its trajectories.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def database_unavailable(error):
    """The database is unreachable: say so plainly (503), roll back, and let the next request retry."""
    try:
        db.session.remove()  # rolls back; the pool replaces the broken connection on next use
    except OperationalError:
        pass
    current_app.logger.warning("Database unavailable: %s", getattr(error, "orig", error))
    # Rendered without context processors: Flask-Login's would load the user from the database
    # that is down, and the portal's own layout needs it for the menu.
    page = current_app.jinja_env.get_template("portal/database_unavailable.html")
    return page.render(request=request, session=session), 503, {"Retry-After": "30"}


def create_app(config=None) -> Flask:
    """Build a portal app; `config` is a mapping of settings that override `config.Config`."""
    app = Flask(__name__, template_folder=str(BASE_DIR / "templates"))
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    check_production_safety(app.config)
    if "POLICY_DEFAULTS" not in app.config:
        app.config["POLICY_DEFAULTS"] = policy_defaults()
    # A connection the database dropped (restart, failover) is replaced instead of failing a request.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}
    (BASE_DIR / "instance").mkdir(exist_ok=True)

    db.init_app(app)
    # CSRFProtect must come before AppBuilder so that FAB exempts its API blueprints.
    CSRFProtect(app)
    Migrate(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True, compare_type=True)

    with app.app_context():
        appbuilder = AppBuilder(
            security_manager_class=PortalSecurityManager, indexview=DashboardView,
            base_template="portal/base.html",
        )
        appbuilder.init_app(app, db.session)
        app.extensions["portal_views"] = register_views(appbuilder)
        init_layout(app, appbuilder)
    app.before_request(reject_malformed_list_arguments)
    init_hardening(app)
    for error in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(error, database_unavailable)

    from views.formatting import show_date

    app.jinja_env.globals["format_date"] = show_date

    from commands import register_commands

    register_commands(app)
    # The ~170,000 objects built at start-up (views, forms, mappers, catalogues) live as long as the
    # process. Frozen, they leave the collector's full passes, which otherwise walked them every few
    # requests and paused one request in ten (figures in benchmarks/README.md).
    gc.collect()
    gc.freeze()
    return app


def __getattr__(name):
    # `flask --app app` looks up `app`; building it lazily keeps `import app` free of side effects.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
