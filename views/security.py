"""Roles, permissions and the scope of the logged-in user, decided in one place."""
import sqlalchemy as sa
from flask import g, has_request_context, redirect, request
from flask_appbuilder import expose
from flask_appbuilder.const import PERMISSION_PREFIX
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import (
    Permission, PermissionView, Role, ViewMenu, assoc_permissionview_role,
)
from flask_appbuilder.security.views import (
    AuthDBView, ResetMyPasswordView, RoleModelView, UserDBModelView, UserInfoEditView,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.validators import DataRequired

from models import OrganisationKind, PortalUser
from models.authority import ADMIN, COORDINATOR, LEAD_ROLES
from models.scope import ALL_CASES

from .formatting import show_bool, show_text
from .hardening import keep_this_session
from .widgets import OwnPasswordFormWidget, PortalFormWidget

CASEWORKER, FINANCE, VIEWER = "Caseworker", "Finance", "Viewer"
PORTAL_ROLES = (ADMIN, COORDINATOR, CASEWORKER, FINANCE, VIEWER)
# The lead roles (models.authority) see every case and the special-category fields, whatever their organisation.
ALL_CASES_ROLES = SENSITIVE_FIELD_ROLES = LEAD_ROLES
# Roles that see who opened or exported a record; the partners see only its changes.
ACCESS_ENTRY_ROLES = {ADMIN, COORDINATOR}

READ_PERMISSIONS = ("can_list", "can_show", "can_export_xlsx")
# FAB routes the portal does not use (no uploaded files, no bulk actions yet).
NEVER_GRANTED = {"can_download", "can_action", "can_action_post"}
# What every logged-in member of staff may do with their own account.
OWN_ACCOUNT_PERMISSIONS = [
    # The account page is the portal's user view's (its permissions carry the class's name).
    ("can_userinfo", "PortalUserDBModelView"),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_this_form_get", "UserInfoEditView"),
    ("can_this_form_post", "UserInfoEditView"),
]


class PortalAuthDBView(AuthDBView):
    """FAB's password login, with a form that browsers and password managers understand."""

    login_template = "portal/login.html"
    title = _l("Log in")

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self):
        """Log out by POST with its CSRF token; a GET (a link, an image on another site) only asks."""
        if request.method == "POST":
            return super().logout()  # PortalSecurityManager.on_user_logout ends every session
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        return self.render_template("portal/logout.html", title=_l("Log out"), appbuilder=self.appbuilder)


class PortalSecurityApi(SecurityApi):
    """FAB's token login and refresh, switched off: the portal has no API that takes a token, and a
    30-day refresh token would outlive logging out, a new password and deactivation."""

    exclude_route_methods = {"login", "refresh"}


class TitledPages:
    """FAB's own screens in the portal's page layout: the page's title as its heading."""

    list_template = "portal/plain_list.html"
    show_template = "portal/show.html"
    add_template = "portal/add.html"
    edit_template = "portal/edit.html"


class PortalUserDBModelView(TitledPages, UserDBModelView):
    """FAB's user screen, with the organisation a user belongs to."""

    # The account page ("Your account") links to changing one's password and details.
    show_template = "portal/user_show.html"

    list_title = _l("User accounts")
    show_title = _l("User account")
    add_title = _l("Add user account")
    edit_title = _l("Edit user account")
    user_info_title = _l("Your account")
    label_columns = {**UserDBModelView.label_columns, "organisation": _l("Organisation")}
    # Roles read as a plain list ("Coordinator"), not as Python's "[Coordinator]"; yes/no in words.
    formatters_columns = {"roles": show_text, "active": show_bool}
    list_columns = ["first_name", "last_name", "username", "organisation", "roles", "active"]
    add_columns = [
        "first_name", "last_name", "username", "active", "email", "organisation", "roles",
        "password", "conf_password",
    ]
    edit_columns = ["first_name", "last_name", "username", "active", "email", "organisation", "roles"]
    # FAB's own check reads a "groups" field this form does not have; every portal user needs a role.
    validators_columns = {"roles": [DataRequired(message=_l("Choose at least one role."))]}
    show_fieldsets = [
        (_l("User info"), {"fields": ["username", "active", "organisation", "roles", "login_count"]}),
        *UserDBModelView.show_fieldsets[1:],
    ]


