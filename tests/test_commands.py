"""The command line: create-user and init-roles refuse what they cannot do, with a clear message."""
import pytest

from conftest import PortalClient
from models import PortalUser, db

STRONG = "Lange-Zin-2026!"


def _create(app, *args):
    return app.test_cli_runner().invoke(args=["create-user", *args])


def test_create_user_in_an_organisation(app, world):
    result = _create(app, "--username", "rebecca", "--email", "r@portaal.example.nl", "--password", STRONG,
                     "--organisation", "Portaal", "--role", "Caseworker")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.execute(db.select(PortalUser).filter_by(username="rebecca")).scalar_one()
        assert user.organisation.name == "Portaal" and [r.name for r in user.roles] == ["Caseworker"]
    client = PortalClient(app.test_client()).login("rebecca", STRONG)
    assert client.get("/tenantview/list/").status_code == 200


@pytest.mark.parametrize("args,message", [
    (["--organisation", "Nergens", "--role", "Caseworker"], "Unknown organisation 'Nergens'. Known organisations:"),
    (["--organisation", "Portaal", "--role", "Boss"], "Unknown role 'Boss'. Roles: Admin, Coordinator"),
])
def test_create_user_refuses_unknown_organisations_and_roles(app, world, args, message):
    result = _create(app, "--username", "x", "--email", "x@example.nl", "--password", STRONG, *args)
    assert result.exit_code != 0 and message in result.output
    with app.app_context():
        assert db.session.execute(db.select(PortalUser).filter_by(username="x")).scalar_one_or_none() is None


def test_create_user_refuses_a_weak_password_and_a_taken_name(app, world):
    weak = _create(app, "--username", "x", "--email", "x@example.nl", "--password", "kort",
                   "--organisation", "Portaal", "--role", "Viewer")
    assert weak.exit_code != 0 and "does not meet the policy" in weak.output
    taken = _create(app, "--username", "portaal", "--email", "y@example.nl", "--password", STRONG,
                    "--organisation", "Portaal", "--role", "Viewer")
    assert taken.exit_code != 0 and "already exists" in taken.output


def test_init_roles_is_repeatable(app, world):
    for _ in range(2):
        result = app.test_cli_runner().invoke(args=["init-roles"])
        assert result.exit_code == 0 and "Roles up to date" in result.output
