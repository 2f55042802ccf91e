"""submit_record: the record, the rule, the message.

Airflow's ``TaskStateStoreAccessor`` only works inside a running task (it talks to the task's
supervisor), so the ledger is exercised here with a dict of the same three methods
(``state_store_support.DictStore``); ``tests/integration/test_durable_submit.py`` runs the same
protocol through the real store in ``dag.test()`` (retries, map indexes, the refusal's message).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import pytest
from state_store_support import DictStore

from airflow_provider_grokvideo.tasks.submit_record import (
    RECORD_KEY,
    LedgerJournal,
    SubmitLedger,
    SubmitRecord,
    decide,
    prompt_start,
    request_fingerprint,
    state_store_url_path,
    unknown_submit_message,
)

WHEN = datetime(2026, 11, 30, 8, 15, 2, tzinfo=timezone.utc)


def marker(**kwargs: Any) -> SubmitRecord:
    arguments: dict[str, Any] = {
        "conn_id": "grokvideo_xai_default",
        "upstream": "xai",
        "fingerprint": "sha256:0123456789abcdef",
        "try_number": 1,
        "now": WHEN,
    }
    arguments.update(kwargs)
    return SubmitRecord.before_send(**arguments)


def test_nothing_recorded_submits() -> None:
    assert decide(None) == "submit"
    assert decide(None, resubmit_unknown=True) == "submit"


def test_an_id_recorded_reattaches_whatever_the_resubmit_parameter() -> None:
    answered = marker().answered("req-1")
    assert decide(answered) == "reattach"
    assert decide(answered, resubmit_unknown=True) == "reattach"


def test_a_marker_without_id_refuses_unless_asked() -> None:
    assert decide(marker()) == "refuse"
    assert decide(marker(), resubmit_unknown=True) == "resubmit"


def test_ledger_round_trip_through_json_values() -> None:
    store = DictStore()
    ledger = SubmitLedger(store)
    assert ledger.read() is None
    sent = marker()
    ledger.write(sent)
    assert set(store.values) == {RECORD_KEY}
    assert ledger.read() == sent and ledger.read().generation_id is None  # type: ignore[union-attr]
    answered = sent.answered("req-1", now=WHEN)
    ledger.write(answered)
    assert ledger.read() == answered
    assert store.values[RECORD_KEY]["generation_id"] == "req-1"
    assert store.values[RECORD_KEY]["sent_at"] == "2026-11-30T08:15:02+00:00"
    ledger.forget()
    assert ledger.read() is None


@pytest.mark.parametrize("value", [None, "req-1", 42, [], {}, {"generation_id": "x"}])
def test_anything_else_under_the_key_is_no_record(value: Any) -> None:
    assert SubmitRecord.from_json(value) is None


def test_fingerprint_is_stable_and_tells_requests_apart() -> None:
    body = {"prompt": "a fox", "duration": 6, "model": "grok-imagine-video"}
    same = request_fingerprint("post", "/v1/videos/generations", dict(reversed(body.items())))
    assert request_fingerprint("POST", "/v1/videos/generations", body) == same
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", same)
    other = request_fingerprint("POST", "/v1/videos/generations", {**body, "prompt": "a cat"})
    assert other != same


def test_refusal_message_says_when_where_and_both_ways_out() -> None:
    text = unknown_submit_message(
        marker(try_number=2),
        fingerprint="sha256:0123456789abcdef",
        dag_id="daily",
        run_id="scheduled__2026-11-30T00:00:00+00:00",
        task_id="generate",
        map_index=7,
    )
    assert text.startswith("Not submitting: try 2 of this task sent a submit to xai")
    assert "'grokvideo_xai_default'" in text and "2026-11-30T08:15:02+00:00" in text
    assert "may exist upstream and be billed" in text
    assert "resubmit_unknown=True" in text
    assert (
        'curl -X DELETE "$AIRFLOW_API_URL/api/v2/dags/daily/dagRuns/'
        "scheduled__2026-11-30T00%3A00%3A00%2B00%3A00/taskInstances/generate/state-store/"
        'grokvideo_submit?map_index=7"'
    ) in text
    assert text.endswith("then clear the task.")
    assert "fingerprint differs" not in text


def test_the_refusal_names_what_the_upstreams_dashboard_shows() -> None:
    sent = marker(model="grok-imagine-video", prompt="a fox  in the snow at dusk, slow pan left")
    text = unknown_submit_message(sent)
    assert text.startswith(
        "Not submitting: try 1 of this task sent a submit to xai (connection "
        "'grokvideo_xai_default', model 'grok-imagine-video', prompt 'a fox in the snow at "
        "dusk, slow...') at 2026-11-30T08:15:02+00:00 and ended before reading the answer."
    )
    # A record written before these fields existed still reads, and says what it has.
    old = SubmitRecord.from_json({k: v for k, v in sent.to_json().items() if k != "model"})
    assert old is not None and old.model is None
    assert "(connection 'grokvideo_xai_default', prompt 'a fox" in unknown_submit_message(old)


@pytest.mark.parametrize(
    ("prompt", "start"),
    [
        ("a fox", "a fox"),
        ("  one two\nthree  ", "one two three"),
        ("1 2 3 4 5 6 7 8 9", "1 2 3 4 5 6 7 8..."),
        ("x" * 100, "x" * 80 + "..."),
    ],
)
def test_the_record_keeps_the_prompts_first_words(prompt: str, start: str) -> None:
    assert prompt_start(prompt) == start


def test_the_journal_writes_the_marker_at_sending_with_its_clock() -> None:
    clock = [WHEN]
    store = DictStore()
    journal = LedgerJournal(SubmitLedger(store), marker(), now=lambda: clock[0])
    assert store.values == {}  # made before the budget's wait: nothing written
    clock[0] = datetime(2026, 11, 30, 8, 20, 0, tzinfo=timezone.utc)
    journal.sending()
    assert store.values[RECORD_KEY]["sent_at"] == "2026-11-30T08:20:00+00:00"
    journal.not_sent()  # a 429: no job, the marker goes
    assert store.values == {} and not journal.job_may_exist
    clock[0] = datetime(2026, 11, 30, 8, 21, 0, tzinfo=timezone.utc)
    journal.sending()
    journal.answered("req-9")
    record = store.values[RECORD_KEY]
    assert (record["sent_at"], record["answered_at"], record["generation_id"]) == (
        "2026-11-30T08:21:00+00:00",
        "2026-11-30T08:21:00+00:00",
        "req-9",
    )


def test_a_failed_marker_write_sends_nothing_and_claims_no_job() -> None:
    class Down(DictStore):
        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            raise OSError("the API server is down")

    journal = LedgerJournal(SubmitLedger(Down()), marker())
    with pytest.raises(OSError):
        journal.sending()
    assert not journal.job_may_exist  # raised before the request: failover may go on


def test_refusal_message_notes_a_changed_request() -> None:
    text = unknown_submit_message(marker(), fingerprint="sha256:ffffffffffffffff")
    assert "fingerprint differs" in text
    assert "an earlier try" not in text  # the try is known


def test_the_rest_path_is_a_route_of_airflows_api() -> None:
    """The path the refusal prints is the DELETE route of Airflow's own state-store API."""
    from airflow.api_fastapi.core_api.routes.public.task_state_store import (
        task_state_store_router,
    )
    from starlette.routing import Match

    path = state_store_url_path("daily", "manual__1", "generate", None)
    assert path.startswith("/api/v2/")
    scope = {"type": "http", "method": "DELETE", "path": path.removeprefix("/api/v2")}
    matches = [
        route
        for route in task_state_store_router.routes
        if route.matches(scope)[0] == Match.FULL  # type: ignore[attr-defined]
    ]
    assert len(matches) == 1
    assert matches[0].endpoint.__name__ == "delete_task_state_store"  # type: ignore[attr-defined]
    assert matches[0].matches(scope)[1]["path_params"]["key"] == RECORD_KEY  # type: ignore[attr-defined]
    assert "map_index" not in state_store_url_path("d", "r", "t", -1)  # an unmapped task


def test_a_presigned_upload_url_is_no_part_of_the_fingerprint() -> None:
    from airflow_provider_grokvideo.tasks.submit_record import request_fingerprint

    def body(url: str) -> dict:
        return {"prompt": "p", "output": {"upload_url": url}}

    first = request_fingerprint("POST", "/v1/videos/generations", body("https://b/k?sig=1"))
    again = request_fingerprint("POST", "/v1/videos/generations", body("https://b/k?sig=2"))
    assert first == again
    assert first != request_fingerprint("POST", "/v1/videos/generations", {"prompt": "p"})
