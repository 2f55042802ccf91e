"""GrokVideoTrigger: poll spacing (pure), and every outcome for real against the emulator."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hook_support import submit

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY, UPSTREAMS, Emulator
from airflow_provider_grokvideo.triggers.video import (
    BACKOFF_FACTOR,
    ESTIMATE_FRACTION,
    POLL_SPREAD,
    PROGRESS_FRACTION,
    WAKE_GRID,
    WAKE_GRID_FROM,
    GrokVideoTrigger,
    next_poll_delay,
    on_wake_grid,
    rate_anchor,
)

SPACING = {"poll_interval": 20.0, "min_poll_interval": 5.0, "max_poll_interval": 120.0}
FAR = 1e12  # a deadline that never matters


# --------------------------------------------------------------------------------------------
# next_poll_delay: pure
# --------------------------------------------------------------------------------------------


def delay(**kwargs: Any) -> float:
    arguments: dict[str, Any] = {"now": 1000.0, "deadline": FAR, "polls": 0, **SPACING}
    arguments.update(kwargs)
    return next_poll_delay(**arguments)


def test_no_hint_backs_off_geometrically_from_min_to_poll_interval() -> None:
    delays = [delay(polls=n) for n in range(8)]
    assert delays[0] == 5.0
    assert delays[1] == pytest.approx(5.0 * BACKOFF_FACTOR)
    assert delays == sorted(delays)
    assert delays[-1] == 20.0  # capped at poll_interval


def test_measured_progress_rate_sleeps_a_fraction_of_the_remaining_time() -> None:
    # 10 % -> 20 % in 10 s: 1 %/s; counting from 21 % (progress is truncated), 79 s left.
    got = delay(now=1010.0, progress=20, first_progress=(1000.0, 10))
    assert got == pytest.approx(PROGRESS_FRACTION * 79)


def test_polls_often_near_the_end_and_rarely_early() -> None:
    early = delay(now=1010.0, progress=3, first_progress=(1000.0, 1))
    late = delay(now=1400.0, progress=98, first_progress=(1000.0, 1))
    assert early == 120.0  # clamped at max_poll_interval
    assert late == 5.0  # clamped at min_poll_interval


def test_progress_seen_once_probes_soon_to_measure_the_rate() -> None:
    assert delay(progress=40, polls=0) == 5.0
    assert delay(progress=40, first_progress=(1000.0, 40), polls=1) == pytest.approx(7.5)


def test_the_rate_is_measured_from_where_a_stalled_job_stood() -> None:
    anchor, previous = None, None
    readings = [(1000.0, 0), (1005.0, None), (1010.0, 10), (1020.0, 20)]
    for now, progress in readings:
        anchor, previous = rate_anchor(anchor, previous, now, progress), progress
    assert anchor == (1010.0, 10)  # the first answer with a progress, while it moves
    # It stands at 20 % from 1020 to 1320 s (a queue upstream), then runs again.
    for now, progress in ((1120.0, 20), (1320.0, 20), (1330.0, 30)):
        anchor, previous = rate_anchor(anchor, previous, now, progress), progress
    assert anchor == (1320.0, 20)
    # 1 %/s since the stall: the next read at half the remaining 69 s (from the first answer,
    # 20 % in 320 s would put it at max_poll_interval, long after the video is done).
    after = delay(now=1330.0, progress=30, first_progress=anchor)
    assert after == pytest.approx(PROGRESS_FRACTION * 69 / 1.0)
    assert delay(now=1330.0, progress=30, first_progress=(1010.0, 10)) == 120.0


def test_upstream_estimate_without_progress() -> None:
    # Created 20 s ago, estimated at 100 s: a quarter of the 80 s left.
    got = delay(now=1020.0, created_at=1000.0, estimated_seconds=100.0, progress=0)
    assert got == pytest.approx(ESTIMATE_FRACTION * 80)


def test_overdue_estimate_falls_back_to_back_off() -> None:
    assert delay(now=2000.0, created_at=1000.0, estimated_seconds=100.0, polls=0) == 5.0


def test_never_sleeps_past_the_deadline() -> None:
    assert delay(now=1000.0, deadline=1002.0) == 2.0
    assert delay(now=1000.0, deadline=999.0) == 0.0
    assert delay(now=1010.0, deadline=1030.0, progress=20, first_progress=(1000.0, 10)) == 20.0


def test_fixed_interval_when_min_equals_max() -> None:
    fixed = {"poll_interval": 3.0, "min_poll_interval": 3.0, "max_poll_interval": 3.0}
    for kwargs in (
        {},
        {"polls": 5},
        {"progress": 50, "first_progress": (900.0, 10)},
        {"created_at": 990.0, "estimated_seconds": 600.0},
    ):
        assert delay(**{**kwargs, **fixed}) == 3.0


def test_spread_only_shortens_and_never_below_the_minimum() -> None:
    rate = {"now": 1010.0, "progress": 20, "first_progress": (1000.0, 10)}
    assert delay(**rate, spread=0.8) == pytest.approx(0.8 * PROGRESS_FRACTION * 79)
    # A delay clamped at the maximum is spread too: waits started together drift apart.
    early = {"now": 1010.0, "progress": 3, "first_progress": (1000.0, 1)}
    assert delay(**early) == 120.0
    assert delay(**early, spread=0.8) == pytest.approx(96.0)
    assert delay(polls=0, spread=0.8) == 5.0  # not below min_poll_interval
    assert delay(now=1000.0, deadline=1002.0, spread=0.8) == 2.0


def test_progress_that_went_backwards_is_not_a_rate() -> None:
    assert delay(progress=10, first_progress=(990.0, 30), polls=0) == 5.0


def simulate(
    total: float, queued: float, spread: float = 1.0, **spacing: float
) -> tuple[int, float]:
    """Polls and detection delay for a job with linear progress after a queue (no I/O)."""
    now, polls, first = 0.0, 0, None
    while True:
        polls += 1
        if now >= total:
            return polls, now - total
        progress = 0 if now < queued else int(100 * (now - queued) / (total - queued))
        if first is None and progress:
            first = (now, progress)
        now += next_poll_delay(
            now=now,
            deadline=FAR,
            polls=polls,
            progress=progress,
            first_progress=first,
            created_at=0.0,
            spread=spread,
            **spacing,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("spread", [1.0, 1.0 - POLL_SPREAD])  # none, and the most
@pytest.mark.parametrize("total", [30.0, 120.0, 600.0, 1800.0, 3600.0])
def test_a_long_video_costs_few_polls_and_is_seen_promptly(total: float, spread: float) -> None:
    polls, late = simulate(total, queued=total * 0.2, spread=spread, **SPACING)
    # Fixed-interval polling as prompt as this (seen at most min_poll_interval late):
    fixed_polls = total / SPACING["min_poll_interval"]
    assert late <= SPACING["min_poll_interval"] + 1e-6
    assert polls <= (fixed_polls if total < 120 else fixed_polls / 2), (polls, fixed_polls)
    if total >= 600:  # a sixth of fixed polling; a fifth when every spread draw is the lowest
        assert polls <= fixed_polls / (6 if spread == 1.0 else 5), (polls, fixed_polls)


# --------------------------------------------------------------------------------------------
# Against the emulator
# --------------------------------------------------------------------------------------------

FAST = {"poll_interval": 0.3, "min_poll_interval": 0.05, "max_poll_interval": 0.5}


@pytest.fixture(autouse=True)
async def no_client_left_open() -> AsyncIterator[None]:
    """Every trigger releases its lease: the loop's shared client is closed after the test."""
    yield
    from airflow_provider_grokvideo.hooks import base

    assert not base._ASYNC_CLIENTS.get(asyncio.get_running_loop())


