"""A new field is the model lines plus `flask db migrate`: on screen, in search and in the export.

In a copy of the portal, two columns are added to Debt (a boolean with a server default and a
date), the migration is generated and applied, and a member of staff then finds the fields on the
debt's form and page, searches by them and sees them in the list's Excel export — with no view or
report edited. The copy has a database of its own: a throwaway SQLite file, or a throwaway
PostgreSQL database beside the one PORTAL_TEST_DATABASE_URL names.
"""
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
NEW_LINES = '''
    written_off = sa.Column(sa.Boolean, nullable=False, server_default=sa.false(), info={"label": "Written off"})
    written_off_on = sa.Column(sa.Date, info={"label": "Written off on"})
'''
# Run inside the copy, after its migration: what a member of staff sees.
STAFF_SCRIPT = r'''
import io, os, re
from datetime import date
from decimal import Decimal
from openpyxl import load_workbook
from werkzeug.security import generate_password_hash
from app import create_app
from commands import sync_roles
from models import Debt, Organisation, OrganisationKind, PortalUser, Tenant, Trajectory, TrajectoryStatus, db

app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"], "SECRET_KEY": "k" * 40,
                  "WTF_CSRF_ENABLED": False, "SERVER_NAME": "portal.test"})
with app.app_context():
    sync_roles()
    coordinator = Organisation(name="Het Vierde Huis", kind=OrganisationKind.coordinator)
    corporation = Organisation(name="Portaal", kind=OrganisationKind.housing_corporation)
    tenant = Tenant(client_number="LK-F-0001", first_name="Anna", last_name="Veld", housing_corporation=corporation)
    trajectory = Trajectory(tenant=tenant, referring_organisation=corporation, referral_date=date(2026, 1, 5),
                            status=TrajectoryStatus.running, start_date=date(2026, 2, 1))
    db.session.add_all([coordinator, corporation, tenant, trajectory, PortalUser(
        username="admin", first_name="A", last_name="Dmin", email="a@example.nl", active=True, organisation=coordinator,
        password=generate_password_hash("Demo-2026!"), roles=[app.appbuilder.sm.find_role("Admin")])])
    db.session.commit()
    trajectory_id = trajectory.id

client = app.test_client()
assert client.post("/login/", data={"username": "admin", "password": "Demo-2026!"}).status_code == 302
client.get("/lang/en")
form = client.get("/debtview/add").get_data(as_text=True)
assert 'name="written_off"' in form and 'name="written_off_on"' in form, "the new fields are not on the form"
response = client.post("/debtview/add", data={
    "trajectory": str(trajectory_id), "creditor": "Vitens", "category": "water", "status": "inventoried",
    "original_amount": "250.00", "current_balance": "200.00", "written_off": "y", "written_off_on": "2026-11-02"})
assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
with app.app_context():
    debt = db.session.query(Debt).one()
    assert debt.written_off is True and debt.written_off_on == date(2026, 11, 2)
    assert db.session.get(Trajectory, trajectory_id).total_current_debt == Decimal("200.00"), "the stored figures stopped"
    debt_id = debt.id
page = client.get(f"/debtview/show/{debt_id}").get_data(as_text=True)
assert "Written off on" in page and "2 Nov 2026" in page, "the new fields are not on the record's page"
listing = client.get("/debtview/list/").get_data(as_text=True)
assert "written_off_on" in listing, "the new field is not offered in search"
found = client.get("/debtview/list/?_flt_0_written_off_on=2026-11-02").get_data(as_text=True)
missed = client.get("/debtview/list/?_flt_0_written_off_on=2026-11-03").get_data(as_text=True)
assert f"/debtview/show/{debt_id}" in found and f"/debtview/show/{debt_id}" not in missed, "searching by it fails"
sheet = load_workbook(io.BytesIO(client.get("/debtview/export/xlsx/").data)).active
headers = [cell.value for cell in sheet[1]]
row = dict(zip(headers, [cell.value for cell in sheet[2]]))
assert row["Written off"] == "Yes" and row["Written off on"].date() == date(2026, 11, 2), headers
print("STAFF SEE THE NEW FIELD")
'''


def _copy_of_the_portal(target: Path) -> Path:
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(
        ".venv", ".git", "instance", "__pycache__", "*.db", "screenshots", ".pytest_cache"))
    debt = target / "models" / "debt.py"
    source = debt.read_text()
    anchor = '    notes = sa.Column(sa.Text, info={"label": _l("Notes")'
    line_end = source.index("\n", source.index(anchor))
    debt.write_text(source[:line_end + 1] + NEW_LINES + source[line_end + 1:])
    return target


@pytest.fixture
def database_url():
    """A database of the copy's own, on the engine the suite runs on."""
    server = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not server:
        yield None
        return
    name = f"portal_new_field_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(sa.engine.make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_a_new_debt_field_needs_only_the_model_and_its_migration(tmp_path, database_url):
    copy = _copy_of_the_portal(tmp_path / "portal")
    env = {**os.environ, "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'portal.db'}",
           "PYTHONPATH": str(copy), "FLASK_APP": "app"}
    env.pop("PORTAL_ENV", None)

    def run(*args):
        result = subprocess.run([sys.executable, *args], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result

    run("-m", "flask", "db", "upgrade")
    run("-m", "flask", "db", "migrate", "-m", "Debts can be written off")
    generated = [p for p in (copy / "migrations" / "versions").glob("*.py")
                 if "written_off" in p.read_text() and p.name[:4] != "0010"]
    assert len(generated) == 1, "flask db migrate drafted no migration for the new fields"
    run("-m", "flask", "db", "upgrade")
    assert "STAFF SEE THE NEW FIELD" in run("-c", STAFF_SCRIPT).stdout
