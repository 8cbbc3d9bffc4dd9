"""AVG duties: subject access (everything about one tenant) and retention (erase, keep the figures)."""
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from openpyxl import load_workbook

import builders
from conftest import form_values
from models import (
    AuditAction, AuditEntry, DebtCategory, Evaluation, Intervention, Obligation, Signature, SigningParty, Tenant,
    Trajectory, TrajectoryStatus, db,
)
from models import registry, retention
from reports import subject_access
from models.scope import ALL_CASES
from reports import kpi

TODAY = date.today()


@pytest.fixture
def old_and_new(app, world):
    """An old completed case (ended a year beyond both retention periods), and a current running one."""
    with app.app_context():
        ended = TODAY - relativedelta(years=max(builders.settings().retention_years.values()) + 1)
        old_tenant = builders.tenant("LK-O-0001", first_name="Oud", last_name="Huurder", bsn="111222333", street="Kerkstraat",
                                     house_number="4", postcode="3511 AB", phone="030-1111111", psychosocial_notes="depressie")
        old = builders.trajectory(old_tenant, status=TrajectoryStatus.completed, start_date=ended - relativedelta(years=3),
                                  actual_end_date=ended, notes="Moeilijke start", relapse=False,
                                  relapse_followup_date=ended + relativedelta(years=1))
        builders.debt(old, balance="0.00", original="1500.00", category=DebtCategory.energy, creditor="Eneco", notes="via familie")
        evaluation = builders.evaluation(old, planned=ended - relativedelta(years=1), held=ended - relativedelta(years=1),
                                         participants="Oud Huurder, coördinator", notes="Gaat goed")
        db.session.add(Intervention(evaluation=evaluation, description="Bewindvoering aanvragen voor Oud Huurder",
                                    responsible_organisation=builders.organisation("Gemeente Utrecht"),
                                    due_date=ended - relativedelta(years=1), closed_on=ended - relativedelta(years=1)))
        agreement = builders.agreement(old)
        db.session.add(Obligation(agreement=agreement, party=SigningParty.tenant, description="Oud Huurder betaalt huur"))
        db.session.add(Signature(agreement=agreement, party=SigningParty.tenant, signed_by="Oud Huurder",
                                 signed_on=ended - relativedelta(years=3)))
        new_tenant = builders.tenant("LK-N-0001", first_name="Nieuw", last_name="Huurder", bsn="123456782")
        builders.trajectory(new_tenant, start_date=TODAY - relativedelta(years=1), notes="Loopt")
        db.session.commit()
        return {"old_tenant": old_tenant.id, "new_tenant": new_tenant.id, "old": old.id}


def test_subject_access_as_json_holds_everything(app, login, old_and_new):
    client = login("coordinator")
    client.get(f"/tenantview/show/{old_and_new['old_tenant']}")
    response = client.get(f"/tenantview/subject-access/{old_and_new['old_tenant']}/json")
    assert response.status_code == 200 and "LK-O-0001" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["tenant"][0]["bsn"] == "111222333" and data["tenant"][0]["psychosocial_notes"] == "depressie"
    assert len(data["trajectory"]) == 1 and data["debt"][0]["creditor"] == "Eneco"
    assert data["intervention"][0]["description"].startswith("Bewindvoering")
    assert data["signature"][0]["signed_by"] == "Oud Huurder"
    assert any(e["action"] == "view" and e["record_type"] == "tenant" for e in data["audit_trail"])
    assert all("Nieuw" not in json.dumps(rows) for rows in data.values())


def test_subject_access_as_workbook(app, login, old_and_new):
    response = login("coordinator").get(f"/tenantview/subject-access/{old_and_new['old_tenant']}/xlsx")
    book = load_workbook(io.BytesIO(response.data))
    with app.test_request_context():
        titles = [subject_access.section_title(e.name) for e in registry.case_entities()]
        titles.append(subject_access.section_title(subject_access.AUDIT_TRAIL))
        tenant_sheet = subject_access.section_title("tenant")
    assert book.sheetnames == titles
    tenant = {h.value: c.value for h, c in zip(book[tenant_sheet][1], book[tenant_sheet][2])}
    assert tenant["bsn"] == "111222333" and tenant["last_name"] == "Huurder"
    with app.app_context():
        assert db.session.query(AuditEntry).filter_by(action=AuditAction.subject_access).count() == 1


