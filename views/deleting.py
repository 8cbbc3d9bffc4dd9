"""Deleting a record: only what its user may delete, never one that other records still need.

A record that other records refer to through a foreign key that does not cascade is refused
with what still refers to it ("3 debts"), before the database would refuse it with an error.
"""
import logging
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from models import authority, registry
from models.authority import NotAllowed
from models.scope import ALL_CASES, visible_clause

from .interface import security_manager
from .layout import safe_next
from .saving import DomainError

log = logging.getLogger(__name__)


class DeletingMixin:
    """The delete of a PortalModelView."""

    def post_delete_redirect(self):
        """Back to the page the delete was made from (a list, another record's page showing it in a
        related list); from the deleted record's own pages, to the page before them, as FAB does."""
        referrer = urlsplit(request.referrer or "")
        pk = (request.view_args or {}).get("pk")
        own_pages = {url_for(f"{self.endpoint}.{name}", pk=pk) for name in ("show", "edit")} if pk else set()
        back = safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
        if back and referrer.netloc == request.host and referrer.path not in own_pages:
            return redirect(back)
        return super().post_delete_redirect()

    def _delete(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        if not authority.may_delete(self.actor(), item):
            abort(403)
        blockers = linked_records(item, security_manager().case_scope())
        if blockers:
            flash(
                _l("%(record)s cannot be deleted: it still has %(linked)s. Remove or move those first.",
                   record=self.record_name(item), linked=", ".join(blockers)),
                "danger",
            )
            return
        session = self.datamodel.session
        # Named while it is still there: once deleted, its name's relations can no longer be read.
        name = self.record_name(item)
        try:
            self.pre_delete(item)
            session.delete(item)
            session.commit()
        except (DomainError, NotAllowed) as error:
            session.rollback()
            flash(error.message, "danger")
            return
        except SQLAlchemyError:
            session.rollback()
            log.exception("Database error deleting %s %s", self.datamodel.obj.__name__, pk)
            flash(_l("The record could not be deleted because other records still refer to it."), "danger")
            return
        self.post_delete(item)
        flash(_l("%(record)s was deleted.", record=name), "success")


def records_label(table_name) -> str:
    """How a refusal names several records of a table ("debts"), as the registry declares it."""
    return registry.plural_label(table_name)


def linked_records(item, scope=ALL_CASES) -> list:
    """What still refers to `item` through a foreign key that does not cascade, as "3 debts".

    Counted within `scope`: records in cases the user does not see are said to exist, never how many
    or of what kind, as the refusal must not tell an organisation about other organisations' cases.
    """
    table = item.__table__
    session = sa.inspect(item).session
    found, unseen = [], False
    for other in table.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is not table or (fk.ondelete or "").upper() in ("CASCADE", "SET NULL"):
                continue
            referring = fk.parent == getattr(item, fk.column.key)
            count = session.execute(sa.select(sa.func.count()).select_from(other).where(referring)).scalar()
            entity = registry.entity(other.name)
            if count and entity is not None and entity.scope not in (None, "public"):
                seen = session.execute(sa.select(sa.func.count()).select_from(entity.model)
                                       .where(referring, visible_clause(entity.model, scope))).scalar()
                unseen = unseen or seen < count
                count = seen
            if count:
                found.append(f"{count} {records_label(other.name)}")
    if unseen:
        found.append(str(_l("records in cases your organisation is not part of")))
    return found
