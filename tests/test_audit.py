"""The audit trail: every change in the same transaction, access entries, read-only, searchable."""
import io
import json
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

import builders
from conftest import form_values
from models import AuditAction, AuditEntry, Tenant, Trajectory, db
from test_crud import TENANT_FORM


def entries(app, **filters):
    with app.app_context():
        rows = db.session.query(AuditEntry).filter_by(**filters).order_by(AuditEntry.id).all()
        db.session.expunge_all()
        return rows


def test_create_update_delete_are_recorded_with_who_and_what(app, login, world):
    client = login("coordinator")
    assert client.post_form("/tenantview/add", {**TENANT_FORM, "housing_corporation": str(world["Portaal"]),
                                                "psychosocial_notes": "geheim"}).status_code == 302
    with app.app_context():
        tenant_id = db.session.query(Tenant.id).scalar()
    created = entries(app, record_type="tenant", record_id=tenant_id, action=AuditAction.create)
    assert len(created) == 1 and created[0].username == "coordinator" and created[0].organisation_name == "Het Vierde Huis"

    url = f"/tenantview/edit/{tenant_id}"
    values = form_values(client.get(url).get_data(as_text=True))
    values.update(city="Zeist", bsn="123456782", psychosocial_notes="nog geheimer")
    assert client.post_form(url, values).status_code == 302
    (update,) = entries(app, record_type="tenant", record_id=tenant_id, action=AuditAction.update)
    changes = json.loads(update.changes)
    assert changes["city"] == ["Utrecht", "Zeist"]
    assert changes["bsn"] == ["(changed)", "(changed)"]
    assert changes["psychosocial_notes"] == ["(changed)", "(changed)"]
    assert "123456782" not in update.changes and "111222333" not in update.changes and "geheim" not in update.changes

    client.post_form(f"/tenantview/delete/{tenant_id}", {}, form_url=f"/tenantview/show/{tenant_id}")
    assert len(entries(app, record_type="tenant", record_id=tenant_id, action=AuditAction.delete)) == 1


def test_a_refused_save_leaves_no_entry(app, login, world):
    client = login("coordinator")
    client.post_form("/tenantview/add", {**TENANT_FORM, "postcode": "nope", "housing_corporation": str(world["Portaal"])})
    assert entries(app, record_type="tenant") == []


def test_many_to_many_changes_are_recorded(app, login, world):
    with app.app_context():
        trajectory_id = builders.trajectory(builders.tenant()).id
        db.session.commit()
    client = login("coordinator")
    url = f"/trajectoryview/edit/{trajectory_id}"
    values = form_values(client.get(url).get_data(as_text=True))
    values["involved_organisations"] = [str(world["Het Vierde Huis"]), str(world["Buurtteam Zuidwest"])]
    assert client.post_form(url, values).status_code == 302
    (update,) = entries(app, record_type="trajectory", action=AuditAction.update)
    old, new = json.loads(update.changes)["involved_organisations"]
    assert "Gemeente Utrecht" in old and "Buurtteam Zuidwest" in new and "Gemeente Utrecht" not in new


def test_opening_a_tenant_exporting_and_a_workbook_are_recorded(app, login, world):
    with app.app_context():
        tenant_id = builders.tenant().id
        db.session.commit()
    client = login("portaal")
    client.get(f"/tenantview/show/{tenant_id}")
    client.get("/debtview/export/xlsx/?_flt_0_creditor=Eneco")
    client.post_form("/partner-workbook/form", {"organisation": str(world["Portaal"]), "period": "2026-Q3"})
    (viewed,) = entries(app, action=AuditAction.view)
    assert (viewed.record_type, viewed.record_id, viewed.username) == ("tenant", tenant_id, "portaal")
    (exported,) = entries(app, action=AuditAction.export)
    assert exported.record_type == "debt" and "creditor=Eneco" in exported.detail
    (workbook,) = entries(app, action=AuditAction.workbook)
    assert "Portaal" in workbook.detail and "2026-Q3" in workbook.detail


def test_an_export_is_recorded_with_its_filters_whatever_else_the_address_holds(app, login, world):
    client = login("portaal")
    client.get(f"/tenantview/export/xlsx/?pad={'A' * 600}&_flt_0_last_name=Geheim&_oc_TenantView=city")
    (exported,) = entries(app, action=AuditAction.export)
    assert "_flt_0_last_name=Geheim" in exported.detail and "_oc_TenantView=city" in exported.detail
    assert "pad=" not in exported.detail


