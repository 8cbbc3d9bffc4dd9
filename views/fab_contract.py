"""The Flask-AppBuilder internals the portal overrides or builds on, in one list.

Flask-AppBuilder has no public hook for what these overrides do (filters per request, saves
that keep the form on a refusal, optimistic locking, write rights per row, hidden fields per
user, a pager that does not count every row), so the portal replaces its private methods.
Each entry records the signature and a digest of the source the portal was written against;
tests/test_fab_contract.py fails, naming the entry and what to re-check, when an upgrade of
Flask-AppBuilder changes one, and when a portal view overrides a private method not listed here.
"""
from dataclasses import dataclass

WRITTEN_AGAINST = "5.3.0"


@dataclass(frozen=True)
class Internal:
    """One Flask-AppBuilder method: where it is, what it looked like, and why the portal depends on it."""

    name: str  # dotted path, e.g. "flask_appbuilder.baseviews.BaseCRUDView._add"
    signature: str  # str(inspect.signature(...)) in WRITTEN_AGAINST
    source_digest: str  # the first 16 hex digits of the SHA-256 of inspect.getsource(...)
    recheck: str  # what the portal relies on, to re-check when the source changed
    overridden: bool = True  # False: not replaced, but called or relied upon as it is


BASEVIEWS = "flask_appbuilder.baseviews.BaseCRUDView"
MODEL_VIEW = "flask_appbuilder.views.ModelView"
SQLA = "flask_appbuilder.models.sqla.interface.SQLAInterface"

FAB_INTERNALS = (
    # ---- replaced (views/listing.py, views/saving.py, views/deleting.py, views/forms.py, views/base.py)
    Internal(f"{BASEVIEWS}._list", "(self, **kwargs)", "272a87f649f928b5",
             "ModelView.list renders what _list returns ({'list':…, 'search':…}); FAB still reads the shared "
             "self._filters (upstream #2366), so the portal builds filters per request in views/listing.py"),
    Internal(f"{BASEVIEWS}._add", "(self)", "a025a0c68594773e",
             "ModelView.add redirects when _add returns None and renders the widgets otherwise; FAB's own _add "
             "flashes any exception and redirects, losing the form: views/saving.py keeps its own"),
    Internal(f"{BASEVIEWS}._edit", "(self, pk)", "d761e7bd3d3ff992",
             "as _add; views/saving.py adds 403 for rows the user may not edit and the row_version conflict check"),
    Internal(f"{BASEVIEWS}._delete", "(self, pk)", "8fdf8f052341e35a",
             "ModelView.delete calls _delete then post_delete_redirect; FAB's pre_delete cannot answer 403 "
             "(it flashes any exception), so views/deleting.py keeps its own"),
    Internal(f"{BASEVIEWS}._get_list_widget",
             "(self, filters, actions=None, order_column='', order_direction='', page=None, page_size=None, "
             "widgets=None, **kwargs)", "b8bd9f3ee791aece",
             "called by _list and, for related lists, by _get_view_widget with these keyword arguments; the "
             "portal's adds the pager, row rights and per-user hidden columns"),
    Internal(f"{BASEVIEWS}._get_show_widget", "(self, pk, item, widgets=None, actions=None, show_fieldsets=None)",
             "88ad2f44066cbfe7", "called by _show as (pk, item); the portal's hides fields per user and adds history"),
    # ---- relied upon as they are
    Internal(f"{BASEVIEWS}._show", "(self, pk)", "37e80716773b3ea0",
             "loads the row with self._base_filters (the scope) and calls _get_show_widget(pk, item)", False),
    Internal(f"{BASEVIEWS}._get_related_views_widgets",
             "(self, item, orders=None, pages=None, page_sizes=None, widgets=None, **args)", "96b1c6d22dc0a48d",
             "called by the portal's _edit; related lists go through the related view's _get_list_widget", False),
    Internal(f"{BASEVIEWS}._get_view_widget", "(self, **kwargs)", "6b10e17caba5e307",
             "a related list is self._get_list_widget(**kwargs)['list']", False),
    Internal(f"{BASEVIEWS}._init_forms", "(self)", "2073f5423803e18b",
             "builds add_form/edit_form from add_form_extra_fields and *_form_query_rel_fields, which "
             "PortalModelView sets before FAB's __init__; the portal then extends the built forms "
             "(FormMixin._finish_forms)", False),
    Internal("flask_appbuilder.baseviews.BaseModelView.__init__", "(self, **kwargs)", "e8976794d7a1054a",
             "runs _init_properties, _init_forms, _init_titles, all before the portal's _finish_forms", False),
    Internal("flask_appbuilder.baseviews.BaseModelView._init_properties", "(self)", "10a97bc8994ec692",
             "keeps the label_columns, base_filters and search_columns PortalModelView sets, and builds "
             "self._base_filters (the scope) from base_filters", False),
    Internal("flask_appbuilder.baseviews.BaseFormView._get_edit_widget",
             "(self, form=None, exclude_cols=None, widgets=None)", "08a5d1e694a7635a",
             "the partner workbook's form page (views/reports.py) renders its form through it", False),
    Internal("flask_appbuilder.baseviews.BaseFormView._init_vars", "(self)", "54afaf9ac605a82c",
             "views/reports.py calls it before refreshing its form on POST", False),
    Internal(f"{MODEL_VIEW}.action", "(self, name, pk)", "2a262383056ce673",
             "loads the row without base_filters: the portal's checks the scope first; drop it if FAB now scopes"),
    Internal(f"{MODEL_VIEW}.action_post", "(self)", "1cae459adb1785b4", "as action"),
    Internal(f"{SQLA}.apply_all",
             "(self, query: 'Query', filters: 'Optional[Filters]' = None, order_column: 'str' = '', "
             "order_direction: 'str' = '', page: 'Optional[int]' = None, page_size: 'Optional[int]' = None, "
             "select_columns: 'Optional[list[str]]' = None, outer_default_load: 'bool' = False) -> 'Query'",
             "ab10fda4205c6dd7",
             "without select_columns, the filtered, ordered query of the given columns (PortalInterface pages "
             "and counts ids with it)", False),
    Internal(f"{SQLA}.get",
             "(self, id: 'Any', filters: 'Optional[Filters]' = None, select_columns: 'Optional[list[str]]' = None, "
             "outer_default_load: 'bool' = False) -> 'Optional[Model]'", "22ae3ffef6d52c71",
             "PortalInterface.get refuses nonsense keys and adds the record page's eager loads"),
    Internal(f"{SQLA}.query",
             "(self, filters: 'Optional[Filters]' = None, order_column: 'str' = '', order_direction: 'str' = '', "
             "page: 'Optional[int]' = None, page_size: 'Optional[int]' = None, select_columns: "
             "'Optional[list[str]]' = None, outer_default_load: 'bool' = False) -> 'Tuple[int, list[Model]]'",
             "47d8b1bfa8b7d542",
             "(count, rows); PortalInterface.query answers dropdowns in one statement and lists through list_page"),
)
