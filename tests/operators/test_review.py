"""The review operator (``operators/review.py``): the example DAG end to end in ``dag.test()``,
a person answering through Airflow's own HITL REST API as their browser would; and what the
operator refuses to ask.  Its candidates on their own: ``tests/tasks/test_review.py``."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from api_support import api, bearer  # noqa: F401  (the fixture)
from repo_paths import EXAMPLE_DAGS

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.tasks.review import (
    NONE_OPTION,
)

EXAMPLE = EXAMPLE_DAGS / "example_grokvideo_review.py"
FAST_POLLS = {
    "GROKVIDEO_POLL_INTERVAL": "0.3",
    "GROKVIDEO_MIN_POLL_INTERVAL": "0.1",
    "GROKVIDEO_MAX_POLL_INTERVAL": "0.5",
    "GROKVIDEO_WAIT_TIMEOUT": "60",
}


def test_the_review_operator_refuses_what_it_cannot_ask() -> None:
    from airflow_provider_grokvideo.operators.review import GrokVideoReviewOperator

    with pytest.raises(ValueError, match='approve must be "any" or "one"'):
        GrokVideoReviewOperator(task_id="review", generations=[], approve="all")  # type: ignore[arg-type]
    review = GrokVideoReviewOperator(task_id="review", generations=[], approve="one")
    assert review.multiple is False and review.options == ["None of them"]
    assert GrokVideoReviewOperator._as_value('[{"generation_id": "g"}]') == [{"generation_id": "g"}]


# -- the example, end to end -----------------------------------------------------------------


def answer_when_asked(client: Any, pick: int, seen: dict[str, Any]) -> threading.Thread:
    """The reviewer: waits for the review's form (the HITL API lists it), reads it, picks
    candidate ``pick`` with a note, and answers (``PATCH .../hitlDetails``)."""

    def reviewer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = client.get("/api/v2/dags/~/dagRuns/~/hitlDetails", headers=bearer()).json()
            waiting = [d for d in listed.get("hitl_details", []) if not d.get("response_received")]
            if waiting:
                detail = waiting[0]
                ti = detail["task_instance"]
                seen["detail"] = detail
                chosen = detail["options"][pick - 1]
                path = (
                    f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/"
                    f"{ti['task_id']}/{ti['map_index']}/hitlDetails"
                )
                reply = client.patch(
                    path,
                    headers=bearer(),
                    json={"chosen_options": [chosen], "params_input": {"note": "the warm one"}},
                )
                seen["reply"] = (reply.status_code, reply.json())
                return
            time.sleep(0.2)

    thread = threading.Thread(target=reviewer, daemon=True)
    thread.start()
    return thread


@pytest.mark.usefixtures("airflow_db")
def test_the_example_extends_and_stores_only_the_approved_variant(
    emulator: Emulator,
    api: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in FAST_POLLS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GROKVIDEO_DESTINATION", tmp_path.as_uri())
    spec = importlib.util.spec_from_file_location("example_review", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seen: dict[str, Any] = {}
    reviewer = answer_when_asked(api, 2, seen)
    run = module.dag.test()
    reviewer.join(5)
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    assert seen["reply"][0] == 200, seen["reply"]
    detail = seen["detail"]
    assert len(detail["options"]) == 5 and detail["options"][-1] == NONE_OPTION
    assert detail["options"][1].startswith("2. A paper lantern drifting over a night market, cool")
    assert detail["body"].count("Play it on the Grok videos page](http") == 4
    assert not detail["multiple"]
    # Four candidates stored, one extension of the approved one stored under approved/.
    assert len(list((tmp_path / "candidates").glob("*.mp4"))) == 4
    assert len(list((tmp_path / "approved").glob("*.mp4"))) == 1
    assert [k for k in states if k[0] == "extend"] == [("extend", 0)]
    approved = seen["detail"]["options"][1]
    assert seen["reply"][1]["chosen_options"] == [approved]
    assert seen["reply"][1]["responded_by"]["name"] == "reviewer"
    # The page says which was approved, by whom and when; the others were rejected.
    cards = page_cards(api, run.run_id)
    reviewed = [body for body in cards.values() if "review-" in body]
    assert len(reviewed) == 4
    assert sum("approved by reviewer" in body for body in reviewed) == 1
    assert sum(">rejected by reviewer" in body for body in reviewed) == 3
    approved_card = next(body for body in reviewed if "approved by reviewer" in body)
    assert "cool blue hour" in approved_card and "UTC</time>" in approved_card


def page_cards(client: Any, run_id: str) -> dict[str, str]:
    import html
    import re

    page = client.get("/grokvideo/", params={"run_id": run_id}, headers=bearer()).text
    found = re.findall(
        r'<article class="card[^"]*" id="[^"]*" data-generation-id="([^"]+)"(.*?)</article>',
        page,
        re.S,
    )
    return {gid: html.unescape(body) for gid, body in found}
