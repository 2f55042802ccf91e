"""GrokVideoTrigger: every outcome for real against the emulator (poll spacing: test_polling)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hook_support import submit

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY, UPSTREAMS, Emulator
from airflow_provider_grokvideo.triggers.polling import (
    POLL_SPREAD,
)
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

SPACING = {"poll_interval": 20.0, "min_poll_interval": 5.0, "max_poll_interval": 120.0}
FAR = 1e12  # a deadline that never matters


# --------------------------------------------------------------------------------------------
# Against the emulator
# --------------------------------------------------------------------------------------------

FAST = {"poll_interval": 0.3, "min_poll_interval": 0.05, "max_poll_interval": 0.5}


@pytest.fixture(autouse=True)
async def no_client_left_open() -> AsyncIterator[None]:
    """Every trigger releases its lease: the loop's shared client is closed after the test."""
    yield
    from airflow_provider_grokvideo.hooks import runtime

    in_loop = runtime._registry.loops.get(asyncio.get_running_loop())
    assert in_loop is None or not any(r._clients for r in in_loop.runtimes.values())


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


async def test_the_trigger_records_its_jobs_durations(emulator: Emulator) -> None:
    from airflow_provider_grokvideo.hooks import aget_video_hook

    # Held until every trigger has seen its job running: only a job seen running and then done
    # teaches a duration, and a busy machine's first poll may come after a 1 s job's end.
    emulator.hold()
    began = time.time()
    ids = await asyncio.to_thread(lambda: [submit("xcompute") for _ in range(6)])
    triggers = [trigger_for("xcompute", generation_id) for generation_id in ids]
    waits = asyncio.gather(*(events_of(trigger) for trigger in triggers))
    while min(trigger.polls for trigger in triggers) < 1:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(emulator.release)
    results = await waits
    assert all([e["status"] for e in events] == ["succeeded"] for events in results)
    hook = await aget_video_hook("grokvideo_xcompute_default")
    async with hook.async_session():
        shortest = hook.runtime().durations.shortest
    # No longer than the jobs lasted (created_at is whole seconds: up to 1 s more).
    assert shortest is not None and 0.0 < shortest < time.time() - began + 1.0


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
