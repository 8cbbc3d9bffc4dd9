"""Portal users: Flask-AppBuilder's user, belonging to one organisation."""
import sqlalchemy as sa
from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import relationship

# Changing one of these ends every session of the user (a stolen cookie must not outlive them).
SESSION_ENDING_ATTRIBUTES = ("password", "active")


class PortalUser(User):
    """A member of staff of one organisation."""

    __tablename__ = "ab_user"
    __label__ = _l("User account")
    __plural__ = _l("User accounts")

    organisation_id = sa.Column(
        sa.Integer, sa.ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    organisation = relationship("Organisation", info={"label": _l("Organisation")})
    # A session is valid only while it carries this number (views/hardening.py); raising it ends them all.
    session_generation = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")

    def end_sessions(self) -> None:
        """Make every session of this user invalid from its next request on."""
        self.session_generation = (self.session_generation or 0) + 1


@sa.event.listens_for(PortalUser, "before_update")
def _end_sessions_on_new_password_or_deactivation(mapper, connection, user):
    # On the model, not in a view: FAB's reset forms, its user screen and API, and the command line
    # all change these attributes, and every one of them must end the old sessions.
    state = sa.inspect(user)
    if any(state.attrs[name].history.has_changes() for name in SESSION_ENDING_ATTRIBUTES):
        user.end_sessions()
