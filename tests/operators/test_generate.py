"""GrokVideoGenerateOperator against the emulator: submit, refuse bad input, never pay twice,
wait for completion."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, TaskDeferred
from state_store_support import DictStore

from airflow_provider_grokvideo.emulator import UPSTREAMS, Emulator
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, SubmitOutcomeUnknown
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.plugins.grok_videos import our_operators
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor
from airflow_provider_grokvideo.tasks.links import video_link_from_xcom
from airflow_provider_grokvideo.tasks.wait import (
    GenerationWaitMixin,
    GrokVideoGenerationFailed,
)
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger


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
        "reference_image_urls",
        "duration",
        "aspect_ratio",
        "resolution",
        "model",
        "resubmit_unknown",
        "max_cost_usd",
        "fallback_conn_ids",
        "reference_audios",
        "generate_audio",
        "storage_options",
        "keyframes",
        "deliver_to",
    }


def test_reference_images_reach_xai_and_are_refused_elsewhere(emulator: Emulator) -> None:
    refs = ["https://example.com/look-1.png", "https://example.com/look-2.png"]
    generation_id = operator("xai", duration="10", reference_image_urls=refs).execute(context={})  # type: ignore[arg-type]
    assert emulator.job(generation_id) is not None
    with pytest.raises(AirflowFailException, match="duration=11 is not accepted") as caught:
        operator("xai", duration=11, reference_image_urls=refs).execute(context={})  # type: ignore[arg-type]
    assert isinstance(caught.value.__cause__, InvalidVideoRequest)
    with pytest.raises(AirflowFailException, match=r"reference images .* are offered by xai"):
        operator("xcompute", reference_image_urls=refs[0]).execute(context={})  # type: ignore[arg-type]
    assert submissions(emulator, "xai") == 1 and submissions(emulator, "xcompute") == 0


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


# -- the durable submit, through the state store's interface -------------------------------------


def test_without_a_state_store_it_says_crash_recovery_needs_airflow_3_3(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging

    with caplog.at_level(logging.WARNING):
        generation_id = operator("xai").execute(context={})  # type: ignore[arg-type]
    assert emulator.job(generation_id) is not None  # behaves as before: it submits
    logged = caplog.text + capfd.readouterr().out
    assert logged.count("crash recovery needs Airflow 3.3") == 1


def test_bad_input_records_nothing(emulator: Emulator) -> None:
    store = DictStore()
    with pytest.raises(AirflowFailException):
        operator("mountsea", duration=7).execute(context={"task_state_store": store})  # type: ignore[arg-type]
    assert store.values == {}
    assert emulator.stats()["requests"] == 0


def test_a_refused_submit_forgets_its_marker(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GROKVIDEO_BADKEY",
        json.dumps(
            {
                "conn_type": "grokvideo_xai",
                "host": emulator.base_url("xai"),
                "password": "sk-not-the-right-key",
            }
        ),
    )
    store = DictStore()
    with pytest.raises(AirflowFailException, match="the upstream refused the request"):
        operator("xai", conn_id="grokvideo_badkey").execute(context={"task_state_store": store})  # type: ignore[arg-type]
    assert store.values == {}  # surely no job: a later try (after fixing the key) may submit


def test_a_lost_answer_keeps_its_marker_and_the_next_try_refuses(emulator: Emulator) -> None:
    store = DictStore()
    emulator.inject("lost-answer", count=1, upstream="xai", endpoint="submit")
    with pytest.raises(AirflowFailException, match="bill it twice"):
        operator("xai").execute(context={"task_state_store": store})  # type: ignore[arg-type]
    [record] = store.values.values()
    assert record["generation_id"] is None and record["upstream"] == "xai"
    with pytest.raises(AirflowFailException, match="Not submitting") as caught:
        operator("xai").execute(context={"task_state_store": store})  # type: ignore[arg-type]
    assert record["sent_at"] in str(caught.value)
    assert emulator.stats()["upstreams"]["xai"]["requests"] == 1  # the second try sent nothing


def test_a_recorded_id_is_reused_even_for_a_changed_request(emulator: Emulator) -> None:
    store = DictStore()
    first = operator("xcompute").execute(context={"task_state_store": store})  # type: ignore[arg-type]
    again = operator("xcompute", prompt="another prompt").execute(
        context={"task_state_store": store}  # type: ignore[arg-type]
    )
    assert again == first
    assert submissions(emulator, "xcompute") == 1


# -- wait_for_completion ------------------------------------------------------------------------

FAST_WAIT = {"poll_interval": 0.2, "min_poll_interval": 0.1, "max_poll_interval": 0.5}


def test_wait_mode_defers_to_the_sensors_trigger(emulator: Emulator) -> None:
    task = operator(
        "mountsea",
        prompt="a long one [emulator:seconds=60]",
        wait_for_completion=True,
        timeout=300,
        **FAST_WAIT,
    )
    with pytest.raises(TaskDeferred) as caught:
        task.execute(context={})  # type: ignore[arg-type]
    trigger = caught.value.trigger
    assert isinstance(trigger, GrokVideoTrigger)
    assert emulator.job(trigger.generation_id) is not None
    assert caught.value.method_name == "execute_complete"
    assert caught.value.timeout is not None and caught.value.timeout >= timedelta(seconds=300)
    assert (trigger.poll_interval, trigger.min_poll_interval, trigger.max_poll_interval) == (
        0.2,
        0.1,
        0.5,
    )
    assert submissions(emulator, "mountsea") == 1


def test_wait_mode_resumes_through_the_sensors_event_handling() -> None:
    # One place for the event mapping: the sensor's and the operator's are the same method.
    assert GrokVideoGenerateOperator.execute_complete is GenerationWaitMixin.execute_complete
    assert GrokVideoSensor.execute_complete is GenerationWaitMixin.execute_complete
    task = operator("xai", wait_for_completion=True)
    done = {"generation_id": "req-1", "status": "succeeded", "video_urls": ["https://v/1.mp4"]}
    result = task.execute_complete({}, {"status": "succeeded", "generation": done})  # type: ignore[arg-type]
    assert {key: result[key] for key in done} == done
    assert result["cost_usd"] is None  # normalized: no cost billed, none estimated
    failed = {**done, "status": "failed", "video_urls": [], "error_message": "rejected"}
    with pytest.raises(GrokVideoGenerationFailed, match="rejected"):
        task.execute_complete({}, {"status": "failed", "generation": failed})  # type: ignore[arg-type]


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_wait_mode_on_the_worker_returns_the_finished_generation(
    emulator: Emulator, upstream: str
) -> None:
    task = operator(upstream, wait_for_completion=True, deferrable=False, **FAST_WAIT)
    result = task.execute(context={})  # type: ignore[arg-type]
    assert result["status"] == "succeeded"
    assert result["video_urls"][0].startswith(emulator.url)
    assert emulator.job(result["generation_id"]) is not None
    assert video_link_from_xcom(result) == result["video_urls"][0]  # the extra link's value
    assert submissions(emulator, upstream) == 1


def test_wait_mode_on_the_worker_fails_a_failed_generation(emulator: Emulator) -> None:
    task = operator(
        "xcompute", prompt="a storm [emulator:fail]", wait_for_completion=True, deferrable=False
    )
    task.poll_interval = 0.2
    with pytest.raises(GrokVideoGenerationFailed) as caught:
        task.execute(context={})  # type: ignore[arg-type]
    assert caught.value.status == "failed" and caught.value.error_message


def test_wait_mode_on_the_worker_rides_out_weather_and_times_out(emulator: Emulator) -> None:
    emulator.inject("503", count=2, upstream="xai", endpoint="status")
    task = operator(
        "xai",
        prompt="slow [emulator:seconds=60]",
        wait_for_completion=True,
        deferrable=False,
        timeout=1.0,
        **FAST_WAIT,
    )
    with pytest.raises(AirflowSensorTimeout, match="did not end within 1 seconds"):
        task.execute(context={})  # type: ignore[arg-type]
    assert emulator.stats()["faults_pending"] == []
    assert submissions(emulator, "xai") == 1


def test_wait_mode_refuses_inverted_poll_bounds() -> None:
    with pytest.raises(ValueError, match="min_poll_interval"):
        operator("xai", wait_for_completion=True, min_poll_interval=10, max_poll_interval=5)


def test_the_page_link_is_the_api_servers() -> None:
    # The plugin gives it (tests/tasks/test_links.py): no worker pushes it.
    assert GrokVideoGenerateOperator in our_operators()
    assert not GrokVideoGenerateOperator.operator_extra_links
