"""Adding and editing a record: all or nothing, never over someone else's newer save.

models.authority decides who may write what, and the screens offer only that: fields a user may
not choose leave the form (shown as text) and a crafted value for them is refused. A save fills
the record without autoflush, checks the view's and the model's rules, and commits once; any
refusal (a rule, a conflict, the scope, the database) rolls back, keeps the form and says why.
"""
import logging

from flask import abort, flash, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from models import authority, registry
from models.authority import NotAllowed
from models.scope import visible_clause

from .interface import ScopeFilter, security_manager

log = logging.getLogger(__name__)

CONFLICT_MESSAGE = _l(
    "Someone else saved this record after you opened it. Your changes were not saved: "
    "reload the page to see the current version, then make your changes again."
)


class DomainError(ValueError):
    """A rule of the process that a save breaks; shown on the form, next to `field` if given."""

    def __init__(self, message, field=None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class SavingMixin:
    """Add and edit pages of a PortalModelView."""

    @staticmethod
    def actor():
        return authority.current_actor()

    def may_add(self) -> bool:
        return authority.may_add_model(self.actor(), self.datamodel.obj)

    def row_rights(self, rows) -> dict:
        """{pk: (may edit, may delete)} for a page's rows: the buttons a row offers."""
        actor = self.actor()
        return {row.id: (authority.may_edit(actor, row), authority.may_delete(actor, row)) for row in rows}

    def _refuse_crafted_values(self, form, fixed):
        """A posted value for a field the form does not offer, different from what it keeps, is refused."""
        for name, kept in fixed.items():
            if name not in request.form:
                continue
            posted = {v for v in request.form.getlist(name) if v.strip()}
            if isinstance(kept, (list, tuple, set)):
                same = posted == {str(getattr(v, "id", v)) for v in kept}
            else:
                same = posted == ({str(getattr(kept, "id", kept))} if kept is not None else set())
            if not same:
                self._show_error(form, _l(
                    "%(field)s cannot be changed by your organisation: the coordinating organisation decides it. "
                    "Nothing was saved.", field=self.label_columns.get(name, name)))
                return False
        return True

    def _related_from_url(self, form, filters):
        """A parent chosen by the related list's "add" link (`_flt_0_trajectory=7`), in scope only."""
        for name in filters.get_relation_cols():
            value = filters.get_filter_value(name)
            if isinstance(value, list):
                value = value[0] if len(value) == 1 else None
            interface = self.datamodel.get_related_interface(name)
            related = interface.get(value, interface.get_filters().add_filter_list([["id", ScopeFilter, None]]))
            if related is None:
                abort(404)
            if name in form:
                form[name].data = related

    def _add(self):
        if not self.may_add():
            abort(403)
        filters = self._request_filters(disallow_if_not_in_search=False)
        exclude_cols = filters.get_relation_cols()
        form = self._prepare_form(self.add_form.refresh())
        fixed = authority.fixed_on_form(self.actor(), self.datamodel.obj)
        readonly = self._fix_fields(form, fixed)
        self._related_from_url(form, filters)
        if request.method == "POST":
            if (form.validate() & self._refuse_crafted_values(form, fixed)
                    and self._save(form, self.datamodel.obj(), is_new=True, fixed=fixed)):
                return None
        else:
            self.update_redirect()
        return self._form_widgets("add", form, exclude_cols, readonly)

    def _edit(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        if not authority.may_edit(self.actor(), item):
            abort(403)
        filters = self._request_filters(disallow_if_not_in_search=False)
        exclude_cols = filters.get_relation_cols()
        pk = self.datamodel.get_pk_value(item)
        fixed = authority.fixed_on_form(self.actor(), self.datamodel.obj, item)
        if request.method == "POST":
            form = self._prepare_form(self.edit_form.refresh(request.form))
            readonly = self._fix_fields(form, fixed)
            self._related_from_url(form, filters)
            form._id = pk
            if str(item.version) != (form.row_version.data or ""):
                form.row_version.errors = [CONFLICT_MESSAGE]
                flash(CONFLICT_MESSAGE, "danger")
            elif form.validate() & self._refuse_crafted_values(form, fixed) and self._save(form, item, is_new=False):
                return None
        else:
            form = self._prepare_form(self.edit_form.refresh(obj=item))
            readonly = self._fix_fields(form, fixed)
            form.row_version.data = str(item.version)
            self.prefill_form(form, pk)
            self.update_redirect()
        widgets = self._form_widgets("edit", form, exclude_cols, readonly)
        widgets["record_name"] = str(item)
        return self._get_related_views_widgets(
            item, filters={}, orders={}, pages={}, page_sizes={}, widgets=widgets
        )

    def _save(self, form, item, is_new: bool, fixed=None) -> bool:
        """Populate, check the process rules and commit; on any refusal roll back and say why."""
        session = self.datamodel.session
        try:
            # No autoflush while the form fills the object: a half-checked record must never reach the database.
            with session.no_autoflush:
                self.process_form(form, is_new)
                form.populate_obj(item)
                for name, value in (fixed or {}).items():
                    setattr(item, name, value)
                self.validate_item(item, form)
            if is_new:
                self.pre_add(item)
                session.add(item)
            else:
                self.pre_update(item)
            session.flush()
            self._check_still_in_scope(item)
            session.commit()
        except (DomainError, NotAllowed) as error:
            session.rollback()
            self._show_error(form, error.message, error.field)
            return False
        except StaleDataError:
            session.rollback()
            self._show_error(form, CONFLICT_MESSAGE)
            return False
        except IntegrityError as error:
            session.rollback()
            log.info("Refused save of %s: %s", self.datamodel.obj.__name__, error.orig)
            self._show_error(form, _l("This record conflicts with an existing one (a value that must be unique is already in use)."))
            return False
        except SQLAlchemyError:
            session.rollback()
            log.exception("Database error saving %s", self.datamodel.obj.__name__)
            self._show_error(form, _l("The record could not be saved because of a database error. Nothing was changed."))
            return False
        if is_new:
            self.post_add(item)
            flash(_l("%(record)s was added.", record=self.record_name(item)), "success")
        else:
            self.post_update(item)
            flash(_l("%(record)s was saved.", record=self.record_name(item)), "success")
        return True

    def _check_still_in_scope(self, item):
        """A save may not place a record outside the saver's own cases, where they could not see it."""
        model = self.datamodel.obj
        visible = self.datamodel.session.query(model.id).filter(
            model.id == item.id, visible_clause(model, security_manager().case_scope())
        )
        if visible.first() is None:
            raise DomainError(_l(
                "You can only record this for cases your organisation is involved in: "
                "choose your own organisation or a case of yours."
            ))

    @staticmethod
    def _show_error(form, message, field=None):
        if field and field in form:
            # As plain text: a translated message would render as markup, and it may name what a user typed.
            form[field].errors = [*form[field].errors, str(message)]
        flash(message, "danger")

    def validate_item(self, item, form):
        """Rules across fields or records; raise DomainError. Subclasses extend."""

    def record_name(self, item):
        """How a message names a record: its type and its own name ("Schuld “Eneco (energie)”")."""
        return registry.entity(self.datamodel.obj).describe(item)
