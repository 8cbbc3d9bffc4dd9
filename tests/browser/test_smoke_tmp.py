import pytest
from conftest import _empty_case_tables
from models import db

@pytest.fixture(scope="module")
def demo(app):
    from demo_data import seed_demo
    with app.app_context():
        _empty_case_tables()
        seed_demo()
        db.session.remove()

PAGES = ["/", "/tenantview/list/", "/trajectoryview/list/", "/agreementview/list/", "/debtview/list/", "/evaluations-due/",
         "/evaluationview/list/", "/interventionview/list/", "/organisationview/list/", "/contactview/list/", "/auditview/list/",
         "/partner-workbook/form", "/tenantview/show/1", "/trajectoryview/show/1", "/agreementview/show/1", "/debtview/show/1",
         "/evaluationview/show/1", "/tenantview/add", "/trajectoryview/add", "/debtview/add", "/evaluationview/add", "/tenantview/edit/1",
         "/signatureview/show/1", "/obligationview/show/1", "/interventionview/show/1", "/trajectoryview/step/5/intake", "/auditview/show/1",
         "/organisationview/show/1", "/contactview/show/1", "/agreementview/add", "/signatureview/add", "/obligationview/add",
         "/interventionview/add", "/trajectoryview/edit/1", "/debtview/edit/1", "/evaluationview/edit/1", "/users/list/", "/users/userinfo/", "/roles/list/"]

def test_tmp(staff, demo):
    coordinator = staff("admin")
    errors = []
    for path in PAGES:
        try:
            coordinator.goto(path)
        except AssertionError as e:
            errors.append(str(e).splitlines()[0])
    coordinator.watch.problems and errors.extend(coordinator.watch.problems)
    coordinator.watch.problems.clear()
    assert not errors, "\n".join(errors)
