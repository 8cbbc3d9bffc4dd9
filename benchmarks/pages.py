"""Page benchmark at scale: every list, detail and report page, timed through the test client.

    .venv/bin/python benchmarks/seed_scale.py                 # once: fills /tmp/portal-scale.db
    .venv/bin/python benchmarks/pages.py                      # SQLite, /tmp/portal-scale.db
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/scale_helper .venv/bin/python benchmarks/pages.py
    .venv/bin/python benchmarks/pages.py --requests 5 --only trajectory   # a quick look at some pages

Logs in as "coordinator" (Coordinator, sees every case) and as "corporation" (Caseworker at the
largest housing corporation, sees its own cases), and requests each page `--requests` times after
two untimed warm-up requests. For each it prints p50 and p95 of the wall time of the whole request
(routing, permission checks, SQL, rendering), the SQL statements per request (counted with a
`before_cursor_execute` listener on the engine), the size of the HTML, and the ratio of its p95 to
the p95 of the same kind of page of the bare baseline, requested in turn with it (a, b, a, b, ...)
so that both meet the same moments of a busy machine.

The baseline is a plain `flask_appbuilder.ModelView` with `SQLAInterface(Tenant)` and the tenant
list's columns, search and order, without scope, formatters or derived columns. It is registered
on the same app (without a menu entry, so the portal's pages do not change) and its permissions
are given to the Coordinator and Caseworker roles in the scratch database: both then pay the
same log-in, menu and layout. Its permission checks are Flask-AppBuilder's stock ones (one query
per check), so the ratio says how the portal's page compares with the same page in stock FAB;
`--cached-baseline` gives the baseline the portal's permission cache instead, which isolates
what the portal's page adds over a bare list. A separate app would have a different menu and
fewer permission checks, so its pages would be cheaper for reasons that have nothing to do with
the list.

Targets: list pages and forms p50 and p95 at most 1.0x the baseline's page of the same kind (forms:
its first page), and p95 < 150 ms; detail pages < 100 ms; the dashboard < 200 ms; the same number
of SQL statements for page size 10 and 100; no page's HTML growing with the table size (checked
here as: under 200 KB).
"""
import argparse
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

LIST_TARGET_MS, DETAIL_TARGET_MS, DASHBOARD_TARGET_MS = 150, 100, 200
MAX_RATIO = 1.0
MAX_HTML = 200_000


class QueryCounter:
    """Counts the SQL statements the engine executes (`before_cursor_execute`)."""

    def __init__(self, engine):
        import sqlalchemy as sa

        self.count = 0
        self.statements = []
        self.keep = False
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        if self.keep:
            self.statements.append(statement)


def make_app(url, cached_baseline=False, sqlite_cache_mb=None):
    os.environ.setdefault("PORTAL_ENV", "development")
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "benchmark", "WTF_CSRF_ENABLED": True})
    add_baseline(app)
    if not cached_baseline:
        stock_permission_checks_for_baseline(app)
    if sqlite_cache_mb:
        sqlite_page_cache(app, sqlite_cache_mb)
    return app


def stock_permission_checks_for_baseline(app):
    """During a request to the baseline's pages, every permission check is Flask-AppBuilder's own
    (one query per check, views/security.py's per-request set bypassed): the baseline is then
    the page as stock FAB serves it."""
    from flask import request
    from flask_appbuilder.security.sqla.manager import SecurityManager

    sm = app.appbuilder.sm
    for name in ("_has_view_access", "is_item_public", "_get_user_permission_view_menus"):
        portal, stock = getattr(sm, name), getattr(SecurityManager, name).__get__(sm)

        def check(*args, portal=portal, stock=stock, **kwargs):
            baseline = (request.endpoint or "").startswith("BareTenantView.")
            return (stock if baseline else portal)(*args, **kwargs)

        setattr(sm, name, check)


