"""Per-job state and life, and the bounded job store.

Nothing here knows any upstream's wire format.  A job's life is computed lazily from the clock:
no timer runs per job, so holding tens of thousands of jobs costs only their memory.

Life of a job of ``seconds`` seconds, created at ``created``:

* ``queued``  for the first :data:`QUEUED_FRACTION` of its life;
* ``running`` until the end (``progress`` rises from 0 to 99); with the ``unknown-status``
  scenario, the second half of that time is the ``unknown`` phase (an undocumented status word);
* then its outcome for ever: ``succeeded``, ``failed``, ``cancelled``, ``expired``, ``timeout``
  or ``no_url`` (succeeded without a video URL).

A :class:`Hold` stops the clock of every job that has not finished (and of every job created
while it lasts): each stays in the phase it was in, with its progress, until the hold is
released; then each lives the rest of its life. Tests use it to have as many waits running as
they need, whatever the machine's speed, and to let them finish when they choose.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from airflow_provider_grokvideo.emulator.faults import Scenario

QUEUED_FRACTION = 0.2
QUEUED = "queued"
RUNNING = "running"
UNKNOWN = "unknown"
SUCCEEDED = "succeeded"
#: Job phases in the normalized vocabulary of the provider (for stats).
NORMALIZED: dict[str, str] = {
    QUEUED: "queued",
    RUNNING: "running",
    UNKNOWN: "running",
    SUCCEEDED: "succeeded",
    "failed": "failed",
    "timeout": "failed",
    "no_url": "failed",
    "cancelled": "cancelled",
    "expired": "expired",
}
NORMALIZED_STATES: tuple[str, ...] = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "expired",
)


class Hold:
    """Whether the jobs' clocks stand still, and since when (unix seconds)."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        self.since: float | None = None


@dataclass(slots=True, eq=False)
class Job:
    """One generation job: who owns it, when it started, how long it lives and how it ends."""

    id: str
    upstream: str
    created: float  # unix seconds
    seconds: float
    scenario: Scenario
    video_duration: float  # the duration the client asked for (reported back by xAI)
    model: str = ""  # the model asked for (reported back by xAI)
    cost_ticks: int | None = None  # the billed cost (reported back by xAI)
    shape: Any = None  # the video it makes (media.VideoShape), None for the sample
    storage_options: dict[str, Any] | None = None  # xAI: keep the output in its Files
    upload_url: str | None = None  # xAI: PUT the video there when done
    delivery: str | None = None  # "delivered", or the storage_error of a failed PUT
    paused: float = 0.0  # seconds its clock stood still in holds released since
    hold: Hold | None = None  # the store's hold (set by JobStore.add)
    seen_ended: float | None = None  # unix time of the first status read that found it ended

    @property
    def ends(self) -> float:
        """Unix time of the job's final state (later, while a hold keeps it unfinished)."""
        return self.created + self.paused + self.seconds

    def elapsed(self, now: float) -> float:
        """Seconds of its life the job has lived at ``now`` (not counting holds)."""
        start = self.created + self.paused
        hold = self.hold
        since = hold.since if hold is not None else None
        # Stopped at the hold (or at its start, if submitted during it) unless it had ended.
        if since is not None and now > since and start + self.seconds > since:
            now = max(since, start)
        return now - start

    def phase(self, now: float) -> str:
        """``queued``, ``running``, ``unknown`` or the job's outcome."""
        elapsed = self.elapsed(now)
        seconds = self.seconds
        if elapsed >= seconds:
            return self.scenario.outcome
        if elapsed < seconds * QUEUED_FRACTION:
            return QUEUED
        if self.scenario.unknown_status and elapsed >= seconds * 0.6:
            return UNKNOWN
        return RUNNING

    def progress(self, now: float) -> int:
        """0 while queued, rising to 99 while running, 100 once finished."""
        elapsed = self.elapsed(now)
        seconds = self.seconds
        if elapsed >= seconds:
            return 100
        start = seconds * QUEUED_FRACTION
        if elapsed <= start:
            return 0
        return min(99, int(100 * (elapsed - start) / (seconds - start)))

    def queue_fraction(self, now: float) -> float:
        """How far through its queued time the job is (0..1), for multi-word queues."""
        queued = self.seconds * QUEUED_FRACTION
        if queued <= 0:
            return 1.0
        return min(1.0, max(0.0, self.elapsed(now) / queued))

    def finished(self, now: float) -> bool:
        return self.elapsed(now) >= self.seconds

    def has_video(self, now: float) -> bool:
        """Whether the CDN holds this job's video."""
        return self.scenario.outcome == SUCCEEDED and self.finished(now)


class JobStore:
    """All live jobs, by id, in creation order, bounded to ``max_jobs``.

    When full, a new job makes room by forgetting the oldest finished jobs first (in batches of
    1 % of the bound, so eviction is amortized O(1)); only when no job has finished are the oldest
    unfinished ones forgotten.  A forgotten job answers 404, as a purged job does upstream.
    """

    __slots__ = ("_hold", "_jobs", "evicted", "max_jobs")

    def __init__(self, max_jobs: int) -> None:
        if max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, got {max_jobs}")
        self.max_jobs = max_jobs
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._hold = Hold()
        self.evicted = 0

    @property
    def held(self) -> bool:
        """Whether the jobs' clocks stand still (see :meth:`hold`)."""
        return self._hold.since is not None

    def hold(self, now: float) -> None:
        """Stop the clock of every unfinished job and of every job added until :meth:`release`
        (holding again while held changes nothing)."""
        if self._hold.since is None:
            self._hold.since = now

    def release(self, now: float) -> int:
        """Restart the clocks a hold stopped; return how many jobs it held (O(n): a control
        call, not a request path)."""
        since = self._hold.since
        if since is None:
            return 0
        released = 0
        for job in self._jobs.values():
            start = job.created + job.paused
            if start + job.seconds > since:  # unfinished when the hold began
                job.paused += max(0.0, now - max(since, start))
                released += 1
        self._hold.since = None
        return released

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def add(self, job: Job, now: float | None = None) -> None:
        if len(self._jobs) >= self.max_jobs:
            self._evict(time.time() if now is None else now)
        job.hold = self._hold
        self._jobs[job.id] = job

    def _evict(self, now: float) -> None:
        jobs = self._jobs
        want = max(1, self.max_jobs // 100, len(jobs) - self.max_jobs + 1)
        finished = []
        for job_id, job in jobs.items():
            if job.finished(now):
                finished.append(job_id)
                if len(finished) >= want:
                    break
        for job_id in finished:
            del jobs[job_id]
        # Not enough finished jobs: forget the oldest unfinished ones, a batch at a time.
        missing = min(want - len(finished), len(jobs)) if len(jobs) >= self.max_jobs else 0
        for _ in range(missing):
            jobs.popitem(last=False)
        self.evicted += len(finished) + missing

    def clear(self) -> None:
        self._jobs.clear()
        self._hold.since = None
        self.evicted = 0

    def counts(self, now: float) -> dict[str, int]:
        """How many jobs are in each normalized state (O(n): for stats, not for requests)."""
        counts = dict.fromkeys(NORMALIZED_STATES, 0)
        for job in self._jobs.values():
            counts[NORMALIZED[job.phase(now)]] += 1
        return counts


# --------------------------------------------------------------------------------------------
# Job ids, in each upstream's style
# --------------------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(now: float | None = None) -> str:
    """A ULID (26 Crockford base-32 characters: 48-bit milliseconds, 80 random bits)."""
    ms = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def uuid4_hex() -> str:
    """A random UUID in its canonical 8-4-4-4-12 form."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
