"""One request budget per API key across every process of a deployment, held in Redis.

The pacer (``hooks/pacer.py``) is one per connection and event loop (a triggerer) or process (a
worker): alone, each spends the key's full ``requests_per_second``, so two triggerers and two
workers spend four times the key's budget.  When the grokvideo connection's extra
``redis_conn_id`` names an Airflow connection of type ``redis`` (the Redis provider's: host,
port, login, password, extra ``db`` and ``ssl*``), every pacer of the key draws its turns from
one budget kept in that Redis, the one a CeleryExecutor deployment already runs.

**The algorithm** is GCRA (the "generic cell rate" form of a token bucket that the in-process
:class:`~airflow_provider_grokvideo.hooks.pacer.Budget` already uses: one number, the time the
next request may leave) in one Lua script, so that reading and moving that time is atomic
across processes.  It reads Redis's own clock (``TIME``), so the processes' clocks never
matter: each call returns the server's time, and the process converts the turns it got to its
own monotonic clock.  The same hash holds the key's pause (a 429's ``Retry-After`` pauses the
key in every process) and, when no rate is configured, the **learned rate** (the pacer's AIMD,
run in the script: a 429 in any process cuts the one shared rate, and it grows back while the
shared budget holds requests back, whatever the number of processes), with the answers every
process reports for the first cut.  The hash is named by a hash of the base URL and of the
key's hash (never the key), and expires after a day unused.

**Few round trips**: a process asks for the turns of all its waits that are due at once (at
most :data:`HORIZON` seconds of the key's budget per call), then hands them out in its own fair
queue, so a triggerer with a thousand waits pays a few Redis calls per second, not one per wait.
The script is sent with EVALSHA, falling back to EVAL (a script load) on NOSCRIPT (redis-py's
``Script``), so a restarted or flushed Redis is no error.

**A store that is down** (refused, timed out) never stops a wait: the pacer paces alone, at the
configured or last learned rate, with one warning; it tries the store again every
:data:`RETRY_SECONDS` and says so in one line when the store is back.

Library: ``redis`` (redis-py; ``redis.asyncio`` in the triggerer's loop), from the optional
extra ``airflow-provider-grokvideo[redis]``, imported only when a connection names a store.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Connection

log = logging.getLogger(__name__)

#: The grokvideo connection extra naming the Airflow connection (type ``redis``) of the store.
STORE_EXTRA = "redis_conn_id"
#: Prefix of the budget hashes in Redis.
KEY_PREFIX = "grokvideo:budget:"
#: A call asks for at most this many seconds of the key's budget (at least one turn): enough to
#: keep a busy process's queue flowing with a few calls per second, little enough that turns
#: handed to a process whose waits then leave are few.
HORIZON = 0.25
#: Seconds between two calls when nothing else calls the store (a key that is not limited yet
#: still reports its answers and reads the shared pause and learned rate this often).
SYNC_SECONDS = 0.5
#: After a failed call, the store is tried again this many seconds later.
RETRY_SECONDS = 5.0
#: Connect and read timeout of a call to the store: a hung store must not hold waits long.
SOCKET_TIMEOUT = 1.0
#: A budget hash unused this long disappears (the learned rate is forgotten).
EXPIRE_SECONDS = 86_400
#: How fast the store's clock and this process's may drift apart, in seconds per second: twice
#: the most NTP slews a clock (500 ppm).
CLOCK_DRIFT = 1e-3

# The AIMD constants are hooks/budget_rules.py's (one place): passed to the script.
# KEYS[1]: the budget hash.
# ARGV: op ("take" or "refuse"), configured rate ("" to learn), turns wanted, answers since the
# last call, sent_at (server seconds, refuse; "" = now), retry_after ("" = none), then the
# constants: DECREASE, INCREASE_SHARE, MIN_RATE, SPACING_MARGIN, DEFAULT_PAUSE, MAX_PAUSE,
# WINDOW, HORIZON, EXPIRE_SECONDS; last, the learned rate's cut count the caller knew when
# it sent the refused request.
# Returns (as strings): server now, first turn, spacing, turns granted, rate ("" = unlimited),
# paused until, 429s seen, cuts of the learned rate so far.
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local key = KEYS[1]
local f = redis.call('HMGET', key, 'tat', 'paused', 'rate', 'step', 'grown', 'decreased',
  'answered', 'win_at', 'win_n', 'prev_at', 'prev_n', 'refused', 'epoch')
local tat = tonumber(f[1]) or 0
local paused = tonumber(f[2]) or 0
local learned = tonumber(f[3])
local step = tonumber(f[4]) or 0
local grown = tonumber(f[5]) or 0
local decreased = tonumber(f[6]) or 0
local answered = tonumber(f[7]) or 0
local win_at = tonumber(f[8]) or 0
local win_n = tonumber(f[9]) or 0
local prev_at = tonumber(f[10]) or 0
local prev_n = tonumber(f[11]) or 0
local refused = tonumber(f[12]) or 0
local epoch = tonumber(f[13]) or 0

local op = ARGV[1]
local configured = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3]) or 0
local answers = tonumber(ARGV[4]) or 0
local DECREASE, SHARE, MIN_RATE = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local MARGIN, DEFAULT_PAUSE = tonumber(ARGV[10]), tonumber(ARGV[11])
local MAX_PAUSE, WINDOW = tonumber(ARGV[12]), tonumber(ARGV[13])
local HORIZON, EXPIRE = tonumber(ARGV[14]), tonumber(ARGV[15])
local known = tonumber(ARGV[16]) or epoch

-- answers counted in two windows (the current one and the one before), as Budget.answered
if answers > 0 then
  answered = answered + answers
  if now - win_at >= WINDOW then
    if win_at == 0 then prev_at, prev_n = now, 0 else prev_at, prev_n = win_at, win_n end
    win_at, win_n = now, answered
  end
end

local rate = configured or learned
if op == 'refuse' then
  refused = refused + 1
  local sent_at = tonumber(ARGV[5]) or now
  local pause = tonumber(ARGV[6])
  if pause == nil then
    if rate then pause = 1 / rate else pause = DEFAULT_PAUSE end
  end
  paused = math.max(paused, now + math.min(math.max(pause, 0), MAX_PAUSE))
  -- Cut once per round: not for a request sent before the last cut, nor by a process that
  -- did not know of it yet when it sent (its request left at the old rate).
  if configured == nil and sent_at >= decreased and known >= epoch then
    local r = learned
    if r == nil then
      -- first 429: start from what the upstream accepted lately (every process's answers)
      r = 0
      if prev_at > 0 then r = (answered - prev_n) / math.max(WINDOW, now - prev_at) end
      if r <= 0 then r = 1.0 end
    end
    step = SHARE * r
    learned = math.max(MIN_RATE, r * DECREASE)
    rate = learned
    decreased = now
    grown = paused
    epoch = epoch + 1
  end
end

local start, spacing, granted = math.max(now, paused), 0, 0
if op == 'take' and wanted > 0 then
  if rate then
    start = math.max(start, tat)
    if configured == nil then
      if start > now and now > grown then
        -- the shared budget holds requests back: probe up, linearly in time
        learned = rate + step * (now - grown)
        rate = learned
      end
      grown = math.max(grown, now)
    end
    spacing = (1 + MARGIN) / rate
    granted = math.max(1, math.min(wanted, math.floor((now + HORIZON - start) / spacing) + 1))
    tat = start + granted * spacing
  else
    granted = wanted
  end
end

local function s(x) return string.format('%.6f', x) end
redis.call('HSET', key, 'tat', s(tat), 'paused', s(paused), 'step', s(step), 'grown', s(grown),
  'decreased', s(decreased), 'answered', s(answered), 'win_at', s(win_at), 'win_n', s(win_n),
  'prev_at', s(prev_at), 'prev_n', s(prev_n), 'refused', tostring(refused),
  'epoch', tostring(epoch))
if learned then redis.call('HSET', key, 'rate', s(learned)) end
redis.call('EXPIRE', key, EXPIRE)
local shown = ''
if rate then shown = s(rate) end
return {s(now), s(start), s(spacing), tostring(granted), shown, s(paused), tostring(refused),
  tostring(epoch)}
"""


