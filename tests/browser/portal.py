"""Driving the portal in Chromium as staff do, and checking on every page what staff may expect.

`StaffBrowser` is one person's browser window (its own cookies and language). Every page it
arrives at is checked (`check_page`): a title naming the page, one main heading, `<html lang>`
equal to the chosen language, no "None", no raw keys such as `ended_early`, no Python lists, no
untranslated framework words, and the language switch going to English and back to this very
page. `Watch` records what the browser saw go wrong on each page (console errors and warnings,
script errors, failed requests, any request to another host); the test fails on it at the end.
"""
import re
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from conftest import nl

from models import enums
from models.audit import AuditAction

from .contrast import contrast_ratio

PORTAL = "Laatste Kans"
PASSWORD = "Demo-2026!"
LANGUAGE_LINK = {"nl": "Nederlands", "en": "English"}
# Stored keys that must never reach the screen (the words for them are translated labels).
RAW_KEYS = sorted({
    member.value
    for enum_class in [*vars(enums).values(), AuditAction]
    if isinstance(enum_class, type) and issubclass(enum_class, enums.LabelledEnum) and enum_class is not enums.LabelledEnum
    for member in enum_class if "_" in member.value
} | {"status_change", "trajectory_organisation", "ab_user"})
# Flask-AppBuilder's own English, which must not show on a Dutch page.
FAB_ENGLISH = ("Record Count", "No records found", "Select Value", "Add a new record", "Sign In",
               "Show record", "Edit record", "Delete record", "Page size", "Order by", "Actions")
PYTHON_REPR = re.compile(r"\bNone\b|\[['\"<]|['\">]\]|<[A-Z][A-Za-z]+ [^<>]*>")
TITLE = re.compile(rf"(?P<page>.+) – {re.escape(PORTAL)}")
# Kinds of page (path with ids generalised) whose language switch was tried in this run: each kind
# once, so that a page every test passes (login, dashboard) is not switched in every test.
LANGUAGE_SWITCHED = set()


def page_kind(url) -> str:
    return re.sub(r"/\d+(?=/|$)", "/<id>", urlsplit(url).path)


class Watch:
    """What went wrong in the browser, per page; `expecting(404, path)` allows one foreseen error."""

    def __init__(self, origin):
        self.origin = origin
        self.problems = []
        self._expected = []

    def attach(self, context):
        # Listening, not routing: a routed context loses its HTTP cache and every page reloads every asset.
        context.on("request", self._request)
        context.on("page", self._attach_page)

    def _attach_page(self, page):
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: script error: {error}"))
        page.on("requestfailed", lambda request: self._failed(page, request))
        page.on("response", lambda response: self._response(page, response))

    def _local(self, url) -> bool:
        return url.startswith(self.origin + "/") or url == self.origin or url.startswith(("data:", "blob:", "about:"))

    def _request(self, request):
        if not self._local(request.url):
            # (Chromium resolves no other host name at all: see CHROMIUM_ARGS in conftest.py.)
            self.problems.append(f"request to another host: {request.url} (from {request.frame.url if request.frame else '?'})")

    def _expects(self, status, url) -> bool:
        path = urlsplit(url).path
        return any(status == s and path == p for s, p in self._expected)

    def _console(self, page, message):
        text = message.text
        if message.type in ("error", "warning") or (message.type == "verbose" and text.startswith("[DOM]")):
            status = re.search(r"status of (\d{3})", text)
            if status and self._expects(int(status.group(1)), message.location.get("url", "")):
                return
            self.problems.append(f"{page.url}: console {message.type}: {text} ({message.location.get('url', '')})")

    def _failed(self, page, request):
        if not self._local(request.url):
            return  # already recorded as a request to another host
        if request.failure and "ERR_ABORTED" in request.failure:
            return  # cancelled by the browser: the page moved on (a click, a download) before it finished
        self.problems.append(f"{page.url}: request failed: {request.url} ({request.failure})")

    def _response(self, page, response):
        if response.status >= 400 and not self._expects(response.status, response.url):
            self.problems.append(f"{page.url}: HTTP {response.status} for {response.url}")

    @contextmanager
    def expecting(self, status, path):
        self._expected.append((status, path))
        try:
            yield
        finally:
            self._expected.remove((status, path))

    def assert_clean(self):
        assert not self.problems, "The browser saw problems:\n" + "\n".join(self.problems)


