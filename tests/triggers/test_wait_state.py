"""A wait's decisions (``triggers.wait_state``), as pure functions of the answers and the clock
they are given: no emulator, no sleeping."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_grokvideo.exceptions import UpstreamHTTPError
from airflow_provider_grokvideo.models import VideoGeneration
from airflow_provider_grokvideo.triggers.polling import next_poll_delay
from airflow_provider_grokvideo.triggers.wait_state import WaitState

SPACING = {"poll_interval": 20.0, "min_poll_interval": 5.0, "max_poll_interval": 120.0}


def state(deadline: float = 10_000.0, began: float = 1_000.0) -> WaitState:
    return WaitState(
        generation_id="job-1",
        conn_id="grokvideo_xai_default",
        upstream="xai",
        deadline=deadline,
        began=began,
        **SPACING,
    )


def answer(status: str = "running", **fields: Any) -> VideoGeneration:
    return VideoGeneration(generation_id="job-1", status=status, **fields)  # type: ignore[arg-type]


def test_the_first_read_waits_the_minimum_and_its_jitter_never_past_the_deadline() -> None:
    assert state().first_delay(now=1_000.0, jitter=0.7) == pytest.approx(5.7)
    assert state(deadline=1_002.0).first_delay(now=1_000.0, jitter=0.7) == pytest.approx(2.0)
    assert state(deadline=900.0).first_delay(now=1_000.0, jitter=0.7) == 0.0


def test_a_running_answer_plans_the_next_read_from_its_hints() -> None:
    wait = state()
    step = wait.answered(
        answer(estimated_seconds=400, created_at=1_000.0), 1_100.0, spread=lambda: 0.9
    )
    assert step.payload is None and step.on_grid
    # A quarter of what is left of the upstream's own estimate, spread, as next_poll_delay says.
    expected = next_poll_delay(
        now=1_100.0, deadline=10_000.0, polls=1, estimated_seconds=400, created_at=1_000.0,
        spread=0.9, started_at=1_000.0, **SPACING,
    )  # fmt: skip
    assert step.delay == pytest.approx(expected) == pytest.approx(0.25 * 300 * 0.9)
    assert step.info == ("xai: generation job-1 is running", step.info[1])  # status, then progress
    assert wait.polls == 1


def test_the_spread_is_drawn_only_when_a_read_is_planned() -> None:
    draws: list[str] = []

    def spread() -> float:
        draws.append("drawn")
        return 1.0

    wait = state()
    wait.answered(answer(), 1_001.0, spread=spread)
    wait.answered(answer("succeeded", video_urls=["https://v/1.mp4"]), 1_010.0, spread=spread)
    assert draws == ["drawn"]


def test_the_rate_is_measured_from_where_the_job_last_stood_still() -> None:
    wait = state()
    wait.answered(answer(progress=10), 1_010.0)
    wait.answered(answer(progress=10), 1_100.0)  # stalled: the anchor moves here
    step = wait.answered(answer(progress=50), 1_140.0)
    assert wait.anchor == (1_100.0, 10)
    # 40 points in 40 s: 1 %/s, half of the 49 points left.
    assert step.delay == pytest.approx(24.5)


def test_success_after_running_teaches_the_jobs_duration_and_says_its_urls() -> None:
    wait = state()
    assert wait.answered(answer(created_at=990.0), 1_010.0).finished_job is None
    done = answer("succeeded", video_urls=["https://v/1.mp4"], created_at=990.0)
    step = wait.answered(done, 1_030.0)
    assert step.delay is None and step.finished_job == (990.0, 1_010.0, 1_030.0)
    assert step.payload is not None
    assert step.payload["status"] == "succeeded"
    assert step.payload["message"] == "generation job-1 succeeded: https://v/1.mp4"
    assert step.payload["conn_id"] == "grokvideo_xai_default"
    assert step.payload["generation"]["video_urls"] == ["https://v/1.mp4"]


def test_a_job_done_at_the_first_read_teaches_nothing() -> None:
    step = state().answered(answer("succeeded", video_urls=["https://v/1.mp4"]), 1_030.0)
    assert step.payload is not None and step.finished_job is None


def test_a_failed_job_ends_with_the_upstreams_code_and_message() -> None:
    step = state().answered(
        answer("failed", error_code="content_policy", error_message="refused"), 1_030.0
    )
    assert step.payload is not None and step.payload["status"] == "failed"
    assert "content_policy" in step.payload["message"] and "refused" in step.payload["message"]
    assert step.finished_job is None


def test_a_running_answer_past_the_deadline_is_a_timeout_saying_where_it_stood() -> None:
    step = state(deadline=1_050.0).answered(answer(progress=40), 1_060.0)
    assert step.payload is not None and step.payload["status"] == "timeout"
    assert step.payload["message"] == "generation job-1 was still running, 40% at the deadline"


def test_weather_backs_off_doubling_and_honours_retry_after() -> None:
    wait = state()
    unavailable = UpstreamHTTPError("xai", 503, None, "busy")
    first = wait.read_failed(unavailable, 1_000.0, transient=True)
    second = wait.read_failed(unavailable, 1_010.0, transient=True)
    assert first.delay is not None and second.delay is not None
    assert 2.5 <= first.delay <= 5.0 and 5.0 <= second.delay <= 10.0  # jittered halves
    assert not first.on_grid and first.payload is None
    assert first.warning is not None and "next try in" in first.warning
    asked = UpstreamHTTPError("xai", 429, None, "slow down", retry_after=42.0)
    assert wait.read_failed(asked, 1_020.0, transient=True).delay == 42.0
    assert wait.errors_in_a_row == 3 and wait.polls == 3
    # An answer resets the weather: the next error starts short again.
    wait.answered(answer(), 1_030.0)
    assert wait.errors_in_a_row == 0 and wait.last_problem is None


def test_weather_never_sleeps_past_the_deadline_and_then_times_out_with_its_cause() -> None:
    wait = state(deadline=1_001.0)
    asked = UpstreamHTTPError("xai", 429, None, "slow down", retry_after=42.0)
    assert wait.read_failed(asked, 1_000.0, transient=True).delay == pytest.approx(1.0)
    step = wait.read_failed(asked, 1_001.5, transient=True)
    assert step.payload is not None and step.payload["status"] == "timeout"
    assert step.payload["message"] == (
        "generation job-1 never answered readably at the deadline "
        "(last problem: xai answered HTTP 429: slow down)"
    )


def test_an_error_waiting_will_not_cure_ends_at_once_with_the_last_answer() -> None:
    wait = state()
    wait.answered(answer(progress=20), 1_010.0)
    refused = UpstreamHTTPError("xai", 401, None, "bad key")
    step = wait.read_failed(refused, 1_020.0, transient=False)
    assert step.payload is not None and step.payload["status"] == "error"
    assert step.payload["message"] == "xai answered HTTP 401: bad key"
    assert step.payload["generation"]["progress"] == 20
