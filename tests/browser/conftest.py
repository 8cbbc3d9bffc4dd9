"""Browser fixtures: the suite's own app served on a free local port, one headless Chromium per run,
a fresh browser context (cookies, language) per member of staff in a test.

The server runs in a thread of the test process on the app and database that `tests/conftest.py`
builds, so these tests run on SQLite and, with PORTAL_TEST_DATABASE_URL, on PostgreSQL like every
other test. Chromium is Debian's (`/usr/bin/chromium`), driven by the `playwright` package; without
either the tests skip, saying why, unless PORTAL_REQUIRE_BROWSER=1 (set by `.ci/run`) makes that a
failure.
"""
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from .portal import StaffBrowser, Watch

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
# Without the networking flags Chromium reaches out to Google's hosts by itself (updates, sync,
# field trials). The portal must work on a closed network: Chromium resolves no host name but the
# portal's address, so a page asking another host fails at once (and the Watch records the request).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
REQUIRED = os.environ.get("PORTAL_REQUIRE_BROWSER") == "1"


def _unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


def _cannot_run(reason: str):
    if REQUIRED:
        pytest.fail(f"Browser tests are required here (PORTAL_REQUIRE_BROWSER=1), but {reason}.", pytrace=False)
    pytest.skip(f"Browser tests skipped: {reason}.")


@pytest.fixture(scope="session")
def browser():
    reason = _unavailable()
    if reason:
        _cannot_run(reason)
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as error:
            _cannot_run(f"Chromium at {CHROMIUM} did not start: {str(error).splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def live_server(app, browser):
    """The suite's app on 127.0.0.1:<free port>, answering the browser from a thread of this process."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="portal-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def watch(live_server, app):
    """Records, per page, what went wrong in the browser; checked after the test (see the hook below)."""
    # Failed logins of other tests (same address) must not block the browser's logins.
    app.extensions["portal_login_throttle"].reset()
    return Watch(live_server)


@pytest.fixture
def staff(browser, live_server, watch, request):
    """`staff("portaal")`: a browser window of its own, logged in as that account; `staff()` logged out."""
    windows = []
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)  # this run's screenshots only

    def open_window(username=None, language="nl", **options):
        window = StaffBrowser(browser, live_server, watch, folder, language=language, **options)
        windows.append(window)
        if username:
            window.login(username)
        return window

    yield open_window
    for window in windows:
        window.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that passed still fails if a page logged an error or asked another host for anything."""
    result = yield
    watch = item.funcargs.get("watch")
    if watch is not None:
        watch.assert_clean()
    return result


def docs_screenshot_folder() -> Path:
    """Where the curated screenshots land; copy them into docs/ to update the README's pictures."""
    return ARTIFACTS / "docs"


@pytest.fixture(scope="module")
def demo(app):
    """The demo data (`flask seed-demo`: 60 tenants in every stage) for a module of tests that only read.

    Seeded once per module; the tests in such a module change nothing but the access log.
    """
    from conftest import _empty_case_tables
    from demo_data import seed_demo
    from models import db

    with app.app_context():
        _empty_case_tables()
        seed_demo()
        db.session.remove()
    yield
    with app.app_context():
        db.session.remove()
