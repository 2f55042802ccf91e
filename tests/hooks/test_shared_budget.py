"""The key's budget shared by every process through Redis (``hooks/shared_budget.py``), against a
real ``redis-server`` started by the test (``tests/redis_support.py``): real subprocesses, the
store killed and started again, the fallback's warning, the shared pause and learned rate."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
import redis
from airflow.sdk import Connection
from redis_support import RedisServer, redis_server  # noqa: F401  (the fixture)
from repo_paths import REPO

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY, Emulator
from airflow_provider_grokvideo.exceptions import GrokVideoError
from airflow_provider_grokvideo.hooks import hook_class_for
from airflow_provider_grokvideo.hooks import pacer as pacing
from airflow_provider_grokvideo.hooks import shared_budget as sharing
from airflow_provider_grokvideo.hooks.base import GrokVideoHook
from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy
from airflow_provider_grokvideo.hooks.pacer import (
    SPACING_MARGIN,
    AsyncPacer,
    SyncPacer,
)
from airflow_provider_grokvideo.hooks.runtime import loop_runtime
from airflow_provider_grokvideo.hooks.shared_budget import (
    KEY_PREFIX,
    AsyncStore,
    StoreSettings,
    SyncStore,
)

KEY = ("https://api.example", "0f" * 32)  # a pacer key: base URL and the API key's hash


def settings_of(server: RedisServer) -> StoreSettings:
    return StoreSettings(conn_id="budget_store", host="127.0.0.1", port=server.port)


def client_of(server: RedisServer) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port)


@pytest.fixture
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> float:
    """The store is tried again 0.3 s after it failed (5 s in production)."""
    monkeypatch.setattr(sharing, "RETRY_SECONDS", 0.3)
    return 0.3


# --------------------------------------------------------------------------------------------
# The script, seen from one client
# --------------------------------------------------------------------------------------------


def test_turns_are_spaced_by_the_configured_rate_on_the_servers_clock(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    store = SyncStore(settings_of(redis_server), KEY, "test")
    first = store.call(time.monotonic, "take", 20.0, 100)
    spacing = (1 + SPACING_MARGIN) / 20
    assert first.spacing == pytest.approx(spacing)
    # At most HORIZON seconds of budget per call (the turns within it), at least one turn.
    assert first.count == int(sharing.HORIZON // spacing) + 1
    second = store.call(time.monotonic, "take", 20.0, 1)
    assert second.start == pytest.approx(first.start + first.count * spacing, abs=0.01)
    assert second.count == 1  # beyond the horizon already: one turn, the next one free
    assert first.rate == 20.0
    # The turns are in this process's clock: the first one is now.
    assert abs(first.start - time.monotonic()) < 0.5


def test_the_clock_offset_is_as_good_as_the_tightest_recent_call() -> None:
    # The server's clock is this process's plus 100 s.  A call answered in 2 ms pins it.
    offset = sharing.ClockOffset()
    assert offset.update(100.001, 0.0, 0.002) == pytest.approx(100.0, abs=0.001)
    # A call that waited a second in a starved loop, the server having read its clock 10 ms
    # after it was sent: its midpoint would say 99.51 and move its turns 0.49 s early.
    assert offset.update(101.01, 1.0, 2.0) == pytest.approx(100.0, abs=0.002)
    # The server's clock was stepped 5 s ahead: the next call no longer meets the interval
    # kept, and the offset starts again from it.
    assert offset.update(108.001, 3.0, 3.002) == pytest.approx(105.0, abs=0.001)
    # An hour later the clocks may have drifted apart by 3.6 s: a call 0.5 s off is within
    # the interval kept, widened by that drift, and being tighter, it decides.
    assert offset.update(3708.5, 3603.0, 3603.01) == pytest.approx(105.5, abs=0.01)


def test_the_budget_is_named_by_a_hash_never_the_key(redis_server: RedisServer) -> None:  # noqa: F811
    conn = Connection(
        conn_id="hashed",
        conn_type="grokvideo_xai",
        host="http://127.0.0.1:9",
        password="sk-secret-key-1234",
        extra=json.dumps({"redis_conn_id": "budget_store", "requests_per_second": 2}),
    )
    hook = hook_class_for(conn.conn_type)(conn.conn_id, connection=conn)
    hook.__dict__["budget_store"] = settings_of(redis_server)
    hook.sync_pacer.turn()
    client = client_of(redis_server)
    keys = [key.decode() for key in client.keys("*")]
    assert len(keys) == 1 and keys[0].startswith(KEY_PREFIX)
    dump = repr(keys) + repr(client.hgetall(keys[0]))
    assert "sk-secret-key-1234" not in dump and "127.0.0.1:9" not in dump
    assert client.ttl(keys[0]) > 3600  # an unused budget goes away


def test_a_flushed_script_cache_is_loaded_again(redis_server: RedisServer) -> None:  # noqa: F811
    store = SyncStore(settings_of(redis_server), KEY, "test")
    store.call(time.monotonic, "take", 10.0, 1)
    client_of(redis_server).script_flush()  # as a restarted Redis: NOSCRIPT on EVALSHA
    assert store.call(time.monotonic, "take", 10.0, 1).count == 1


def test_a_store_connection_is_read_as_the_redis_provider_reads_it() -> None:
    conn = Connection(
        conn_id="store",
        conn_type="redis",
        host="redis.internal",
        port=6380,
        login="pacer",
        password="pw",
        extra=json.dumps({"db": "3", "ssl": True, "ssl_cert_reqs": "none", "other": 1}),
    )
    settings = StoreSettings.from_connection(conn)
    assert (settings.host, settings.port, settings.username, settings.db) == (
        "redis.internal",
        6380,
        "pacer",
        3,
    )
    assert dict(settings.ssl) == {"ssl": True, "ssl_cert_reqs": "none"}
    assert "pw" not in repr(settings)
    assert StoreSettings.from_connection(Connection(conn_id="s", conn_type="redis")).port == 6379
    with pytest.raises(GrokVideoError, match=r"type 'http'.*type redis"):
        StoreSettings.from_connection(Connection(conn_id="web", conn_type="http", host="h"))
    with pytest.raises(GrokVideoError, match="not a database number"):
        StoreSettings.from_connection(
            Connection(conn_id="s", conn_type="redis", extra=json.dumps({"db": "x"}))
        )
    with pytest.raises(GrokVideoError, match="not Redis Cluster"):
        StoreSettings.from_connection(
            Connection(conn_id="s", conn_type="redis", extra=json.dumps({"cluster": True}))
        )


# --------------------------------------------------------------------------------------------
# Through the hooks: the extra, its refusals, the line when pacing alone
# --------------------------------------------------------------------------------------------


def hook_for(url: str, **extra: Any) -> GrokVideoHook:
    conn = Connection(
        conn_id="shared_xai",
        conn_type="grokvideo_xai",
        host=url,
        password=DEFAULT_API_KEY,
        extra=json.dumps(extra),
    )
    return hook_class_for(conn.conn_type)(conn.conn_id, connection=conn, retry=RetryPolicy(1))


def test_the_extra_names_a_redis_connection(
    redis_server: RedisServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUDGET_STORE", redis_server.airflow_connection())
    hook = hook_for("http://127.0.0.1:9", redis_conn_id="budget_store", requests_per_second=3)
    assert hook.settings.redis_conn_id == "budget_store"
    assert hook.budget_store == settings_of(redis_server)
    assert isinstance(hook.sync_pacer.shared, SyncStore)


def test_a_store_that_cannot_be_read_fails_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook = hook_for("http://127.0.0.1:9", redis_conn_id="no_such_store")
    with pytest.raises(GrokVideoError, match="cannot read the redis connection 'no_such_store'"):
        hook.submit_video("a fox")  # before the POST: nothing is paid
    monkeypatch.setenv("AIRFLOW_CONN_WEB", json.dumps({"conn_type": "http", "host": "h"}))
    with pytest.raises(GrokVideoError, match="needs a connection of type redis"):
        hook_for("http://127.0.0.1:9", redis_conn_id="web").budget_store  # noqa: B018


async def test_a_wait_whose_store_cannot_be_read_paces_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = hook_for("http://127.0.0.1:9", redis_conn_id="no_such_store")
    with caplog.at_level(logging.ERROR, logger=sharing.__name__):
        await hook.aload_budget_store()
    assert hook.budget_store is None
    assert "cannot read the redis connection 'no_such_store'" in caplog.text
    assert "paces the key alone" in caplog.text


def test_without_a_store_one_line_per_process_says_the_key_is_paced_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger=sharing.__name__):
        hook_for("http://127.0.0.1:9", requests_per_second=2).sync_pacer  # noqa: B018
        hook_for("http://127.0.0.1:9", requests_per_second=2).sync_pacer  # noqa: B018
    lines = [r.getMessage() for r in caplog.records if "paces the key alone" in r.getMessage()]
    assert len(lines) == 1
    assert "2 requests/s" in lines[0] and "N times" in lines[0]
    assert "redis_conn_id" in lines[0] and "split requests_per_second" in lines[0]
    assert DEFAULT_API_KEY not in lines[0]


# --------------------------------------------------------------------------------------------
# Several processes: one budget
# --------------------------------------------------------------------------------------------

# A process that takes turns of one key for `seconds` (sync: threads, async: waits in one
# loop, as a triggerer) and prints the wall-clock time of each.
CHILD = textwrap.dedent(
    """
    import asyncio, json, sys, threading, time
    from airflow_provider_grokvideo.hooks.pacer import AsyncPacer, SyncPacer
    from airflow_provider_grokvideo.hooks.shared_budget import AsyncStore, StoreSettings, SyncStore

    port, rate, seconds, mode, start_at = sys.argv[1:6]
    rate, seconds, start_at = float(rate), float(seconds), float(start_at)
    store = StoreSettings(conn_id="s", host="127.0.0.1", port=int(port))
    key = ("https://api.example", "0f" * 32)
    stamps = []
    while time.time() < start_at:
        time.sleep(0.005)
    end = time.time() + seconds
    if mode == "sync":
        pacer = SyncPacer(rate, shared=SyncStore(store, key, "child"))
        def work():
            while time.time() < end:
                pacer.turn()
                stamps.append(time.time())
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
    else:
        async def main():
            pacer = AsyncPacer(rate, shared=AsyncStore(store, key, "child"))
            async def wait():
                while time.time() < end:
                    await pacer.turn(0.01)
                    stamps.append(time.time())
            await asyncio.gather(*(wait() for _ in range(50)))
        asyncio.run(main())
    print(json.dumps([s for s in stamps if s <= end]))
    """
)


def run_children(server: RedisServer, rate: float, seconds: float, modes: list[str]) -> list:
    start_at = time.time() + 3.0  # every child imported and waiting by then
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    arguments = [str(server.port), str(rate), str(seconds)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, *arguments, mode, str(start_at)],
            stdout=subprocess.PIPE,
            env=env,
        )
        for mode in modes
    ]
    out = []
    for child in children:
        stdout, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        out.append(json.loads(stdout))
    return out


@pytest.mark.parametrize("modes", [["sync", "sync"], ["async", "async", "sync"]])
def test_processes_sharing_a_key_hold_its_rate_together(
    redis_server: RedisServer,  # noqa: F811
    modes: list[str],
) -> None:
    rate, seconds = 8.0, 3.0
    per_process = run_children(redis_server, rate, seconds, modes)
    assert all(per_process), "every process got turns"
    merged = sorted(stamp for stamps in per_process for stamp in stamps)
    # However the turns fell, never more than the rate allows over the time they spanned
    # (the first at once, then one per spacing; 50 ms for the processes' clocks and wake-ups).
    spacing = (1 + SPACING_MARGIN) / rate
    assert (len(merged) - 1) * spacing <= merged[-1] - merged[0] + 0.05
    # Each alone would have taken the whole rate: together they took one.
    assert len(merged) <= rate * seconds + 2


def test_two_processes_polling_one_limited_key_are_never_refused(
    redis_server: RedisServer,  # noqa: F811
    grokvideo_emulator: Emulator,
) -> None:
    """The product's promise, end to end: two worker processes reading statuses through the
    hook, the emulator limiting the key to the rate the connection is configured with."""
    rate = 5.0
    grokvideo_emulator.set_rate_limits({"xai": rate})
    generation = hook_for(grokvideo_emulator.base_url("xai")).submit_video("a shared fox")
    code = textwrap.dedent(
        """
        import json, os, sys, time
        from airflow.sdk import Connection
        from airflow_provider_grokvideo.hooks import hook_class_for
        from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy
        url, key, port, generation, rate = sys.argv[1:6]
        os.environ["AIRFLOW_CONN_BUDGET_STORE"] = f"redis://127.0.0.1:{port}/?db=0"
        conn = Connection(conn_id="x", conn_type="grokvideo_xai", host=url, password=key,
            extra=json.dumps({"requests_per_second": rate, "redis_conn_id": "budget_store"}))
        hook = hook_class_for(conn.conn_type)(conn.conn_id, connection=conn, retry=RetryPolicy(1))
        hook.sync_pacer  # noqa
        print("ready", flush=True)
        start_at = float(sys.stdin.readline())
        while time.time() < start_at:
            time.sleep(0.005)
        reads = 0
        while time.time() < start_at + 3:
            hook.get_video(generation)
            reads += 1
        print(reads)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    arguments = [grokvideo_emulator.base_url("xai"), DEFAULT_API_KEY, str(redis_server.port)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, *arguments, generation, str(rate)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    # Both start reading together once both have imported Airflow and built their hook, however
    # long that takes on this machine.
    for child in children:
        assert child.stdout is not None
        lines = iter(child.stdout.readline, "")  # Airflow logs a line or two first
        assert any(line.strip() == "ready" for line in lines), "the child ended before it was ready"
    start_at = time.time() + 0.5
    for child in children:
        assert child.stdin is not None
        child.stdin.write(f"{start_at}\n")
        child.stdin.flush()
    reads = []
    for child in children:
        stdout, _ = child.communicate(timeout=90)
        assert child.returncode == 0, "a refused read would have raised"
        reads.append(int(stdout.split()[-1]))
    stats = grokvideo_emulator.stats()["upstreams"]["xai"]
    assert stats["rate_limited_status"] == 0
    assert all(reads)
    assert sum(reads) <= rate * 3 + 2


# --------------------------------------------------------------------------------------------
# The shared pause and the learned rate
# --------------------------------------------------------------------------------------------


def test_a_retry_after_in_one_process_pauses_the_key_in_every_other(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    here = SyncPacer(20, shared=SyncStore(settings_of(redis_server), KEY, "here"))
    there = SyncPacer(20, shared=SyncStore(settings_of(redis_server), KEY, "there"))
    sent = here.turn()
    here.refused(sent, 1.5)  # a 429 with Retry-After: 1.5
    started = time.monotonic()
    there.turn()  # another process, which never saw that 429
    assert time.monotonic() - started >= 1.4


def test_a_sync_turns_callback_runs_within_the_lead_of_its_reserved_turn(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    # The durable submit's marker is written in ``on_turn``: after the store reserved the turn,
    # not while waiting for its time, and early enough that its write does not make the
    # request late (closer than the spacing to the next request of the key).
    here = SyncPacer(20, shared=SyncStore(settings_of(redis_server), KEY, "here"))
    here.refused(here.turn(), 1.5 + pacing.ON_TURN_LEAD)  # the key is paused: the next waits
    called: list[float] = []
    asked = time.monotonic()
    left = here.turn(lambda: called.append(time.monotonic()))
    [at] = called
    # Called once the turn's time was at most the lead away (not at once), and the request
    # left at its turn, after the callback.
    assert at - asked >= 1.4
    assert at <= left and left - asked >= 1.4 + pacing.ON_TURN_LEAD


def test_a_429_in_one_process_cuts_the_learned_rate_of_every_other(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    here = SyncPacer(shared=SyncStore(settings_of(redis_server), KEY, "here"))
    there = SyncPacer(shared=SyncStore(settings_of(redis_server), KEY, "there"))
    for _ in range(5):  # unlimited until the first 429: both send at once
        there.turn()
        there.answered()
    here.refused(here.turn(), None)
    # The shared rate is learned from what every process got answered.
    there.turn()
    assert there.budget.rate is not None
    assert there.budget.rate == here.budget.rate
    stored = client_of(redis_server).hget(sharing.budget_name(KEY), "rate")
    assert float(stored) == pytest.approx(there.budget.rate, rel=1e-3)
    # A 429 of a request sent before that cut (another process's, in flight) cuts nothing more.
    before = there.budget.rate
    there.refused(time.monotonic() - 5, None)
    here.turn()
    assert here.budget.rate == pytest.approx(before, rel=0.05)  # not cut by 0.7 again


def test_429s_of_processes_that_had_not_heard_of_the_cut_cut_nothing_more(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    pacers = [
        SyncPacer(shared=SyncStore(settings_of(redis_server), KEY, f"process {index}"))
        for index in range(4)
    ]
    for pacer in pacers:
        pacer.turn()  # each one talks to the store once: unlimited
        pacer.answered()
    pacers[0].refused(pacers[0].turn(), 0.0)  # the first 429: the one cut
    cut = pacers[0].budget.rate
    assert cut is not None
    # The others' requests left after it (by the clock) but before they heard of it, at the
    # old (unlimited) rate: their 429s say nothing new about the budget.
    for pacer in pacers[1:]:
        pacer.refused(time.monotonic(), 0.0)
    pacers[0].turn()
    assert pacers[0].budget.rate == pytest.approx(cut, rel=0.05)
    # Once a process knows the cut rate, a 429 of its requests does cut it again.
    pacers[1].refused(pacers[1].turn(), 0.0)
    assert pacers[1].budget.rate == pytest.approx(cut * 0.7, rel=0.05)


async def test_async_waits_draw_few_calls_from_the_store(
    redis_server: RedisServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loop with many waits asks the store for their turns together, not one call each."""
    store = AsyncStore(settings_of(redis_server), KEY, "test")
    calls = 0
    original = store.call

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(store, "call", counted)
    pacer = AsyncPacer(40, shared=store)
    loop = asyncio.get_running_loop()
    started = loop.time()
    released = sorted(await asyncio.gather(*(pacer.turn(0.05) for _ in range(40))))
    assert len(released) == 40
    # The first call brings a horizon's worth of turns; the next ones are asked for when half
    # a horizon is left and bring about half a horizon's worth each: two calls per horizon of
    # budget, and one more for the last turns.  One call per wait would be 40.
    horizons = 40 / (40 * sharing.HORIZON)
    assert calls <= 2 * horizons + 2
    # The turns are the times the pacer handed them out: never closer than the spacing, however
    # late a busy loop woke for them (it hands overdue turns out spaced from its waking).
    spacing = (1 + SPACING_MARGIN) / 40
    assert min(b - a for a, b in itertools.pairwise(released)) >= spacing - 1e-9
    assert released[-1] - started >= 39 * spacing - 1e-9


async def test_a_stalled_loop_hands_out_the_stores_turns_spaced_from_waking(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    """A loop that stalls while it holds turns of the store (a blocking call here; in a
    triggerer, CPU starvation or a long garbage collection) wakes with them overdue: they leave
    at the budget's pace from then on, not in one burst."""
    pacer = AsyncPacer(40, shared=AsyncStore(settings_of(redis_server), KEY, "test"))
    stall = 0.5  # 20 turns of the budget: every turn of the first grant is overdue after it

    async def wait() -> float:
        at = await pacer.turn(0.0)
        if not stalled:
            stalled.append(at)
            time.sleep(stall)  # noqa: ASYNC251  (blocks the loop: the stall, on purpose)
        return at

    stalled: list[float] = []
    released = sorted(await asyncio.gather(*(wait() for _ in range(20))))
    # The stall fell between the first turn and the others (the ones granted with it).
    assert released[1] - released[0] >= stall
    spacing = (1 + SPACING_MARGIN) / 40
    gaps = [b - a for a, b in itertools.pairwise(released)]
    assert min(gaps) >= spacing - 1e-9, gaps


# --------------------------------------------------------------------------------------------
# A store that goes away and comes back
# --------------------------------------------------------------------------------------------


async def test_a_store_that_dies_and_returns(
    redis_server: RedisServer,  # noqa: F811
    quick_retry: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pacer = loop_runtime(KEY, "xai at https://api.example").async_pacer(
        20.0, settings_of(redis_server)
    )
    assert isinstance(pacer.shared, AsyncStore)
    name = sharing.budget_name(KEY)
    client = client_of(redis_server)

    async def turns(count: int) -> list[float]:
        return list(await asyncio.gather(*(pacer.turn(0.01) for _ in range(count))))

    with caplog.at_level(logging.INFO, logger=sharing.__name__):
        await turns(5)
        assert client.exists(name)
        redis_server.kill()
        # The waits go on, paced alone at the connection's rate, with one warning.
        loop = asyncio.get_running_loop()
        began = loop.time()
        released = await turns(10)
        assert len(released) == 10
        assert max(released) - began >= 9 * (1 + SPACING_MARGIN) / 20 - 0.01  # still paced
        await asyncio.sleep(quick_retry * 2)
        await turns(5)  # tried again, still down: no second warning
        warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
        assert "paces the key alone" in warnings[0].getMessage()

        redis_server.start()  # back, empty (its memory was lost)
        await asyncio.sleep(quick_retry * 2)
        await turns(5)
        assert client_of(redis_server).exists(name), "the budget is shared again"
    back = [r.getMessage() for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(back) == 1


def test_a_sync_pacer_whose_store_is_down_paces_alone(
    redis_server: RedisServer,  # noqa: F811
    quick_retry: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pacer = SyncPacer(10, shared=SyncStore(settings_of(redis_server), KEY, "worker"))
    pacer.turn()
    redis_server.kill()
    with caplog.at_level(logging.WARNING, logger=sharing.__name__):
        started = time.monotonic()
        for _ in range(4):
            pacer.turn()
        took = time.monotonic() - started
    assert took >= 3 * (1 + SPACING_MARGIN) / 10 - 0.01  # paced alone, at the configured rate
    assert took < 3, "a store that is down never holds a request long"
    assert sum("unreachable" in r.getMessage() for r in caplog.records) == 1
    redis_server.start()
    time.sleep(quick_retry * 2)
    pacer.turn()
    assert client_of(redis_server).exists(sharing.budget_name(KEY))


def test_the_lua_script_and_the_python_budget_agree_step_by_step(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    """The same learning run through both twins of the budget rules (``hooks/budget_rules.py``):
    the Redis script, on the server's clock, and the pacer's ``Budget`` given the time the
    script read.  Answers, a first 429 (the learned rate starts from what was accepted), a
    429 of a request sent before that cut (no second cut), turns held back (the rate probes up)
    and a later 429 (a second cut): the same rate, pause and count after every step."""
    from airflow_provider_grokvideo.hooks import budget_rules as rules

    client = redis.Redis.from_url(redis_server.url)
    script = client.register_script(sharing.SCRIPT)
    constants = [
        repr(value)
        for value in (
            rules.DECREASE,
            rules.INCREASE_SHARE,
            rules.MIN_RATE,
            rules.SPACING_MARGIN,
            rules.DEFAULT_PAUSE,
            rules.MAX_PAUSE,
            rules.WINDOW,
            sharing.HORIZON,
            sharing.EXPIRE_SECONDS,
        )
    ]
    twin = pacing.Budget(None)  # learning: no configured rate

    def lua(op: str, *, wanted: int = 0, answers: int = 0, sent_at: str = "", retry: str = ""):
        reply = script(
            keys=["grokvideo-test-twins"],
            args=[op, "", str(wanted), str(answers), sent_at, retry, *constants, str(epoch[0])],
        )
        now, start, _spacing, _count, rate, paused, refused, cuts = (v.decode() for v in reply)
        epoch[0] = int(cuts)
        return (
            float(now),
            float(start),
            (float(rate) if rate else None),
            float(paused),
            int(refused),
        )

    def agree(rate: float | None, paused: float, refused: int) -> None:
        assert (rate is None) == (twin.rate is None)
        if rate is not None:
            assert rate == pytest.approx(twin.rate, rel=1e-5)
        if twin.paused_until != -float("inf"):
            assert paused == pytest.approx(twin.paused_until, abs=1e-5)
        assert refused == twin.refused

    epoch = [0]
    for _ in range(6):  # answered requests, one per call
        now, _, rate, paused, refused = lua("take", answers=1)
        twin.answered(now)
        agree(rate, paused, refused)
    before_cut = now
    now, _, rate, paused, refused = lua("refuse", sent_at=repr(before_cut), retry="0.2")
    twin.refuse(now, before_cut, 0.2)
    assert rate is not None  # learned from the answers
    agree(rate, paused, refused)
    # A 429 of a request that left before the cut: paused again, no second cut.
    now, _, rate, paused, refused = lua("refuse", sent_at=repr(before_cut - 1), retry="0.1")
    twin.refuse(now, before_cut - 1, 0.1)
    agree(rate, paused, refused)
    # Turns asked for while the budget holds them back: the learned rate probes up.
    for _ in range(5):
        now, start, rate, paused, refused = lua("take", wanted=1)
        twin.take(now, held=start > now)
        agree(rate, paused, refused)
    # A request sent after the cut (at the last turn), refused: the second cut.
    sent = now
    now, _, rate, paused, refused = lua("refuse", sent_at=repr(sent))
    twin.refuse(now, sent, None)
    agree(rate, paused, refused)
    assert refused == 3 and epoch[0] == 2
