"""The review state of each generation on the page: "awaiting review", "approved", "rejected".

A review task (``operators/review.py``) pushes, under the XCom key ``grokvideo_review``, which
option of its form stands for which generation; the answer (what was chosen, who, when) is
Airflow's own record of the human-in-the-loop task (its ``hitl_detail`` row), never the task's
word.  The task's XCom only labels the generations: nothing is read or served because of it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

REVIEW_XCOM_KEY = "grokvideo_review"  # operators/review.py's (not imported: it loads the HITL)
AWAITING, APPROVED, REJECTED = "awaiting review", "approved", "rejected"


@dataclass(frozen=True)
class Review:
    state: str
    by: str | None = None
    at: datetime | None = None
    note: str | None = None

    @property
    def css(self) -> str:
        return self.state.split()[0]


def review_states(
    session: Session, runs: Collection[tuple[str, str]]
) -> dict[tuple[str, str, str], Review]:
    """(dag_id, run_id, generation_id) -> its review, for the generations of ``runs``."""
    if not runs:
        return {}
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import and_, or_, select

    def in_runs(model: Any) -> Any:
        return or_(*(and_(model.dag_id == d, model.run_id == r) for d, r in sorted(runs)))

    labels = session.execute(
        select(
            XComModel.dag_id,
            XComModel.run_id,
            XComModel.task_id,
            XComModel.map_index,
            XComModel.value,
        ).where(XComModel.key == REVIEW_XCOM_KEY, in_runs(XComModel))
    ).all()
    if not labels:
        return {}
    answers = {
        (ti.dag_id, ti.run_id, ti.task_id, ti.map_index): detail
        for ti, detail in session.execute(
            select(TaskInstance, HITLDetail)
            .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
            .where(in_runs(TaskInstance))
        ).all()
    }
    found: dict[tuple[str, str, str], Review] = {}
    for row in labels:
        value = row.value if isinstance(row.value, dict) else {}
        detail = answers.get((row.dag_id, row.run_id, row.task_id, row.map_index))
        chosen = set(detail.chosen_options or []) if detail is not None else set()
        answered = detail is not None and detail.responded_at is not None
        who = detail.responded_by if answered and isinstance(detail.responded_by, dict) else {}
        note = (detail.params_input or {}).get("note") if answered else None
        for candidate in value.get("candidates") or []:
            if not isinstance(candidate, dict) or not candidate.get("generation_id"):
                continue
            state = AWAITING
            if answered:
                state = APPROVED if candidate.get("option") in chosen else REJECTED
            by = str(who.get("name") or who.get("id") or "") or None
            found[(row.dag_id, row.run_id, str(candidate["generation_id"]))] = Review(
                state,
                by=by,
                at=detail.responded_at if answered and detail is not None else None,
                note=str(note) if note else None,
            )
    return found
