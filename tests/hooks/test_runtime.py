"""One runtime per connection key (``hooks/runtime.py``): found by (event loop, base URL, key
hash), living as long as its loop, forgotten by one reset, never showing the key."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_provider_grokvideo.hooks import hook_class_for, runtime, shared_video_hook
from airflow_provider_grokvideo.hooks import shared_budget as sharing
from airflow_provider_grokvideo.hooks.base import GrokVideoHook

SECRET = "sk-runtime-test-0123456789abcdef"


def hook_for(
    base_url: str = "https://api.example.com",
    key: str = SECRET,
    conn_id: str = "c",
    **extra: Any,
) -> GrokVideoHook:
    conn = Connection(
        conn_id=conn_id,
        conn_type="grokvideo_xai",
        host=base_url,
        password=key,
        extra=json.dumps(extra) if extra else None,
    )
    return hook_class_for(conn.conn_type)(conn_id, connection=conn)


async def test_the_hooks_of_one_key_share_one_runtime_per_loop() -> None:
    one = hook_for(conn_id="first", timeout=5)
    shared = one.runtime()
    # Another connection of the same key and host (another name, another timeout): the same.
    assert hook_for(conn_id="second").runtime() is shared
    assert one.pacer() is hook_for().pacer()
    assert hook_for(base_url="https://other.example.com").runtime() is not shared
    assert hook_for(key="sk-another-key-of-the-team").runtime() is not shared

    def in_another_loop() -> runtime.Runtime:
        return asyncio.run(_runtime_of(hook_for()))

    elsewhere = await asyncio.to_thread(in_another_loop)
    assert elsewhere is not shared and elsewhere.key == shared.key


async def _runtime_of(hook: GrokVideoHook) -> runtime.Runtime:
    return hook.runtime()


def test_sync_requests_share_the_process_runtime_of_the_key() -> None:
    assert hook_for(conn_id="a").sync_pacer is hook_for(conn_id="b").sync_pacer
    assert hook_for(key="sk-another-key-of-the-team").sync_pacer is not hook_for().sync_pacer


async def test_a_leased_client_closes_with_its_last_lease_and_the_runtime_stays() -> None:
    hook = hook_for()
    shared = hook.runtime()
    shared.durations.add(0.0, 10.0, 12.0)
    async with hook.async_session() as client, hook_for().async_session() as same:
        assert client is same and not client.is_closed
    assert client.is_closed
    async with hook.async_session() as again:
        assert again is not client  # a new pool, for a new holder
    assert hook.runtime() is shared and list(shared.durations._seconds) == [11.0]


def test_a_finished_loops_runtimes_go_with_it() -> None:
    async def used_in_a_loop() -> int:
        hook = hook_for()
        hook.runtime().durations.add(0.0, 1.0, 2.0)
        return len(runtime._registry.loops)

    assert asyncio.run(used_in_a_loop()) == 1
    gc.collect()
    assert len(runtime._registry.loops) == 0


async def test_a_hook_read_again_joins_the_same_runtime(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "HOOK_REUSE_SECONDS", 0.0)  # each trigger reads it again
    first = await shared_video_hook("grokvideo_xai_default")
    learned = first.pacer()
    again = await shared_video_hook("grokvideo_xai_default")
    assert again is not first
    assert again.runtime() is first.runtime() and again.pacer() is learned


async def test_one_reset_forgets_every_runtime() -> None:
    before, sync_before = hook_for().runtime(), hook_for().sync_pacer
    runtime.reset()
    assert hook_for().runtime() is not before
    assert hook_for().sync_pacer is not sync_before


async def test_the_key_is_in_no_registry_key_and_no_repr(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger=sharing.__name__):
        hook = hook_for()
        hook.pacer()
        hook.sync_pacer  # noqa: B018
    found = [hook.runtime(), runtime.process_runtime(hook._runtime_key, "")]
    digest = hook.runtime().key[1]
    for entry in found:
        assert SECRET not in str(entry.key)
        assert SECRET not in repr(entry) and digest not in repr(entry)
        assert repr(entry).startswith("Runtime('xai at https://api.example.com'")
    registry = runtime._registry
    keys = [*registry.process, *registry.said_alone]
    keys += [key for loop in registry.loops.values() for key in loop.runtimes]
    assert keys and all(SECRET not in str(key) for key in keys)
    assert caplog.records and SECRET not in caplog.text and digest not in caplog.text


async def test_pacing_alone_is_said_once_per_process_whichever_loop_asks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger=sharing.__name__):
        hook_for().sync_pacer  # noqa: B018
        hook_for().pacer()
        await asyncio.to_thread(lambda: asyncio.run(_pacer_of(hook_for())))
        hook_for(base_url="https://other.example.com").pacer()
    said = [r.getMessage() for r in caplog.records if "paces the key alone" in r.getMessage()]
    assert [line.split(": this process")[0] for line in said] == [
        "xai at https://api.example.com",
        "xai at https://other.example.com",
    ]


async def _pacer_of(hook: GrokVideoHook) -> Any:
    return hook.pacer()
