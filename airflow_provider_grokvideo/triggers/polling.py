"""How long a wait sleeps between two status reads: pure functions of the upstream's hints.

Where the upstream reports ``progress`` the wait measures the rate between two answers and
sleeps half of the estimated remaining time (few polls early, frequent ones near the end); where
it only gives its own (conservative) ``estimated_seconds`` it sleeps a quarter of what is left of
it; with no hint at all it backs off gently from ``min_poll_interval`` toward ``poll_interval``.
Once the connection has seen a few of its jobs finish, a wait without progress sleeps until the
earliest plausible end of its own job instead of polling a job that cannot be done yet.  Every
delay is shortened by a random share of up to :data:`POLL_SPREAD` (so that waits started
together drift apart), clamped within ``[min_poll_interval, max_poll_interval]`` and never runs
past the deadline.  No clock, no randomness, no I/O: the caller passes them in.
"""

from __future__ import annotations

import math

#: Default spacing of polls, in seconds (see :func:`next_poll_delay`).
DEFAULT_POLL_INTERVAL = 20.0
DEFAULT_MIN_POLL_INTERVAL = 5.0
DEFAULT_MAX_POLL_INTERVAL = 120.0

#: Share of the remaining time (measured from the progress rate) slept before the next poll.
PROGRESS_FRACTION = 0.5
#: Share of the remaining time by the upstream's own estimate (known to be conservative: 600 s
#: announced for a job that took 265 s) slept before the next poll.
ESTIMATE_FRACTION = 0.25
#: Growth of the delay between polls when the upstream gives no hint.
BACKOFF_FACTOR = 1.5
#: The first poll waits min_poll_interval plus a random 0..min(min_poll_interval, this)
#: seconds: never sooner than min_poll_interval after the deferral (see ``wait``).
FIRST_POLL_JITTER = 1.0
#: Every later delay is shortened by a random share of up to this much (see ``spread``).
POLL_SPREAD = 0.2

#: Every poll after the first wakes on a grid of this many seconds of the loop's clock...
WAKE_GRID = 0.05
#: ...when its delay is at least this long (so that it is lengthened by less than a tenth).
WAKE_GRID_FROM = 0.5


def on_wake_grid(now: float, delay: float) -> float:
    """``delay`` lengthened (by less than :data:`WAKE_GRID`) to end on the grid of ``now``'s clock.

    On a triggerer with a thousand waits a status read falls due every few milliseconds: each
    one a lone wake-up of the event loop, round trip and answer, which cost about a third more
    CPU per poll than reads woken together (``benchmarks/triggerer_load.py``).  On the grid, the
    waits due within one tick wake in one pass of the loop.  Delays below
    :data:`WAKE_GRID_FROM` are not moved (they would be lengthened by more than a tenth).
    """
    if delay < WAKE_GRID_FROM:
        return delay
    return max(delay, math.ceil((now + delay) / WAKE_GRID) * WAKE_GRID - now)


def next_poll_delay(
    *,
    now: float,
    deadline: float,
    polls: int,
    poll_interval: float,
    min_poll_interval: float,
    max_poll_interval: float,
    progress: int | None = None,
    estimated_seconds: float | None = None,
    created_at: float | None = None,
    first_progress: tuple[float, int] | None = None,
    spread: float = 1.0,
    started_at: float | None = None,
    shortest_seen: float | None = None,
) -> float:
    """Seconds to sleep before the next status read.  Pure: no clock, no I/O.

    :param now: unix time of the answer just read.
    :param deadline: unix time after which nobody waits any more.
    :param polls: status reads made so far (drives the back-off when there is no hint).
    :param progress: the upstream's progress (0..100) in the answer just read, if any.
    :param estimated_seconds: the upstream's estimate of the job's total run time, if any.
    :param created_at: unix time the upstream created the job, if known.
    :param first_progress: ``(time, progress)`` of the first answer that reported a progress
        above 0; with the current ``progress`` it gives the job's measured rate.
    :param spread: a factor within ``[1 - POLL_SPREAD, 1]`` that the caller draws at random.
        Waits that started together (a triggerer that starts with thousands of them) would
        otherwise keep polling in the same seconds, wave after wave: a load spike for the
        triggerer's loop and a burst of requests the upstream may rate-limit.  It only ever
        shortens a delay, so a video is never seen later than the hints allow.
    :param started_at: unix time the job started (``created_at`` where the upstream says,
        else when the wait began).
    :param shortest_seen: the shortest plausible run time, in seconds, of this connection's
        jobs, from those it has seen finish (``JobDurations.shortest``), if known.

    In order of trust:

    1. a measured progress rate: sleep :data:`PROGRESS_FRACTION` of the remaining time;
    2. progress seen once, no rate yet: a short probe (the back-off step) to measure it;
    3. before the earliest plausible end (``started_at + shortest_seen``): sleep until then,
       since no poll before it can see the video (when the budget is scarce, a poll spent
       there is taken from a wait that may be done); after it, the next rules, whose back-off
       restarts short since few polls were made: few polls before, then denser;
    4. the upstream's estimate and creation time: sleep :data:`ESTIMATE_FRACTION` of what is
       left of the estimate;
    5. nothing: ``min_poll_interval * BACKOFF_FACTOR ** polls``, at most ``poll_interval``.

    The result is clamped within ``[min_poll_interval, max_poll_interval]``, then multiplied by
    ``spread`` (but not below ``min_poll_interval``), and cut short so as never to sleep past
    ``deadline`` (0 when the deadline has come).
    """
    low = max(0.0, min_poll_interval)
    high = max(low, max_poll_interval)
    backoff = min(low * BACKOFF_FACTOR ** max(0, polls), max(low, poll_interval))

    delay: float
    if progress is not None and first_progress is not None and progress > first_progress[1]:
        first_at, first_value = first_progress
        elapsed = now - first_at
        if elapsed > 0:
            rate = (progress - first_value) / elapsed  # percent per second
            # Progress is usually a whole number, truncated: the job may be up to one point
            # further than it says, so count from there (near the end: poll at the minimum).
            delay = PROGRESS_FRACTION * max(0.0, 99 - progress) / rate
        else:
            delay = backoff
    elif progress:
        delay = backoff
    elif shortest_seen is not None and started_at is not None and started_at + shortest_seen > now:
        delay = started_at + shortest_seen - now
    elif estimated_seconds and created_at is not None and created_at + estimated_seconds > now:
        delay = ESTIMATE_FRACTION * (created_at + estimated_seconds - now)
    else:
        delay = backoff

    delay = max(min(max(delay, low), high) * spread, low)
    return max(0.0, min(delay, deadline - now))


def rate_anchor(
    anchor: tuple[float, int] | None, previous: int | None, now: float, progress: int | None
) -> tuple[float, int] | None:
    """The ``(time, progress)`` a job's progress rate is measured from (``next_poll_delay``'s
    ``first_progress``), after an answer reading ``progress`` at ``now`` where the answer
    before read ``previous``.  Pure.

    The first answer with a progress above 0; moved to the latest answer whose progress has not
    moved since the one before: a job that stood still (a queue or a pause upstream, a hold in
    the emulator) is then timed from where it stood, not from before the stall, which would
    make it look slower than it runs and stretch its last polls to ``max_poll_interval``.  A
    slow job whose whole-number progress did not move between two reads looks faster by as
    much: a few polls more near its end, never its video seen later.
    """
    if not progress:
        return anchor
    if anchor is None or progress == previous:
        return (now, progress)
    return anchor