def sqlite_page_cache(app, megabytes):
    """Measures a proposal (not in the portal): a larger SQLite page cache per connection (the
    default is 2 MB), set where app.py already sets `PRAGMA foreign_keys`."""
    import sqlalchemy as sa

    from models import db

    with app.app_context():
        engine = db.engine

    @sa.event.listens_for(engine, "connect")
    def _cache_size(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA cache_size=-{int(megabytes) * 1024}")
        cursor.close()

    engine.dispose()


def add_baseline(app):
    """The bare FAB ModelView over the tenant table, allowed to the Coordinator and Caseworker roles."""
    from flask_appbuilder import ModelView
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    from models import Tenant, db
    from views.tenant import TenantView

    class BareTenantView(ModelView):
        datamodel = SQLAInterface(Tenant)
        list_columns = TenantView.list_columns
        search_columns = TenantView.search_columns
        order_columns = TenantView.order_columns
        base_order = TenantView.base_order
        show_columns = [c for c in TenantView.show_columns if c not in ("bsn", "psychosocial_notes")]
        base_permissions = ["can_list", "can_show"]

    appbuilder = app.appbuilder
    with app.app_context():
        appbuilder.add_view_no_menu(BareTenantView)
        sm = appbuilder.sm
        sm.add_permissions_view(BareTenantView.base_permissions, "BareTenantView")
        for role_name in ("Coordinator", "Caseworker"):
            role = sm.find_role(role_name)
            for permission in BareTenantView.base_permissions:
                pv = sm.find_permission_view_menu(permission, "BareTenantView")
                if pv not in role.permissions:
                    role.permissions.append(pv)
        db.session.commit()
        db.session.remove()


def login(app, username):
    from seeding import PASSWORD

    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"username": username, "password": PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    response = client.post("/login/", data=data)
    assert response.status_code == 302 and "/login" not in response.headers["Location"], f"login of {username} failed"
    client.get("/lang/en")
    return client


def facts(app):
    """Ids and counts the page URLs need: the largest corporation, a busy trajectory, visible rows per list."""
    import sqlalchemy as sa

    from models import (
        Agreement, Debt, Evaluation, Intervention, Organisation, PortalUser, Tenant, Trajectory, TrajectoryStatus, db,
    )
    from models.scope import ALL_CASES, visible_clause

    with app.app_context():
        session = db.session
        corporation = session.execute(
            sa.select(PortalUser.organisation_id).where(PortalUser.username == "corporation")).scalar_one()
        debts = sa.select(sa.func.count()).where(Debt.trajectory_id == Trajectory.id).scalar_subquery()
        trajectory = session.execute(
            sa.select(Trajectory.id).where(Trajectory.referring_organisation_id == corporation,
                                           Trajectory.status == TrajectoryStatus.running)
            .order_by(debts.desc()).limit(1)
        ).scalar_one()
        found = {
            "corporation": corporation, "trajectory": trajectory,
            "tenant": session.get(Trajectory, trajectory).tenant_id,
            "debt": session.execute(sa.select(Debt.id).where(Debt.trajectory_id == trajectory).limit(1)).scalar_one(),
            "evaluation": session.execute(
                sa.select(Evaluation.id).where(Evaluation.trajectory_id == trajectory).limit(1)).scalar(),
            "team": session.execute(sa.select(Organisation.id).where(Organisation.kind == "neighbourhood_team")
                                    .order_by(Organisation.id).limit(1)).scalar_one(),
            "counts": {},
        }
        for scope_name, scope in (("coordinator", ALL_CASES), ("corporation", corporation)):
            for model in (Tenant, Trajectory, Debt, Evaluation, Agreement, Intervention):
                found["counts"][(scope_name, model.__tablename__)] = session.execute(
                    sa.select(sa.func.count()).select_from(model).where(visible_clause(model, scope))
                ).scalar_one()
        db.session.remove()
    return found


def last_page(count, size=25):
    return max(0, math.ceil(count / size) - 1)


def pager_last_link(client, url):
    """The href of the pager's » ("Last page") link on the list page at `url`."""
    import html

    page = client.get(url).get_data(as_text=True)
    found = re.search(r'<a href="([^"]+)" title="Last page"', page)
    assert found, f"no last-page link on {url}"
    return html.unescape(found.group(1))


def list_pages(f, user):
    """(name, kind, url) of every list variant: first page, deepest page (the pager's » link), filtered, searched."""
    counts = {table: n for (who, table), n in f["counts"].items() if who == user}
    lists = [
        ("tenants", "tenant", "TenantView", f"_flt_0_housing_corporation={f['corporation']}", "_flt_2_last_name=jansen"),
        ("trajectories", "trajectory", "TrajectoryView", "_flt_0_status=running", "_flt_1_referral_date=2025-01-01"),
        ("debts", "debt", "DebtView", "_flt_0_status=settled", "_flt_2_creditor=Schuldeiser 12"),
        ("evaluations", "evaluation", "EvaluationView", "_flt_0_assessment=serious_problems",
         "_flt_1_planned_date=2026-01-01"),
        ("agreements", "agreement", "AgreementView", "_flt_0_status=awaiting_signatures",
         "_flt_1_drawn_up_on=2025-06-01"),
        ("interventions", "intervention", "InterventionView", f"_flt_0_responsible_organisation={f['team']}",
         "_flt_2_description=budget"),
    ]
    pages = []
    for name, table, view, filtered, searched in lists:
        base = f"/{view.lower()}/list/"
        pages += [
            (f"{name} list", "first", base),
            (f"{name} list", "deep", ("last", base)),
            (f"{name} list", "filtered", f"{base}?{filtered}"),
            (f"{name} list", "searched", f"{base}?{searched}"),
        ]
    pages.append(("organisations list", "first", "/organisationview/list/"))
    pages.append(("evaluations due", "first", "/evaluations-due/"))
    return pages


def baseline_pages(f, user):
    view = "BareTenantView"
    base = f"/{view.lower()}/list/"
    return {
        "first": base,
        "deep": f"{base}?page_{view}={last_page(f['counts'][('coordinator', 'tenant')])}",
        "filtered": f"{base}?_flt_0_housing_corporation={f['corporation']}",
        "searched": f"{base}?_flt_2_last_name=jansen",
        "detail": f"/baretenantview/show/{f['tenant']}",
    }


def detail_pages(f):
    return [
        ("trajectory detail", "detail", f"/trajectoryview/show/{f['trajectory']}"),
        ("tenant detail", "detail", f"/tenantview/show/{f['tenant']}"),
        ("debt detail", "detail", f"/debtview/show/{f['debt']}"),
    ]


def form_pages(f):
    pages = [
        ("trajectory add form", "form", "/trajectoryview/add"),
        ("trajectory edit form", "form", f"/trajectoryview/edit/{f['trajectory']}"),
        ("debt add form", "form", "/debtview/add"),
        ("debt add form from trajectory", "form", f"/debtview/add?_flt_0_trajectory={f['trajectory']}"),
        ("debt edit form", "form", f"/debtview/edit/{f['debt']}"),
        ("evaluation add form", "form", "/evaluationview/add"),
        ("evaluation add from trajectory", "form", f"/evaluationview/add?_flt_0_trajectory={f['trajectory']}"),
    ]
    if f["evaluation"]:
        pages.append(("evaluation edit form", "form", f"/evaluationview/edit/{f['evaluation']}"))
    return pages


def time_page(client, counter, url, requests, warmup=2):
    return time_pages(client, counter, [url], requests, warmup)[0]


def time_pages(client, counter, urls, requests, warmup=2):
    """Stats of each URL, requested in turn (a, b, a, b, ...): pages compared with each other meet
    the same moments of a busy machine, instead of one the quiet minute and the other the busy one."""
    for url in urls:
        for _ in range(warmup):
            response = client.get(url)
            assert response.status_code == 200, f"{url} answered {response.status_code}"
    times, queries, sizes = [[] for _ in urls], [[] for _ in urls], [0 for _ in urls]
    for _ in range(requests):
        for index, url in enumerate(urls):
            counter.count = 0
            started = time.perf_counter()
            response = client.get(url)
            body = response.get_data()
            times[index].append((time.perf_counter() - started) * 1000)
            queries[index].append(counter.count)
            sizes[index] = len(body)
            assert response.status_code == 200, f"{url} answered {response.status_code}"
    results = []
    for index in range(len(urls)):
        ordered = sorted(times[index])
        results.append({
            "p50": statistics.median(ordered), "p95": ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)],
            "queries": max(queries[index]), "html": sizes[index],
        })
    return results


