"""Load benchmark: concurrent staff of several organisations against the portal under gunicorn on PostgreSQL.

    .venv/bin/python benchmarks/load.py                          # 12 users for 60 s
    .venv/bin/python benchmarks/load.py --seconds 10 --users 6   # a quick run
    .venv/bin/python benchmarks/load.py --outage 5               # then the database away for 5 s

It creates a scratch PostgreSQL database (portal_load_<random>), runs `flask db upgrade` and
`flask seed-demo` against it, starts `gunicorn -w 4` on a free port of 127.0.0.1 with a random
SECRET_KEY, and lets N simulated members of staff (two per demo account except admin at the
default 12; one each with --users 6) log in and work for a fixed time: lists of tenants,
trajectories, debts and evaluations with searches, filters, ordering and paging; the records
they find there; Excel exports; and edits. Coordinator, Portaal (and Gemeente for debts) edit
the SAME few tenants and debts at once, the Mitros and Buurtteam users each share a few of
their own: GET the edit form, wait a little, POST one changed field holding a unique marker.
Non-coordinator users also ask for a few records outside their scope (these must answer 404).

Afterwards it checks, from the database and the recorded responses:
  - no 5xx response and no broken connection; no unexpected status for a request's kind;
  - no lost update: an accepted edit (302) read version v; two accepted edits never read the
    same version of a record; the database holds its marker, or that of an accepted edit that
    read a later version; every accepted edit has exactly one update entry in the audit trail;
  - every refused edit (200) showed the conflict message ("Someone else saved this record...",
    in Dutch "Iemand anders heeft deze gegevens opgeslagen...") and its marker is nowhere:
    not in the record, not in the audit trail;
  - no response to a user outside the coordinating organisation held the client number
    (LK-DEMO-xxxx) of a tenant outside that user's scope (HTML pages and the cells of the
    .xlsx exports; scope computed here in SQL from the written rule: the tenant's housing
    corporation, or the referring or an involved organisation of one of its trajectories), nor
    a BSN (only Coordinator and Admin may see those).
With --outage SECONDS a second phase follows, with the same users at work: after 3 s the
database stops accepting connections (ALTER DATABASE ... ALLOW_CONNECTIONS false) and the
portal's server connections are terminated, in the middle of whatever requests are running;
SECONDS later it is back. Checked: no 500 at any time (503 with a readable page while the
database is away), every request sent from 1 s after it is back answers as usual and every
user's next page is 200, and the edit checks above (an edit answered 503, or 200 with the
"database error" message, must have left no trace: no marker, no audit entry, no version bump).

It prints requests per second and p50/p95 latency, overall and per kind of request, the edit
counts, one PASS/FAIL line per check, and exits 1 on any FAIL (2 when the set-up failed).
gunicorn is stopped and the scratch database dropped at the end, also on failure or Ctrl-C.

Needs only the portal's own dependencies (SQLAlchemy and psycopg for the checks; HTTP through
the standard library). Talks HTTP only to 127.0.0.1.
"""
import argparse
import collections
import html
import http.client
import http.cookies
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "gunicorn").exists() else Path(sys.executable).parent
HOST = "127.0.0.1"
PASSWORD = "Demo-2026!"
# Simulated users cycle through these demo accounts (admin is left out).
ACCOUNTS = ["coordinator", "portaal", "mitros", "gemeente", "buurtteam", "viewer"]
# The conflict message of views/base.py, and its Dutch translation (translations/nl/LC_MESSAGES/messages.po).
CONFLICT_TEXTS = (
    "Someone else saved this record after you opened it",
    "Iemand anders heeft deze gegevens opgeslagen nadat u ze opende",
)
# The message of a save the database refused (views/base.py, PortalModelView._save), English and Dutch.
DATABASE_ERROR_TEXTS = (
    "could not be saved because of a database error",
    "konden door een databasefout niet worden opgeslagen",
)
CLIENT_NUMBER = re.compile(rb"LK-DEMO-\d{4}")
NINE_DIGITS = re.compile(rb"(?<!\d)\d{9}(?!\d)")
SHOW_LINK = re.compile(r'href="/(tenantview|trajectoryview|debtview|evaluationview)/show/(\d+)')
ALERT = re.compile(r'<div class="alert alert-[a-z]+">(.*?)</div>', re.S)

