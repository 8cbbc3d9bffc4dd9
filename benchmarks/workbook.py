"""Partner-meeting workbook at production scale: seconds, peak memory and rows per sheet.

    .venv/bin/python benchmarks/seed_scale.py                  # once: fills /tmp/portal-scale.db
    .venv/bin/python benchmarks/workbook.py                    # the largest corporation, then Het Vierde Huis
    .venv/bin/python benchmarks/workbook.py --who corporation  # only the largest corporation
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/portal_scale .venv/bin/python benchmarks/workbook.py

Each workbook is built in a fresh process, the way `flask partner-workbook` builds it (the
menu's download page calls the same class), for the current quarter. "corporation" is the
housing corporation with the most cases; "coordinator" is Het Vierde Huis (the coordinating
organisation), whose workbook holds every case of the region. Target (issue 7): the largest
organisation's workbook in under 30 s.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGET_SECONDS = 30


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(url: str, who: str) -> dict:
    import sqlalchemy as sa
    from openpyxl import load_workbook

    from app import create_app
    from models import Organisation, OrganisationKind, PortalUser, db
    from reports import kpi
    from reports.partner_workbook import PartnerWorkbook

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "benchmark"})
    with app.app_context(), app.test_request_context():
        session = db.session
        if who == "coordinator":
            organisation = session.scalars(sa.select(Organisation).where(
                Organisation.kind == OrganisationKind.coordinator).order_by(Organisation.id)).first()
        else:
            organisation_id = session.execute(sa.select(PortalUser.organisation_id).where(
                PortalUser.username == "corporation")).scalar_one()
            organisation = session.get(Organisation, organisation_id)
        before = peak_rss_mb()
        started = time.perf_counter()
        workbook = PartnerWorkbook(session, organisation, kpi.quarter_of(date.today()))
        target = workbook.build()
        seconds = time.perf_counter() - started
        peak = peak_rss_mb()
        size = target.seek(0, 2)
        target.seek(0)
        book = load_workbook(target, read_only=True)
        rows = {sheet.title: sheet.max_row for sheet in book.worksheets}
    return {"organisation": organisation.name, "seconds": seconds, "peak_mb": peak, "start_mb": before,
            "bytes": size, "rows": rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="SQLite file (default /tmp/portal-scale.db; DATABASE_URL selects PostgreSQL)")
    parser.add_argument("--who", nargs="+", default=["corporation", "coordinator"], choices=["corporation", "coordinator"])
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from seed_scale import database_url

    url = database_url(args.database)
    if args.measure:
        print(json.dumps(measure(url, args.measure)))
        return
    print(f"{url.split('@')[-1]}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for who in args.who:
        command = [sys.executable, __file__, "--measure", who] + (["--database", args.database] if args.database else [])
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
                            .stdout.strip().splitlines()[-1])
        sheets = ", ".join(f"{name} {rows - 1:,}" for name, rows in result["rows"].items() if name != "Summary")
        verdict = "PASS" if result["seconds"] < TARGET_SECONDS else "FAIL"
        print(f"{who:<12} {result['organisation']:<36} {result['seconds']:6.1f} s  peak {result['peak_mb']:6.0f} MB "
              f"(at start {result['start_mb']:4.0f})  {result['bytes'] / 1e6:5.1f} MB  rows: {sheets}  "
              f"target < {TARGET_SECONDS} s {verdict}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PORTAL_ENV", "development")
    main()
