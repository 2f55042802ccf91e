"""GrokVideoExtendOperator against the emulator: chained from a wait's XCom, its duration
checked and estimated, waiting in one task like the generate operator."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
from airflow_provider_grokvideo.operators.extend import GrokVideoExtendOperator
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger


def extend(upstream: str = "xai", **kwargs: Any) -> GrokVideoExtendOperator:
    arguments: dict[str, Any] = {
        "task_id": "extend",
        "conn_id": f"grokvideo_{upstream}_default",
        "prompt": "the camera flies over the hill",
        "video_url": "https://v.example/clip.mp4",
    }
    arguments.update(kwargs)
    return GrokVideoExtendOperator(**arguments)


class RecordingTI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}
        self.try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def test_templated_fields_and_refused_arguments() -> None:
    assert "duration" in GrokVideoExtendOperator.template_fields
    assert "video_url" in GrokVideoExtendOperator.template_fields
    with pytest.raises(TypeError, match="takes no aspect_ratio"):
        GrokVideoExtendOperator(
            task_id="x", conn_id="c", prompt="p", video_url="u", aspect_ratio="16:9"
        )


def test_extends_by_the_seconds_asked_and_estimates_them(emulator: Emulator) -> None:
    ti = RecordingTI()
    generation_id = extend(duration="10", source_duration=10).execute(context={"ti": ti})
    # A source the emulator did not make is assumed 6 s long (source_duration is the
    # provider's, for its checks; xAI is not told): 6 + 10.
    assert emulator.job(generation_id)["video_duration"] == 16
    record = ti.xcom["grokvideo"]  # the one record: the id and the estimate
    assert record["generation_id"] == generation_id
    estimate = record["cost_estimate"]
    assert (estimate["duration"], Decimal(estimate["cost_usd"])) == (10, Decimal("0.7"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"duration": 11}, "duration"),
        ({"duration": 1}, "duration"),
        ({"source_duration": 31}, "source_duration"),
        ({"video_url": "nope"}, "video_url"),
    ],
)
def test_bad_extensions_are_refused_before_any_request(
    emulator: Emulator, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(AirflowFailException) as caught:
        extend(**kwargs).execute(context={})
    cause = caught.value.__cause__
    assert isinstance(cause, InvalidVideoRequest) and cause.field == field
    assert emulator.stats()["requests"] == 0


def test_the_resellers_refuse_naming_xai(emulator: Emulator) -> None:
    with pytest.raises(AirflowFailException, match="video extensions are offered by xai"):
        extend("mountsea").execute(context={})
    assert emulator.stats()["requests"] == 0


def test_waits_in_one_task_deferring_to_the_trigger(emulator: Emulator) -> None:
    task = extend(
        prompt="next [emulator:seconds=3]", wait_for_completion=True, min_poll_interval=0.1
    )
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context={"ti": RecordingTI()})
    trigger = deferred.value.trigger
    assert isinstance(trigger, GrokVideoTrigger)
    assert emulator.job(trigger.generation_id)["video_duration"] == 12  # 6 s source (assumed) + 6


def test_waits_on_the_worker_and_returns_the_generation(emulator: Emulator) -> None:
    task = extend(
        prompt="next [emulator:seconds=0.5]",
        duration=4,
        wait_for_completion=True,
        deferrable=False,
        poll_interval=0.2,
        min_poll_interval=0.1,
        max_poll_interval=0.3,
    )
    started = time.monotonic()
    result = task.execute(context={"ti": RecordingTI()})
    assert result["status"] == "succeeded" and result["duration"] == 10
    assert time.monotonic() - started < 10