@pytest.mark.parametrize("username", ["portaal", "viewer", "gemeente"])
def test_only_coordinators_make_subject_access_exports(login, old_and_new, username):
    assert login(username).get(f"/tenantview/subject-access/{old_and_new['old_tenant']}/json").status_code in (302, 403)


def _figures(session):
    return {
        "caseload": kpi.caseload_by_status(session, ALL_CASES),
        "debt": kpi.debt_totals(session, ALL_CASES),
        "by_category": kpi.debts_by_category_and_status(session, ALL_CASES),
        "success": kpi.success_rate(session, ALL_CASES),
        "completed": kpi.completed_count(session, ALL_CASES),
        "referrals": kpi.referrals_between(session, ALL_CASES, TODAY - relativedelta(years=20), TODAY),
        "held": kpi.evaluations_held_between(session, ALL_CASES, TODAY - relativedelta(years=20), TODAY),
    }


def test_dry_run_lists_and_changes_nothing(app, old_and_new):
    result = app.test_cli_runner().invoke(args=["retention", "--dry-run"])
    assert result.exit_code == 0 and "1 tenant(s) to anonymise" in result.output and "LK-O-0001" in result.output
    assert "LK-N-0001" not in result.output
    with app.app_context():
        assert db.session.get(Tenant, old_and_new["old_tenant"]).last_name == "Huurder"


def test_retention_follows_the_stored_settings(app, old_and_new):
    with app.app_context():
        ended = db.session.get(Trajectory, old_and_new["old"]).actual_end_date
        builders.set_policy(retention_years_tenant=TODAY.year - ended.year + 2, retention_years_case_notes=TODAY.year - ended.year + 2)
    result = app.test_cli_runner().invoke(args=["retention", "--dry-run"])
    assert result.exit_code == 0 and "0 tenant(s) to anonymise" in result.output


def test_retention_erases_identity_and_notes_and_keeps_the_figures(app, login, old_and_new):
    client = login("coordinator")
    url = f"/tenantview/edit/{old_and_new['old_tenant']}"
    values = form_values(client.get(url).get_data(as_text=True))
    values["street"] = "Domplein"
    client.post_form(url, values)  # leaves the old and new street in the audit trail
    with app.app_context():
        before = _figures(db.session)
    result = app.test_cli_runner().invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert _figures(db.session) == before
        old = db.session.get(Tenant, old_and_new["old_tenant"])
        assert (old.first_name, old.last_name, old.bsn, old.street, old.phone, old.psychosocial_notes) == (
            "Geanonimiseerd", "(erased)", None, None, None, None)
        assert old.postcode == "3511" and old.anonymised_on == TODAY and old.client_number == "LK-O-0001"
        trajectory = db.session.get(Trajectory, old_and_new["old"])
        assert trajectory.notes is None and trajectory.relapse is False
        assert trajectory.debts[0].creditor == "(erased)" and trajectory.debts[0].original_amount == Decimal("1500.00")
        evaluation = db.session.query(Evaluation).filter_by(trajectory_id=trajectory.id).one()
        assert evaluation.participants is None and evaluation.interventions[0].description == "(erased)"
        assert trajectory.agreements[0].signatures[0].signed_by == "(erased)"
        trail = " ".join(e.changes or "" for e in db.session.query(AuditEntry).filter_by(record_type="tenant"))
        assert "Domplein" not in trail and "Kerkstraat" not in trail
        assert db.session.query(AuditEntry).filter_by(action=AuditAction.anonymise).count() == 1
        new = db.session.get(Tenant, old_and_new["new_tenant"])
        assert new.first_name == "Nieuw" and new.bsn == "123456782" and new.trajectories[0].notes == "Loopt"
    # A second run finds nothing left to do.
    assert "0 tenant(s) to anonymise" in app.test_cli_runner().invoke(args=["retention"]).output


def test_a_tenant_with_an_open_trajectory_is_kept(app, old_and_new):
    with app.app_context():
        old = db.session.get(Tenant, old_and_new["old_tenant"])
        builders.trajectory(old, status=TrajectoryStatus.intake)
        db.session.commit()
        assert retention.plan(db.session, builders.settings().retention_years).tenants == []
