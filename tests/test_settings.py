"""Policy settings: defaults from the environment, an Admin's page, the trail, and reading them per request."""
import json
import re
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

import builders
from config import policy_defaults
from conftest import ACCOUNTS, form_values, messages
from models import AuditAction, AuditEntry, Trajectory, db
from models.settings import PolicySettings, SettingError, StoredPolicy

PAGE = "/policy-settings/form"


def _stored(app):
    with app.app_context():
        row = db.session.get(StoredPolicy, 1)
        return None if row is None else {column.name: getattr(row, column.name) for column in StoredPolicy.__table__.columns}


def _trail(app) -> list:
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.record_type == "policy_settings")
                                     .order_by(AuditEntry.id)).all()
        return [(e.action, e.username, json.loads(e.changes) if e.changes else None) for e in entries]


@contextmanager
def statements(app):
    """The SQL statements run inside the block."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


# ---- the typed object and the environment ------------------------------------------------------

def test_the_environment_sets_the_defaults_in_months():
    settings = PolicySettings.from_environment({"MINIMUM_DURATION_MONTHS": "18", "EVALUATION_INTERVAL_MONTHS": "2",
                                                "EVICTION_COST_EUR": "31000.50"})
    assert settings.minimum_duration_months == 18 and settings.evaluation_interval_months == 2
    assert settings.eviction_cost_eur == Decimal("31000.50")
    assert PolicySettings.from_environment({}) == PolicySettings()


@pytest.mark.parametrize("environ, named", [
    ({"EVALUATION_INTERVAL_MONTHS": "abc"}, "EVALUATION_INTERVAL_MONTHS='abc'"),
    ({"EVALUATION_INTERVAL_MONTHS": "13"}, "EVALUATION_INTERVAL_MONTHS=13"),
    ({"EVALUATION_DUE_SOON_DAYS": "2.5"}, "EVALUATION_DUE_SOON_DAYS='2.5'"),
    ({"MINIMUM_DURATION_MONTHS": "60"}, "MAXIMUM_DURATION_MONTHS=48"),
    ({"EVICTION_COST_EUR": "NaN"}, "EVICTION_COST_EUR=NaN"),
    ({"EVICTION_COST_EUR": "12,50"}, "EVICTION_COST_EUR='12,50'"),
    ({"MINIMUM_DURATION_YEARS": "1.5"}, "MINIMUM_DURATION_MONTHS"),
])
def test_an_invalid_environment_value_stops_the_start_with_one_line_naming_it(environ, named):
    with pytest.raises(SystemExit) as stopped:
        policy_defaults(environ)
    assert named in str(stopped.value) and "\n" not in str(stopped.value)


def test_every_setting_is_checked_against_its_bounds():
    for setting in PolicySettings.settings():
        low, high = setting.metadata["minimum"], setting.metadata["maximum"]
        for wrong in (low - 1, high + 1):
            with pytest.raises(SettingError) as refused:
                PolicySettings().changed(**{setting.name: type(low)(wrong)})
            assert refused.value.name == setting.name
    with pytest.raises(SettingError):
        PolicySettings(minimum_duration_months=30, maximum_duration_months=24)
    with pytest.raises(SettingError):
        PolicySettings(evaluation_interval_months=True)


# ---- the settings page ------------------------------------------------------------------------

def _save(client, **changes):
    values = form_values(client.get(PAGE).get_data(as_text=True))
    values.update({name: str(value) for name, value in changes.items()})
    return client.client.post(PAGE, data=values)


def test_an_admin_change_applies_on_the_next_request_and_is_in_the_trail(app, login, world):
    with app.app_context():
        start = date.today() - timedelta(days=10)
        trajectory_id = builders.trajectory(builders.tenant(), start_date=start).id
        db.session.commit()
        before = builders.settings()
    other = 1 if before.evaluation_interval_months != 1 else 4
    coordinator = login("coordinator")
    page = coordinator.get(f"/trajectoryview/show/{trajectory_id}").get_data(as_text=True)
    assert (start + relativedelta(months=before.evaluation_interval_months)).strftime("%d-%m-%Y") in page

    admin = login("admin")
    admin.get("/lang/en")
    form = admin.get(PAGE).get_data(as_text=True)
    assert "Evaluation interval (months)" in form and "Allowed: 1 to 12." in form
    saved = _save(admin, evaluation_interval_months=other, eviction_cost_eur="30000.25")
    assert saved.status_code == 302
    assert "saved" in " ".join(messages(admin.get(saved.headers["Location"])))

    page = coordinator.get(f"/trajectoryview/show/{trajectory_id}").get_data(as_text=True)
    assert (start + relativedelta(months=other)).strftime("%d-%m-%Y") in page
    with app.app_context():
        assert db.session.get(Trajectory, trajectory_id).next_evaluation_date == start + relativedelta(months=other)
    # Who, when, old and new: the first save records the values it replaced.
    (created, admin_name, _), (updated, by, changes) = _trail(app)
    assert created == AuditAction.create and updated == AuditAction.update and admin_name == by == "admin"
    assert changes["evaluation_interval_months"] == [before.evaluation_interval_months, other]
    assert [Decimal(amount) for amount in changes.pop("eviction_cost_eur")] == [before.eviction_cost_eur, Decimal("30000.25")]
    assert set(changes) == {"evaluation_interval_months"}
    # The trail's page names the setting, not the column.
    with app.app_context():
        entry_id = db.session.scalars(sa.select(AuditEntry.id).where(AuditEntry.action == AuditAction.update)
                                      .where(AuditEntry.record_type == "policy_settings")).one()
    entry = admin.get(f"/auditview/show/{entry_id}").get_data(as_text=True)
    assert "Evaluation interval (months)" in entry and "Policy settings" in entry

    # A second save: only what changed, with the values stored before.
    assert _save(admin, evaluation_interval_months=before.evaluation_interval_months).status_code == 302
    assert _trail(app)[-1][2] == {"evaluation_interval_months": [other, before.evaluation_interval_months]}


def test_the_page_speaks_dutch(login, world):
    admin = login("admin")
    admin.get("/lang/nl")
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Evaluatie-interval (maanden)" in page and "Beleidsinstellingen" in page
    assert "Evaluation interval" not in page


@pytest.mark.parametrize("username", [name for name in ACCOUNTS if name != "admin"])
def test_only_an_admin_may_open_or_save_the_settings(app, login, username):
    client = login(username)
    assert client.get(PAGE).status_code == 403
    assert 'href="/policy-settings/' not in client.get("/").get_data(as_text=True)
    token = client.csrf_token("/partner-workbook/form")
    values = {s.name: str(getattr(PolicySettings(), s.name)) for s in PolicySettings.settings()}
    refused = client.client.post(PAGE, data={**values, "evaluation_interval_months": "1", "version": "0",
                                             "csrf_token": token})
    assert refused.status_code == 403
    assert _stored(app) is None and _trail(app) == []


def test_the_admin_menu_offers_the_page(login, world):
    assert 'href="/policy-settings/form"' in login("admin").get("/").get_data(as_text=True)


@pytest.mark.parametrize("changes, message", [
    ({"evaluation_interval_months": "13"}, "from 1 to 12"),
    ({"evaluation_interval_months": "0"}, "from 1 to 12"),
    ({"evaluation_interval_months": "abc"}, "integer"),
    ({"evaluation_interval_months": ""}, "required"),
    ({"minimum_duration_months": "60", "maximum_duration_months": "48"}, "cannot be shorter than the minimum"),
    ({"eviction_cost_eur": "NaN"}, "amount"),
    ({"eviction_cost_eur": "-5"}, "cannot be negative"),
    ({"success_target_percent": "101"}, "from 1 to 100"),
    # As on every form of the portal: digits 0-9 only, and no number Python would read another way.
    ({"evaluation_interval_months": "３"}, "digits 0 to 9"),
    ({"evaluation_interval_months": "1_0"}, "digits 0 to 9"),
    ({"eviction_cost_eur": "1e3"}, "amount"),
])
def test_invalid_values_get_a_form_message_and_nothing_is_written(app, login, world, changes, message):
    admin = login("admin")
    admin.get("/lang/en")
    answer = _save(admin, **changes)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert message in page, page[page.find("has-error") - 200:page.find("has-error") + 800]
    assert _stored(app) is None and _trail(app) == []


def test_two_admins_at_once_do_not_overwrite_each_other(app, login, world):
    first, second = login("admin"), login("admin")
    first.get("/lang/en")
    second.get("/lang/en")
    opened = form_values(first.get(PAGE).get_data(as_text=True))  # both open the page
    assert _save(second, relapse_followup_months=24).status_code == 302
    answer = first.client.post(PAGE, data={**opened, "relapse_followup_months": "6", "success_target_percent": "60"})
    assert answer.status_code == 200
    assert any("Another Admin saved the settings" in m for m in messages(answer))
    stored = _stored(app)
    assert stored["relapse_followup_months"] == 24
    assert stored["success_target_percent"] == app.config["POLICY_DEFAULTS"].success_target_percent
    # Reopened, the page carries the new version and the save goes through.
    assert _save(first, relapse_followup_months=6).status_code == 302
    assert _stored(app)["relapse_followup_months"] == 6
    reopened_twice = form_values(second.get(PAGE).get_data(as_text=True))
    assert _save(first, relapse_followup_months=9).status_code == 302
    stale = second.client.post(PAGE, data={**reopened_twice, "relapse_followup_months": "3"})
    assert any("Another Admin saved the settings" in m for m in messages(stale))
    assert _stored(app)["relapse_followup_months"] == 9


# ---- read once per request, only where needed -------------------------------------------------

def test_settings_are_read_once_on_pages_that_use_them_and_never_on_others(app, login, world):
    with app.app_context():
        for number in range(3):
            builders.trajectory(builders.tenant(f"LK-S-000{number}"), start_date=date.today() - timedelta(days=100))
        db.session.commit()
    client = login("coordinator")
    for url, reads in (("/evaluations-due/", 1), ("/", 1), ("/trajectoryview/list/", 1),
                       ("/organisationview/list/", 0), ("/tenantview/list/", 0)):
        with statements(app) as seen:
            assert client.get(url).status_code == 200
        assert sum("policy_settings" in statement for statement in seen) == reads, url


# ---- the maximum duration ---------------------------------------------------------------------

def test_a_planned_end_beyond_the_maximum_duration_is_refused_on_the_form(app, login, world):
    with app.app_context():
        start = date.today() - timedelta(days=30)
        trajectory_id = builders.trajectory(builders.tenant(), start_date=start).id
        db.session.commit()
        maximum = builders.settings().maximum_duration_months
    client = login("coordinator")
    client.get("/lang/en")
    edit = f"/trajectoryview/edit/{trajectory_id}"
    values = form_values(client.get(edit).get_data(as_text=True))
    too_late = start + relativedelta(months=maximum) + timedelta(days=1)
    answer = client.client.post(edit, data={**values, "planned_end_date": too_late.isoformat()})
    assert answer.status_code == 200
    assert any(f"at most {maximum} months after the start" in m for m in messages(answer))
    latest = start + relativedelta(months=maximum)
    assert client.client.post(edit, data={**values, "planned_end_date": latest.isoformat()}).status_code == 302
    with app.app_context():
        assert db.session.get(Trajectory, trajectory_id).planned_end_date == latest
        builders.set_policy(maximum_duration_months=max(builders.settings().minimum_duration_months, maximum - 6))
    values = form_values(client.get(edit).get_data(as_text=True))
    refused = client.client.post(edit, data=values)
    assert any("months after the start" in m for m in messages(refused))


def test_an_amount_is_typed_as_on_every_form(app, login, world):
    admin = login("admin")
    assert _save(admin, eviction_cost_eur="25000,50").status_code == 302
    assert _stored(app)["eviction_cost_eur"] == Decimal("25000.50")