def queries_for(client, counter, url):
    counter.count = 0
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return counter.count


def with_psize(url, view, size):
    return f"{url}{'&' if '?' in url else '?'}psize_{view}={size}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="SQLite file (default /tmp/portal-scale.db; DATABASE_URL selects PostgreSQL)")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--users", nargs="+", default=["coordinator", "corporation"])
    parser.add_argument("--only", help="only pages whose name contains this text (the baseline always runs)")
    parser.add_argument("--no-forms", action="store_true", help="skip the add/edit form sizes")
    parser.add_argument("--form-requests", type=int, help="requests per form (default: --requests)")
    parser.add_argument("--trace", metavar="URL", help="print each SQL statement of one request to URL, with its time")
    parser.add_argument("--cached-baseline", action="store_true",
                        help="the baseline with the portal's permission cache instead of FAB's stock checks")
    parser.add_argument("--sqlite-cache-mb", type=int, help="measure a proposal: SQLite page cache of this size")
    args = parser.parse_args()

    from seed_scale import database_url

    url = database_url(args.database)
    app = make_app(url, cached_baseline=args.cached_baseline, sqlite_cache_mb=args.sqlite_cache_mb)
    from models import db

    with app.app_context():
        engine = db.engine
        dialect = engine.dialect.name
    counter = QueryCounter(engine)
    if args.trace:
        trace(app, engine, args.users[0], args.trace)
        return
    f = facts(app)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)"
          + ("; baseline with the portal's permission cache" if args.cached_baseline
             else "; baseline with FAB's stock permission checks")
          + (f"; with SQLite page cache {args.sqlite_cache_mb} MB (proposal)" if args.sqlite_cache_mb else ""))
    print(f"{dialect} at {url.split('@')[-1]}; {args.requests} requests per page; "
          f"busy trajectory {f['trajectory']}, largest corporation {f['corporation']}")
    print("visible rows: " + ", ".join(f"{who}/{table} {n:,}" for (who, table), n in f["counts"].items()))

    header = (f"{'page':<32} {'kind':<9} {'user':<12} {'p50 ms':>7} {'p95 ms':>7} {'queries':>7} {'q10/q100':>9} "
              f"{'HTML KB':>8} {'ratio p50/p95':>13} {'target':<22} result")
    print("\n" + header + "\n" + "-" * len(header))
    results = []
    for user in args.users:
        client = login(app, user)
        baseline = {}
        baseline_urls = baseline_pages(f, user)
        for kind, page_url in baseline_urls.items():
            r = time_page(client, counter, page_url, args.requests)
            baseline[kind] = r
            row = ("bare FAB tenant list" if kind != "detail" else "bare FAB tenant show", kind, user, r, "", None,
                   "baseline", True)
            results.append(row)
            _print(row)
        pages = list_pages(f, user) + detail_pages(f) + [("dashboard", "dashboard", "/")]
        for name, kind, page_url in pages:
            if args.only and args.only not in name:
                continue
            if isinstance(page_url, tuple):
                page_url = pager_last_link(client, page_url[1])
            # Timed in turn with the bare list's page of the same kind; the ratio is to that pairing.
            paired_kind = {"dashboard": "first"}.get(kind, kind)
            r, paired = time_pages(client, counter, [page_url, baseline_urls[paired_kind]], args.requests)
            psize_check = ""
            if kind in ("first", "filtered", "searched", "deep") and "/list/" in page_url:
                view = re.search(r"/(\w+)view/list/", page_url).group(1)
                view = {v.lower(): v for v in ("TenantView", "TrajectoryView", "DebtView", "EvaluationView", "AgreementView",
                                                "InterventionView", "OrganisationView")}[view + "view"]
                base_url = page_url if kind != "deep" else page_url.split("?")[0]
                q10 = queries_for(client, counter, with_psize(base_url, view, 10))
                q100 = queries_for(client, counter, with_psize(base_url, view, 100))
                psize_check = f"{q10}/{q100}"
            ratio = (r["p50"] / paired["p50"], r["p95"] / paired["p95"])
            if kind == "detail":
                target, ok = f"< {DETAIL_TARGET_MS} ms", r["p95"] < DETAIL_TARGET_MS
            elif kind == "dashboard":
                target, ok = f"< {DASHBOARD_TARGET_MS} ms", r["p95"] < DASHBOARD_TARGET_MS
            else:
                target = f"< {LIST_TARGET_MS} ms, <= {MAX_RATIO:g}x"
                ok = r["p95"] < LIST_TARGET_MS and max(ratio) <= MAX_RATIO
            if psize_check:
                q10, q100 = psize_check.split("/")
                ok = ok and q10 == q100
                target += ", q10=q100"
            ok = ok and r["html"] < MAX_HTML
            row = (name, kind, user, r, psize_check, ratio, target, ok)
            results.append(row)
            _print(row)
        if not args.no_forms and (not args.only or "form" in args.only):
            for name, kind, page_url in form_pages(f):
                if client.get(page_url).status_code == 403:
                    # The seeded records carry no recording organisation, so only the lead roles may edit them.
                    print(f"{name:<32} {kind:<9} {user:<12} refused (403): not this user's record to edit")
                    continue
                # Timed in turn with the bare list's first page, as the lists are.
                r, paired = time_pages(client, counter, [page_url, baseline_urls["first"]],
                                       args.form_requests or args.requests)
                ratio = (r["p50"] / paired["p50"], r["p95"] / paired["p95"])
                row = (name, kind, user, r, "", ratio, f"<= {MAX_RATIO:g}x, HTML < {MAX_HTML // 1000} KB",
                       max(ratio) <= MAX_RATIO and r["html"] < MAX_HTML)
                results.append(row)
                _print(row)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    failed = [r for r in results if not r[-1]]
    print(f"\n{len(results) - len(failed)} of {len(results)} rows meet their target"
          + ("" if not failed else ": FAIL " + "; ".join(f"{r[0]} ({r[1]}, {r[2]})" for r in failed)))


