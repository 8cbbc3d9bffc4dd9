"""Two people editing the same record: the second save is refused and the first one's data stays."""
from conftest import form_values, messages

import builders
from models import Tenant, db


def test_second_save_of_the_same_version_is_refused(app, login):
    with app.app_context():
        tenant_id = builders.tenant(city="Utrecht").id
        db.session.commit()
    url = f"/tenantview/edit/{tenant_id}"
    first, second = login("coordinator"), login("admin")
    second.get("/lang/en")
    first_form = form_values(first.get(url).get_data(as_text=True))
    second_form = form_values(second.get(url).get_data(as_text=True))

    first_form["city"] = "Nieuwegein"
    assert first.post_form(url, first_form).status_code == 302

    second_form["city"] = "Zeist"
    response = second.post_form(url, second_form)
    assert response.status_code == 200
    assert any("Someone else saved this record" in m for m in messages(response))
    # The refused form still shows what the second person typed, so nothing typed is lost either.
    assert form_values(response.get_data(as_text=True))["city"] == "Zeist"
    with app.app_context():
        tenant = db.session.get(Tenant, tenant_id)
        assert tenant.city == "Nieuwegein"
        assert tenant.version == 2


def test_a_save_without_the_version_is_refused(app, login):
    with app.app_context():
        tenant_id = builders.tenant(city="Utrecht").id
        db.session.commit()
    client = login("coordinator")
    url = f"/tenantview/edit/{tenant_id}"
    values = form_values(client.get(url).get_data(as_text=True))
    del values["row_version"]
    values["city"] = "Houten"
    assert client.post_form(url, values).status_code == 200
    with app.app_context():
        assert db.session.get(Tenant, tenant_id).city == "Utrecht"


def test_saving_again_after_reloading_works(app, login):
    with app.app_context():
        tenant_id = builders.tenant(city="Utrecht").id
        db.session.commit()
    client = login("coordinator")
    url = f"/tenantview/edit/{tenant_id}"
    for city in ("Maarssen", "Vleuten"):
        values = form_values(client.get(url).get_data(as_text=True))
        values["city"] = city
        assert client.post_form(url, values).status_code == 302
    with app.app_context():
        assert db.session.get(Tenant, tenant_id).city == "Vleuten"
