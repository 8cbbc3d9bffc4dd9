"""Small builders for case records, written straight to the database for test set-up."""
from datetime import date, timedelta
from decimal import Decimal

from models import (
    Agreement, AgreementStatus, Debt, DebtCategory, Evaluation, Organisation, Tenant, Trajectory,
    TrajectoryStatus, db,
)


def organisation(name):
    return db.session.execute(db.select(Organisation).filter_by(name=name)).scalar_one()


def tenant(client_number="LK-T-0001", corporation="Portaal", **fields):
    record = Tenant(
        client_number=client_number, first_name=fields.pop("first_name", "Anna"),
        last_name=fields.pop("last_name", "de Vries"), housing_corporation=organisation(corporation), **fields,
    )
    db.session.add(record)
    db.session.flush()
    return record


def trajectory(tenant_record, involved=("Het Vierde Huis", "Gemeente Utrecht"), status=TrajectoryStatus.running,
               start_date=None, **fields):
    record = Trajectory(
        tenant=tenant_record, referring_organisation=tenant_record.housing_corporation,
        involved_organisations=[organisation(n) for n in involved], status=status,
        referral_date=fields.pop("referral_date", date.today() - timedelta(days=400)),
        start_date=start_date, **fields,
    )
    db.session.add(record)
    db.session.flush()
    return record


def debt(trajectory_record, balance="100.00", original=None, category=DebtCategory.energy, **fields):
    record = Debt(
        trajectory=trajectory_record, creditor=fields.pop("creditor", "Eneco"), category=category,
        original_amount=Decimal(original or balance), current_balance=Decimal(balance), **fields,
    )
    db.session.add(record)
    db.session.flush()
    return record


def evaluation(trajectory_record, planned, held=None, **fields):
    record = Evaluation(trajectory=trajectory_record, planned_date=planned, held_date=held, **fields)
    db.session.add(record)
    db.session.flush()
    return record


def agreement(trajectory_record, **fields):
    record = Agreement(
        trajectory=trajectory_record, drawn_up_on=fields.pop("drawn_up_on", date.today() - timedelta(days=30)),
        status=fields.pop("status", AgreementStatus.awaiting_signatures), **fields,
    )
    db.session.add(record)
    db.session.flush()
    return record


def recounted_figures(record) -> dict:
    """What the database-kept figures of a trajectory or agreement must be, recounted in Python."""
    if isinstance(record, Agreement):
        return {"signatures_missing": len(record.missing_signatures)}
    held = [e.held_date for e in record.evaluations if e.held_date]
    return {
        "total_current_debt": sum((d.current_balance for d in record.debts), Decimal("0")),
        "total_original_debt": sum((d.original_amount for d in record.debts), Decimal("0")),
        "last_evaluation_held_on": max(held, default=None),
    }


def settings():
    """The policy settings in force (the environment's defaults, or what a test stored)."""
    from models.settings import stored_policy

    return stored_policy(db.session)[0]


def set_policy(**values):
    """Store policy settings as an Admin's save would; inside an app context."""
    from models.settings import save_policy, stored_policy

    save_policy(db.session, values, stored_policy(db.session)[1])
    db.session.commit()