def refuse_blocking_connection_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the blocking connection lookup fail: the trigger must use the async one."""
    from airflow.sdk.bases.hook import BaseHook

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("blocking BaseHook.get_connection called inside the trigger")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(refuse))


async def events_of(trigger: GrokVideoTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def trigger_for(upstream: str, generation_id: str, timeout: float = 20.0) -> GrokVideoTrigger:
    return GrokVideoTrigger(
        conn_id=f"grokvideo_{upstream}_default",
        generation_id=generation_id,
        deadline=time.time() + timeout,
        **FAST,
    )


@pytest.mark.parametrize("upstream", UPSTREAMS)
async def test_succeeded(
    emulator: Emulator, upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    generation_id = await asyncio.to_thread(submit, upstream)
    refuse_blocking_connection_lookup(monkeypatch)
    events = await events_of(trigger_for(upstream, generation_id))
    assert len(events) == 1
    event = events[0]
    assert event["status"] == "succeeded"
    assert event["generation"]["generation_id"] == generation_id
    assert event["generation"]["video_urls"][0].startswith(emulator.url)
    assert generation_id in event["message"]
    assert emulator.stats()["upstreams"][upstream]["submissions"] == 1


@pytest.mark.parametrize(
    ("upstream", "marker", "status"),
    [
        ("xcompute", "fail", "failed"),
        ("mountsea", "fail", "failed"),
        ("xai", "fail", "failed"),
        ("mountsea", "timeout", "failed"),  # Mountsea's own "timeout" is a failed job
        ("xcompute", "cancel", "cancelled"),
        ("mountsea", "cancel", "cancelled"),
        ("xai", "expire", "expired"),
        ("xai", "no-url", "failed"),
    ],
)
async def test_unsuccessful_outcomes(
    emulator: Emulator, upstream: str, marker: str, status: str
) -> None:
    generation_id = await asyncio.to_thread(submit, upstream, f"a cat [emulator:{marker}]")
    events = await events_of(trigger_for(upstream, generation_id))
    assert len(events) == 1
    event = events[0]
    assert event["status"] == status
    assert event["generation"]["status"] == status
    assert event["message"].startswith(f"generation {generation_id} {status}")
    error = event["generation"]["error_message"]
    if error:
        assert error in event["message"]


async def test_timeout_at_the_deadline(emulator: Emulator) -> None:
    generation_id = await asyncio.to_thread(submit, "xcompute", "slow [emulator:seconds=60]")
    started = time.monotonic()
    events = await events_of(trigger_for("xcompute", generation_id, timeout=1.0))
    took = time.monotonic() - started
    assert [event["status"] for event in events] == ["timeout"]
    assert events[0]["generation"]["status"] in ("queued", "running")
    assert "at the deadline" in events[0]["message"]
    # Not before the deadline; that no delay sleeps past it is next_poll_delay's (pure) test,
    # not a stopwatch's on a busy machine.
    assert took >= 0.9


async def test_deadline_already_passed_still_reads_once(emulator: Emulator) -> None:
    generation_id = await asyncio.to_thread(submit, "xai")
    await asyncio.sleep(1.2)
    trigger = trigger_for("xai", generation_id, timeout=-5.0)
    events = await events_of(trigger)
    assert [event["status"] for event in events] == ["succeeded"]
    assert trigger.polls == 1


async def test_unknown_generation_is_an_error(emulator: Emulator) -> None:
    events = await events_of(trigger_for("mountsea", "no-such-task"))
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert "404" in events[0]["message"]
    assert events[0]["generation"] is None


async def test_rejected_key_is_an_error_without_the_key(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_key = "sk-wrong-key-0123456789"
    monkeypatch.setenv(
        "AIRFLOW_CONN_GROKVIDEO_BADKEY",
        json.dumps(
            {
                "conn_type": "grokvideo_xcompute",
                "host": emulator.base_url("xcompute"),
                "password": wrong_key,
            }
        ),
    )
    trigger = GrokVideoTrigger("grokvideo_badkey", "task_x", time.time() + 10, **FAST)
    events = await events_of(trigger)
    assert [event["status"] for event in events] == ["error"]
    assert "401" in events[0]["message"]
    assert wrong_key not in json.dumps(events)


async def test_missing_connection_is_an_error() -> None:
    trigger = GrokVideoTrigger("grokvideo_nowhere", "task_x", time.time() + 10, **FAST)
    events = await events_of(trigger)
    assert [event["status"] for event in events] == ["error"]
    assert "grokvideo_nowhere" in events[0]["message"]


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea"])
async def test_weather_429_with_retry_after_and_5xx_still_succeeds(
    emulator: Emulator, upstream: str
) -> None:
    generation_id = await asyncio.to_thread(submit, upstream)
    emulator.inject("429", count=2, endpoint="status", retry_after=0.4)
    emulator.inject("500", count=1, endpoint="status")
    emulator.inject("502", count=1, endpoint="status")
    emulator.inject("503", count=1, endpoint="status")
    started = time.monotonic()
    events = await events_of(trigger_for(upstream, generation_id))
    took = time.monotonic() - started
    assert [event["status"] for event in events] == ["succeeded"]
    assert took >= 0.8  # both Retry-After waits honoured (0.4 s each), not the 0.05 s minimum
    stats = emulator.stats()
    assert stats["upstreams"][upstream]["submissions"] == 1
    assert stats["faults_pending"] == []


async def test_dropped_connections_and_unreadable_bodies_are_weather(emulator: Emulator) -> None:
    generation_id = await asyncio.to_thread(submit, "xai")
    emulator.inject("drop", count=2, endpoint="status")
    emulator.inject("malformed", count=2, endpoint="status")
    events = await events_of(trigger_for("xai", generation_id))
    assert [event["status"] for event in events] == ["succeeded"]


async def test_weather_until_the_deadline_is_a_timeout(emulator: Emulator) -> None:
    generation_id = await asyncio.to_thread(submit, "xcompute")
    emulator.inject("503", count=1000, endpoint="status")
    events = await events_of(trigger_for("xcompute", generation_id, timeout=1.0))
    emulator.clear_faults()
    assert [event["status"] for event in events] == ["timeout"]
    assert "503" in events[0]["message"]


async def test_many_triggers_share_one_pooled_client(emulator: Emulator) -> None:
    # The jobs are held until every trigger has polled twice: a busy machine's slow submits
    # must not let the jobs finish before the triggers poll them.
    emulator.hold()
    ids = await asyncio.to_thread(lambda: [submit("xcompute") for _ in range(30)])
    opened_before = emulator.stats()["connections_opened"]
    triggers = [trigger_for("xcompute", generation_id) for generation_id in ids]
    waits = asyncio.gather(*(events_of(trigger) for trigger in triggers))
    while sum(trigger.polls for trigger in triggers) < 2 * len(ids):
        await asyncio.sleep(0.05)
    await asyncio.to_thread(emulator.release)
    results = await waits
    assert all([e["status"] for e in events] == ["succeeded"] for events in results)
    polls = sum(trigger.polls for trigger in triggers)
    opened = emulator.stats()["connections_opened"] - opened_before
    # One pool: connections are opened for concurrency, never per poll.
    assert opened <= len(ids)
    assert polls >= 2 * len(ids)


async def test_every_delay_after_a_poll_is_spread_at_random(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_grokvideo.triggers import video

    draws: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return low

    monkeypatch.setattr(video.random, "uniform", uniform)
    generation_id = await asyncio.to_thread(submit, "xcompute")
    trigger = trigger_for("xcompute", generation_id)
    assert [event["status"] for event in await events_of(trigger)] == ["succeeded"]
    # One draw for the first poll's jitter, then one spread per poll that was not the last.
    assert draws[0][0] == 0.0
    assert draws[1:] == [(1.0 - POLL_SPREAD, 1.0)] * (trigger.polls - 1)
    assert trigger.polls >= 2


async def test_first_poll_comes_no_sooner_than_min_poll_interval(emulator: Emulator) -> None:
    # The job has already ended when the trigger starts: an event within seconds of the
    # deferral would meet Airflow's stale defer-exit race (apache/airflow#72716).
    generation_id = await asyncio.to_thread(submit, "xai")
    await asyncio.sleep(1.2)  # jobs last 1 s in these tests
    reads_before = emulator.stats()["upstreams"]["xai"]["status_reads"]
    trigger = GrokVideoTrigger(
        conn_id="grokvideo_xai_default",
        generation_id=generation_id,
        deadline=time.time() + 30,
        poll_interval=2.0,
        min_poll_interval=1.5,
        max_poll_interval=2.0,
    )
    started = time.monotonic()
    events = await events_of(trigger)
    elapsed = time.monotonic() - started
    assert [event["status"] for event in events] == ["succeeded"]
    assert trigger.polls == 1
    assert emulator.stats()["upstreams"]["xai"]["status_reads"] - reads_before == 1
    assert elapsed >= 1.5  # min_poll_interval (how much later is the machine's business)


async def test_a_connection_idle_between_polls_is_kept_not_reopened(emulator: Emulator) -> None:
    # Polls more than httpx's default keep-alive (5 s) apart, as a trigger's often are (the
    # first one min_poll_interval after the start, so the job outlasts it).
    generation_id = await asyncio.to_thread(submit, "xcompute", "a slow one [emulator:seconds=9]")
    opened_before = emulator.stats()["connections_opened"]
    trigger = GrokVideoTrigger(
        conn_id="grokvideo_xcompute_default",
        generation_id=generation_id,
        deadline=time.time() + 30,
        poll_interval=5.5,
        min_poll_interval=5.5,
        max_poll_interval=5.5,
    )
    events = await events_of(trigger)
    assert [event["status"] for event in events] == ["succeeded"]
    assert trigger.polls >= 2
    assert emulator.stats()["connections_opened"] - opened_before == 1


def test_serialize_round_trips_and_holds_no_secret() -> None:
    trigger = GrokVideoTrigger(
        conn_id="grokvideo_xai_default",
        generation_id="req-123",
        deadline=1_800_000_000.5,
        poll_interval=30,
        min_poll_interval=5,
        max_poll_interval=90,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_grokvideo.triggers.video.GrokVideoTrigger"
    assert kwargs == {
        "conn_id": "grokvideo_xai_default",
        "generation_id": "req-123",
        "deadline": 1_800_000_000.5,
        "poll_interval": 30.0,
        "min_poll_interval": 5.0,
        "max_poll_interval": 90.0,
    }
    json.dumps(kwargs)  # plain JSON
    rebuilt = GrokVideoTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert DEFAULT_API_KEY not in repr(trigger)


def test_serialize_through_airflow_serde() -> None:
    from airflow.sdk.serde import deserialize, serialize

    trigger = GrokVideoTrigger("c", "g", 1_800_000_000.0)
    classpath, kwargs = trigger.serialize()
    assert GrokVideoTrigger(**deserialize(serialize(kwargs))).serialize() == (classpath, kwargs)


# -- the shared connection lookup --------------------------------------------------------------


@pytest.fixture
def counted_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every async connection lookup the trigger module makes (slowed down a little)."""
    import airflow_provider_grokvideo.hooks as hooks

    calls: list[str] = []
    original = hooks.aget_video_hook

    async def lookup(conn_id: str, retry: Any = None) -> Any:
        calls.append(conn_id)
        await asyncio.sleep(0.05)
        return await original(conn_id, retry)

    monkeypatch.setattr(hooks, "aget_video_hook", lookup)
    return calls