class StaffBrowser:
    """One member of staff's browser window."""

    def __init__(self, browser, origin, watch, folder: Path, language="nl", viewport=(1280, 800)):
        self.origin = origin
        self.watch = watch
        self.folder = folder
        self.language = language
        self.check_languages = True
        self.context = browser.new_context(
            base_url=origin, locale="nl-NL" if language == "nl" else "en-GB", accept_downloads=True,
            viewport={"width": viewport[0], "height": viewport[1]}, timezone_id="Europe/Amsterdam",
        )
        self.context.set_default_timeout(15_000)
        watch.attach(self.context)
        self.page = self.context.new_page()
        self.visited = []
        self.username = None

    def close(self):
        self.context.close()

    # ---- moving around ---------------------------------------------------------------------------

    def goto(self, path, check=True):
        response = self.page.goto(path, wait_until="load")
        if check:
            self.arrived()
        return response

    def click(self, target, check=True):
        """Click a link or button that opens another page, and check that page."""
        locator = self._locator(target)
        with self.page.expect_navigation(wait_until="load"):
            locator.click()
        if check:
            self.arrived()

    def press(self, key, check=True):
        """Press a key that opens another page (Enter on a link or in a form)."""
        with self.page.expect_navigation(wait_until="load"):
            self.page.keyboard.press(key)
        if check:
            self.arrived()

    def menu(self, section, entry):
        """Open a page through the main menu, as staff do."""
        nav = self.page.get_by_role("navigation", name=re.compile(f"{re.escape(nl('Main menu'))}|Main menu"))
        nav.get_by_role("button", name=section).click()
        self.click(nav.get_by_role("link", name=entry, exact=True))

    def _locator(self, target):
        if isinstance(target, str):
            return self.page.locator(target)
        return target

    def login(self, username, password=PASSWORD):
        self.username = username
        self.goto("/login/")
        self.page.get_by_label(re.compile(f"{re.escape(nl('User Name'))}|User ?name", re.I)).fill(username)
        self.page.get_by_label(re.compile(f"{re.escape(nl('Password'))}|Password", re.I)).fill(password)
        self.click(self.page.get_by_role("button", name=re.compile(f"{re.escape(nl('Log in'))}|Log in")))
        assert urlsplit(self.page.url).path == "/", f"login of {username} ended on {self.page.url}"
        return self

    # ---- what every page owes its reader ---------------------------------------------------------

    def arrived(self):
        """Check the page just opened; then switch to the other language and back, checking again."""
        self.visited.append(self.page.url)
        self.check_page()
        kind = page_kind(self.page.url)
        if self.check_languages and kind not in LANGUAGE_SWITCHED:
            self._language_round_trip()
            LANGUAGE_SWITCHED.add(kind)

    def check_page(self):
        page, url = self.page, self.page.url
        assert page.evaluate("document.documentElement.lang") == self.language, f"{url}: <html lang> is not {self.language}"
        title = TITLE.fullmatch(page.title())
        assert title, f"{url}: the title {page.title()!r} does not name the page"
        headings = [" ".join(text.split()) for text in page.locator("h1").all_inner_texts()]
        assert len(headings) == 1 and headings[0].startswith(title["page"].strip()), (
            f"{url}: title {page.title()!r}, main headings {headings}")
        assert not re.match(r"(List|Show|Add|Edit) [A-Z]", title["page"]), f"{url}: framework title {page.title()!r}"
        text = self.visible_text()
        repr_found = PYTHON_REPR.search(text)
        assert repr_found is None, f"{url}: shows {repr_found.group(0)!r}: …{text[max(0, repr_found.start() - 60):repr_found.end() + 60]}…"
        assert "CSRF" not in text, f"{url}: shows the form's CSRF token field"
        keys = [key for key in RAW_KEYS if re.search(rf"\b{key}\b", text)]
        assert not keys, f"{url}: shows stored keys {keys}"
        if self.language == "nl":
            english = [phrase for phrase in FAB_ENGLISH if phrase in text]
            assert not english, f"{url}: untranslated {english}"

    def visible_text(self) -> str:
        return self.page.evaluate("document.body.innerText")

    def _language_round_trip(self):
        page = self.page
        before_url, before_title, before = page.url, page.title(), self.language
        for language in ("en" if before == "nl" else "nl", before):
            self.click(page.get_by_role("link", name=LANGUAGE_LINK[language], exact=True), check=False)
            self.language = language
            assert _same_page(page.url, before_url), f"switching to {language} on {before_url} went to {page.url}"
            self.check_page()
        assert page.title() == before_title, f"{before_url}: back in {before}, the title is {page.title()!r}"

    # ---- reading the page ------------------------------------------------------------------------

    def messages(self) -> list:
        """The flash messages and form errors on the page, as read."""
        return [" ".join(t.replace("×", "").split()) for t in self.page.locator(".alert").all_inner_texts()]

    def heading(self) -> str:
        return " ".join(self.page.locator("h1").inner_text().split())

    def field_shows(self, field_id) -> str:
        """What a form field shows: its text, or the choice(s) select2 shows for a select."""
        kind = self.page.eval_on_selector(f"#{field_id}", "el => el.tagName.toLowerCase()")
        if kind != "select":
            return self.page.locator(f"#{field_id}").input_value()
        container = self.page.locator(f"#{field_id} + .select2-container")
        choices = container.locator(".select2-selection__choice")
        if choices.count():
            return ", ".join(" ".join(c.replace("×", "").split()) for c in choices.all_inner_texts())
        return " ".join(container.locator(".select2-selection__rendered").inner_text().replace("×", "").split())

    def badge_contrasts(self) -> list:
        """(text, contrast ratio) of every visible status badge, from the browser's computed colours."""
        colours = self.page.eval_on_selector_all(
            ".label", "els => els.filter(e => e.checkVisibility()).map(e => "
                      "[e.innerText.trim(), getComputedStyle(e).color, getComputedStyle(e).backgroundColor])")
        return [(text, contrast_ratio(colour, background)) for text, colour, background in colours]

    # ---- filling in forms ------------------------------------------------------------------------

    def fill(self, field_id, value):
        self.page.locator(f"#{field_id}").fill(value)

    def choose(self, field_id, *texts, exact=True):
        """Choose in a select2 box (single, multiple or search-as-you-type) by typing and clicking the
        option reading `text` (with `exact=False`: the first option containing it)."""
        container = self.page.locator(f"#{field_id} + .select2-container")
        for text in texts:
            container.locator(".select2-selection").click()
            search = self.page.locator(".select2-container--open .select2-search__field").first
            search.fill(text)
            wanted = re.compile(rf"^\s*{re.escape(text)}\s*$") if exact else text
            option = self.page.locator(".select2-container--open .select2-results__option").filter(has_text=wanted).first
            option.wait_for()
            option.click()
        shown = self.field_shows(field_id)
        assert all(text in shown for text in texts), f"{field_id} shows {shown!r}, not {texts}"

    def save(self, check=True):
        self.click(self.page.locator("#model_form button[type=submit]"), check=check)

    # ---- evidence --------------------------------------------------------------------------------

    def shot(self, name, full_page=True, to=None):
        """A screenshot into the test's artifacts folder, numbered in the order taken (or to the file `to`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(list(self.folder.glob("*.png"))) + 1
        path = Path(to) if to else self.folder / f"{number:02d}-{self.username or 'anonymous'}-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


def _same_page(a, b) -> bool:
    first, second = urlsplit(a), urlsplit(b)
    return (first.path, first.query) == (second.path, second.query)
