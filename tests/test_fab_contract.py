"""The Flask-AppBuilder internals the portal overrides or builds on are still what it was written against."""
import hashlib
import importlib
import inspect

import flask_appbuilder
import pytest
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface

import views  # noqa: F401 (every portal view class defined)
from views.base import PortalModelView
from views.fab_contract import FAB_INTERNALS, WRITTEN_AGAINST
from views.interface import PortalInterface


def _resolve(dotted):
    module_name, class_name, attribute = dotted.rsplit(".", 2)
    return getattr(getattr(importlib.import_module(module_name), class_name), attribute)


def _digest(function):
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def _upgrade_note(internal):
    return (f"Flask-AppBuilder {flask_appbuilder.__version__} changed {internal.name} (the portal was written "
            f"against {WRITTEN_AGAINST}). Re-check: {internal.recheck}. Then update its entry in views/fab_contract.py.")


@pytest.mark.parametrize("internal", FAB_INTERNALS, ids=lambda internal: internal.name.rsplit(".", 2)[-2] + "." +
                         internal.name.rsplit(".", 1)[-1])
def test_a_flask_appbuilder_internal_is_what_the_portal_was_written_against(internal):
    try:
        function = _resolve(internal.name)
    except AttributeError:
        pytest.fail(f"{internal.name} is gone. " + _upgrade_note(internal))
    assert str(inspect.signature(function)) == internal.signature, (
        f"Signature now {inspect.signature(function)}, was {internal.signature}. " + _upgrade_note(internal))
    assert _digest(function) == internal.source_digest, "Its source changed. " + _upgrade_note(internal)


def _portal_classes(base):
    found, todo = [], [base]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return {c for cls in found for c in cls.__mro__ if c.__module__.split(".")[0] in ("views", "reports")}


@pytest.mark.parametrize("portal_base, fab_base", [(PortalModelView, ModelView), (PortalInterface, SQLAInterface)])
def test_every_private_flask_appbuilder_method_the_portal_replaces_is_listed(portal_base, fab_base):
    listed = {internal.name.rsplit(".", 1)[-1] for internal in FAB_INTERNALS if internal.overridden}
    replaced = {
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for cls in _portal_classes(portal_base)
        for name, value in vars(cls).items()
        if name.startswith("_") and not name.startswith("__") and callable(value) and hasattr(fab_base, name)
        and name not in listed
    }
    assert not replaced, (
        f"Not listed in views/fab_contract.py: {sorted(replaced)}. A private Flask-AppBuilder method may change "
        "in any release: use a public hook, or list it there with its signature, source digest and what to re-check.")


def test_every_listed_override_is_still_replaced_by_the_portal():
    """An entry marked as overridden that the portal no longer overrides should say so (overridden=False)."""
    portal = {name for cls in _portal_classes(PortalModelView) | _portal_classes(PortalInterface) for name in vars(cls)}
    stale = [i.name for i in FAB_INTERNALS if i.overridden and i.name.rsplit(".", 1)[-1] not in portal]
    assert not stale, f"Listed as overridden in views/fab_contract.py but not overridden any more: {stale}"
