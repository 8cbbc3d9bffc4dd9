"""Excel export benchmark: the portal's real export path against a bare openpyxl write-only loop.

    .venv/bin/python benchmarks/export_bench.py                 # 10,000 and 100,000 trajectories
    .venv/bin/python benchmarks/export_bench.py --sizes 2000    # a quick run

For each size it seeds a scratch SQLite database (tenants, one trajectory each, one debt per
trajectory), then measures in a fresh process per measurement, so the figures do not disturb
each other: seconds and peak resident memory of the export as a coordinator downloads it
through the test client (plus the export's own peak allocation, traced in a second download),
and of a bare loop that selects the same rows and columns and writes
them with openpyxl's write-only mode. Targets: real <= 1.5 x bare; peak memory at the largest
size <= 1.3 x the smallest.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

EXPORTS = {
    # list: (export URL, bare query over the same rows and columns)
    "tenants": ("/tenantview/export/xlsx/",
                "SELECT t.id, t.client_number, t.last_name, t.first_name, t.postcode, t.city, o.name "
                "FROM tenant t JOIN organisation o ON o.id = t.housing_corporation_id ORDER BY t.last_name"),
    "debts": ("/debtview/export/xlsx/",
              "SELECT d.id, t.client_number || ' – ' || t.first_name || ' ' || t.last_name, d.creditor, d.category, "
              "d.status, d.original_amount, d.current_balance, d.monthly_payment FROM debt d "
              "JOIN trajectory tr ON tr.id = d.trajectory_id JOIN tenant t ON t.id = tr.tenant_id "
              "ORDER BY d.current_balance DESC"),
    "trajectories": ("/trajectoryview/export/xlsx/",
                     "SELECT tr.id, t.client_number || ' – ' || t.first_name || ' ' || t.last_name, tr.status, o.name, "
                     "(SELECT group_concat(io.name, ', ') FROM trajectory_organisation x JOIN organisation io "
                     " ON io.id = x.organisation_id WHERE x.trajectory_id = tr.id), tr.referral_date, tr.start_date, "
                     "tr.total_current_debt, "
                     "CASE WHEN tr.status = 'running' THEN date(coalesce(tr.last_evaluation_held_on, tr.start_date), "
                     "'+3 months') END "
                     "FROM trajectory tr JOIN tenant t ON t.id = tr.tenant_id "
                     "JOIN organisation o ON o.id = tr.referring_organisation_id ORDER BY tr.referral_date DESC"),
}


def _app(database):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "WTF_CSRF_ENABLED": False,
                       "SECRET_KEY": "benchmark"})


def prepare(database, size):
    from models import db
    from seeding import create_schema, seed

    app = _app(database)
    with app.app_context():
        create_schema(db.engine)
    seed(app, tenants=size, trajectories=size, debts=size, evaluations=0, log=lambda *_: None)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited through exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_real(database, export):
    from seeding import PASSWORD

    app = _app(database)
    client = app.test_client()
    client.post("/login/", data={"username": "coordinator", "password": PASSWORD})
    client.get("/lang/nl")
    before = peak_rss_mb()
    started = time.perf_counter()
    size = _download(client, export)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    # A second download under tracemalloc: the export's own peak allocation, apart from start-up.
    tracemalloc.start()
    _download(client, export)
    allocated = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"seconds": seconds, "peak_mb": peak, "start_mb": before, "bytes": size, "allocated_mb": allocated}


def _download(client, export) -> int:
    response = client.get(EXPORTS[export][0])
    assert response.status_code == 200, response.status_code
    size = sum(len(chunk) for chunk in response.response)
    response.close()
    return size


def measure_bare(database, export):
    import sqlite3
    from decimal import Decimal

    from openpyxl import Workbook

    before = peak_rss_mb()
    started = time.perf_counter()
    connection = sqlite3.connect(database)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("rows")
    for row in connection.execute(EXPORTS[export][1]):
        sheet.append([Decimal(str(v)) if isinstance(v, float) else v for v in row])
    with tempfile.TemporaryFile() as target:
        workbook.save(target)
        size = target.tell()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": peak_rss_mb(), "start_mb": before, "bytes": size}


def in_fresh_process(mode, database, export):
    output = subprocess.run(
        [sys.executable, __file__, "--measure", mode, "--database", str(database), "--export", export],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--exports", nargs="+", default=list(EXPORTS), choices=list(EXPORTS))
    parser.add_argument("--measure", choices=["real", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure = measure_real if args.measure == "real" else measure_bare
        print(json.dumps(measure(args.database, args.export)))
        return

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            database = Path(scratch) / f"export-{size}.db"
            started = time.perf_counter()
            prepare(database, size)
            print(f"seeded {size:,} tenants / trajectories / debts in {time.perf_counter() - started:.1f} s", flush=True)
            for export in args.exports:
                real = in_fresh_process("real", database, export)
                bare = in_fresh_process("bare", database, export)
                results[(size, export)] = (real, bare)
                print(f"{export:>12} {size:>8,} rows  real {real['seconds']:6.2f} s  bare {bare['seconds']:6.2f} s  "
                      f"ratio {real['seconds'] / bare['seconds']:4.2f}  peak {real['peak_mb']:6.1f} MB "
                      f"(at start {real['start_mb']:5.1f} MB, export allocates {real['allocated_mb']:5.1f} MB)  "
                      f"bare peak {bare['peak_mb']:6.1f} MB  "
                      f"{real['bytes'] / 1e6:5.1f} MB file", flush=True)
    if len(args.sizes) > 1:
        small, large = min(args.sizes), max(args.sizes)
        print(f"\npeak memory {large:,} rows / {small:,} rows (real export, whole process):")
        for export in args.exports:
            large_run, small_run = results[(large, export)][0], results[(small, export)][0]
            print(f"{export:>12}  process peak {large_run['peak_mb'] / small_run['peak_mb']:4.2f}, "
                  f"export's own allocation {large_run['allocated_mb'] / small_run['allocated_mb']:4.2f}  (target <= 1.30)")
    print("time real / bare (target <= 1.50):")
    for (size, export), (real, bare) in sorted(results.items()):
        print(f"{export:>12} {size:>8,}  {real['seconds'] / bare['seconds']:4.2f}")


if __name__ == "__main__":
    os.environ.setdefault("PORTAL_ENV", "development")
    main()
