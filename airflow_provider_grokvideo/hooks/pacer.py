"""A request pacer per connection (API key): every wait spends one budget.

(Across processes: with the connection extra ``redis_conn_id`` the pacers of one key in every
triggerer and worker draw their turns from one budget in Redis, ``shared_budget.py``; without
it, each process paces the key alone, at the full rate.)

An upstream limits requests per key, not per wait: xAI allows 1 request per second per video
model, the resellers have unpublished limits.  A triggerer full of waits that each space their
own polls and back off alone on a 429 fight over that budget (120 waits at 4 requests per
second: 92 % of 3,796 requests refused).  So every request of one key in one event loop (the
triggerer's) or one process (a worker's sync hook) goes through one pacer, which the key's
runtime holds (``runtime.py``):

* **a budget**: no request leaves sooner than ``1 / rate`` after the previous one (a token
  bucket that holds one token, in its "generic cell rate" form: one number, the time the next
  request may leave).  The rate is the connection's ``requests_per_second`` extra when set;
  otherwise it is **learned** (AIMD, as TCP does for its window): unlimited until the first
  429, then each 429 cuts it (``DECREASE``) and it grows back linearly while the budget is
  what holds requests back (``INCREASE_SHARE``);
* **a pause**: a 429's ``Retry-After`` holds the whole connection, not only the wait that got
  it;
* **fair turns**: waits whose polls fall due together leave in due order, oldest first.  A wait
  joins the queue when its delay starts, keyed by when it falls due, so the time it queues is
  part of its delay (it never sleeps its full delay and then queues on top).

Why not ``aiolimiter`` or ``pyrate-limiter`` (both on PyPI, both evaluated): the learning
changes the rate on every 429 and every increase, and both fix it when the limiter is built
(``AsyncLimiter(max_rate, period)``, pyrate's ``Rate(limit: int, interval_ms)``), so each change
would mean a new limiter whose empty bucket lets a burst through right after a decrease; neither
has a pause; aiolimiter has no sync twin for the hook's sync path and reads ``loop.time()``
(no injected clock for tests); pyrate's async acquire sleeps and retries, so waiters are not
served in order.  Under our fairness, learning and pause, what is left of a bucket is the one
line in :meth:`Budget.take`.

:class:`Budget`, :class:`Turns` and :class:`Handout` are pure (time is passed in), so the unit
tests drive them with an injected clock; :class:`AsyncPacer` and :class:`SyncPacer` only add the
waiting (one timer per connection in the loop; a condition variable for threads) and, with a
shared store, its calls.  No Airflow import; no I/O but the store's.

:class:`JobDurations` remembers how long the connection's finished jobs took, which the
trigger uses to place its polls (the key's runtime keeps one; pure, as the budget is).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.hooks.budget_rules import (
    DECREASE,
    DEFAULT_PAUSE,
    INCREASE_SHARE,
    MAX_PAUSE,
    MIN_RATE,
    SPACING_MARGIN,
    WINDOW,
)
from airflow_provider_grokvideo.hooks.shared_budget import (
    HORIZON,
    SYNC_SECONDS,
    AsyncStore,
    StoreDown,
    SyncStore,
)

if TYPE_CHECKING:
    from airflow_provider_grokvideo.hooks.shared_budget import Grant

#: A sync request's ``on_turn`` (the durable submit's marker) runs up to this long before the
#: turn the shared budget reserved for it: about one call to a busy Airflow API server (p95
#: 0.5 s in the 1,000-video run), short beside a wait for the budget of many seconds.
ON_TURN_LEAD = 1.0


def _rate(value: float | None) -> float | None:
    if value is None:
        return None
    rate = float(value)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"requests_per_second must be a positive number, got {value!r}")
    return rate


class Budget:
    """When the next request of one connection may leave.  Pure: every method takes ``now``.

    :param requests_per_second: the configured budget, or ``None`` to learn it.
    """

    __slots__ = (
        "_answered",
        "_grown_at",
        "_prev_answered",
        "_prev_at",
        "_step",
        "_window_answered",
        "_window_at",
        "configured",
        "decreased_at",
        "next_free",
        "paused_until",
        "rate",
        "refused",
    )

    def __init__(self, requests_per_second: float | None = None) -> None:
        self.configured = _rate(requests_per_second)
        #: Requests per second now (``None``: unlimited; learning, nothing refused yet).
        self.rate = self.configured
        #: The time the next request may leave (spacing).
        self.next_free = -math.inf
        #: No request leaves before this (``Retry-After``).
        self.paused_until = -math.inf
        #: When the learned rate was last cut; a 429 of a request sent before it was caused by
        #: the old rate and cuts nothing more.
        self.decreased_at = -math.inf
        #: 429s seen.
        self.refused = 0
        self._step = 0.0
        self._grown_at = -math.inf
        self._answered = 0
        # Answers counted in two windows of WINDOW seconds (the current one and the one before):
        # cheap enough for every poll, and enough to tell what the upstream accepted lately.
        self._window_answered = self._prev_answered = 0
        self._window_at = self._prev_at = -math.inf

    def configure(self, requests_per_second: float | None) -> None:
        """Change the configured budget (``None``: learn it from here on)."""
        rate = _rate(requests_per_second)
        if rate != self.configured:
            self.configured = self.rate = rate

    def unlimited(self, now: float) -> bool:
        """No rate and no pause: a request may leave at once, without queueing."""
        return self.rate is None and self.paused_until <= now

    def earliest(self) -> float:
        """The earliest time the next request may leave."""
        return max(self.next_free, self.paused_until)

    def take(self, now: float, *, held: bool) -> None:
        """A request leaves at ``now``; ``held``: it left later than it fell due."""
        rate = self.rate
        if rate is None:
            return
        self.next_free = now + (1.0 + SPACING_MARGIN) / rate
        if self.configured is None:
            if held and now > self._grown_at:  # the budget limits: probe up, linearly in time
                self.rate = rate + self._step * (now - self._grown_at)
            # Only time spent held back counts: a connection with less demand than its budget
            # learns nothing about the budget and must not drift above it.
            self._grown_at = max(self._grown_at, now)

    def answered(self, now: float) -> None:
        """The upstream answered a request (anything but a 429)."""
        self._answered += 1
        if now - self._window_at >= WINDOW:
            if self._window_at == -math.inf:
                self._prev_at, self._prev_answered = now, 0
            else:
                self._prev_at, self._prev_answered = self._window_at, self._window_answered
            self._window_at, self._window_answered = now, self._answered

    def accepted_rate(self, now: float) -> float:
        """Requests per second the upstream answered over the last one to two WINDOWs."""
        if self._prev_at == -math.inf:
            return 0.0
        return (self._answered - self._prev_answered) / max(WINDOW, now - self._prev_at)

    def refuse(self, now: float, sent_at: float, retry_after: float | None) -> None:
        """The upstream refused a request sent at ``sent_at`` with a 429."""
        self.refused += 1
        rate = self.rate
        pause = retry_after if retry_after is not None else (1.0 / rate if rate else DEFAULT_PAUSE)
        self.paused_until = max(self.paused_until, now + min(max(pause, 0.0), MAX_PAUSE))
        if self.configured is not None or sent_at < self.decreased_at:
            return
        if rate is None:
            # First 429: start from what the upstream accepted lately.
            rate = self.accepted_rate(now) or 1.0
        self._step = INCREASE_SHARE * rate
        self.rate = max(MIN_RATE, rate * DECREASE)
        self.decreased_at = now
        self._grown_at = self.paused_until


class Turns:
    """A :class:`Budget` and the queue of waits for it, oldest due first.  Pure.

    Items are opaque to it (the async pacer queues futures, the sync one a list per thread);
    ``alive`` tells it which ones still wait.
    """

    __slots__ = ("_heap", "_order", "budget")

    def __init__(self, requests_per_second: float | None = None) -> None:
        self.budget = Budget(requests_per_second)
        self._heap: list[tuple[float, int, Any]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def open(self, now: float) -> bool:
        """A request may leave now without queueing (unlimited, not paused, nobody waiting)."""
        return not self._heap and self.budget.unlimited(now)

    def push(self, due: float, item: Any) -> None:
        """``item`` waits for a turn, not before ``due``."""
        heapq.heappush(self._heap, (due, next(self._order), item))

    def release(self, now: float, alive: Callable[[Any], bool]) -> list[Any]:
        """The items whose turn it is at ``now``, in order (their budget taken)."""
        heap, budget, out = self._heap, self.budget, []
        while heap:
            due, _, item = heap[0]
            if not alive(item):
                heapq.heappop(heap)
                continue
            allowed = budget.earliest()
            if due > now or allowed > now:
                break
            heapq.heappop(heap)
            budget.take(now, held=allowed > due)
            out.append(item)
        return out

    def pop_due(self, now: float, alive: Callable[[Any], bool]) -> list[tuple[float, Any]]:
        """The items due at ``now``, in order, without the budget (a shared budget hands out
        their turns): ``(due, item)`` each."""
        heap, out = self._heap, []
        while heap and heap[0][0] <= now:
            due, _, item = heapq.heappop(heap)
            if alive(item):
                out.append((due, item))
        return out

    def next_at(self, alive: Callable[[Any], bool]) -> float | None:
        """When the next item may leave (``None``: nobody waits)."""
        heap = self._heap
        while heap and not alive(heap[0][2]):
            heapq.heappop(heap)
        if not heap:
            return None
        return max(heap[0][0], self.budget.earliest())


class Handout:
    """The turns a shared budget granted this loop, and the waits ready for them.  Pure.

    The store grants turns at times (this process's clock) spaced by the key's rate; they go to
    the ready waits in order.  A loop that wakes late (starved of CPU, a blocking call, a long
    garbage collection) finds several turns overdue: handed out together they would be a burst
    the budget never allowed, refused by the upstream or spending the key's budget of the
    other processes.  So a turn leaves at its time or one spacing after the previous one,
    whichever is later: after a stall the turns leave at the budget's pace from the moment the
    loop woke.  They leave late, never early: each window holds no more than the rate allows,
    and the upstream's bucket kept the tokens they did not use on time.
    """

    __slots__ = ("granted", "last_out", "ready", "spacing")

    def __init__(self) -> None:
        #: Waits due, in order, waiting for a turn: ``(due, item)``.
        self.ready: deque[tuple[float, Any]] = deque()
        #: The turns granted and not handed out yet (this process's clock), in order.
        self.granted: deque[float] = deque()
        #: The spacing of the store's turns (0: the key is unlimited, no spacing).
        self.spacing = 0.0
        #: When the last turn was handed out.
        self.last_out = -math.inf

    def grant(self, times: list[float], spacing: float, paused_until: float) -> None:
        """The store granted turns at ``times``, ``spacing`` apart; the key is paused until
        ``paused_until`` (turns granted before that pause began are dropped)."""
        granted = self.granted
        granted.extend(times)
        self.spacing = spacing
        while granted and granted[0] < paused_until:
            granted.popleft()  # turns handed out before the key was paused

    def release(self, now: float, alive: Callable[[Any], bool]) -> list[Any]:
        """The ready items whose turn it is at ``now``, in order: at most one per spacing."""
        ready, granted, out = self.ready, self.granted, []
        while granted and granted[0] <= now:
            while ready and not alive(ready[0][1]):
                ready.popleft()
            if not ready:
                # A turn unused when nobody is ready is lost (the store counted it).
                granted.popleft()
                continue
            if now < self.last_out + self.spacing:
                break  # overdue, but the previous turn left less than a spacing ago
            granted.popleft()
            out.append(ready.popleft()[1])
            self.last_out = now
        while ready and not alive(ready[0][1]):
            ready.popleft()
        return out

    def next_at(self) -> float | None:
        """When the next turn may be handed out (``None``: no turn or nobody ready)."""
        if not self.ready or not self.granted:
            return None
        return max(self.granted[0], self.last_out + self.spacing)


class JobDurations:
    """How long the connection's recently finished jobs took (seconds), for poll placement.

    Each job is known to have ended between the last answer that still said "running" and the
    first that said "done": the midpoint is recorded.
    """

    __slots__ = ("_seconds", "shortest")

    #: Jobs remembered.
    KEEP = 64
    #: Jobs needed before :attr:`shortest` is trusted.
    MIN_JOBS = 5
    #: :attr:`shortest` is this quantile of the remembered jobs...
    QUANTILE = 0.1
    #: ...less this share: the earliest plausible end, on the safe side.
    MARGIN = 0.2

    def __init__(self) -> None:
        self._seconds: deque[float] = deque(maxlen=self.KEEP)
        #: The shortest plausible run time of a job of this connection (``None``: not enough
        #: jobs seen yet).
        self.shortest: float | None = None

    def add(self, started: float, last_running: float, done: float) -> None:
        """A job started at ``started`` was still running at ``last_running``, done at ``done``."""
        if not started <= last_running <= done:
            return
        self._seconds.append((last_running + done) / 2 - started)
        if len(self._seconds) >= self.MIN_JOBS:
            ordered = sorted(self._seconds)
            self.shortest = ordered[int(self.QUANTILE * len(ordered))] * (1.0 - self.MARGIN)


class AsyncPacer:
    """The pacer of one connection in one event loop (see the module's docstring).

    With a shared store (``shared``, see ``shared_budget.py``) the turns come from the key's
    one budget in Redis: the waits that fall due move to a ready queue, in order, and the
    pacer asks the store for as many turns at once (one call for many waits), then hands
    them out in that order, never closer together than the key's spacing (:class:`Handout`).
    The local :class:`Budget` then mirrors the store's rate and pause (so that :meth:`open`
    stays a cheap local check) and paces alone while the store is down.
    """

    # No reference to its loop (its runtime lives in a registry weakly keyed by the loop):
    # every method runs in that loop and asks for it.
    __slots__ = (
        "_asking",
        "_handout",
        "_sync_at",
        "_tasks",
        "_timer",
        "_timer_at",
        "shared",
        "turns",
    )

    def __init__(
        self,
        requests_per_second: float | None = None,
        shared: AsyncStore | None = None,
    ) -> None:
        self.turns = Turns(requests_per_second)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        #: The key's budget shared with every process (``None``: this loop paces alone).
        self.shared = shared
        # Shared mode: the waits due and the turns the store granted them; whether a call is in
        # flight; the next sync of an unlimited key.
        self._handout = Handout()
        self._asking = False
        self._sync_at = -math.inf
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def budget(self) -> Budget:
        return self.turns.budget

    def open(self) -> bool:
        """A request may leave now without a turn (the cheap path of an unlimited connection)."""
        return self.turns.open(asyncio.get_running_loop().time()) and not self._handout.ready

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def turn(self, delay: float = 0.0) -> Awaitable[float | None]:
        """Wait ``delay`` seconds, then for this connection's turn.

        Not a coroutine, so that a wait costs no more objects than a plain sleep: while the
        connection is :meth:`open` it *is* ``asyncio.sleep(delay)`` (result ``None``: then
        check :meth:`open` again, a 429 may have come meanwhile); otherwise a future in the
        queue, due ``delay`` from now, whose result is the loop time it was let through.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self.turns.open(now) and not self._handout.ready:
            return asyncio.sleep(delay)
        future: asyncio.Future[float | None] = loop.create_future()
        self.turns.push(now + max(0.0, delay), future)
        self._schedule(loop)
        return future

    def answered(self, now: float) -> None:
        budget = self.turns.budget
        budget.answered(now)
        shared = self.shared
        if shared is not None:
            shared.answers += 1
            # An unlimited key asks the store for nothing: read its pause and learned rate
            # (and report the answers) now and then.
            if budget.rate is None and now >= self._sync_at and shared.usable(now):
                self._sync_at = now + SYNC_SECONDS
                self._spawn(self._call("take", 0))

    def refused(self, sent_at: float, retry_after: float | None) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.turns.budget.refuse(now, sent_at, retry_after)
        shared = self.shared
        if shared is not None and shared.usable(now):
            self._spawn(self._call("refuse", 0, sent_at, retry_after))
        self._schedule(loop)

    # -- the one timer ----------------------------------------------------------------------
    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        at = self.turns.next_at(_waiting)
        handed = self._handout.next_at()
        if handed is not None:
            at = handed if at is None else min(at, handed)
        if at is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer, self._timer_at = None, math.inf
            return
        if self._timer is not None:
            if self._timer_at == at:
                return
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_at(at, self._release, loop), at

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer, self._timer_at = None, math.inf
        now = loop.time()
        shared = self.shared
        if shared is not None and shared.usable(now):
            self._release_shared(loop, now)
            return
        for future in self.turns.release(now, _waiting):
            future.set_result(now)
        self._schedule(loop)

    # -- shared mode ------------------------------------------------------------------------
    def _release_shared(self, loop: asyncio.AbstractEventLoop, now: float) -> None:
        handout = self._handout
        ready, granted = handout.ready, handout.granted
        ready.extend(self.turns.pop_due(now, _waiting))
        for future in handout.release(now, _waiting):
            future.set_result(now)
        if (
            ready
            and len(ready) > len(granted)
            and not self._asking
            # Ask again when half a horizon of turns is left: then each call brings about
            # half a horizon's worth, a few calls per second whatever the number of waits.
            and (not granted or granted[-1] - now < HORIZON / 2)
        ):
            self._asking = True
            self._spawn(self._call("take", len(ready) - len(granted)))
        self._schedule(loop)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)  # a strong reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _call(
        self,
        op: str,
        wanted: int,
        sent_at: float | None = None,
        retry_after: float | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        shared = self.shared
        assert shared is not None
        budget = self.turns.budget
        try:
            grant = await shared.call(
                loop.time, op, budget.configured, wanted, sent_at, retry_after
            )
        except StoreDown:
            if op == "take" and wanted:
                self._asking = False
                self._alone(loop)
            return
        except BaseException:
            if op == "take" and wanted:
                self._asking = False
            raise
        if op == "take" and wanted:
            self._asking = False
        if budget.configured is None:
            budget.rate = grant.rate
        budget.paused_until = max(budget.paused_until, grant.paused_until)
        self._handout.grant(grant.times(), grant.spacing, budget.paused_until)
        self._release(loop)

    def _alone(self, loop: asyncio.AbstractEventLoop) -> None:
        """The store went away: the waits ready for its turns queue for the local budget."""
        handout = self._handout
        for due, future in handout.ready:
            if not future.done():
                self.turns.push(due, future)
        handout.ready.clear()
        handout.granted.clear()
        self._release(loop)


