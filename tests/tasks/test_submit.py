"""One try's durable submit (``tasks/submit.py``), driven by a plain task object (no operator)
against the emulator over real sockets, with a task state store over a dict."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from state_store_support import DictStore

from airflow_provider_grokvideo.compat import AirflowFailException
from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.exceptions import (
    SubmitOutcomeUnknown,
    UnexpectedResponse,
    UpstreamHTTPError,
)
from airflow_provider_grokvideo.hooks.base import GrokVideoHook
from airflow_provider_grokvideo.tasks.submit import (
    submit_or_reattach,
    try_number,
    why_not_retried,
)
from airflow_provider_grokvideo.tasks.submit_record import RECORD_KEY, SubmitRecord
from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall


class Task:
    """The least a task gives the submit: its rendered arguments and its request."""

    def __init__(self, conn_id: str = "grokvideo_xai_default", **arguments: Any) -> None:
        self.conn_id = conn_id
        self.fallback_conn_ids = arguments.get("fallback_conn_ids")
        self.prompt = arguments.get("prompt", "a kite over a cliff")
        self.max_cost_usd = arguments.get("max_cost_usd")
        self.resubmit_unknown = arguments.get("resubmit_unknown", False)
        self._primary_upstream: str | None = None
        self.log = logging.getLogger("test_submit")
        self.built_for: list[str] = []

    def _upstream_call(self, hook: GrokVideoHook) -> UpstreamCall:
        self.built_for.append(hook.conn_id)
        return UpstreamCall(
            call=hook.build_request(self.prompt, duration=6),
            estimate=lambda: hook.estimate_cost(self.prompt, duration=6),
        )


def context(store: DictStore, try_number: int = 1) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="d", run_id="r", task_id="generate", map_index=-1, try_number=try_number
    )
    return {"ti": ti, "task_state_store": store}


def submissions(emulator: Emulator, upstream: str = "xai") -> int:
    return int(emulator.stats()["upstreams"][upstream]["submissions"])


def test_a_first_try_submits_and_records_its_id(emulator: Emulator) -> None:
    store = DictStore()
    task = Task()
    submitted = submit_or_reattach(task, context(store))  # type: ignore[arg-type]
    assert emulator.job(submitted.generation_id) is not None
    assert submitted.conn_id == "grokvideo_xai_default" and not submitted.reattached
    assert submitted.hook.dialect.name == task._primary_upstream == "xai"
    assert submitted.cost_estimate is not None and submitted.cost_estimate["cost_usd"]
    record = SubmitRecord.from_json(store.values[RECORD_KEY])
    assert record is not None and record.generation_id == submitted.generation_id


def test_a_retry_carries_on_with_the_recorded_id_and_sends_nothing(emulator: Emulator) -> None:
    store = DictStore()
    first = submit_or_reattach(Task(), context(store))  # type: ignore[arg-type]
    again = submit_or_reattach(Task(), context(store, try_number=2))  # type: ignore[arg-type]
    assert again.reattached and again.generation_id == first.generation_id
    assert again.conn_id == first.conn_id and again.cost_estimate is None
    assert submissions(emulator) == 1


def test_a_first_try_does_not_read_an_earlier_record(emulator: Emulator) -> None:
    # A retry, or a user's clear, runs as the next try: a try numbered 1 has no earlier try
    # whose record it could carry on, so it spends no read on the store.
    store = DictStore()
    submit_or_reattach(Task(), context(store))  # type: ignore[arg-type]
    submit_or_reattach(Task(), context(store))  # type: ignore[arg-type]
    assert submissions(emulator) == 2


def test_a_marker_without_an_id_is_refused_unless_resubmitting(emulator: Emulator) -> None:
    store = DictStore()
    marker = SubmitRecord.before_send(
        conn_id="grokvideo_xai_default", upstream="xai", fingerprint="sha256:x", try_number=1
    )
    store.values[RECORD_KEY] = marker.to_json()
    with pytest.raises(AirflowFailException, match="resubmit_unknown=True"):
        submit_or_reattach(Task(), context(store, try_number=2))  # type: ignore[arg-type]
    assert submissions(emulator) == 0
    task = Task(resubmit_unknown="true")  # as a template renders it
    submitted = submit_or_reattach(task, context(store, try_number=2))  # type: ignore[arg-type]
    assert emulator.job(submitted.generation_id) is not None and submissions(emulator) == 1


def test_a_refused_key_fails_over_to_the_next_connection(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = json.loads(emulator.airflow_connection("xcompute")) | {"password": "sk-nope"}
    monkeypatch.setenv("AIRFLOW_CONN_WRONG_KEY", json.dumps(wrong))
    task = Task("wrong_key", fallback_conn_ids="wrong_key, grokvideo_xai_default")
    submitted = submit_or_reattach(task, context(DictStore()))  # type: ignore[arg-type]
    assert submitted.conn_id == "grokvideo_xai_default"
    assert task._primary_upstream == "xcompute"  # the first connection's: ``model`` applies there
    assert task.built_for == ["wrong_key", "grokvideo_xai_default"]  # each once, in order
    assert submissions(emulator, "xcompute") == 0 and submissions(emulator) == 1


def test_a_5xx_never_fails_over(emulator: Emulator) -> None:
    emulator.inject("500", upstream="xai", endpoint="submit")
    task = Task(fallback_conn_ids=["grokvideo_mountsea_default"])
    with pytest.raises(AirflowFailException, match="the job may exist upstream"):
        submit_or_reattach(task, context(DictStore()))  # type: ignore[arg-type]
    assert submissions(emulator, "mountsea") == 0


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (SubmitOutcomeUnknown("xai: no answer"), "the job may exist upstream"),
        (UpstreamHTTPError("xai", 502, None, "bad gateway"), "the job may exist upstream"),
        (UpstreamHTTPError("xai", 422, None, "bad duration"), "the upstream refused"),
        (UnexpectedResponse("xai: not JSON"), "fix the connection or the request"),
    ],
)
def test_why_a_failed_submit_is_not_retried(error: BaseException, words: str) -> None:
    assert words in why_not_retried(error)


@pytest.mark.parametrize(
    ("ti", "number"),
    [(None, 2), (SimpleNamespace(try_number=1), 1), (SimpleNamespace(try_number="x"), 2)],
)
def test_an_unknown_try_number_counts_as_a_retry(ti: Any, number: int) -> None:
    # Where the context does not say, the record is read: it may be there.
    assert try_number({"ti": ti} if ti else {}) == number  # type: ignore[arg-type]
