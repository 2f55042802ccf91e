"""The few moments of a wait that the trigger logs."""

from __future__ import annotations

from airflow_provider_grokvideo.models import VideoGeneration
from airflow_provider_grokvideo.triggers.progress import WaitProgress, span


def answer(progress: int | None, status: str = "running", **more: object) -> VideoGeneration:
    return VideoGeneration(generation_id="g1", status=status, progress=progress, **more)  # type: ignore[arg-type]


def test_span() -> None:
    assert [span(s) for s in (0, 45.4, 185, 3720)] == ["0 s", "45 s", "3 min 05 s", "1 h 02 min"]


def test_progress_is_logged_at_quarters_and_the_estimate_named() -> None:
    waiting = WaitProgress(started=1000.0)
    lines = []
    for second, progress in enumerate(range(0, 100, 5)):
        line = waiting.line(
            answer(progress, estimated_seconds=120, created_at=990.0), 1000.0 + second
        )
        lines.append(line)
    said = [line for line in lines if line]
    # The first answer, then 25, 50 and 75 %: four lines for twenty polls.
    assert len(said) == 4
    assert said[0] == (
        "generation g1 is running, 0% done, the upstream estimates 2 min 00 s in all "
        "(1 min 50 s left), waited 0 s"
    )
    assert "25% done" in said[1] and "75% done" in said[3]


def test_without_progress_the_time_waited_is_logged_at_growing_intervals() -> None:
    waiting = WaitProgress(started=0.0)
    said = [t for t in range(0, 7200, 5) if waiting.line(answer(None, "queued"), float(t))]
    minutes = [t / 60 for t in said]
    assert minutes == [0, 1, 2, 5, 10, 20, 30, 60]
    # Then every hour.
    assert waiting.line(answer(None), 7200.0) is not None
    assert waiting.line(answer(None), 7300.0) is None


def test_the_end_of_a_wait_is_left_to_the_trigger_s_own_line() -> None:
    waiting = WaitProgress(started=0.0)
    assert waiting.line(answer(100, "succeeded"), 5.0) is None
    line = WaitProgress(started=0.0).line(answer(10), 3.0)
    assert line == "generation g1 is running, 10% done, waited 3 s"


class _Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *args: object) -> None:
        self.lines.append(message % args)

    debug = warning = info


async def test_a_real_wait_logs_progress_a_few_times_not_every_poll(
    emulator: object, monkeypatch: object
) -> None:
    import asyncio
    import time

    from airflow_provider_grokvideo.hooks import get_video_hook
    from airflow_provider_grokvideo.triggers import video

    generation_id = await asyncio.to_thread(
        get_video_hook("grokvideo_xcompute_default").submit_video,
        "a slow lighthouse [emulator:seconds=3]",
    )
    recorder = _Recorder()
    monkeypatch.setattr(video, "log", recorder)  # type: ignore[attr-defined]
    trigger = video.GrokVideoTrigger(
        conn_id="grokvideo_xcompute_default",
        generation_id=generation_id,
        deadline=time.time() + 30,
        poll_interval=0.1,
        min_poll_interval=0.1,
        max_poll_interval=0.1,
    )
    [event] = [e.payload async for e in trigger.run()]
    assert event["status"] == "succeeded"
    progress_lines = [line for line in recorder.lines if "% done" in line]
    assert trigger.polls >= 15
    assert 2 <= len(progress_lines) <= 5, recorder.lines
    assert all(
        line.startswith(f"xcompute: generation {generation_id} is ") for line in progress_lines
    )
    assert all("waited" in line for line in progress_lines)