class StoreDown(Exception):
    """The store cannot be used now (unreachable, or waiting to be tried again)."""


@dataclass(frozen=True)
class StoreSettings:
    """Where the shared budget lives: an Airflow connection of type ``redis``, read as the
    Redis provider's ``RedisHook`` reads it (host, port, login, password, extra ``db`` and
    ``ssl``, ``ssl_cert_reqs``, ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``,
    ``ssl_check_hostname``)."""

    conn_id: str
    host: str
    port: int = 6379
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    db: int = 0
    ssl: tuple[tuple[str, Any], ...] = ()

    SSL_EXTRAS = (
        "ssl",
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_keyfile",
        "ssl_certfile",
        "ssl_check_hostname",
    )

    @classmethod
    def from_connection(cls, conn: Connection) -> StoreSettings:
        from airflow_provider_grokvideo.exceptions import GrokVideoError

        if conn.conn_type != "redis":
            raise GrokVideoError(
                f"connection {conn.conn_id!r} (named by {STORE_EXTRA}) has type "
                f"{conn.conn_type!r}; the shared request budget needs a connection of type redis"
            )
        extra = conn.extra_dejson or {}
        password = conn.password
        if str(password).lower() in ("none", "false", ""):
            password = None
        try:
            db = int(extra.get("db") or 0)
        except (TypeError, ValueError):
            raise GrokVideoError(
                f"connection {conn.conn_id!r}: db={extra.get('db')!r} is not a database number"
            ) from None
        if extra.get("cluster"):
            raise GrokVideoError(
                f"connection {conn.conn_id!r}: the shared request budget needs one Redis server "
                "(or a primary with replicas), not Redis Cluster"
            )
        return cls(
            conn_id=conn.conn_id,
            host=conn.host or "localhost",
            port=int(conn.port or 6379),
            username=conn.login or None,
            password=password,
            db=db,
            ssl=tuple((name, extra[name]) for name in cls.SSL_EXTRAS if name in extra),
        )

    def client_arguments(self) -> dict[str, Any]:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "db": self.db,
            "socket_timeout": SOCKET_TIMEOUT,
            "socket_connect_timeout": SOCKET_TIMEOUT,
            # One immediate retry (a pooled connection that a restarted Redis closed), never a
            # back-off: a store that is down is detected at once and the pacer paces alone.
            "retry": Retry(NoBackoff(), 1),
            **dict(self.ssl),
        }

    @property
    def where(self) -> str:
        return f"Redis {self.host}:{self.port}/{self.db} (connection {self.conn_id!r})"