def trace(app, engine, user, url):
    """One request to `url` as `user`: every statement with its milliseconds, the slow ones with their plan."""
    import sqlalchemy as sa

    timings = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        timings.append(((time.perf_counter() - conn.info["started"]) * 1000, statement, parameters))

    client = login(app, user)
    client.get(url)
    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    started = time.perf_counter()
    response = client.get(url)
    total = (time.perf_counter() - started) * 1000
    sa.event.remove(engine, "before_cursor_execute", before)
    sa.event.remove(engine, "after_cursor_execute", after)
    print(f"{url} as {user}: {response.status_code}, {total:.1f} ms, {len(timings)} statements, "
          f"{sum(t for t, _, _ in timings):.1f} ms in SQL, {len(response.get_data()) / 1000:.1f} KB")
    for ms, statement, parameters in timings:
        print(f"{ms:8.2f} ms  {' '.join(statement.split())[:300]}  {str(parameters)[:80]}")
    for ms, statement, parameters in sorted(timings, key=lambda t: -t[0])[:3]:
        if ms < 5:
            break
        print(f"\n--- {ms:.1f} ms:\n{statement}\n{parameters}")
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
        with engine.connect() as connection:
            cursor = connection.connection.cursor()
            cursor.execute(prefix + statement, parameters)
            for row in cursor.fetchall():
                print("   ", *row)


def _print(row):
    name, kind, user, r, psize_check, ratio, target, ok = row
    ratio_text = f"{ratio[0]:6.2f}/{ratio[1]:<6.2f}" if ratio is not None else f"{'':>13}"
    print(f"{name:<32} {kind:<9} {user:<12} {r['p50']:7.1f} {r['p95']:7.1f} {r['queries']:7d} {psize_check:>9} "
          f"{r['html'] / 1000:8.1f} {ratio_text} {target:<22} {'PASS' if ok else 'FAIL'}", flush=True)


if __name__ == "__main__":
    main()
