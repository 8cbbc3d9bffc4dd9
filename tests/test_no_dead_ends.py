"""No dead ends: every menu entry, button, link and form a user is shown opens for that user."""
from datetime import date, timedelta

import builders
from models import db


def test_record_evaluation_only_for_those_who_may_add_one(app, login, world):
    with app.app_context():
        tenant = builders.tenant("LK-E-0001", "Mitros")
        trajectory = builders.trajectory(tenant, involved=["Portaal", "Gemeente Utrecht"],
                                         start_date=date.today() - timedelta(days=100))
        builders.evaluation(trajectory, planned=date.today() - timedelta(days=10))
        db.session.commit()
        pages = [f"/trajectoryview/show/{trajectory.id}", "/evaluations-due/"]
    # Compiled afresh for a role that may add: what the first page decided must not stick (views/layout.py).
    app.jinja_env.cache.clear()
    for username, shown in [("coordinator", True), ("portaal", True), ("gemeente", False), ("viewer", False)]:
        client = login(username)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, (username, url)
            assert ("/evaluationview/add?" in response.get_data(as_text=True)) is shown, (username, url)