async def test_triggers_of_one_connection_share_one_lookup(
    emulator: Emulator, counted_lookups: list[str]
) -> None:
    ids = await asyncio.to_thread(lambda: [submit("xai") for _ in range(5)])
    results = await asyncio.gather(*(events_of(trigger_for("xai", i)) for i in ids))
    assert all([e["status"] for e in events] == ["succeeded"] for events in results)
    assert counted_lookups == ["grokvideo_xai_default"]


async def test_a_failed_lookup_is_not_remembered(counted_lookups: list[str]) -> None:
    for _ in range(2):
        trigger = GrokVideoTrigger("grokvideo_missing", "x", time.time() + 5, **FAST)
        assert [event["status"] for event in await events_of(trigger)] == ["error"]
    assert counted_lookups == ["grokvideo_missing"] * 2


async def test_a_cancelled_lookup_does_not_strand_the_others(
    emulator: Emulator, counted_lookups: list[str]
) -> None:
    generation_id = await asyncio.to_thread(submit, "xcompute")
    leader = asyncio.create_task(events_of(trigger_for("xcompute", generation_id)))
    await asyncio.sleep(0.01)  # the leader is reading the connection
    follower = asyncio.create_task(events_of(trigger_for("xcompute", generation_id)))
    await asyncio.sleep(0.01)
    leader.cancel()
    events = await asyncio.wait_for(follower, timeout=10)
    assert [event["status"] for event in events] == ["succeeded"]
    assert counted_lookups == ["grokvideo_xcompute_default"] * 2


