"""xAI polls that answer HTTP 202 while the job runs (no body, or ``{"status":"pending",
"progress":N}``): still running, on the worker and in the trigger, with no warning, no retry and
no weather back-off; over real sockets against the emulator, both shapes."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.triggers import video as trigger_module
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

SHAPES = ["empty", "body"]


def hook():
    from airflow_provider_grokvideo.hooks import get_video_hook

    return get_video_hook("grokvideo_xai_default")


def raw_status(emulator: Emulator, generation_id: str) -> tuple[int, bytes]:
    import httpx

    answer = httpx.get(
        f"{emulator.base_url('xai')}/v1/videos/{generation_id}",
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )
    return answer.status_code, answer.content


@pytest.mark.parametrize("shape", SHAPES)
def test_the_emulator_answers_202_while_running_then_200(emulator: Emulator, shape: str) -> None:
    emulator.set_xai_pending_202(shape)
    generation_id = hook().submit_video("a heron [emulator:seconds=1.5]")
    code, body = raw_status(emulator, generation_id)
    assert code == 202
    assert body == b"" if shape == "empty" else body.startswith(b'{"status":"pending","progress"')
    time.sleep(1.6)
    code, body = raw_status(emulator, generation_id)
    assert code == 200 and b'"done"' in body
    emulator.reset()  # back to the start's setting: 200 while running
    assert emulator.app.xai_pending_202 is None


@pytest.mark.parametrize("shape", SHAPES)
def test_worker_polls_read_202_as_running_without_warning_or_retry(
    emulator: Emulator, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    xai = hook()
    # The per-job marker: this job only answers 202 (the switch does it for every job).
    generation_id = xai.submit_video(f"a heron [emulator:seconds=2] [emulator:pending-202={shape}]")
    reads_before = emulator.stats()["upstreams"]["xai"]["status_reads"]
    with caplog.at_level(logging.DEBUG):
        seen = []
        while True:
            generation = xai.get_video(generation_id)
            seen.append(generation)
            if generation.is_terminal:
                break
            time.sleep(0.25)
    running = seen[:-1]
    assert running and all(g.status in ("queued", "running") for g in running)
    if shape == "body":
        assert any(g.progress for g in running)  # the body's progress is read
        assert all(g.progress is None or g.progress < 100 for g in running)
    else:
        assert all(g.progress is None for g in running)
    assert seen[-1].status == "succeeded" and seen[-1].video_urls
    # One request per read: nothing was retried, and nothing warned.
    assert emulator.stats()["upstreams"]["xai"]["status_reads"] - reads_before == len(seen)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("shape", SHAPES)
async def test_async_reads_202_as_running(emulator: Emulator, shape: str) -> None:
    emulator.set_xai_pending_202(shape)
    xai = await asyncio.to_thread(hook)
    generation_id = await asyncio.to_thread(xai.submit_video, "a heron [emulator:seconds=1]")
    async with xai.async_session():
        generation = await xai.aget_video(generation_id, retry=False)
        assert generation.status in ("queued", "running")
        await asyncio.sleep(1.1)
        assert (await xai.aget_video(generation_id, retry=False)).status == "succeeded"


class RecordingLog:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, *args: Any) -> None:
        self.warnings.append(message % args)

    def info(self, *args: Any) -> None:
        pass

    debug = info


@pytest.mark.parametrize("shape", SHAPES)
async def test_the_trigger_waits_through_202s_without_warning_or_back_off(
    emulator: Emulator,
    shape: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.set_xai_pending_202(shape)
    recorder = RecordingLog()
    monkeypatch.setattr(trigger_module, "log", recorder)
    generation_id = await asyncio.to_thread(
        lambda: hook().submit_video("a heron [emulator:seconds=2]")
    )
    trigger = GrokVideoTrigger(
        "grokvideo_xai_default",
        generation_id,
        time.time() + 30,
        poll_interval=0.3,
        min_poll_interval=0.2,
        max_poll_interval=0.4,
    )
    with caplog.at_level(logging.DEBUG):
        [event] = [event.payload async for event in trigger.run()]
    assert event["status"] == "succeeded" and event["generation"]["video_urls"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []  # the hook's
    # Every 202 was a reading, not weather: a weather back-off always warns "not readable".
    assert recorder.warnings == []
    assert trigger.polls >= 2