class PortalResetMyPasswordView(ResetMyPasswordView):
    # Same permission name as FAB's view, so OWN_ACCOUNT_PERMISSIONS and existing roles still apply.
    class_permission_name = "ResetMyPasswordView"
    form_title = _l("Change my password")
    form_template = "portal/edit.html"
    edit_widget = OwnPasswordFormWidget

    def form_post(self, form):
        super().form_post(form)
        # The new password ended every session of this user; the one that changed it stays.
        keep_this_session(g.user)


class PortalUserInfoEditView(UserInfoEditView):
    class_permission_name = "UserInfoEditView"
    form_title = _l("Change my details")
    form_template = "portal/edit.html"
    edit_widget = PortalFormWidget


class PortalRoleModelView(TitledPages, RoleModelView):
    list_title = _l("Roles")
    show_title = _l("Role")
    add_title = _l("Add role")
    edit_title = _l("Edit role")


class PortalSecurityManager(SecurityManager):
    user_model = PortalUser
    userdbmodelview = PortalUserDBModelView
    authdbview = PortalAuthDBView
    rolemodelview = PortalRoleModelView
    resetmypasswordview = PortalResetMyPasswordView
    userinfoeditview = PortalUserInfoEditView
    security_api = PortalSecurityApi

    @staticmethod
    def _user(user=None):
        if user is not None:
            return user
        if current_user and getattr(current_user, "is_authenticated", False):
            return getattr(g, "user", None) or current_user
        return None

    @staticmethod
    def role_names(user) -> set:
        return {role.name for role in (user.roles or [])} if user is not None else set()

    # ---- Permission checks: answered from the roles' permission set, read once per request ------
    # Flask-AppBuilder asks the database once per check (an EXISTS query for every menu entry,
    # button and action link: about twenty per page). Here each request reads the permissions of
    # the user's roles in one query and answers every check from that set. Nothing outlives the
    # request, so a role taken away or a permission removed applies from the next request on; a
    # change flushed during the request drops the set as well (`_forget_permissions_on_change`).

    def permission_set(self, roles) -> frozenset:
        """The (permission, view) pairs that `roles` hold, from this request's cache or one query."""
        key = frozenset(role.id for role in roles)
        cache = _request_cache()
        if key not in cache:
            cache[key] = frozenset(self.session.execute(
                sa.select(Permission.name, ViewMenu.name)
                .select_from(PermissionView).join(Permission).join(ViewMenu)
                .join(assoc_permissionview_role, assoc_permissionview_role.c.permission_view_id == PermissionView.id)
                .where(assoc_permissionview_role.c.role_id.in_(key))
            ).tuples())
        return cache[key]

    def _stock_roles(self, roles) -> bool:
        # Roles defined in the configuration (FAB_ROLES, regular expressions) keep FAB's own check.
        return any(role.name in self.builtin_roles for role in roles)

    def _has_view_access(self, user, permission_name, view_name) -> bool:
        roles = [role for role in self.get_user_roles(user) if role is not None]
        if self._stock_roles(roles):
            return super()._has_view_access(user, permission_name, view_name)
        return (permission_name, view_name) in self.permission_set(roles)

    def is_item_public(self, permission_name, view_name) -> bool:
        public = self.get_public_role()
        if public is None or self._stock_roles([public]):
            return super().is_item_public(permission_name, view_name)
        return (permission_name, view_name) in self.permission_set([public])

    def _get_user_permission_view_menus(self, user, permission_name, view_menus_name) -> set:
        """The entries of `view_menus_name` (all when None) on which the user (None: anonymous) has the permission."""
        roles = [self.get_public_role()] if user is None else self.get_user_roles(user)
        roles = [role for role in roles if role is not None]
        if self._stock_roles(roles):
            return super()._get_user_permission_view_menus(user, permission_name, view_menus_name)
        found = {view for permission, view in self.permission_set(roles) if permission == permission_name}
        return found if view_menus_name is None else found & set(view_menus_name)

    def on_user_logout(self, user) -> None:
        """Logging out ends every session of the user, also one whose cookie was copied."""
        user.end_sessions()
        self.session.commit()

    def case_scope(self, user=None):
        """ALL_CASES, the id of the user's organisation, or None (sees no case)."""
        user = self._user(user)
        if user is None:
            return None
        organisation = getattr(user, "organisation", None)
        if self.role_names(user) & ALL_CASES_ROLES:
            return ALL_CASES
        if organisation is None:
            return None
        if organisation.kind == OrganisationKind.coordinator:
            return ALL_CASES
        return organisation.id

    def may_override_minimum_duration(self, user=None) -> bool:
        return bool(self.role_names(self._user(user)) & {COORDINATOR})

    def sees_sensitive_fields(self, user=None) -> bool:
        return bool(self.role_names(self._user(user)) & SENSITIVE_FIELD_ROLES)

    def sees_access_entries(self, user=None) -> bool:
        """Whether a record's history shows who opened or exported it, besides its changes."""
        return bool(self.role_names(self._user(user)) & ACCESS_ENTRY_ROLES)

    def sync_portal_roles(self, portal_views) -> None:
        """Create the portal roles and set their permissions from the views' declarations."""
        wanted = {role: set(OWN_ACCOUNT_PERMISSIONS) for role in PORTAL_ROLES if role != ADMIN}
        for view in portal_views:
            name = view.class_permission_name
            permissions = set(view.base_permissions or [])
            if not hasattr(view, "datamodel"):
                # A page that is not a table (a report, a due list) reads cases only: every role may use it,
                # unless it names its roles (`read_roles = ()`: Admin only, as the policy settings).
                users = getattr(view, "read_roles", None)
                for role in wanted if users is None else set(users) & set(wanted):
                    wanted[role] |= {(p, name) for p in permissions}
                continue
            # Reading is for everyone; every other permission of the view (add, edit, delete,
            # lifecycle steps) for the roles the view names as its writers.
            writers = {COORDINATOR, *getattr(view, "write_roles", ())}
            readers = set(getattr(view, "read_roles", None) or wanted)
            restricted = getattr(view, "restricted_permissions", {})
            for role in wanted:
                wanted[role] |= {(p, name) for p, roles in restricted.items() if role in roles}
            permissions -= set(restricted)
            for role in wanted:
                if role in readers:
                    wanted[role] |= {(p, name) for p in permissions & set(READ_PERMISSIONS)}
                if role in writers:
                    wanted[role] |= {(p, name) for p in permissions - set(READ_PERMISSIONS) - NEVER_GRANTED}
        for permissions in wanted.values():
            permissions |= self._menu_access(set(portal_views), permissions)
        for role_name, permissions in wanted.items():
            role = self.add_role(role_name) or self.find_role(role_name)
            keep = []
            for permission_name, view_name in sorted(permissions):
                pv = self.find_permission_view_menu(permission_name, view_name)
                if pv is not None:
                    keep.append(pv)
            role.permissions = keep
        self.session.commit()

    def _menu_access(self, portal_views, permissions) -> set:
        """Menu entries a role with `permissions` can open (no dead ends), and the categories holding them."""
        granted = set()
        for menu in self.appbuilder.menu.get_list():
            entries = [item for item in [menu, *menu.childs] if getattr(item, "baseview", None) in portal_views]
            opened = {item.name for item in entries if _opens(item.baseview, permissions)}
            if opened:
                granted |= {("menu_access", name) for name in {menu.name, *opened}}
        return granted


def _request_cache() -> dict:
    """This request's permission sets (kept on the request, not on `g`: an app context can outlive a
    request, as in tests). Outside a request nothing is kept."""
    if not has_request_context():
        return {}
    holder = request._get_current_object()
    if not hasattr(holder, "_portal_permission_sets"):
        holder._portal_permission_sets = {}
    return holder._portal_permission_sets


@sa.event.listens_for(sa.orm.Session, "after_flush")
def _forget_permissions_on_change(session, flush_context):
    # A role, its permissions or a user's roles changed in this request: the next check reads them afresh.
    if has_request_context() and any(
        isinstance(obj, (Role, PermissionView, Permission, ViewMenu, PortalUser))
        for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        _request_cache().clear()


def _opens(view, permissions) -> bool:
    """Whether `permissions` include the one the view's page behind its menu entry checks."""
    page = PERMISSION_PREFIX + view.get_method_permission(view.default_view)
    return (page, view.class_permission_name) in permissions
