"""The poll spacing (``triggers.polling``): pure functions of the upstream's hints, on an
injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_grokvideo.triggers.polling import (
    BACKOFF_FACTOR,
    ESTIMATE_FRACTION,
    POLL_SPREAD,
    PROGRESS_FRACTION,
    WAKE_GRID,
    WAKE_GRID_FROM,
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


# -- the wake grid ----------------------------------------------------------------------------


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
