"""Idempotent submits on APIMart (UPSTREAMS.md section 1): the key, the retry with it, and the
upstreams that have none, over real sockets against the emulator."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from airflow.sdk import Connection
from hook_support import make_hook

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY
from airflow_provider_grokvideo.exceptions import (
    GrokVideoError,
    InvalidVideoRequest,
    SubmitOutcomeUnknown,
    UpstreamHTTPError,
)
from airflow_provider_grokvideo.hooks import hook_class_for
from airflow_provider_grokvideo.tasks.submit_record import (
    LedgerJournal,
    SubmitLedger,
    SubmitRecord,
    decide,
    idempotency_key,
)

FINGERPRINT = "sha256:0123456789abcdef"


def stats(emulator: Any, upstream: str) -> dict[str, int]:
    return emulator.stats()["upstreams"][upstream]


def post(emulator: Any, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
        emulator.base_url("xcompute") + "/v1/videos/generations",
        json=body,
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}", **headers},
    )


# -- the key ------------------------------------------------------------------------------


def test_the_key_is_the_same_for_the_same_request_of_the_same_task_instance() -> None:
    key = idempotency_key("dag", "run", "task", 3, FINGERPRINT)
    assert key == idempotency_key("dag", "run", "task", 3, FINGERPRINT)
    assert key.startswith("grokvideo-") and 1 <= len(key) <= 191
    assert all(0x21 <= ord(c) <= 0x7E for c in key)


@pytest.mark.parametrize(
    "other",
    [
        ("dag2", "run", "task", 3, FINGERPRINT),
        ("dag", "run2", "task", 3, FINGERPRINT),
        ("dag", "run", "task2", 3, FINGERPRINT),
        ("dag", "run", "task", 4, FINGERPRINT),
        ("dag", "run", "task", None, FINGERPRINT),
        ("dag", "run", "task", 3, "sha256:fedcba9876543210"),
        ("da", "grun", "task", 3, FINGERPRINT),  # no ambiguity where the parts meet
    ],
)
def test_the_key_differs_for_anything_else(other: tuple[Any, ...]) -> None:
    assert idempotency_key(*other) != idempotency_key("dag", "run", "task", 3, FINGERPRINT)


# -- which hosts honor keys ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "extra", "expected"),
    [
        (None, {}, False),  # the xcompute white-label documents nothing about the header
        ("https://api.apimart.ai", {}, True),  # APIMart's own host documents it
        ("https://api.apimart.ai", {"idempotent_submits": False}, False),
        ("https://xcompute.us", {"idempotent_submits": True}, True),
        ("https://xcompute.us", {"idempotent_submits": "yes"}, True),
    ],
)
def test_idempotent_only_where_documented_or_said(
    host: str | None, extra: dict[str, Any], expected: bool
) -> None:
    conn = Connection(
        conn_id="c",
        conn_type="grokvideo_xcompute",
        host=host,
        password="k",
        extra=json.dumps(extra),
    )
    assert hook_class_for(conn.conn_type)("c", connection=conn).idempotent is expected


@pytest.mark.parametrize("upstream", ["xai", "mountsea"])
def test_upstreams_without_keys_are_never_idempotent(upstream: str) -> None:
    conn = Connection(conn_id="c", conn_type=f"grokvideo_{upstream}", password="k")
    assert hook_class_for(conn.conn_type)("c", connection=conn).idempotent is False
    said = Connection(
        conn_id="c",
        conn_type=f"grokvideo_{upstream}",
        password="k",
        extra=json.dumps({"idempotent_submits": True}),
    )
    with pytest.raises(GrokVideoError, match="documents no idempotency key"):
        _ = hook_class_for(said.conn_type)("c", connection=said).idempotent


# -- the emulator honors keys as APIMart's contract says ----------------------------------

BODY = {"model": "grok-imagine-1.0-video-apimart", "prompt": "a kite", "duration": 6}


def test_the_same_key_and_request_replay_the_original_task(emulator: Any) -> None:
    first = post(emulator, BODY, **{"Idempotency-Key": "k-1"})
    again = post(
        emulator, BODY, **{"Idempotency-Key": "k-1", "X-APIMart-Response-Version": "2026-07-27"}
    )
    assert first.status_code == again.status_code == 200
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert "idempotency-replayed" not in first.headers
    assert again.headers["idempotency-replayed"] == "true"
    assert again.headers["x-apimart-response-version"] == "2026-07-27"
    assert again.json()["request_id"].startswith("req_")
    counts = stats(emulator, "xcompute")
    assert (counts["submissions"], counts["idempotent_replays"]) == (1, 1)


def test_the_same_key_with_another_request_is_refused(emulator: Any) -> None:
    post(emulator, BODY, **{"Idempotency-Key": "k-2"})
    other = post(emulator, {**BODY, "prompt": "a boat"}, **{"Idempotency-Key": "k-2"})
    assert other.status_code == 409
    assert "different request" in other.json()["error"]["message"]
    assert stats(emulator, "xcompute")["submissions"] == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 192, "caf\u00e9"])
def test_a_malformed_key_is_refused(emulator: Any, key: str) -> None:
    answer = httpx.post(
        emulator.base_url("xcompute") + "/v1/videos/generations",
        json=BODY,
        headers=[
            ("Authorization", f"Bearer {DEFAULT_API_KEY}"),
            ("Idempotency-Key", key.encode()),  # type: ignore[list-item]
        ],
    )
    assert answer.status_code == 409 and "Idempotency-Key" in answer.json()["error"]["message"]
    assert stats(emulator, "xcompute")["submissions"] == 0


def test_another_accounts_key_does_not_replay(emulator: Any) -> None:
    emulator.app.keys = frozenset({DEFAULT_API_KEY, "other-account"})
    try:
        mine = post(emulator, BODY, **{"Idempotency-Key": "k-3"})
        theirs = httpx.post(
            emulator.base_url("xcompute") + "/v1/videos/generations",
            json=BODY,
            headers={"Authorization": "Bearer other-account", "Idempotency-Key": "k-3"},
        )
    finally:
        emulator.app.keys = frozenset({DEFAULT_API_KEY})
    assert theirs.json()["data"]["id"] != mine.json()["data"]["id"]


# -- the hook ------------------------------------------------------------------------------


def test_every_xcompute_submit_carries_a_key_and_the_same_key_replays(emulator: Any) -> None:
    hook = make_hook(emulator, "xcompute")
    first = hook.submit_video("a kite", idempotency_key="grokvideo-test-1")
    assert hook.submit_video("a kite", idempotency_key="grokvideo-test-1") == first
    assert hook.submit_video("a kite") != first  # no key given: a random one, a new job
    counts = stats(emulator, "xcompute")
    assert (counts["submissions"], counts["idempotent_replays"]) == (2, 1)


def test_a_bad_key_is_refused_before_any_request(emulator: Any) -> None:
    with pytest.raises(InvalidVideoRequest, match="idempotency_key"):
        make_hook(emulator, "xcompute").submit_video("a kite", idempotency_key="two words")
    assert stats(emulator, "xcompute")["requests"] == 0


def test_a_lost_answer_is_retried_with_the_key_where_keys_are_honored(
    emulator: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    hook = make_hook(emulator, "xcompute", idempotent_submits=True)
    emulator.inject("lost-answer", upstream="xcompute", endpoint="submit")
    generation_id = hook.submit_video("a kite", idempotency_key="grokvideo-lost-1")
    counts = stats(emulator, "xcompute")
    # One job, the video delivered, no refusal: the retry was answered with the original job.
    assert (counts["submissions"], counts["idempotent_replays"]) == (1, 1)
    assert emulator.stats()["jobs_total"] == 1
    assert emulator.job(generation_id) is not None
    logged = capfd.readouterr().out
    assert "replayed generation" in logged
    assert "sent again only as the identical request with the same Idempotency-Key" in logged
    assert "not submitted again" not in logged


@pytest.mark.parametrize("fault", ["500", "502", "503", "drop"])
def test_weather_is_retried_with_the_key_where_keys_are_honored(emulator: Any, fault: str) -> None:
    hook = make_hook(emulator, "xcompute", idempotent_submits=True)
    emulator.inject(fault, upstream="xcompute", endpoint="submit")
    generation_id = hook.submit_video("a kite", idempotency_key=f"grokvideo-{fault}")
    assert emulator.stats()["jobs_total"] == 1 and emulator.job(generation_id) is not None


def test_without_honored_keys_a_lost_answer_is_refused_as_before(emulator: Any) -> None:
    hook = make_hook(emulator, "xcompute")  # the white-label: keys sent, not relied on
    emulator.inject("lost-answer", upstream="xcompute", endpoint="submit")
    with pytest.raises(SubmitOutcomeUnknown, match="not submitted again"):
        hook.submit_video("a kite", idempotency_key="grokvideo-lost-2")
    assert stats(emulator, "xcompute")["submit_requests"] == 1


@pytest.mark.parametrize("upstream", ["xai", "mountsea"])
def test_upstreams_without_keys_refuse_after_a_lost_answer(emulator: Any, upstream: str) -> None:
    hook = make_hook(emulator, upstream)
    emulator.inject("lost-answer", upstream=upstream, endpoint="submit")
    with pytest.raises(SubmitOutcomeUnknown) as info:
        hook.submit_video("a kite", idempotency_key="ignored-here")
    assert "the job may have been created upstream, so it is not submitted again" in str(info.value)
    assert stats(emulator, upstream)["submit_requests"] == 1


def test_a_refusal_is_not_retried_even_with_keys(emulator: Any) -> None:
    hook = make_hook(emulator, "xcompute", idempotent_submits=True, relax_limits=True)
    with pytest.raises(UpstreamHTTPError) as info:
        hook.submit_video("a kite", duration=99)
    assert info.value.status_code == 400
    assert stats(emulator, "xcompute")["submit_requests"] == 1


# -- the marker says "in flight" only while a request may be ------------------------------


class Store:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.writes.append("set")

    def delete(self, key: str) -> None:
        self.values.pop(key, None)
        self.writes.append("delete")


def marker() -> SubmitRecord:
    return SubmitRecord.before_send(
        conn_id="c", upstream="xai", fingerprint=FINGERPRINT, try_number=1
    )


class Recorder:
    """A journal that also remembers what the store held at each call (for the hook test)."""

    def __init__(self, journal: LedgerJournal, store: Store) -> None:
        self.journal, self.store, self.seen = journal, store, []

    def sending(self) -> None:
        self.journal.sending()
        self.seen.append(("sending", bool(self.store.values)))

    def not_sent(self) -> None:
        self.journal.not_sent()
        self.seen.append(("not_sent", bool(self.store.values)))


def test_a_429_turns_the_marker_back_to_nothing_sent_before_the_back_off(emulator: Any) -> None:
    store = Store()
    ledger = SubmitLedger(store)
    recorder = Recorder(LedgerJournal(ledger, marker()), store)
    emulator.inject("429", upstream="xai", endpoint="submit", retry_after=0.2)
    hook = make_hook(emulator, "xai")
    generation_id = hook.submit_call(hook.build_request("a kite"), journal=recorder)
    recorder.journal.answered(generation_id)
    # Marker written before the POST, removed after the 429 (a worker killed in the back-off
    # sleep leaves nothing unknown), written again before the next POST, then the id.
    assert recorder.seen == [("sending", True), ("not_sent", False), ("sending", True)]
    assert store.writes == ["set", "delete", "set", "set"]
    record = ledger.read()
    assert record is not None and record.generation_id == generation_id
    assert decide(record) == "reattach"


def test_after_a_lost_answer_the_marker_stays_whatever_comes_next() -> None:
    store = Store()
    journal = LedgerJournal(SubmitLedger(store), marker())
    journal.sending()  # attempt 1: its answer is lost (no not_sent)
    journal.sending()  # attempt 2, with the same key
    journal.not_sent()  # a 429: yet attempt 1 may have made the job
    assert store.values and decide(SubmitLedger(store).read()) == "refuse"


def test_an_answered_submit_costs_two_writes() -> None:
    store = Store()
    journal = LedgerJournal(SubmitLedger(store), marker())
    journal.sending()
    journal.answered("r-1")
    assert store.writes == ["set", "set"]


def test_a_replayed_try_keeps_the_marker_from_the_start() -> None:
    store = Store()
    journal = LedgerJournal(SubmitLedger(store), marker(), job_may_exist=True)
    journal.sending()
    journal.not_sent()
    assert store.values  # the earlier try's request may have made the job


# -- the rule for a later try ---------------------------------------------------------------


def test_a_marker_with_a_key_is_replayed_only_where_honored_and_identical() -> None:
    keyed = SubmitRecord.before_send(
        conn_id="c",
        upstream="xcompute",
        fingerprint=FINGERPRINT,
        try_number=1,
        idempotency_key="grokvideo-k",
    )
    assert decide(keyed, fingerprint=FINGERPRINT, replayable=True) == "replay"
    assert decide(keyed, fingerprint=FINGERPRINT, replayable=False) == "refuse"
    assert decide(keyed, fingerprint="sha256:changed", replayable=True) == "refuse"
    assert decide(marker(), fingerprint=FINGERPRINT, replayable=True) == "refuse"  # no key
    assert decide(keyed, fingerprint=FINGERPRINT, replayable=True, resubmit_unknown=True) == (
        "resubmit"
    )
    assert SubmitRecord.from_json(keyed.to_json()) == keyed
