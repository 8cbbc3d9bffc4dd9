"""Every entity the registry knows (models.registry) is covered by what is derived from it.

The audit trail's words, retention, the subject-access export, the partner workbook and the access
and write matrices all read the registry; a model that does not declare itself, or that a
fixture leaves without rows, fails here instead of being silently left out.
"""
import json
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from dateutil.relativedelta import relativedelta
from flask_babel import force_locale

import builders
import test_access_matrix
import test_authority_matrix
from models import (
    AuditEntry, Intervention, Model, Obligation, Signature, SigningParty, StatusChange, Tenant, TrajectoryStatus,
    db, registry, retention,
)
from reports import subject_access
from views.history import record_type_label

CATALOGUE = "translations/nl/LC_MESSAGES/messages.po"
LONG_AGO = date.today() - relativedelta(years=20)
YEARS = {"tenant": 7, "case_notes": 7}


def _msgid(lazy) -> str:
    return lazy._args[0]


def _dutch():
    with open(CATALOGUE, encoding="utf-8") as catalogue:
        return read_po(catalogue, locale="nl")


def _text_columns(model):
    return [c for c in model.__table__.columns
            if isinstance(c.type, (sa.String, sa.Text)) and not isinstance(c.type, sa.Enum)]


def test_every_scoped_model_declares_itself():
    for mapper in Model.registry.mappers:
        model = mapper.class_
        if getattr(model, "__scope__", None) is not None:
            assert "__label__" in vars(model) and "__plural__" in vars(model), \
                f"{model.__name__} has a __scope__ but no __label__/__plural__ of its own"
            assert registry.entity(model) is not None


def test_every_entity_reads_as_words_in_both_languages(app):
    catalogue = _dutch()
    for entity in registry.entities():
        for label in (entity.label, entity.plural):
            message = catalogue.get(_msgid(label))
            assert message is not None and message.string, f"{_msgid(label)!r} has no Dutch translation"
        with app.test_request_context(), force_locale("en"):
            assert record_type_label(entity.name) == _msgid(entity.label) != entity.name
        with app.test_request_context(), force_locale("nl"):
            assert record_type_label(entity.name) == catalogue.get(_msgid(entity.label)).string


def test_every_text_of_a_case_says_what_retention_does_with_it():
    """Free text inside a case is a case note, or identifies the tenant, or is kept on purpose."""
    undeclared = [f"{entity.name}.{column.key}" for entity in registry.case_entities()
                  for column in _text_columns(entity.model)
                  if not {"case_note", "personal", "retained"} & set(column.info)]
    assert undeclared == [], f"declare case_note, personal or retained on: {undeclared}"


@pytest.fixture
def whole_case(app, world):
    """An old, completed case holding one record of every entity inside a case, each text marked."""
    with app.app_context():
        tenant = builders.tenant("LK-R-0001", bsn="111222333", psychosocial_notes="x")
        trajectory = builders.trajectory(tenant, status=TrajectoryStatus.completed, start_date=LONG_AGO,
                                         actual_end_date=LONG_AGO + relativedelta(years=2))
        builders.debt(trajectory, creditor="x")
        evaluation = builders.evaluation(trajectory, planned=LONG_AGO)
        db.session.add(Intervention(evaluation=evaluation, description="x", due_date=LONG_AGO,
                                    responsible_organisation=builders.organisation("Het Vierde Huis")))
        agreement = builders.agreement(trajectory)
        db.session.add(Obligation(agreement=agreement, party=SigningParty.tenant, description="x"))
        db.session.add(Signature(agreement=agreement, party=SigningParty.tenant, signed_by="x", signed_on=LONG_AGO))
        db.session.add(StatusChange(trajectory=trajectory, changed_at=datetime(LONG_AGO.year, 1, 1),
                                    to_status=TrajectoryStatus.completed, remark="x"))
        db.session.flush()
        # Every erasable text gets a marker of its own, through the ORM so that the trail holds it too.
        for entity in registry.case_entities():
            for record in db.session.execute(sa.select(entity.model)).scalars():
                for name in (*entity.case_notes, *entity.personal):
                    column = entity.model.__table__.c[name]
                    if isinstance(column.type, (sa.String, sa.Text)):
                        setattr(record, name, f"MARK-{entity.name}-{name}"[:column.type.length or 100])
        db.session.commit()
        return tenant.id


