"""Command-line tasks: roles, users and the demo data."""
import click
from flask import current_app
from flask.cli import with_appcontext

from models import AuditAction, Organisation, db, record_access
from views.hardening import password_problems
from views.security import PORTAL_ROLES


def sync_roles() -> None:
    """Create FAB's permissions for every view, then the portal roles from the views' declarations."""
    appbuilder = current_app.appbuilder
    # FAB gives every new permission to the Admin role, so it must exist first.
    appbuilder.sm.add_role(appbuilder.sm.auth_role_admin)
    appbuilder.sm.add_role(appbuilder.sm.auth_role_public)
    appbuilder.add_permissions(update_perms=True)
    appbuilder.sm.sync_portal_roles(current_app.extensions["portal_views"])


@click.command("init-roles")
@with_appcontext
def init_roles_command():
    """Create or update the roles Admin, Coordinator, Caseworker, Finance and Viewer."""
    sync_roles()
    click.echo(f"Roles up to date: {', '.join(PORTAL_ROLES)}")


def create_user(username, email, password, organisation_name, role_name, first_name=None, last_name=None):
    """Add a portal user; raises click.UsageError with a clear message on any refusal."""
    sm = current_app.appbuilder.sm
    organisation = _organisation_named(organisation_name)
    if role_name not in PORTAL_ROLES:
        raise click.UsageError(f"Unknown role '{role_name}'. Roles: {', '.join(PORTAL_ROLES)}.")
    role = sm.find_role(role_name)
    if role is None:
        raise click.UsageError(f"Role '{role_name}' does not exist yet: run `flask --app app init-roles` first.")
    problems = password_problems(password)
    if problems:
        raise click.UsageError("The password does not meet the policy: " + " ".join(problems))
    if sm.find_user(username=username) is not None:
        raise click.UsageError(f"A user named '{username}' already exists.")
    if sm.find_user(email=email) is not None:
        raise click.UsageError(f"A user with e-mail '{email}' already exists.")
    user = sm.add_user(
        username=username, first_name=first_name or username, last_name=last_name or organisation.name,
        email=email, role=role, password=password,
    )
    if not user:
        raise click.UsageError("The user could not be created.")
    user.organisation = organisation
    db.session.commit()
    return user


@click.command("create-user")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--organisation", "organisation_name", required=True, help="Exact name of the organisation.")
@click.option("--role", "role_name", required=True, type=str, help=f"One of: {', '.join(PORTAL_ROLES)}.")
@click.option("--first-name")
@click.option("--last-name")
@with_appcontext
def create_user_command(username, email, password, organisation_name, role_name, first_name, last_name):
    """Create a portal user belonging to one organisation, with one role."""
    user = create_user(username, email, password, organisation_name, role_name, first_name, last_name)
    click.echo(f"Created user {user.username} ({role_name}, {organisation_name}).")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Fill an empty database with fictional demo cases and the demo accounts."""
    from demo_data import DemoDataRefused, seed_demo

    try:
        summary = seed_demo()
    except DemoDataRefused as refusal:
        raise click.ClickException(str(refusal))
    click.echo(summary)


@click.command("partner-workbook")
@click.option("--org", "organisation_name", required=True, help="Exact name of the organisation.")
@click.option("--period", required=True, help="A quarter, e.g. 2026-Q3.")
@click.option("--output", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--pseudonymise", is_flag=True, help="Client numbers instead of names; no address, no BSN.")
@with_appcontext
def partner_workbook_command(organisation_name, period, output, pseudonymise):
    """Write the partner-meeting workbook of one organisation for one quarter (for a scheduled job)."""
    import shutil

    from reports.partner_workbook import PartnerWorkbook

    organisation = _organisation_named(organisation_name)
    try:
        workbook = PartnerWorkbook(
            db.session, organisation, period, pseudonymise=pseudonymise, include_bsn=not pseudonymise,
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period")
    record_access(db.session, AuditAction.workbook, "organisation", organisation.id, detail=workbook.description())
    with workbook.build() as source, open(output, "wb") as target:
        shutil.copyfileobj(source, target)
    click.echo(f"Wrote {output}")


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="List what would be anonymised; change nothing.")
@with_appcontext
def retention_command(dry_run):
    """Anonymise tenants whose last trajectory ended longer ago than the retention settings say (for a scheduled job)."""
    from models import retention
    from models.settings import policy

    years = policy().retention_years
    result = retention.plan(db.session, years) if dry_run else retention.run(db.session, years)
    click.echo(("Dry run, nothing changed. " if dry_run else "Done. ") + result.summary())


def _organisation_named(name):
    organisation = db.session.execute(db.select(Organisation).filter_by(name=name)).scalar_one_or_none()
    if organisation is None:
        known = ", ".join(db.session.execute(db.select(Organisation.name).order_by(Organisation.name)).scalars())
        raise click.UsageError(f"Unknown organisation '{name}'. Known organisations: {known or 'none'}.")
    return organisation


def register_commands(app) -> None:
    for command in (init_roles_command, create_user_command, seed_demo_command, partner_workbook_command,
                    retention_command):
        app.cli.add_command(command)