# The list screens the users browse: plain list, searches/filters, ordering and paging.
LISTS = {
    "tenantview": {
        "search": ["_flt_2_last_name=de", "_flt_2_last_name=an", "_flt_0_city=Utrecht", "_flt_2_first_name=a"],
        "page": ["page_TenantView=1", "_oc_TenantView=city&_od_TenantView=asc&page_TenantView=1",
                 "psize_TenantView=50&_oc_TenantView=client_number&_od_TenantView=desc"],
    },
    "trajectoryview": {
        "search": ["_flt_0_status=running", "_flt_0_status=completed", "_flt_0_status=intake"],
        "page": ["page_TrajectoryView=1", "_oc_TrajectoryView=start_date&_od_TrajectoryView=asc&page_TrajectoryView=2"],
    },
    "debtview": {
        "search": ["_flt_2_creditor=a", "_flt_0_status=payment_arrangement", "_flt_0_status=in_debt_assistance"],
        "page": ["page_DebtView=1", "page_DebtView=2&psize_DebtView=50",
                 "_oc_DebtView=creditor&_od_DebtView=asc&page_DebtView=3"],
    },
    "evaluationview": {
        "search": ["_flt_0_assessment=concerns", "_flt_0_assessment=serious_problems"],
        "page": ["page_EvaluationView=1", "page_EvaluationView=4&_oc_EvaluationView=planned_date&_od_EvaluationView=asc"],
    },
}
# Statuses each kind of request may answer; anything else is "unexpected".
EXPECTED = {
    "login_form": {200}, "login": {302}, "language": {302},
    "list": {200}, "search": {200}, "page": {200}, "show": {200}, "export": {200},
    "edit_form": {200}, "edit_save": {200, 302}, "probe": {404},
}
# The field an edit changes, per edited table and its edit screen.
EDITED_FIELD = {"tenant": ("tenantview", "problem_areas"), "debt": ("debtview", "notes")}


# ---- HTTP ------------------------------------------------------------------------------------

@dataclass
class Response:
    status: int | None  # None: the connection broke
    body: bytes
    headers: dict
    error: str | None = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Sample:
    user: str
    kind: str
    method: str
    path: str
    status: int | None
    seconds: float
    error: str | None = None
    phase: str = "load"
    started: float = 0.0  # time.monotonic() when the request was sent