def budget_name(pacer_key: Any) -> str:
    """The Redis key of a connection's budget: a hash of the base URL and the key's hash."""
    return KEY_PREFIX + hashlib.sha256(repr(pacer_key).encode()).hexdigest()[:32]


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


@dataclass(frozen=True)
class Grant:
    """The store's answer, converted to the caller's clock."""

    #: The first turn granted (caller's clock), and the spacing of the next ones.
    start: float
    spacing: float
    count: int
    #: The key's rate (configured or learned; ``None``: unlimited so far).
    rate: float | None
    #: No request of the key leaves before this (caller's clock).
    paused_until: float
    refused: int
    #: How many times the learned rate was cut so far.
    epoch: int = 0

    def times(self) -> list[float]:
        return [self.start + index * self.spacing for index in range(self.count)]


class ClockOffset:
    """The store's clock minus this process's, from the calls' round trips.  Pure.

    The server reads its clock somewhere between ``before`` and ``after`` of a call, so a call
    bounds the offset to an interval as wide as its round trip.  A call that waited in a busy
    loop or a starved process has a long round trip, and its midpoint may be off by half of it,
    which moves every turn it granted: turns converted too early are overdue on arrival, and
    the pacer asks the store again too soon.  So the offset is the midpoint of the intersection
    of the calls' intervals, each widened by the drift since: as good as the tightest recent
    call.  An interval that misses it means a clock was stepped: it starts again from that one.
    """

    __slots__ = ("_at", "_high", "_low")

    def __init__(self) -> None:
        self._low, self._high, self._at = -math.inf, math.inf, -math.inf

    def update(self, server_now: float, before: float, after: float) -> float:
        """A call sent at ``before`` read the server's clock ``server_now`` and was answered at
        ``after`` (this process's clock); return the offset."""
        low, high = server_now - after, server_now - before
        drift = CLOCK_DRIFT * max(0.0, before - self._at)
        kept_low, kept_high = self._low - drift, self._high + drift
        if kept_low <= high and low <= kept_high:
            low, high = max(low, kept_low), min(high, kept_high)
        self._low, self._high, self._at = low, high, after
        return (low + high) / 2