# -- what the connection has seen: durations of its finished jobs ------------------------------


def test_before_the_earliest_plausible_end_it_sleeps_until_then() -> None:
    # Jobs of this connection never took less than 300 s: a job started 100 s ago without
    # progress is polled at its earliest plausible end (clamped at max_poll_interval).
    seen = {"started_at": 900.0, "shortest_seen": 300.0}
    assert delay(**seen, polls=3) == 120.0
    assert delay(**seen, now=1150.0, polls=4) == pytest.approx(50.0)
    # Past it: the usual rules, with the back-off of the few polls made: denser.
    assert delay(**seen, now=1250.0, polls=3) == pytest.approx(5.0 * BACKOFF_FACTOR**3)
    # A measured progress rate is about this very job: it is trusted first.
    rate = {"now": 1010.0, "progress": 20, "first_progress": (1000.0, 10)}
    assert delay(**seen, **rate) == pytest.approx(PROGRESS_FRACTION * 79)
    # Without enough history, or without a start time, nothing changes.
    assert delay(started_at=900.0, shortest_seen=None, polls=0) == 5.0
    assert delay(started_at=None, shortest_seen=300.0, polls=0) == 5.0


def test_history_saves_polls_of_jobs_that_cannot_be_done_yet() -> None:
    """A Mountsea-like job (no hints) of 600 s on a connection whose jobs took 500..700 s."""

    def polls_for(shortest: float | None) -> tuple[int, float]:
        now, polls = 0.0, 0
        while True:
            polls += 1
            if now >= 600.0:
                return polls, now - 600.0
            now += next_poll_delay(
                now=now,
                deadline=FAR,
                polls=polls,
                started_at=0.0,
                shortest_seen=shortest,
                **SPACING,  # type: ignore[arg-type]
            )

    without, _ = polls_for(None)
    with_history, late_with = polls_for(400.0)
    assert with_history <= without - 10, (with_history, without)
    assert late_with <= SPACING["poll_interval"]  # seen as promptly as without


