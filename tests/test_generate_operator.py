"""GrokVideoGenerateOperator against the emulator: submit, refuse bad input, never pay twice."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_grokvideo.emulator import UPSTREAMS, Emulator
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, SubmitOutcomeUnknown
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator


def submissions(emulator: Emulator, upstream: str) -> int:
    return int(emulator.stats()["upstreams"][upstream]["submissions"])


def operator(upstream: str, **kwargs: object) -> GrokVideoGenerateOperator:
    arguments: dict[str, object] = {
        "task_id": "generate",
        "conn_id": f"grokvideo_{upstream}_default",
        "prompt": "a sailing boat at sunset",
    }
    arguments.update(kwargs)
    return GrokVideoGenerateOperator(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_submits_and_returns_the_generation_id(emulator: Emulator, upstream: str) -> None:
    generation_id = operator(upstream, duration=6, aspect_ratio="16:9", resolution="480p").execute(
        context={}
    )  # type: ignore[arg-type]
    assert isinstance(generation_id, str) and generation_id
    assert emulator.job(generation_id) is not None
    assert submissions(emulator, upstream) == 1


def test_templated_text_values_are_accepted(emulator: Emulator) -> None:
    # What "{{ params.duration }}" and "{{ params.image_url }}" render to.
    generation_id = operator(
        "xcompute", duration="6", image_urls="https://example.com/cat.jpg", model="None"
    ).execute(context={})  # type: ignore[arg-type]
    assert emulator.job(generation_id) is not None


@pytest.mark.parametrize(
    ("upstream", "field", "kwargs"),
    [
        ("xcompute", "duration", {"duration": 45}),
        ("mountsea", "duration", {"duration": 7}),
        ("xai", "aspect_ratio", {"aspect_ratio": "5:4"}),
        ("xcompute", "resolution", {"resolution": "4k"}),
        (
            "xai",
            "image_urls",
            {"image_urls": ["https://a.example/1.jpg", "https://a.example/2.jpg"]},
        ),
        ("mountsea", "prompt", {"prompt": "   "}),
    ],
)
def test_bad_input_is_refused_before_any_request(
    emulator: Emulator, upstream: str, field: str, kwargs: dict[str, object]
) -> None:
    requests_before = emulator.stats()["requests"]
    with pytest.raises(AirflowFailException) as caught:
        operator(upstream, **kwargs).execute(context={})  # type: ignore[arg-type]
    cause = caught.value.__cause__
    assert isinstance(cause, InvalidVideoRequest)
    assert cause.field == field
    assert field in str(caught.value) and upstream in str(caught.value)
    stats = emulator.stats()
    assert stats["upstreams"][upstream]["submissions"] == 0
    assert stats["requests"] == requests_before  # not even a request


def test_429_on_submit_is_retried_and_submits_once(emulator: Emulator) -> None:
    emulator.inject("429", count=1, upstream="xcompute", endpoint="submit", retry_after=0.1)
    generation_id = operator("xcompute").execute(context={})  # type: ignore[arg-type]
    assert generation_id
    assert submissions(emulator, "xcompute") == 1


@pytest.mark.parametrize("fault", ["500", "502"])
def test_5xx_on_submit_fails_without_retry(emulator: Emulator, fault: str) -> None:
    emulator.inject(fault, count=1, upstream="mountsea", endpoint="submit")
    task = operator("mountsea", retries=3)
    with pytest.raises(AirflowFailException, match="not retried: the job may exist upstream"):
        task.execute(context={})  # type: ignore[arg-type]
    stats = emulator.stats()["upstreams"]["mountsea"]
    assert stats["requests"] == 1  # the hook did not retry it either
    assert stats["faults"] == 1


def test_lost_answer_fails_without_resubmitting(emulator: Emulator) -> None:
    emulator.inject("lost-answer", count=1, upstream="xai", endpoint="submit")
    with pytest.raises(AirflowFailException, match="bill it twice") as caught:
        operator("xai").execute(context={})  # type: ignore[arg-type]
    assert isinstance(caught.value.__cause__, SubmitOutcomeUnknown)
    # The job exists upstream (it is paid for); it was submitted exactly once.
    assert submissions(emulator, "xai") == 1
    assert emulator.stats()["upstreams"]["xai"]["requests"] == 1


def test_rejected_key_fails_without_retry(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GROKVIDEO_BADKEY",
        json.dumps(
            {
                "conn_type": "grokvideo_xcompute",
                "host": emulator.base_url("xcompute"),
                "password": "sk-not-the-right-key",
            }
        ),
    )
    task = operator("xcompute", conn_id="grokvideo_badkey")
    with pytest.raises(AirflowFailException) as caught:
        task.execute(context={})  # type: ignore[arg-type]
    assert "401" in str(caught.value)
    assert "the upstream refused the request" in str(caught.value)
    assert "sk-not-the-right-key" not in str(caught.value)


def test_connection_of_another_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SOME_HTTP", json.dumps({"conn_type": "http", "host": "x"}))
    with pytest.raises(ValueError, match="grokvideo_xcompute"):
        operator("xcompute", conn_id="some_http").execute(context={})  # type: ignore[arg-type]


def test_template_fields() -> None:
    assert set(GrokVideoGenerateOperator.template_fields) == {
        "conn_id",
        "prompt",
        "image_urls",
        "duration",
        "aspect_ratio",
        "resolution",
        "model",
        "max_cost_usd",
    }


def test_construction_reads_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.bases.hook import BaseHook

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("connection read at construction")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(refuse))
    operator("xai", conn_id="{{ params.conn_id }}", duration="{{ params.duration }}")


def test_can_be_mapped_over_prompts() -> None:
    with DAG("grokvideo_mapping_check", schedule=None, start_date=datetime(2025, 1, 1)):
        mapped = GrokVideoGenerateOperator.partial(
            task_id="generate", conn_id="grokvideo_xai_default", duration=6
        ).expand(prompt=["a", "b", "c"])
    assert mapped.partial_kwargs["conn_id"] == "grokvideo_xai_default"
    assert mapped.expand_input.value == {"prompt": ["a", "b", "c"]}  # type: ignore[attr-defined]