class _Store:
    """What the async and sync clients share: arguments, parsing, the up/down state."""

    def __init__(self, settings: StoreSettings, pacer_key: Any, label: str) -> None:
        from airflow_provider_grokvideo.hooks import budget_rules as rules

        self.settings = settings
        self.name = budget_name(pacer_key)
        self.label = label  # "xai at https://api.x.ai" (never the key)
        self._constants = [
            repr(value)
            for value in (
                rules.DECREASE,
                rules.INCREASE_SHARE,
                rules.MIN_RATE,
                rules.SPACING_MARGIN,
                rules.DEFAULT_PAUSE,
                rules.MAX_PAUSE,
                rules.WINDOW,
                HORIZON,
                EXPIRE_SECONDS,
            )
        ]
        #: Server time minus the caller's clock, from the calls so far (``None``: none yet).
        self.offset: float | None = None
        self._clock = ClockOffset()
        #: The caller's clock before which the store is not tried (it failed).
        self.down_until = -float("inf")
        self.down = False
        #: Answers not reported yet.
        self.answers = 0
        #: The learned rate's cuts known here, and since when (the caller's clock).
        self.epoch = 0
        self.epoch_at = -float("inf")
        self.errors = _redis_errors()

    def usable(self, now: float) -> bool:
        return now >= self.down_until

    def arguments(
        self,
        op: str,
        configured: float | None,
        wanted: int,
        sent_at: float | None = None,
        retry_after: float | None = None,
    ) -> list[str]:
        server_sent = "" if sent_at is None or self.offset is None else repr(sent_at + self.offset)
        answers, self.answers = self.answers, 0
        # The cuts this process knew of when it sent the refused request.
        known = self.epoch if sent_at is None or sent_at >= self.epoch_at else self.epoch - 1
        return [
            op,
            "" if configured is None else repr(configured),
            str(wanted),
            str(answers),
            server_sent,
            "" if retry_after is None else repr(retry_after),
            *self._constants,
            str(known),
        ]

    def parsed(self, reply: list[Any], before: float, after: float) -> Grant:
        now, start, spacing, count, rate, paused, refused, epoch = (
            value.decode() if isinstance(value, bytes) else str(value) for value in reply
        )
        if int(epoch) != self.epoch:
            self.epoch, self.epoch_at = int(epoch), after
        self.offset = self._clock.update(float(now), before, after)
        if self.down:
            self.down = False
            log.warning(
                "%s: the shared request budget in %s is reachable again; the key's budget is "
                "shared by every process again",
                self.label,
                self.settings.where,
            )
        return Grant(
            start=float(start) - self.offset,
            spacing=float(spacing),
            count=int(count),
            rate=float(rate) if rate else None,
            paused_until=float(paused) - self.offset,
            refused=int(refused),
            epoch=int(epoch),
        )

    def failed(self, error: BaseException, now: float, answers: int) -> StoreDown:
        self.down_until = now + RETRY_SECONDS
        self.answers += answers  # reported with the next call that reaches the store
        if not self.down:
            self.down = True
            log.warning(
                "%s: the shared request budget in %s is unreachable (%s: %s); this process "
                "paces the key alone at the connection's rate until it returns (tried again "
                "every %g s)",
                self.label,
                self.settings.where,
                type(error).__name__,
                error,
                RETRY_SECONDS,
            )
        return StoreDown(str(error))


class AsyncStore(_Store):
    """The shared budget seen from one event loop (``redis.asyncio``)."""

    def __init__(self, settings: StoreSettings, pacer_key: Any, label: str) -> None:
        super().__init__(settings, pacer_key, label)
        import redis.asyncio

        self._client = redis.asyncio.Redis(**settings.client_arguments())
        self._script = self._client.register_script(SCRIPT)

    async def call(
        self,
        clock: Callable[[], float],
        op: str,
        configured: float | None,
        wanted: int = 0,
        sent_at: float | None = None,
        retry_after: float | None = None,
    ) -> Grant:
        before = clock()
        if not self.usable(before):
            raise StoreDown("waiting to try the store again")
        arguments = self.arguments(op, configured, wanted, sent_at, retry_after)
        try:
            reply = await self._script(keys=[self.name], args=arguments)
        except self.errors as exc:
            raise self.failed(exc, clock(), int(arguments[3])) from None
        return self.parsed(reply, before, clock())

    async def aclose(self) -> None:
        await self._client.aclose()


