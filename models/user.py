"""Portal users: Flask-AppBuilder's user, belonging to one organisation."""
import sqlalchemy as sa
from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import relationship


class PortalUser(User):
    """A member of staff of one organisation."""

    __tablename__ = "ab_user"

    organisation_id = sa.Column(
        sa.Integer, sa.ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    organisation = relationship("Organisation", info={"label": _l("Organisation")})