def test_entries_cannot_be_changed_through_the_portal(app, login, world):
    with app.app_context():
        builders.tenant()
        db.session.commit()
        entry_id = db.session.query(sa.func.min(AuditEntry.id)).scalar()
    client = login("admin")
    for url in (f"/auditview/edit/{entry_id}", f"/auditview/delete/{entry_id}", "/auditview/add"):
        assert client.get(url).status_code in (403, 404)  # the permission does not exist for anyone
    with app.app_context():
        entry = db.session.get(AuditEntry, entry_id)
        entry.username = "someone else"
        with pytest.raises(PermissionError):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.get(AuditEntry, entry_id))
        with pytest.raises(PermissionError):
            db.session.flush()
        db.session.rollback()


def test_coordinator_searches_and_exports_the_trail(app, login, world):
    with app.app_context():
        builders.tenant("LK-A-0001")
        builders.tenant("LK-A-0002", "Mitros")
        db.session.commit()
    login("portaal").get("/tenantview/list/")
    client = login("coordinator")
    listing = client.get("/auditview/list/?_flt_0_record_type=tenant&_flt_0_action=create").get_data(as_text=True)
    assert listing.count("/auditview/show/") == 2
    since = (date.today() - timedelta(days=1)).isoformat()
    book = load_workbook(io.BytesIO(client.get(f"/auditview/export/xlsx/?_flt_1_at={since}").data))
    assert book.active.max_row >= 3


@pytest.mark.parametrize("username", ["portaal", "gemeente", "viewer", "buurtteam"])
def test_others_cannot_read_the_trail(login, world, username):
    client = login(username)
    assert client.get("/auditview/list/").status_code in (302, 403)
    assert client.get("/auditview/export/xlsx/").status_code in (302, 403)


def test_a_record_page_shows_its_history(app, login, world):
    with app.app_context():
        tenant_id = builders.tenant().id
        db.session.commit()
    client = login("coordinator")
    client.get("/lang/en")
    url = f"/tenantview/edit/{tenant_id}"
    values = form_values(client.get(url).get_data(as_text=True))
    values["city"] = "Houten"
    client.post_form(url, values)
    page = client.get(f"/tenantview/show/{tenant_id}").get_data(as_text=True)
    assert 'id="record-history"' in page and "Houten" in page and "Changed" in page


def _history(html) -> str:
    match = re.search(r'<section[^>]*id="record-history".*?</section>', html, re.S)
    return match.group(0) if match else ""


def test_who_opened_a_record_is_shown_to_coordinators_only(app, login, world):
    with app.app_context():
        tenant_id = builders.tenant().id
        db.session.commit()
    coordinator = login("coordinator")
    url = f"/tenantview/edit/{tenant_id}"
    values = form_values(coordinator.get(url).get_data(as_text=True))
    values["city"] = "Houten"
    coordinator.post_form(url, values)
    portaal = login("portaal")
    portaal.get("/lang/en")
    partner = _history(portaal.get(f"/tenantview/show/{tenant_id}").get_data(as_text=True))
    coordinator.get("/lang/en")
    own = _history(coordinator.get(f"/tenantview/show/{tenant_id}").get_data(as_text=True))
    assert "Changed" in partner and "Houten" in partner and "Opened" not in partner
    assert "Opened" in own and "portaal" in own and "Changed" in own and "Houten" in own
    # More openings than the panel holds: the change stays among the entries a partner is shown.
    for _ in range(25):
        portaal.get(f"/tenantview/show/{tenant_id}")
    assert "Houten" in _history(portaal.get(f"/tenantview/show/{tenant_id}").get_data(as_text=True))


def test_saving_a_form_unchanged_changes_nothing_and_records_nothing(app, login, world):
    """A browser sends the form as rendered: ticked boxes only, every selected party, notes with CRLF line breaks."""
    with app.app_context():
        trajectory = builders.trajectory(builders.tenant(psychosocial_notes="Eerste regel\nTweede regel"),
                                         reason_nuisance=True, notes="Afspraak gemaakt.\nVolgt in mei.")
        tenant_id, trajectory_id = trajectory.tenant_id, trajectory.id
        db.session.commit()
    client = login("coordinator")
    for url in (f"/tenantview/edit/{tenant_id}", f"/trajectoryview/edit/{trajectory_id}"):
        values = form_values(client.get(url).get_data(as_text=True))
        assert client.post_form(url, values).status_code == 302, url
    assert [(e.record_type, e.changes) for e in entries(app, action=AuditAction.update)] == []
    with app.app_context():
        trajectory = db.session.get(Trajectory, trajectory_id)
        assert trajectory.notes == "Afspraak gemaakt.\nVolgt in mei."
        assert trajectory.tenant.psychosocial_notes == "Eerste regel\nTweede regel"
        assert trajectory.reason_nuisance and not trajectory.reason_rent_arrears
        assert {o.name for o in trajectory.involved_organisations} == {"Het Vierde Huis", "Gemeente Utrecht"}