class Client:
    """One simulated member of staff: a cookie jar and a fresh connection per request (gunicorn's
    sync workers close it anyway)."""

    def __init__(self, port: int, user, inspect):
        self.port, self.label, self.username = port, user.label, user.username
        self.user = user
        self.cookies: dict[str, str] = {}
        self.inspect = inspect  # called with (client, kind, path, response) for the scope checks

    def request(self, method: str, path: str, kind: str, data=None) -> Response:
        headers = {"Host": f"{HOST}:{self.port}", "User-Agent": "portal-load-benchmark"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{HOST}:{self.port}{path}"
        connection = http.client.HTTPConnection(HOST, self.port, timeout=120)
        sent = time.monotonic()
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            payload = raw.read()
            response = Response(raw.status, payload, {k.lower(): v for k, v in raw.getheaders()})
            set_cookies = raw.headers.get_all("Set-Cookie") or []
        except (OSError, http.client.HTTPException) as error:
            response = Response(None, b"", {}, error=f"{type(error).__name__}: {error}")
            set_cookies = []
        finally:
            connection.close()
        elapsed = time.perf_counter() - started
        for header in set_cookies:
            cookie = http.cookies.SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                expired = morsel["max-age"] == "0" or "1970" in morsel["expires"]
                if expired or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        self.user.samples.append(Sample(self.label, kind, method, path, response.status, elapsed, response.error,
                                        self.user.phase, sent))
        if response.status is not None:
            self.inspect(self, kind, path, response)
        return response

    def get(self, path, kind):
        return self.request("GET", path, kind)

    def post(self, path, kind, data):
        return self.request("POST", path, kind, data)


class FormParser(HTMLParser):
    """The forms of a page with the values a browser would post (checked boxes, selected options)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[list] = []
        self._form = None
        self._select = None  # (name, multiple, options, selected)
        self._option = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = []
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form.append((a["name"], a.get("value") or ("on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], "multiple" in a, [], [])
        elif tag == "option" and self._select is not None:
            value = a.get("value")
            self._option = [value, "selected" in a, ""]
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data
        elif self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            self._close_option()
        elif tag == "select" and self._select is not None:
            if self._option is not None:
                self._close_option()
            name, multiple, options, selected = self._select
            if multiple:
                self._form.extend((name, value) for value in selected)
            elif selected:
                self._form.append((name, selected[-1]))
            elif options:
                self._form.append((name, options[0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self._form.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "form":
            self._form = None

    def _close_option(self):
        value, chosen, text = self._option
        value = text.strip() if value is None else value
        self._select[2].append(value)
        if chosen:
            self._select[3].append(value)
        self._option = None


def form_with(html_text: str, field_name: str):
    parser = FormParser()
    parser.feed(html_text)
    for form in parser.forms:
        if any(name == field_name for name, _ in form):
            return form
    return None


def alerts(text: str) -> list:
    return [" ".join(html.unescape(re.sub(r"<[^>]+>|&times;", " ", a)).split()) for a in ALERT.findall(text)]


# ---- the simulated users -------------------------------------------------------------------

@dataclass
class Edit:
    user: str
    table: str
    record_id: int
    marker: str
    version: int | None = None
    outcome: str = "pending"  # accepted, refused, failed (database error shown), unavailable (503), other, error
    detail: str = ""
    phase: str = "load"


@dataclass
class User:
    label: str
    username: str
    index: int
    targets: list  # [(table, id)] this user edits
    probes: list  # [path] of records outside its scope
    sees_all: bool
    allowed: set  # client numbers (bytes) it may see
    samples: list = field(default_factory=list)
    edits: list = field(default_factory=list)
    leaks: list = field(default_factory=list)
    seen_client_numbers: int = 0
    scanned: int = 0
    unexpected: list = field(default_factory=list)
    found: dict = field(default_factory=lambda: collections.defaultdict(set))
    unclear_pages: list = field(default_factory=list)
    phase: str = "load"


def scan(user: User, bsns: set):
    """The check run on every response a user gets: no client number or BSN outside their scope."""

    def inspect(client, kind, path, response):
        if response.status == 503:
            shown = " ".join(re.sub(r"<[^>]+>", " ", response.text).split())
            if len(shown) < 20 or any(w in response.text for w in ("Traceback", "OperationalError", "[SQL:")):
                user.unclear_pages.append(f"{path}: {shown[:200]}")
        if user.phase == "load" and response.status not in EXPECTED.get(kind, {200}):
            if len(user.unexpected) < 5:
                user.unexpected.append(f"{kind} {path} -> {response.status}: {' | '.join(alerts(response.text))[:200]}")
        if response.status == 200 and kind in ("list", "search", "page"):
            for view, pk in SHOW_LINK.findall(response.text):
                user.found[view].add(int(pk))
        if user.sees_all or not response.body:
            return
        user.scanned += 1
        for content in _contents(response):
            numbers = set(CLIENT_NUMBER.findall(content))
            user.seen_client_numbers += len(numbers)
            for number in numbers - user.allowed:
                user.leaks.append(f"{path} ({kind}, {response.status}) shows {number.decode()}")
            for number in set(NINE_DIGITS.findall(content)) & bsns:
                user.leaks.append(f"{path} ({kind}, {response.status}) shows a BSN ({number.decode()[:3]}...)")

    return inspect


def _contents(response: Response):
    """The text to search: the body, or every XML part of an .xlsx."""
    if response.body[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(response.body)) as book:
                for name in book.namelist():
                    if name.endswith(".xml"):
                        yield book.read(name)
            return
        except zipfile.BadZipFile:
            pass
    yield response.body


def log_in(client: Client, english: bool) -> bool:
    page = client.get("/login/", "login_form")
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if page.status != 200 or not match:
        return False
    answer = client.post("/login/", "login", {"csrf_token": match.group(1), "username": client.username,
                                              "password": PASSWORD})
    if answer.status != 302 or "/login" in answer.headers.get("location", ""):
        return False
    if english:
        client.get("/lang/en", "language")
    return True


def edit(client: Client, user: User, rng: random.Random, table: str, record_id: int, delay: tuple):
    view, field_name = EDITED_FIELD[table]
    url = f"/{view}/edit/{record_id}"
    marker = f"LOAD-{user.index:02d}-{len(user.edits) + 1:05d}"
    attempt = Edit(user.label, table, record_id, marker, phase=user.phase)
    page = client.get(url, "edit_form")
    if page.status != 200:
        return
    form = form_with(page.text, "row_version")
    if form is None or not any(name == field_name for name, _ in form):
        attempt.outcome, attempt.detail = "other", f"no edit form with {field_name} on {url}"
        user.edits.append(attempt)
        return
    attempt.version = int(dict(form)["row_version"])
    data = [(name, marker if name == field_name else value) for name, value in form]
    time.sleep(rng.uniform(*delay))
    user.edits.append(attempt)
    answer = client.post(url, "edit_save", data)
    if answer.status is None:
        attempt.outcome, attempt.detail = "error", answer.error
    elif answer.status == 302 and "/login" not in answer.headers.get("location", ""):
        attempt.outcome = "accepted"
    elif answer.status == 200 and any(text in html.unescape(answer.text) for text in CONFLICT_TEXTS):
        attempt.outcome = "refused"
    elif answer.status == 200 and any(text in html.unescape(answer.text) for text in DATABASE_ERROR_TEXTS):
        attempt.outcome = "failed"
    elif answer.status == 503:
        attempt.outcome = "unavailable"
    else:
        attempt.outcome = "other"
        attempt.detail = f"{answer.status} {answer.headers.get('location', '')} {' | '.join(alerts(answer.text))[:300]}"


def work(client: Client, user: User, deadline: float, seed: int, think: tuple, delay: tuple):
    rng = random.Random(seed)
    actions = ["list"] * 20 + ["search"] * 15 + ["page"] * 10 + ["show"] * 25 + ["export"] * 5
    if user.targets:
        actions += ["edit"] * 25
    if user.probes:
        actions += ["probe"] * 3
    while time.monotonic() < deadline:
        action = rng.choice(actions)
        view = rng.choice(list(LISTS))
        if action == "list":
            client.get(f"/{view}/list/", "list")
        elif action in ("search", "page"):
            client.get(f"/{view}/list/?{rng.choice(LISTS[view][action])}", action)
        elif action == "show":
            seen = [(v, pk) for v, pks in user.found.items() for pk in pks]
            if not seen:
                client.get(f"/{view}/list/", "list")
            else:
                v, pk = rng.choice(seen)
                client.get(f"/{v}/show/{pk}", "show")
        elif action == "export":
            query = rng.choice(["", rng.choice(LISTS[view]["search"])])
            client.get(f"/{view}/export/xlsx/" + (f"?{query}" if query else ""), "export")
        elif action == "edit":
            table, record_id = rng.choice(user.targets)
            edit(client, user, rng, table, record_id, delay)
        elif action == "probe":
            client.get(rng.choice(user.probes), "probe")
        time.sleep(rng.uniform(*think))


# ---- the scratch database and the server ---------------------------------------------------

def scope_sql(connection, organisation_id):
    """(tenant ids, client numbers, debt ids) the organisation may see, from the written rule."""
    trajectories = (
        "SELECT tr.id FROM trajectory tr WHERE tr.referring_organisation_id = :org OR EXISTS ("
        "SELECT 1 FROM trajectory_organisation x WHERE x.trajectory_id = tr.id AND x.organisation_id = :org)"
    )
    tenants = connection.execute(sa.text(
        "SELECT t.id, t.client_number FROM tenant t WHERE t.housing_corporation_id = :org "
        f"OR EXISTS (SELECT 1 FROM trajectory tr WHERE tr.tenant_id = t.id AND tr.id IN ({trajectories}))"
    ), {"org": organisation_id}).all()
    debts = connection.execute(sa.text(f"SELECT d.id FROM debt d WHERE d.trajectory_id IN ({trajectories})"),
                               {"org": organisation_id}).scalars().all()
    return {t.id for t in tenants}, {t.client_number.encode() for t in tenants}, set(debts)


def plan(engine, count: int):
    """The simulated users, with what they edit and probe, and the scope facts for the checks."""
    with engine.connect() as connection:
        accounts = {
            row.username: row for row in connection.execute(sa.text(
                "SELECT u.username, o.id AS org, o.kind, o.name, (SELECT string_agg(r.name, ',') FROM ab_user_role ur "
                "JOIN ab_role r ON r.id = ur.role_id WHERE ur.user_id = u.id) AS roles "
                "FROM ab_user u JOIN organisation o ON o.id = u.organisation_id"
            ))
        }
        all_tenants = set(connection.execute(sa.text("SELECT id FROM tenant")).scalars())
        all_debts = set(connection.execute(sa.text("SELECT id FROM debt")).scalars())
        all_numbers = {n.encode() for n in connection.execute(sa.text("SELECT client_number FROM tenant")).scalars()}
        bsns = {b.encode() for b in connection.execute(sa.text("SELECT bsn FROM tenant WHERE bsn IS NOT NULL")).scalars()}
        scopes = {}
        for username, row in accounts.items():
            if row.kind == "coordinator" or {"Admin", "Coordinator"} & set((row.roles or "").split(",")):
                scopes[username] = (all_tenants, all_numbers, all_debts, True)
            else:
                scopes[username] = (*scope_sql(connection, row.org), False)
        portaal_tenants = sorted(t for t in scopes["portaal"][0]
                                 if connection.execute(sa.text("SELECT housing_corporation_id FROM tenant WHERE id = :id"),
                                                       {"id": t}).scalar() == accounts["portaal"].org)
        mitros_tenants = sorted(t for t in scopes["mitros"][0] if t not in portaal_tenants)
        team_tenants = sorted(t for t in scopes["buurtteam"][0] if t not in portaal_tenants[:3])
    shared_tenants = [("tenant", t) for t in portaal_tenants[:3]]
    both = sorted(scopes["portaal"][2] & scopes["gemeente"][2])
    shared_debts = [("debt", d) for d in (both + sorted(scopes["portaal"][2] - set(both)))[:3]]
    gemeente_debts = [d for d in shared_debts if d[1] in scopes["gemeente"][2]] or \
        [("debt", d) for d in sorted(scopes["gemeente"][2])[:2]]
    targets = {
        "coordinator": shared_tenants + shared_debts + [("tenant", t) for t in mitros_tenants[:2]],
        "portaal": shared_tenants + shared_debts,
        "gemeente": gemeente_debts,
        "mitros": [("tenant", t) for t in mitros_tenants[:2]],
        "buurtteam": [("tenant", t) for t in team_tenants[:2]],
        "viewer": [],
    }
    users = []
    for index in range(count):
        username = ACCOUNTS[index % len(ACCOUNTS)]
        tenants, numbers, debts, sees_all = scopes[username]
        probes = [] if sees_all else (
            [f"/tenantview/show/{t}" for t in sorted(all_tenants - tenants)[:5]]
            + [f"/debtview/show/{d}" for d in sorted(all_debts - debts)[:5]]
        )
        users.append(User(f"{username}#{index // len(ACCOUNTS) + 1}", username, index + 1, targets[username],
                          probes, sees_all, numbers))
    return users, bsns


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def run_command(args, env, what):
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupError(f"{what} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
    return result.stdout


class SetupError(RuntimeError):
    pass


def start_gunicorn(env, port, workers, log_path):
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"{HOST}:{port}", "app:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    started = time.monotonic()
    while time.monotonic() - started < 90:
        if process.poll() is not None:
            raise SetupError(f"gunicorn exited with {process.returncode}:\n{tail(log_path)}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/login/")
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.25)
    stop(process)
    raise SetupError(f"gunicorn did not answer on {HOST}:{port} within 90 s:\n{tail(log_path)}")


def stop(process):
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tail(path, lines=40) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---- the checks ------------------------------------------------------------------------------

def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def record_versions(engine) -> dict:
    with engine.connect() as connection:
        return {(table, row.id): row.version for table in EDITED_FIELD
                for row in connection.execute(sa.text(f"SELECT id, version FROM {table}"))}


def check_edits(engine, edits, all_edits, initial_versions):
    """[(ok, message)]: lost updates, refused and failed edits, audit trail, record versions.

    `edits` are this phase's; `all_edits` every edit so far (for the version count)."""
    by_record = collections.defaultdict(list)
    for attempt in edits:
        by_record[(attempt.table, attempt.record_id)].append(attempt)
    with engine.connect() as connection:
        audit = collections.Counter()
        audit_records = {}
        for row in connection.execute(sa.text(
            "SELECT record_type, record_id, changes FROM audit_entry WHERE action = 'update' AND changes LIKE '%LOAD-%'"
        )):
            for name, (old, new) in json.loads(row.changes).items():
                if isinstance(new, str) and new.startswith("LOAD-"):
                    audit[new] += 1
                    audit_records[new] = (row.record_type, row.record_id)
        current = {}
        for table, record_id in by_record:
            _, column = EDITED_FIELD[table]
            current[(table, record_id)] = connection.execute(
                sa.text(f"SELECT {column} AS value, version FROM {table} WHERE id = :id"), {"id": record_id}).one()
    lost, stored, audit_problems, duplicates, versions = [], [], [], [], []
    for key, attempts in by_record.items():
        accepted = [a for a in attempts if a.outcome == "accepted"]
        by_version = collections.Counter(a.version for a in accepted)
        duplicates += [f"{key[0]} {key[1]}: {n} accepted edits read version {v}" for v, n in by_version.items() if n > 1]
        value = current[key].value
        holder = next((a for a in accepted if a.marker == value), None)
        for a in accepted:
            if a.marker != value and not (holder is not None and holder.version > a.version):
                lost.append(f"{key[0]} {key[1]}: accepted edit {a.marker} (read v{a.version}) is gone; "
                            f"the record holds {value!r}")
            if audit[a.marker] != 1 or audit_records.get(a.marker) != key:
                audit_problems.append(f"accepted edit {a.marker} has {audit[a.marker]} audit entries")
        for a in attempts:
            if a.outcome in ("refused", "failed", "unavailable"):
                if value == a.marker:
                    stored.append(f"{a.outcome} edit {a.marker} is in {key[0]} {key[1]}")
                if audit[a.marker]:
                    audit_problems.append(f"{a.outcome} edit {a.marker} has {audit[a.marker]} audit entries")
        everything = [a for a in all_edits if (a.table, a.record_id) == key]
        if not any(a.outcome in ("error", "pending") for a in everything):
            expected = initial_versions[key] + sum(a.outcome == "accepted" for a in everything)
            if current[key].version != expected:
                versions.append(f"{key[0]} {key[1]} is at version {current[key].version}, expected {expected}")
    others = [f"{a.user} {a.table} {a.record_id}: {a.outcome} {a.detail}" for a in edits
              if a.outcome in ("other", "error")]
    return [
        (not lost and not duplicates,
         "no lost updates: every accepted edit is in the database or overwritten by a later accepted one"
         if not lost and not duplicates else "lost updates:\n    " + "\n    ".join((duplicates + lost)[:20])),
        (not stored and not others,
         "every edit not accepted was refused with a message (conflict, database error or 503) and changed nothing"
         if not stored and not others else
         "edits neither accepted nor refused with a message, or refused but stored:\n    "
         + "\n    ".join((others + stored)[:20])),
        (not audit_problems and not versions,
         "no half-written records: one audit entry per accepted edit, none for another; every record's version "
         "rose by exactly its accepted edits"
         if not audit_problems and not versions else "half-written records:\n    "
         + "\n    ".join((audit_problems + versions)[:20])),
    ]


def latency_table(samples, elapsed):
    timed = [s for s in samples if s.kind not in ("login_form", "login", "language", "recovery")]
    print(f"requests: {len(samples)} in total, {len(timed)} in the {elapsed:.1f} s of work "
          f"= {len(timed) / elapsed:.1f} requests/s (logins not counted)")
    print(f"{'latency (ms)':<14}{'count':>7}{'p50':>9}{'p95':>9}{'max':>9}")
    order = [*EXPECTED, "recovery"]
    for kind in ["all"] + sorted({s.kind for s in samples}, key=order.index):
        chosen = [s.seconds * 1000 for s in (timed if kind == "all" else samples) if kind == "all" or s.kind == kind]
        if chosen:
            print(f"{kind:<14}{len(chosen):>7}{percentile(chosen, .5):>9.1f}{percentile(chosen, .95):>9.1f}"
                  f"{max(chosen):>9.1f}")
    statuses = collections.Counter(s.status if s.status is not None else "broken" for s in samples)
    print("status codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))))


def edit_line(edits):
    outcomes = collections.Counter(e.outcome for e in edits)
    records = len({(e.table, e.record_id) for e in edits})
    line = (f"edits: {len(edits)} saves of {records} records: {outcomes['accepted']} accepted (302), "
            f"{outcomes['refused']} refused with the conflict message (200)")
    if outcomes["failed"] or outcomes["unavailable"]:
        line += (f", {outcomes['failed']} refused with the database-error message (200), "
                 f"{outcomes['unavailable']} answered 503")
    print(line + f", {outcomes['other']} other, {outcomes['error']} broken")
    return outcomes


def report_load(users, elapsed, engine, initial_versions) -> list:
    samples = [s for u in users for s in u.samples if s.phase == "load"]
    edits = [e for u in users for e in u.edits if e.phase == "load"]
    print()
    latency_table(samples, elapsed)
    per_user = collections.Counter(s.user for s in samples)
    print("requests per user: " + ", ".join(f"{u.label} {per_user[u.label]}" for u in users))
    outcomes = edit_line(edits)

    checks = []
    server_errors = [s for s in samples if s.status is not None and s.status >= 500]
    checks.append((not server_errors, f"no 5xx responses ({len(server_errors)} of {len(samples)})" + "".join(
        f"\n    {s.user} {s.method} {s.path} -> {s.status}" for s in server_errors[:10])))
    broken = [s for s in samples if s.status is None]
    checks.append((not broken, f"no broken connections ({len(broken)})" + "".join(
        f"\n    {s.user} {s.method} {s.path}: {s.error}" for s in broken[:10])))
    unexpected = [s for s in samples if s.status is not None and s.status < 500 and s.status not in EXPECTED[s.kind]]
    checks.append((not unexpected, f"every request answered as expected for its kind ({len(unexpected)} unexpected)"
                   + "".join(f"\n    {line}" for u in users for line in u.unexpected)[:3000]))
    checks.append((outcomes["accepted"] > 0 and outcomes["refused"] > 0,
                   f"concurrent edits happened: {outcomes['accepted']} accepted and {outcomes['refused']} refused"))
    checks.extend(check_edits(engine, edits, edits, initial_versions))
    restricted = [u for u in users if not u.sees_all]
    leaks = [line for u in restricted for line in u.leaks]
    scanned = sum(u.scanned for u in restricted)
    seen = sum(u.seen_client_numbers for u in restricted)
    checks.append((not leaks and seen > 0,
                   f"organisation scope: {scanned} responses to {len(restricted)} users outside the coordinator "
                   f"checked ({seen} client numbers of their own cases seen), {len(leaks)} held another "
                   f"organisation's tenant or a BSN" + "".join(f"\n    {line}" for line in leaks[:20])))
    return checks


def report_outage(users, elapsed, engine, initial_versions, window) -> list:
    went_down, came_back, killed = window
    grace = 1.0  # a request sent this long after the database is back must work
    samples = [s for u in users for s in u.samples if s.phase == "outage"]
    edits = [e for u in users for e in u.edits if e.phase == "outage"]
    print(f"\noutage phase: database refused connections for {came_back - went_down:.1f} s "
          f"({killed} server connections terminated) while the users worked")
    latency_table(samples, elapsed)
    edit_line(edits)
    during = [s for s in samples if s.started < came_back + grace]
    after = [s for s in samples if s.started >= came_back + grace]
    checks = []
    errors = [s for s in samples if s.status is not None and s.status >= 500 and s.status != 503]
    checks.append((not errors, f"no 500 during or after the outage ({len(errors)}; "
                   f"{sum(s.status == 503 for s in during)} answered 503 while the database was away)" + "".join(
                       f"\n    {s.user} {s.method} {s.path} -> {s.status} at {s.started - went_down:+.1f} s"
                       for s in errors[:10])))
    unclear = [line for u in users for line in u.unclear_pages]
    checks.append((not unclear, f"every 503 page is a clear message ({len(unclear)} not)" + "".join(
        f"\n    {line}" for line in unclear[:5])))
    late = [s for s in after if s.status is None or s.status >= 500
            or (s.kind != "recovery" and s.status not in EXPECTED[s.kind])]
    recovery = [s for s in samples if s.kind == "recovery"]
    checks.append((not late and recovery and all(s.status == 200 for s in recovery),
                   f"the portal recovered: {len(after)} requests sent from {grace:g} s after the database came back, "
                   f"{len(late)} failed; every user's next page after the run: "
                   f"{collections.Counter(s.status for s in recovery)}" + "".join(
                       f"\n    {s.user} {s.method} {s.path} -> {s.status} at {s.started - came_back:+.1f} s"
                       for s in late[:10])))
    all_edits = [e for u in users for e in u.edits]
    checks.extend(check_edits(engine, edits, all_edits, initial_versions))
    leaks = [line for u in users if not u.sees_all for line in u.leaks]
    checks.append((not leaks, f"organisation scope held throughout ({len(leaks)} responses with another "
                   "organisation's tenant or a BSN)" + "".join(f"\n    {line}" for line in leaks[:10])))
    return checks


def outage_phase(users, clients, admin_conninfo, name, args):
    """Users work; after a few seconds the database stops accepting connections and its server
    connections are terminated (mid-request for whoever is busy); after --outage seconds it is back."""
    before, after = 3.0, max(5.0, args.outage)
    for user in users:
        user.phase = "outage"
    start = time.monotonic()
    threads = start_users(users, clients, start + before + args.outage + after, args, salt=1)
    time.sleep(before)
    with psycopg.connect(admin_conninfo, autocommit=True) as connection:
        connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        killed = connection.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()[0]
        went_down = time.monotonic()
        time.sleep(args.outage)
        connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        came_back = time.monotonic()
    for thread in threads:
        thread.join()
    for client in clients:
        client.get("/tenantview/list/", "recovery")
    return time.monotonic() - start, (went_down, came_back, killed)


def start_users(users, clients, deadline, args, salt=0):
    threads = [
        threading.Thread(target=work, daemon=True, name=u.label,
                         args=(c, u, deadline, args.seed * 1000 + u.index + 100 * salt,
                               tuple(ms / 1000 for ms in args.think_ms),
                               tuple(ms / 1000 for ms in args.edit_delay_ms)))
        for u, c in zip(users, clients)
    ]
    for thread in threads:
        thread.start()
    return threads


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long the users work (default 60)")
    parser.add_argument("--users", type=int, default=12, help="simulated users, two per account at 12 (default)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--think-ms", type=float, nargs=2, default=(0, 50), metavar=("MIN", "MAX"),
                        help="pause between a user's actions (default 0 50)")
    parser.add_argument("--edit-delay-ms", type=float, nargs=2, default=(50, 300), metavar=("MIN", "MAX"),
                        help="pause between opening an edit form and saving it (default 50 300)")
    parser.add_argument("--outage", type=float, default=0, metavar="SECONDS",
                        help="afterwards, a second phase in which the database goes away for this long while "
                             "the users work (default 0: no outage phase)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--admin-url", default=os.environ.get("LOAD_ADMIN_DATABASE_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="a PostgreSQL database to connect to for CREATE/DROP DATABASE "
                             "(default $LOAD_ADMIN_DATABASE_URL or postgres@127.0.0.1:5432/postgres)")
    args = parser.parse_args(argv)
    if args.users < 1 or args.seconds <= 0 or args.outage < 0:
        parser.error("--users and --seconds must be positive, --outage not negative")

    admin = make_url(args.admin_url)
    name = f"portal_load_{secrets.token_hex(4)}"
    scratch = admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    admin_conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": scratch, "SECRET_KEY": secrets.token_urlsafe(32)}
    env.pop("FLASK_DEBUG", None)
    workdir = Path(tempfile.mkdtemp(prefix="portal-load-"))
    log_path = workdir / "gunicorn.log"
    process, engine, created, keep_log = None, None, False, False
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with psycopg.connect(admin_conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
            created = True
            server = connection.execute("SHOW server_version").fetchone()[0]
        print(f"scratch database {name} (PostgreSQL {server})")
        started = time.perf_counter()
        run_command([str(BIN / "flask"), "--app", "app", "db", "upgrade"], env, "flask db upgrade")
        seeded = run_command([str(BIN / "flask"), "--app", "app", "seed-demo"], env, "flask seed-demo").strip()
        print(f"  {seeded[:150]}...")
        print(f"  schema and demo data in {time.perf_counter() - started:.1f} s")
        engine = sa.create_engine(scratch, poolclass=sa.pool.NullPool)
        users, bsns = plan(engine, args.users)
        initial_versions = record_versions(engine)
        port = free_port()
        started = time.perf_counter()
        process = start_gunicorn(env, port, args.workers, log_path)
        print(f"gunicorn -w {args.workers} on {HOST}:{port} answering after {time.perf_counter() - started:.1f} s")
        print(f"{len(users)} users: " + ", ".join(
            f"{u.label} (edits {len(u.targets)} records)" if u.targets else u.label for u in users))

        editors = collections.defaultdict(set)
        for u in users:
            for target in u.targets:
                editors[target].add(u.username)
        print("edited concurrently: " + "; ".join(
            f"{table} {record_id} by {'+'.join(sorted(names))}" for (table, record_id), names in sorted(editors.items())))
        clients = [Client(port, u, scan(u, bsns)) for u in users]
        failed_logins = [u.label for u, c in zip(users, clients) if not log_in(c, english=u.index % 4 == 0)]
        if failed_logins:
            for u in users:
                for line in u.unexpected:
                    print("  " + line)
            raise SetupError(f"login failed for {', '.join(failed_logins)}")
        print(f"working for {args.seconds:g} s...", flush=True)
        started = time.perf_counter()
        for thread in start_users(users, clients, time.monotonic() + args.seconds, args):
            thread.join()
        checks = report_load(users, time.perf_counter() - started, engine, initial_versions)
        if args.outage:
            print(f"\noutage phase: {args.outage:g} s without the database, while the users work...", flush=True)
            elapsed, window = outage_phase(users, clients, admin_conninfo, name, args)
            outage_checks = report_outage(users, elapsed, engine, initial_versions, window)
        stop(process)
        print()
        results = [("", checks)] + ([("outage: ", outage_checks)] if args.outage else [])
        failed = False
        for prefix, phase_checks in results:
            for ok, message in phase_checks:
                failed |= not ok
                print(("PASS " if ok else "FAIL ") + prefix + message)
        tracebacks = log_path.read_text(errors="replace").count("Traceback")
        if tracebacks:
            print(f"gunicorn log has {tracebacks} traceback(s)")
        print("RESULT: " + ("FAIL" if failed else "PASS"))
        keep_log = failed or tracebacks > 0
        return 1 if failed else 0
    except SetupError as error:
        print(f"SET-UP FAILED: {error}", file=sys.stderr)
        keep_log = True
        return 2
    finally:
        stop(process)
        if engine is not None:
            engine.dispose()
        if created:
            with psycopg.connect(admin_conninfo, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"dropped {name}")
        if keep_log and log_path.exists():
            print(f"gunicorn log kept at {log_path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