async def test_the_trigger_records_its_jobs_durations(emulator: Emulator) -> None:
    from airflow_provider_grokvideo.hooks import aget_video_hook

    ids = await asyncio.to_thread(lambda: [submit("xcompute") for _ in range(6)])
    results = await asyncio.gather(*(events_of(trigger_for("xcompute", i)) for i in ids))
    assert all([e["status"] for e in events] == ["succeeded"] for events in results)
    hook = await aget_video_hook("grokvideo_xcompute_default")
    async with hook.async_session():
        shortest = hook.pacer().durations.shortest
    # Jobs last 1 s in tests; created_at is whole seconds, so a little either way.
    assert shortest is not None and 0.0 < shortest < 2.0


# --------------------------------------------------------------------------------------------
# Several triggerers: a trigger taken over, run twice for a moment, let go with on_kill()
# --------------------------------------------------------------------------------------------


def test_the_wait_start_is_serialized_so_a_new_owner_goes_on_from_it() -> None:
    trigger = GrokVideoTrigger("grokvideo_xai_default", "req-1", FAR, started_at=1_700_000_000.0)
    classpath, kwargs = trigger.serialize()
    assert kwargs["started_at"] == 1_700_000_000.0
    assert GrokVideoTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert "started_at" not in GrokVideoTrigger("c", "g", FAR).serialize()[1]


