"""Every entity can be added, edited and deleted through its own form, as a coordinator."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

import builders
from conftest import form_values, messages
from models import (
    Agreement, Contact, Debt, Evaluation, Obligation, Organisation, Signature, Tenant, Trajectory, db,
)


def _count(app, model, **filters):
    with app.app_context():
        return db.session.query(model).filter_by(**filters).count()


def _one(app, model, **filters):
    with app.app_context():
        return db.session.query(model).filter_by(**filters).one()


@pytest.fixture
def case(app, world):
    """A running trajectory of a Portaal tenant, with Het Vierde Huis and Gemeente involved."""
    with app.app_context():
        tenant = builders.tenant()
        trajectory = builders.trajectory(tenant, start_date=date.today() - timedelta(days=200))
        agreement = builders.agreement(trajectory)
        db.session.commit()
        ids = {"tenant": tenant.id, "trajectory": trajectory.id, "agreement": agreement.id}
    return ids


def test_organisation_add_edit_delete(app, login):
    client = login("coordinator")
    response = client.post_form("/organisationview/add", {"name": "Bo-Ex", "kind": "housing_corporation", "city": "Utrecht"})
    assert response.status_code == 302
    organisation = _one(app, Organisation, name="Bo-Ex")
    assert organisation.kind.value == "housing_corporation"

    edit_url = f"/organisationview/edit/{organisation.id}"
    values = form_values(client.get(edit_url).get_data(as_text=True))
    values["city"] = "Amersfoort"
    assert client.post_form(edit_url, values).status_code == 302
    assert _one(app, Organisation, name="Bo-Ex").city == "Amersfoort"

    response = client.post_form(f"/organisationview/delete/{organisation.id}", {}, form_url=f"/organisationview/show/{organisation.id}")
    assert response.status_code == 302
    assert _count(app, Organisation, name="Bo-Ex") == 0


def test_contact_add_edit_delete(app, login, world):
    client = login("coordinator")
    response = client.post_form("/contactview/add", {
        "organisation": str(world["Portaal"]), "name": "Rebecca van der Woude",
        "function": "Sociaal beheerder", "email": "r.woude@portaal.example.nl", "phone": "030-1234567",
    })
    assert response.status_code == 302
    contact = _one(app, Contact, name="Rebecca van der Woude")
    edit_url = f"/contactview/edit/{contact.id}"
    values = form_values(client.get(edit_url).get_data(as_text=True))
    values["function"] = "Teamleider"
    assert client.post_form(edit_url, values).status_code == 302
    assert _one(app, Contact, id=contact.id).function == "Teamleider"
    client.post_form(f"/contactview/delete/{contact.id}", {}, form_url=f"/contactview/show/{contact.id}")
    assert _count(app, Contact, id=contact.id) == 0


TENANT_FORM = {
    "client_number": "LK-2026-0042", "first_name": "Jan", "last_name": "Jansen",
    "date_of_birth": "1980-05-17", "bsn": "111222333", "street": "Oudegracht", "house_number": "12a",
    "postcode": "3511ab", "city": "Utrecht", "household": "single", "household_size": "1",
    "rental_contract_number": "HC-99", "monthly_rent": "612.45", "problem_areas": "huurachterstand",
    "psychosocial_notes": "",
}


def test_tenant_add_edit_delete(app, login, world):
    client = login("coordinator")
    response = client.post_form("/tenantview/add", {**TENANT_FORM, "housing_corporation": str(world["Portaal"])})
    assert response.status_code == 302, messages(response)
    tenant = _one(app, Tenant, client_number="LK-2026-0042")
    assert tenant.postcode == "3511 AB"  # stored in the canonical form
    assert tenant.monthly_rent == Decimal("612.45")
    assert tenant.date_of_birth == date(1980, 5, 17)

    edit_url = f"/tenantview/edit/{tenant.id}"
    values = form_values(client.get(edit_url).get_data(as_text=True))
    values["city"] = "Utrecht-Noord"
    assert client.post_form(edit_url, values).status_code == 302
    assert _one(app, Tenant, id=tenant.id).city == "Utrecht-Noord"

    client.post_form(f"/tenantview/delete/{tenant.id}", {}, form_url=f"/tenantview/show/{tenant.id}")
    assert _count(app, Tenant, id=tenant.id) == 0


def test_trajectory_add_edit_delete(app, login, world):
    with app.app_context():
        tenant_id = builders.tenant().id
        db.session.commit()
    client = login("coordinator")
    response = client.post_form("/trajectoryview/add", {
        "tenant": str(tenant_id), "referring_organisation": str(world["Portaal"]),
        "referral_date": "2026-01-15", "reason_rent_arrears": "y", "reason_nuisance": "y",
        "involved_organisations": [str(world["Het Vierde Huis"]), str(world["Gemeente Utrecht"])],
        "status": "referred", "eviction_judgment": "requested", "eviction_judgment_date": "2026-01-10",
        "start_date": "2026-02-01", "planned_end_date": "2028-02-01",
    })
    assert response.status_code == 302, messages(response)
    trajectory = _one(app, Trajectory, tenant_id=tenant_id)
    with app.app_context():
        trajectory = db.session.get(Trajectory, trajectory.id)
        assert {o.name for o in trajectory.involved_organisations} == {"Het Vierde Huis", "Gemeente Utrecht"}
        assert trajectory.reason_rent_arrears and trajectory.reason_nuisance and not trajectory.reason_damage

    edit_url = f"/trajectoryview/edit/{trajectory.id}"
    values = form_values(client.get(edit_url).get_data(as_text=True))
    values["involved_organisations"] = [str(world["Het Vierde Huis"]), str(world["Buurtteam Overvecht"])]
    values["notes"] = "Intake gepland"
    assert client.post_form(edit_url, values).status_code == 302
    with app.app_context():
        trajectory = db.session.get(Trajectory, trajectory.id)
        assert trajectory.notes == "Intake gepland"
        assert {o.name for o in trajectory.involved_organisations} == {"Het Vierde Huis", "Buurtteam Overvecht"}
        # Untouched boxes keep their values, ticked or not.
        assert trajectory.reason_rent_arrears and trajectory.reason_nuisance and not trajectory.reason_damage

    values = form_values(client.get(edit_url).get_data(as_text=True))
    assert values["reason_nuisance"] and "reason_damage" not in values
    del values["reason_nuisance"]  # the user unticks it: a browser then sends nothing for it
    values["reason_damage"] = "y"
    assert client.post_form(edit_url, values).status_code == 302
    with app.app_context():
        trajectory = db.session.get(Trajectory, trajectory.id)
        assert trajectory.reason_rent_arrears and not trajectory.reason_nuisance and trajectory.reason_damage

    client.post_form(f"/trajectoryview/delete/{trajectory.id}", {}, form_url=f"/trajectoryview/show/{trajectory.id}")
    assert _count(app, Trajectory, id=trajectory.id) == 0


def test_debt_add_edit_delete(app, login, case):
    client = login("coordinator")
    response = client.post_form("/debtview/add", {
        "trajectory": str(case["trajectory"]), "creditor": "Vitens", "category": "water",
        "status": "payment_arrangement", "original_amount": "250.00", "current_balance": "180.50",
        "monthly_payment": "25.00", "registered_on": "2026-03-01",
    })
    assert response.status_code == 302, messages(response)
    debt = _one(app, Debt, creditor="Vitens")
    assert debt.current_balance == Decimal("180.50") and debt.category.value == "water"
    edit_url = f"/debtview/edit/{debt.id}"
    values = form_values(client.get(edit_url).get_data(as_text=True))
    values["current_balance"] = "150.00"
    assert client.post_form(edit_url, values).status_code == 302
    assert _one(app, Debt, id=debt.id).current_balance == Decimal("150.00")
    client.post_form(f"/debtview/delete/{debt.id}", {}, form_url=f"/debtview/show/{debt.id}")
    assert _count(app, Debt, id=debt.id) == 0


def test_evaluation_add_edit_delete(app, login, case):
    client = login("coordinator")
    held = (date.today() - timedelta(days=3)).isoformat()
    response = client.post_form("/evaluationview/add", {
        "trajectory": str(case["trajectory"]), "planned_date": held, "held_date": held,
        "participants": "Huurder, Het Vierde Huis, buurtteam", "assessment": "concerns",
        "rent_paid": "yes", "nuisance_reports": "1", "obligations_kept": "yes",
    })
    assert response.status_code == 302, messages(response)
    evaluation = _one(app, Evaluation, trajectory_id=case["trajectory"])
    assert evaluation.assessment.value == "concerns" and evaluation.rent_paid is True
    edit_url = f"/evaluationview/edit/{evaluation.id}"
    values = form_values(client.get(edit_url).get_data(as_text=True))
    values["assessment"] = "on_track"
    assert client.post_form(edit_url, values).status_code == 302
    assert _one(app, Evaluation, id=evaluation.id).assessment.value == "on_track"
    client.post_form(f"/evaluationview/delete/{evaluation.id}", {}, form_url=f"/evaluationview/show/{evaluation.id}")
    assert _count(app, Evaluation, id=evaluation.id) == 0


def test_agreement_with_obligations_and_signatures(app, login, case, world):
    client = login("coordinator")
    response = client.post_form("/agreementview/add", {
        "trajectory": str(case["trajectory"]), "agreement_version": "2", "drawn_up_on": "2026-04-01",
        "valid_from": "2026-04-15", "valid_until": "2028-04-15", "status": "awaiting_signatures",
        "rental_contract_number": "HC-99",
    })
    assert response.status_code == 302, messages(response)
    agreement = _one(app, Agreement, agreement_version=2)
    # The status is not the form's to set: a new agreement is a draft until it is offered for signature.
    assert agreement.status.value == "draft"

    response = client.post_form(f"/obligationview/add?_flt_0_agreement={agreement.id}", {
        "party": "tenant", "description": "Huur maandelijks op tijd betalen", "due_date": "2026-12-31",
        "status": "open",
    })
    assert response.status_code == 302, messages(response)
    response = client.post_form(f"/agreementview/step/{agreement.id}/awaiting_signatures", {},
                                form_url=f"/agreementview/show/{agreement.id}")
    assert response.status_code == 302
    assert _one(app, Agreement, id=agreement.id).status.value == "awaiting_signatures"
    response = client.post_form(f"/signatureview/add?_flt_0_agreement={agreement.id}", {
        "party": "organisation", "organisation": str(world["Gemeente Utrecht"]),
        "signed_by": "M. van der Eijk", "signed_on": date.today().isoformat(),
    })
    assert response.status_code == 302, messages(response)
    assert _count(app, Obligation, agreement_id=agreement.id) == 1
    assert _count(app, Signature, agreement_id=agreement.id) == 1

    obligation = _one(app, Obligation, agreement_id=agreement.id)
    edit_url = f"/obligationview/edit/{obligation.id}"
    values = form_values(client.get(edit_url).get_data(as_text=True))
    values["status"] = "kept"
    assert client.post_form(edit_url, values).status_code == 302
    assert _one(app, Obligation, id=obligation.id).status.value == "kept"

    # The obligations and signatures are part of the agreement document: they go with it.
    client.post_form(f"/agreementview/delete/{agreement.id}", {}, form_url=f"/agreementview/show/{agreement.id}")
    assert _count(app, Agreement, id=agreement.id) == 0
    assert _count(app, Obligation, agreement_id=agreement.id) == 0
    assert _count(app, Signature, agreement_id=agreement.id) == 0