class SyncStore(_Store):
    """The shared budget seen from one process's threads (sync ``redis``)."""

    def __init__(self, settings: StoreSettings, pacer_key: Any, label: str) -> None:
        super().__init__(settings, pacer_key, label)
        import redis

        self._client = redis.Redis(**settings.client_arguments())
        self._script = self._client.register_script(SCRIPT)

    def call(
        self,
        clock: Callable[[], float],
        op: str,
        configured: float | None,
        wanted: int = 0,
        sent_at: float | None = None,
        retry_after: float | None = None,
    ) -> Grant:
        before = clock()
        if not self.usable(before):
            raise StoreDown("waiting to try the store again")
        arguments = self.arguments(op, configured, wanted, sent_at, retry_after)
        try:
            reply = self._script(keys=[self.name], args=arguments)
        except self.errors as exc:
            raise self.failed(exc, clock(), int(arguments[3])) from None
        return self.parsed(reply, before, clock())


def read_store(conn_id: str) -> StoreSettings:
    """The store settings of the ``redis`` connection ``conn_id`` (blocking lookup)."""
    from airflow.sdk.bases.hook import BaseHook

    return StoreSettings.from_connection(BaseHook.get_connection(conn_id))


async def aread_store(conn_id: str) -> StoreSettings:
    """The store settings of the ``redis`` connection ``conn_id`` (Airflow's async lookup)."""
    from airflow.sdk.bases.hook import BaseHook

    return StoreSettings.from_connection(await BaseHook.aget_connection(conn_id))


def _checked(conn_id: str, settings: Callable[[], StoreSettings]) -> StoreSettings:
    from airflow_provider_grokvideo.exceptions import GrokVideoError

    try:
        import redis  # noqa: F401
    except ImportError:
        raise GrokVideoError(
            f"the connection extra {STORE_EXTRA}={conn_id!r} needs the redis library: "
            "pip install 'airflow-provider-grokvideo[redis]'"
        ) from None
    try:
        return settings()
    except GrokVideoError:
        raise
    except Exception as exc:
        raise GrokVideoError(
            f"cannot read the redis connection {conn_id!r} named by {STORE_EXTRA}: {exc}"
        ) from None


def store_or_alone(
    conn_id: str | None, read: Callable[[str], StoreSettings], label: str
) -> StoreSettings | None:
    """The store named by the extra (``None``: none named).  A store named but unusable
    (no such connection, redis not installed) is an error, raised before any request."""
    if not conn_id:
        return None
    return _checked(conn_id, lambda: read(conn_id))


async def astore_or_alone(
    conn_id: str | None, aread: Callable[[str], Any], label: str
) -> StoreSettings | None:
    """:func:`store_or_alone` for a wait in the triggerer: an unusable store is logged and the
    wait paces alone (the video is paid for already; a wait is never lost to it)."""
    from airflow_provider_grokvideo.exceptions import GrokVideoError

    if not conn_id:
        return None
    try:
        settings = await aread(conn_id)
        return _checked(conn_id, lambda: settings)
    except Exception as exc:
        error = exc if isinstance(exc, GrokVideoError) else _checked_error(conn_id, exc)
        log.error("%s: %s; this process paces the key alone", label, error)
        return None


def _checked_error(conn_id: str, exc: Exception) -> Exception:
    from airflow_provider_grokvideo.exceptions import GrokVideoError

    return GrokVideoError(
        f"cannot read the redis connection {conn_id!r} named by {STORE_EXTRA}: {exc}"
    )


def log_pacing_alone(label: str, rate: float | None) -> None:
    """Without a store, this process paces the key alone (said once per process and key, by the
    key's runtime, ``runtime.py``)."""
    budget = f"{rate:g} requests/s" if rate else "a rate learned from its 429s"
    log.info(
        "%s: this process paces the key alone (%s); every other triggerer or worker using "
        "the key does the same, so N processes may send up to N times that. To share one "
        "budget, name a redis connection in the connection extra %r; or split "
        "requests_per_second by hand (the key's rate divided by the number of processes).",
        label,
        budget,
        STORE_EXTRA,
    )


__all__ = [
    "HORIZON",
    "STORE_EXTRA",
    "SYNC_SECONDS",
    "AsyncStore",
    "ClockOffset",
    "Grant",
    "StoreDown",
    "StoreSettings",
    "SyncStore",
    "aread_store",
    "astore_or_alone",
    "budget_name",
    "log_pacing_alone",
    "read_store",
    "store_or_alone",
]