def _waiting(future: asyncio.Future[Any]) -> bool:
    return not future.done()  # a cancelled wait leaves its place


class SyncPacer:
    """The pacer of one connection in one process, for the sync hook's threads.

    Requests queue in arrival order (each is due when it asks).  With a shared store, each
    request asks it for its turn (sync requests are few: submits and pokes), and paces alone
    while it is down.
    """

    def __init__(
        self,
        requests_per_second: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared: SyncStore | None = None,
    ) -> None:
        self.turns = Turns(requests_per_second)
        self.clock = clock
        self.shared = shared
        self._condition = threading.Condition()

    @property
    def budget(self) -> Budget:
        return self.turns.budget

    def turn(self, on_turn: Callable[[], None] | None = None) -> float:
        """Block until this request may leave; return the time it left.

        ``on_turn`` is called once the turn is this request's, before it leaves (the durable
        submit writes its marker there: the wait for the turn sends nothing).  In the shared
        budget the turn is reserved in the store before the wait for its time, so ``on_turn``
        runs up to :data:`ON_TURN_LEAD` before that time: its own duration (a call to Airflow's
        API server) then does not push the request past its turn, closer than the budget's
        spacing to the next request of the key, which another process sends on time.
        """
        shared = self.shared
        if shared is not None and shared.usable(self.clock()):
            try:
                grant = shared.call(self.clock, "take", self.budget.configured, 1)
            except StoreDown:
                pass
            else:
                with self._condition:
                    self._mirror(grant)
                lead = ON_TURN_LEAD if on_turn is not None else 0.0
                while (left := grant.start - self.clock()) > lead:
                    time.sleep(left - lead)
                if on_turn is not None:
                    on_turn()
                while (left := grant.start - self.clock()) > 0:
                    time.sleep(left)
                return self.clock()
        at = self._local_turn()
        if on_turn is not None:
            on_turn()  # outside the lock: it may take a while, other threads pace meanwhile
        return at

    def _local_turn(self) -> float:
        """:meth:`turn` with this process's budget alone."""
        with self._condition:
            now = self.clock()
            if self.turns.open(now):
                return now
            ticket: list[float] = []
            self.turns.push(now, ticket)
            try:
                while not ticket:
                    released = self.turns.release(now, _alive)
                    for other in released:
                        other.append(now)
                    if released:
                        self._condition.notify_all()
                    if ticket:
                        break
                    at = self.turns.next_at(_alive)
                    self._condition.wait(None if at is None else max(0.0, at - now))
                    now = self.clock()
            except BaseException:
                # Interrupted while waiting (the task's execution_timeout, a signal): its place
                # leaves the queue, or it would spend a turn of the next request (a retry
                # of the same task in this process) for nothing.
                if not ticket:
                    ticket.append(math.nan)
                    self._condition.notify_all()
                raise
            return ticket[0]

    def answered(self) -> None:
        with self._condition:
            self.turns.budget.answered(self.clock())
        if self.shared is not None:
            self.shared.answers += 1

    def refused(self, sent_at: float, retry_after: float | None) -> None:
        with self._condition:
            self.turns.budget.refuse(self.clock(), sent_at, retry_after)
            self._condition.notify_all()
        shared = self.shared
        if shared is not None and shared.usable(self.clock()):
            try:
                grant = shared.call(
                    self.clock, "refuse", self.budget.configured, 0, sent_at, retry_after
                )
            except StoreDown:
                return
            with self._condition:
                self._mirror(grant)

    def _mirror(self, grant: Grant) -> None:
        budget = self.turns.budget
        if budget.configured is None:
            budget.rate = grant.rate
        budget.paused_until = max(budget.paused_until, grant.paused_until)


def _alive(ticket: list[float]) -> bool:
    return not ticket  # a ticket holds its time once let through, NaN once given up


__all__ = [
    "AsyncPacer",
    "Budget",
    "Handout",
    "JobDurations",
    "SyncPacer",
    "Turns",
]