def test_every_case_entity_is_in_the_subject_access_export(app, whole_case):
    with app.app_context():
        sections = subject_access.collect(db.session, db.session.get(Tenant, whole_case))
    missing = [entity.name for entity in registry.case_entities() if not sections.get(entity.name)]
    assert missing == [], f"no rows in the subject-access export (or in this fixture) for {missing}"
    exported = json.dumps(sections, default=str)
    for entity in registry.case_entities():
        for name in entity.case_notes:
            assert f"MARK-{entity.name}-{name}"[:20] in exported, f"{entity.name}.{name}"


def test_retention_erases_every_declared_text_of_every_case_entity(app, whole_case):
    with app.app_context():
        retention.run(db.session, YEARS)
        left = []
        for entity in registry.case_entities():
            for record in db.session.execute(sa.select(entity.model)).scalars():
                left += [f"{entity.name}.{name}" for name in (*entity.case_notes, *entity.personal)
                         if str(getattr(record, name) or "").startswith("MARK-")]
        trail = " ".join(changes for (changes,) in db.session.execute(
            sa.select(AuditEntry.changes).where(AuditEntry.changes.is_not(None))))
    assert left == [], f"retention left these texts: {left}"
    assert "MARK-" not in trail


def test_the_workbook_sheets_are_the_declared_ones():
    from reports.partner_workbook import COMPUTED, sheet_entities

    declared = [entity for entity in registry.case_entities() if entity.workbook_order]
    assert sorted(e.name for e in sheet_entities()) == sorted(e.name for e in declared) and declared
    for entity in declared:
        assert hasattr(entity.model, entity.workbook_order)
        assert set(getattr(entity.model, "__workbook_computed__", ())) <= set(COMPUTED)


def test_the_access_and_write_matrices_know_every_entity_with_a_screen(app, world):
    screens = {view.datamodel.obj for view in test_access_matrix.registered_crud_views(app)}
    with app.app_context():
        truth, _ = test_access_matrix.ground_truth("coordinator")
    for entity in registry.entities():
        if entity.model in screens:
            assert entity.model in truth, f"the access matrix has no ground truth for {entity.name}"
            if entity.in_case or entity.scope == "public" and entity.model is not AuditEntry:
                assert entity.model in test_authority_matrix.ADD_EXAMPLES, \
                    f"the write matrix has no add examples for {entity.name}"


def test_a_pseudonymised_workbook_holds_no_declared_personal_text(app, whole_case):
    """Whatever entity or field is added: no personal data, case note or staff name in the pseudonymised workbook."""
    from openpyxl import load_workbook

    from models import Contact, Organisation, Trajectory
    from reports.partner_workbook import PartnerWorkbook

    with app.app_context():
        trajectory = db.session.execute(sa.select(Trajectory)).scalar_one()
        trajectory.reason_other = "MARK-trajectory-reason_other"
        trajectory.coordinator = Contact(name="MARK-contact", organisation=builders.organisation("Het Vierde Huis"))
        db.session.commit()
    with app.app_context(), app.test_request_context():
        coordinator = db.session.execute(sa.select(Organisation).filter_by(name="Het Vierde Huis")).scalar_one()
        book = load_workbook(PartnerWorkbook(db.session, coordinator, "2026-Q3", pseudonymise=True).build())
    cells = [str(value) for sheet in book for row in sheet.iter_rows(values_only=True) for value in row if value]
    assert any(cell == "LK-R-0001" for cell in cells), "the case is not in the workbook at all"
    assert [cell for cell in cells if "MARK-" in cell] == []
