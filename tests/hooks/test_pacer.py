"""The request pacer: the pure budget and queue with time injected, then the async and sync
pacers for real, through the hooks, against the emulator's rate limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import signal
import threading
import time
from functools import partial
from typing import Any

import pytest
from hook_support import make_hook

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.exceptions import GrokVideoError, UpstreamHTTPError
from airflow_provider_grokvideo.hooks import pacer as pacing
from airflow_provider_grokvideo.hooks import shared_video_hook
from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy
from airflow_provider_grokvideo.hooks.pacer import (
    DECREASE,
    INCREASE_SHARE,
    MIN_RATE,
    SPACING_MARGIN,
    Budget,
    Handout,
    JobDurations,
    SyncPacer,
    Turns,
)
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger


def always(item: Any) -> bool:
    return True


def drain(turns: Turns, until: float, step: float = 0.001) -> list[tuple[float, Any]]:
    """Run the queue on an injected clock: (release time, item) for each release."""
    out: list[tuple[float, Any]] = []
    now = 0.0
    while now <= until:
        out += [(now, item) for item in turns.release(now, always)]
        at = turns.next_at(always)
        if at is None:
            break
        now = max(now + step, at)
    return out


# --------------------------------------------------------------------------------------------
# Pure: Budget and Turns, with time injected
# --------------------------------------------------------------------------------------------


def test_a_configured_budget_is_held() -> None:
    turns = Turns(requests_per_second=4)
    for index in range(20):
        turns.push(0.0, index)
    released = drain(turns, until=10.0)
    assert [item for _, item in released] == list(range(20))
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(released)]
    assert min(gaps) >= (1 + SPACING_MARGIN) / 4 - 1e-9
    assert released[-1][0] == pytest.approx(19 * (1 + SPACING_MARGIN) / 4, abs=0.01)


def test_fair_order_oldest_due_first_and_never_before_due() -> None:
    turns = Turns(requests_per_second=1)
    turns.push(5.0, "late")
    turns.push(1.0, "early")
    turns.push(1.0, "early-second")  # same due: arrival order
    turns.push(0.5, "earliest")
    released = drain(turns, until=20.0)
    assert [item for _, item in released] == ["earliest", "early", "early-second", "late"]
    times = dict((item, at) for at, item in released)
    assert times["earliest"] == pytest.approx(0.5)
    assert times["early"] == pytest.approx(1.52, abs=0.01)  # spaced by the budget
    assert times["late"] == pytest.approx(5.0)  # due later than the budget frees it


def test_an_unlimited_budget_is_open_and_queues_nothing() -> None:
    turns = Turns()
    assert turns.open(0.0)
    turns.push(2.0, "x")
    assert not turns.open(0.0)  # somebody waits: no overtaking
    assert turns.release(1.0, always) == []
    assert turns.release(2.0, always) == ["x"]
    assert turns.open(2.0)


def test_retry_after_pauses_the_whole_connection() -> None:
    turns = Turns(requests_per_second=10)
    turns.budget.refuse(now=100.0, sent_at=99.9, retry_after=3.0)
    for name in ("a", "b"):
        turns.push(100.0, name)
    assert turns.release(102.9, always) == []
    assert turns.next_at(always) == pytest.approx(103.0)
    assert turns.release(103.0, always) == ["a"]  # then spaced by the budget again
    assert turns.release(103.05, always) == []
    assert turns.release(103.11, always) == ["b"]
    assert turns.budget.rate == 10  # a configured budget is not learned


def test_a_429_cuts_the_learned_rate_from_what_was_accepted() -> None:
    budget = Budget()
    for index in range(41):  # 40 requests per second answered over a second
        budget.answered(10.0 + index / 40)
    assert budget.rate is None and budget.unlimited(11.0)
    budget.refuse(now=11.0, sent_at=11.0, retry_after=None)
    assert budget.rate == pytest.approx(40 * DECREASE, rel=0.05)
    assert budget.paused_until == pytest.approx(11.0 + 1.0)  # no Retry-After: one second
    assert not budget.unlimited(11.5)


def test_429s_of_requests_sent_before_the_cut_cut_nothing_more() -> None:
    budget = Budget()
    budget.refuse(now=1.0, sent_at=1.0, retry_after=1.0)
    first = budget.rate
    assert first == pytest.approx(1.0 * DECREASE)  # nothing accepted yet: from 1 per second
    budget.refuse(now=1.01, sent_at=0.99, retry_after=1.0)  # in flight before the cut
    assert budget.rate == first
    budget.refuse(now=3.0, sent_at=2.5, retry_after=1.0)  # sent at the new rate: cut again
    assert budget.rate == pytest.approx(first * DECREASE)
    for _ in range(100):
        budget.refuse(now=budget.decreased_at + 1, sent_at=budget.decreased_at + 1, retry_after=0)
    assert budget.rate == MIN_RATE


def test_the_learned_rate_recovers_slowly_and_only_when_it_holds_requests_back() -> None:
    budget = Budget()
    for index in range(11):
        budget.answered(index / 10)  # 10 per second accepted
    budget.refuse(now=1.0, sent_at=1.0, retry_after=1.0)
    cut = budget.rate
    assert cut == pytest.approx(10 * DECREASE, rel=0.1)
    # Demand below the budget for 10 s: nothing learned, no drift upward.
    budget.take(5.0, held=False)
    budget.take(11.0, held=False)
    assert budget.rate == cut
    # Then 10 s held back by the budget: it grows linearly, INCREASE_SHARE of the rate cut.
    step = INCREASE_SHARE * cut / DECREASE
    budget.take(16.0, held=True)
    budget.take(21.0, held=True)
    assert budget.rate == pytest.approx(cut + 10 * step)
    # About (1 - DECREASE) / (DECREASE * INCREASE_SHARE) s to climb back to the rate refused.
    budget.take(21.0 + (1 - DECREASE) / INCREASE_SHARE - 10, held=True)
    assert budget.rate == pytest.approx(cut / DECREASE, rel=0.01)


def test_a_configured_budget_can_change_and_be_dropped() -> None:
    budget = Budget(2)
    budget.configure(5)
    assert (budget.configured, budget.rate) == (5, 5)
    budget.configure(None)
    assert budget.rate is None
    with pytest.raises(ValueError, match="positive"):
        Budget(0)


def handed_out(handout: Handout, woke: float) -> list[tuple[float, Any]]:
    """Run the shared turns on an injected clock from ``woke`` (a loop that woke then), then
    at each time the handout asks for: (release time, item) for each release."""
    out: list[tuple[float, Any]] = []
    now = woke
    while True:
        out += [(now, item) for item in handout.release(now, always)]
        at = handout.next_at()
        if at is None:
            return out
        now = max(now, at)


def test_shared_turns_are_handed_out_at_their_times() -> None:
    handout = Handout()
    spacing = (1 + SPACING_MARGIN) / 40
    handout.ready.extend((0.0, index) for index in range(10))
    handout.grant([10.0 + index * spacing for index in range(10)], spacing, -math.inf)
    released = handed_out(handout, 10.0)
    assert [item for _, item in released] == list(range(10))
    assert [at for at, _ in released] == pytest.approx([10.0 + i * spacing for i in range(10)])


def test_a_stalled_loop_hands_out_overdue_turns_at_the_budgets_pace_from_waking() -> None:
    # The store granted ten turns 25 ms apart; the loop handed out the first, then stalled for
    # a second (starved of CPU): it wakes with nine turns overdue.  They leave one spacing
    # apart from the moment it woke, not in one burst.
    handout = Handout()
    spacing = (1 + SPACING_MARGIN) / 40
    handout.ready.extend((0.0, index) for index in range(10))
    handout.grant([10.0 + index * spacing for index in range(10)], spacing, -math.inf)
    assert handout.release(10.0, always) == [0]
    stalled = handed_out(handout, 11.0)
    assert [item for _, item in stalled] == list(range(1, 10))
    times = [at for at, _ in stalled]
    assert times[0] == 11.0
    assert times == pytest.approx([11.0 + index * spacing for index in range(9)])
    # However the clock woke, no window holds more turns than the rate allows.
    for start in times:
        assert sum(start <= at < start + 0.1 for at in times) <= math.floor(0.1 / spacing) + 1


def test_overdue_turns_nobody_waits_for_are_lost_and_an_unlimited_key_is_not_spaced() -> None:
    handout = Handout()
    handout.grant([1.0, 1.1, 1.2], 0.1, -math.inf)
    assert handout.release(5.0, always) == []  # nobody ready: the store counted them, gone
    assert not handout.granted and handout.next_at() is None
    handout.ready.extend((5.0, name) for name in "abc")
    handout.grant([6.0, 6.0, 6.0], 0.0, -math.inf)  # unlimited: every turn at once
    assert handout.release(7.0, always) == ["a", "b", "c"]
    # Turns granted before a pause began are dropped.
    handout.ready.append((7.0, "d"))
    handout.grant([7.0, 7.5, 8.0], 0.5, 7.6)
    assert list(handout.granted) == [8.0]


def test_job_durations_give_the_earliest_plausible_end() -> None:
    durations = JobDurations()
    for seconds in (100, 120, 140, 160):
        durations.add(0.0, seconds - 10, seconds + 10)  # ended between, midpoint recorded
    assert durations.shortest is None  # too few jobs yet
    durations.add(1000.0, 1170.0, 1190.0)
    assert durations.shortest == pytest.approx(100 * (1 - JobDurations.MARGIN))
    durations.add(5.0, 1.0, 2.0)  # inconsistent: ignored
    assert durations.shortest == pytest.approx(80.0)


# --------------------------------------------------------------------------------------------
# The sync pacer: threads, on an injected clock and for real
# --------------------------------------------------------------------------------------------


def test_sync_pacer_holds_the_budget_across_threads_in_arrival_order() -> None:
    pacer = SyncPacer(requests_per_second=20)
    left: list[tuple[float, int]] = []
    lock = threading.Lock()

    def request(index: int) -> None:
        at = pacer.turn()
        with lock:
            left.append((at, index))

    threads = [threading.Thread(target=request, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
        time.sleep(0.002)  # arrival order
    for thread in threads:
        thread.join(10)
    times = sorted(at for at, _ in left)
    assert [index for _, index in sorted(left)] == list(range(10))
    assert all(b - a >= 1 / 20 - 1e-6 for a, b in itertools.pairwise(times))


def test_sync_pacer_pause_with_an_injected_clock() -> None:
    now = [100.0]
    pacer = SyncPacer(clock=lambda: now[0])
    assert pacer.turn() == 100.0  # unlimited: at once
    pacer.refused(sent_at=100.0, retry_after=0.0)  # learned a rate, pause of 0 s
    assert pacer.budget.rate == pytest.approx(DECREASE)
    now[0] = 101.0
    assert pacer.turn() == 101.0
    assert pacer.budget.next_free == pytest.approx(101.0 + (1 + SPACING_MARGIN) / DECREASE)


class Interrupted(Exception):
    """What a task's ``execution_timeout`` raises in its main thread (a signal handler's)."""


def test_a_wait_interrupted_by_a_signal_leaves_the_queue() -> None:
    # A try ended while its submit waits for the budget (its retry may run in this process)
    # must not leave its place behind: the place would take the retry's turn.
    now = [0.0]
    pacer = SyncPacer(requests_per_second=1, clock=lambda: now[0])
    pacer.turn()  # the budget is spent until 1.02 on this clock

    def interrupt_once_queued() -> None:
        deadline = time.monotonic() + 30
        while len(pacer.turns) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGALRM)

    def raise_interrupted(signum: int, frame: Any) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, raise_interrupted)
    try:
        helper = threading.Thread(target=interrupt_once_queued)
        helper.start()
        with pytest.raises(Interrupted):
            pacer.turn()
        helper.join(30)
    finally:
        signal.signal(signal.SIGALRM, previous)
    now[0] = 1.02
    assert pacer.turn() == 1.02  # the next request's turn, not the dead wait's
    assert pacer.turns.next_at(pacing._alive) is None


# --------------------------------------------------------------------------------------------
# Through the hooks, against the emulator's rate limits
# --------------------------------------------------------------------------------------------


# One try: a 429 must reach the test, not be retried away.
hook_for = partial(make_hook, retry=RetryPolicy(1))


def test_requests_per_second_extra_is_read_and_checked(grokvideo_emulator: Emulator) -> None:
    assert hook_for(grokvideo_emulator, "xai").settings.requests_per_second is None
    hook = hook_for(grokvideo_emulator, "xai", requests_per_second="2.5")
    assert hook.settings.requests_per_second == 2.5
    assert hook.sync_pacer.budget.configured == 2.5
    for bad in (0, -1, "fast", "inf"):
        with pytest.raises(GrokVideoError, match="requests_per_second"):
            hook_for(grokvideo_emulator, "xai", requests_per_second=bad).settings  # noqa: B018


def test_sync_submits_of_one_key_in_one_process_share_the_budget(
    grokvideo_emulator: Emulator,
) -> None:
    grokvideo_emulator.set_rate_limits({"xcompute": 5})
    # Two hooks (two tasks' worth) of the same key: one pacer.
    hooks = [hook_for(grokvideo_emulator, "xcompute", requests_per_second=5) for _ in range(2)]
    assert hooks[0].sync_pacer is hooks[1].sync_pacer
    ids: list[str] = []
    started = time.monotonic()
    threads = [
        threading.Thread(target=lambda h=h: ids.append(h.submit_video("a paced fox")))
        for h in hooks * 6
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    took = time.monotonic() - started
    assert len(ids) == 12
    stats = grokvideo_emulator.stats()["upstreams"]["xcompute"]
    assert stats["rate_limited_submit"] == 0  # never beyond the budget
    assert stats["submissions"] == 12
    assert took >= 11 / 5 - 4  # 12 requests, 5 per second, the bucket's 5 at once


def test_sync_pacer_learns_from_a_429_and_pauses(grokvideo_emulator: Emulator) -> None:
    grokvideo_emulator.set_rate_limits({"mountsea": 2})
    hook = hook_for(grokvideo_emulator, "mountsea")
    refused = 0
    started = time.monotonic()
    for _ in range(12):
        try:
            hook.get_video("no-such-task")
        except UpstreamHTTPError as exc:
            refused += exc.status_code == 429
    took = time.monotonic() - started
    assert hook.sync_pacer.budget.rate is not None  # learned
    assert 1 <= refused <= 4
    assert took >= 3.0  # paced, not 12 requests in a burst
    stats = grokvideo_emulator.stats()["upstreams"]["mountsea"]
    assert stats["rate_limited_status"] == refused


async def test_async_waits_of_one_connection_share_the_budget(emulator: Emulator) -> None:
    """A configured budget: every wait of the connection in the loop spends one budget."""
    conn = json.loads(emulator.airflow_connection("xai"))
    conn["extra"] = {"requests_per_second": 10}
    ids = await asyncio.to_thread(_submit_many, emulator, "xai", 20)
    emulator.set_rate_limits({"xai": 10})  # from here on (every bucket full)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_PACED_XAI", json.dumps(conn))
        triggers = [
            GrokVideoTrigger(
                "paced_xai",
                generation_id,
                time.time() + 30,
                poll_interval=0.2,
                min_poll_interval=0.05,
                max_poll_interval=0.3,
            )
            for generation_id in ids
        ]
        started = time.monotonic()
        results = await asyncio.gather(*(_events(trigger) for trigger in triggers))
        took = time.monotonic() - started
    assert all([e["status"] for e in events] == ["succeeded"] for events in results)
    polls = sum(trigger.polls for trigger in triggers)
    stats = emulator.stats()["upstreams"]["xai"]
    assert stats["rate_limited_status"] == 0
    assert polls <= took * 10 * (1 + SPACING_MARGIN) + 10  # within the budget (and burst)


async def test_async_learned_budget_keeps_429s_few(emulator: Emulator) -> None:
    """No configured budget: once a 429 taught the key its budget, every wait is slowed and
    Retry-After pauses them all, so few more reads are refused.

    The reads sent while the key is still unlimited are refused beyond the upstream's bucket
    whatever the pacer does, and how many leave before the first 429 comes back is a race with
    the machine (a starved loop sends every wait's first read at once: 22 of 30 refused, where
    an idle one sees 1).  So the test teaches the key its first 429 itself, with bursts of
    reads, and counts what the waits draw after it.
    """
    # The jobs are held until the triggers have read their status 60 times (several
    # seconds at the learned pace): on a busy machine, jobs that end early would leave too few
    # reads to show what was learned.
    emulator.hold()
    ids = await asyncio.to_thread(_submit_many, emulator, "xcompute", 30)
    emulator.set_rate_limits({"xcompute": 8})
    hook = await shared_video_hook("grokvideo_xcompute_default")
    pacer = hook.pacer()
    for _ in range(20):  # twice the bucket at once, until one is refused, however slow
        if pacer.budget.rate is not None:
            break
        reads = (hook.aget_video(ids[0], retry=False) for _ in range(16))
        await asyncio.gather(*reads, return_exceptions=True)
    assert pacer.budget.rate is not None, "the key learned from a 429"
    before = await _xcompute_stats(emulator)
    triggers = [
        GrokVideoTrigger(
            "grokvideo_xcompute_default",
            generation_id,
            time.time() + 60,
            poll_interval=0.2,
            min_poll_interval=0.05,
            max_poll_interval=0.3,
        )
        for generation_id in ids
    ]
    waits = asyncio.gather(*(_events(trigger) for trigger in triggers))
    while (await _xcompute_stats(emulator))["status_reads"] < before["status_reads"] + 60:
        await asyncio.sleep(0.2)
    await asyncio.to_thread(emulator.release)
    results = await waits
    assert all([e["status"] for e in events] == ["succeeded"] for events in results)
    stats = emulator.stats()["upstreams"]["xcompute"]
    refused = stats["rate_limited_status"] - before["rate_limited_status"]
    reads = stats["status_reads"] - before["status_reads"]
    # Unpaced, 30 waits reading every 0.05-0.3 s against 8 per second: most reads refused.
    assert refused <= 0.15 * reads + 5, stats
    learned = pacer.budget.rate
    assert learned is not None and MIN_RATE <= learned <= 8 * 1.5


async def test_a_cancelled_wait_leaves_its_place(emulator: Emulator) -> None:
    hook = hook_for(emulator, "xai", requests_per_second=2)
    pacer = hook.pacer()
    assert pacer is hook_for(emulator, "xai", requests_per_second=2).pacer()  # one per key
    first = asyncio.ensure_future(pacer.turn(0.0))
    second = asyncio.ensure_future(pacer.turn(0.0))
    third = asyncio.ensure_future(pacer.turn(0.0))
    await first
    second.cancel()
    started = time.monotonic()
    await third
    assert time.monotonic() - started == pytest.approx((1 + SPACING_MARGIN) / 2, abs=0.1)


async def _xcompute_stats(emulator: Emulator) -> dict[str, Any]:
    return (await asyncio.to_thread(emulator.stats))["upstreams"]["xcompute"]


def _submit_many(emulator: Emulator, upstream: str, count: int) -> list[str]:
    from airflow_provider_grokvideo.hooks import get_video_hook

    hook = get_video_hook(f"grokvideo_{upstream}_default")
    return [hook.submit_video("a paced lighthouse [emulator:seconds=1.5]") for _ in range(count)]


async def _events(trigger: GrokVideoTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]
