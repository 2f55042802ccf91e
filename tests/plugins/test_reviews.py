"""The review state of each generation on the page (``plugins/reviews.py``): the review task's
labels (its XCom) read against Airflow's own record of the answer (the ``hitl_detail`` row),
written here for a task of a real example run (``runs``, tests/plugins/conftest.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_grokvideo.plugins.reviews import (
    APPROVED,
    AWAITING,
    REJECTED,
    REVIEW_XCOM_KEY,
    Review,
    review_states,
)

pytestmark = pytest.mark.usefixtures("airflow_db")

LABELS = {
    "candidates": [
        {"option": "1. a lantern, warm", "generation_id": "g-warm"},
        {"option": "2. a lantern, cool", "generation_id": "g-cool"},
        {"option": "3. no id: never shown"},
        "not a candidate",
    ]
}


def states(run: Any) -> dict[tuple[str, str, str], Review]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return review_states(session, [(run.dag_id, run.run_id)])


def test_labels_await_the_answer_then_say_who_approved_what(runs: dict[str, Any]) -> None:
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run = runs["good"]
    assert states(run) == {}  # no review task: nothing labelled
    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == run.dag_id,
                TaskInstance.run_id == run.run_id,
                TaskInstance.task_id == "generate",
            )
        ).one()
        # As the execution API stores a task's push: the JSON value itself.
        XComModel.set(
            REVIEW_XCOM_KEY, LABELS, dag_id=run.dag_id, task_id="generate", run_id=run.run_id,
            serialize=False, session=session,
        )  # fmt: skip
        session.add(
            HITLDetail(
                ti_id=ti.id,
                options=[c["option"] for c in LABELS["candidates"][:3]],
                subject="Which lantern?",
            )
        )
    warm, cool = (run.dag_id, run.run_id, "g-warm"), (run.dag_id, run.run_id, "g-cool")
    asked = states(run)
    assert set(asked) == {warm, cool}
    assert asked[warm] == Review(AWAITING) and asked[warm].css == "awaiting"

    answered_at = datetime(2026, 12, 7, 12, 30, tzinfo=timezone.utc)
    with create_session() as session:
        detail = session.get(HITLDetail, ti.id)
        detail.chosen_options = ["1. a lantern, warm"]
        detail.responded_at = answered_at
        detail.responded_by = {"id": "7", "name": "ana"}
        detail.params_input = {"note": "the warm one"}
    answered = states(run)
    assert answered[warm] == Review(APPROVED, by="ana", at=answered[warm].at, note="the warm one")
    assert (
        answered[warm].at is not None and answered[warm].at.timestamp() == answered_at.timestamp()
    )
    assert answered[cool].state == REJECTED and answered[cool].css == "rejected"


def test_no_runs_read_nothing() -> None:
    from airflow.utils.session import create_session

    with create_session() as session:
        assert review_states(session, []) == {}