async def test_a_trigger_taken_over_counts_the_wait_from_the_deferral(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_grokvideo.triggers import video

    lines: list[str] = []

    class Recorder:
        def info(self, message: str, *args: Any) -> None:
            lines.append(message % args)

        debug = warning = info

    generation_id = await asyncio.to_thread(submit, "xcompute", "a heron [emulator:seconds=1]")
    monkeypatch.setattr(video, "log", Recorder())
    # The task deferred 95 s ago; this triggerer took the trigger over just now.
    trigger = GrokVideoTrigger(
        "grokvideo_xcompute_default",
        generation_id,
        time.time() + 20,
        started_at=time.time() - 95,
        **FAST,
    )
    [event] = await events_of(trigger)
    assert event["status"] == "succeeded"
    waited = [line for line in lines if "waited" in line]
    assert waited and "waited 1 min 3" in waited[0], lines


async def test_two_copies_of_one_trigger_fire_the_same_event(emulator: Emulator) -> None:
    """The moment two triggerers run one trigger: both only read; the events are the same."""
    generation_id = await asyncio.to_thread(submit, "mountsea", "a fox [emulator:seconds=1]")
    first, second = (trigger_for("mountsea", generation_id) for _ in range(2))
    one, two = await asyncio.gather(events_of(first), events_of(second))
    assert len(one) == len(two) == 1
    strip = lambda e: {k: v for k, v in e.items() if k != "generation"}  # noqa: E731
    assert strip(one[0]) == strip(two[0]) and one[0]["status"] == "succeeded"
    assert one[0]["generation"]["video_urls"] == two[0]["generation"]["video_urls"]
    stats = emulator.stats()["upstreams"]["mountsea"]
    assert (
        stats["submissions"] == 1
        and stats["requests"] == stats["submit_requests"] + stats["status_reads"]
    )


async def test_a_trigger_let_go_with_on_kill_leaves_its_new_owners_wait_alone(
    emulator: Emulator,
) -> None:
    """Airflow 3.3's triggerer cancels a reassigned trigger as a user action and calls its
    ``on_kill()`` (apache/airflow#73454): the job and the new owner's wait must not notice."""
    from airflow.jobs import triggerer_job_runner
    from airflow.triggers.base import BaseTrigger

    # Deliberately Airflow's no-op: cancelling the upstream job there would cancel the video
    # the new owner waits for.
    assert GrokVideoTrigger.on_kill is BaseTrigger.on_kill
    generation_id = await asyncio.to_thread(submit, "xai", "a kite [emulator:seconds=2]")
    old_owner, new_owner = (trigger_for("xai", generation_id) for _ in range(2))
    old = asyncio.ensure_future(events_of(old_owner))
    new = asyncio.ensure_future(events_of(new_owner))
    await asyncio.sleep(0.5)  # both waiting, the job running
    old.cancel(triggerer_job_runner._USER_ACTION_CANCEL_MSG)
    await old_owner.on_kill()
    with pytest.raises(asyncio.CancelledError):
        await old
    await old_owner.cleanup()
    [event] = await new
    assert event["status"] == "succeeded"
    job = emulator.job(generation_id)
    assert job is not None and job["state"] == "succeeded"
    stats = emulator.stats()["upstreams"]["xai"]
    # Nothing but the submit and status reads reached the upstream: no cancel, no second job.
    assert stats["submissions"] == 1
    assert stats["requests"] == stats["submit_requests"] + stats["status_reads"]


def test_later_polls_wake_on_a_grid_never_early() -> None:
    for now in (0.0, 12.3456, 98765.4321):
        for delay in (WAKE_GRID_FROM, 0.913, 7.77, 119.99):
            wake = now + on_wake_grid(now, delay)
            assert now + delay <= wake < now + delay + WAKE_GRID
            assert wake / WAKE_GRID == pytest.approx(round(wake / WAKE_GRID), abs=1e-6)
        for short in (0.0, 0.013, WAKE_GRID_FROM * 0.99):  # quick polls stay spread
            assert on_wake_grid(now, short) == short


def test_polls_due_within_one_tick_end_on_one_grid_point_whenever_asked() -> None:
    # Asked at different moments (and loop passes) for different delays, all due within one
    # tick: one wake point, the one pass of the loop that wakes them all, none before its time.
    grid_point = 1000 * WAKE_GRID
    # (now, delay), each due at grid_point - WAKE_GRID * (0.95 - i / 10): within the tick.
    asked = [
        (grid_point - WAKE_GRID * (0.95 - i / 10) - 2.0 - i / 7, 2.0 + i / 7) for i in range(10)
    ]
    wakes = {round(now + on_wake_grid(now, delay), 9) for now, delay in asked}
    assert wakes == {round(grid_point, 9)}
    assert all(grid_point >= now + delay for now, delay in asked)
