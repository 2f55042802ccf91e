"""The batch trigger: its decision on an injected clock, and its loop against the emulator (the
emulator's clock and the trigger's sleep injected: no real waiting)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from airflow_provider_grokvideo.dialects.xai_batch import Batch
from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.triggers.batch import GrokVideoBatchTrigger, batch_event

NOW = 1_800_000_000.0


def counters(**kw: Any) -> Batch:
    return Batch(batch_id="b", **kw)


def test_the_decision() -> None:
    running = counters(num_requests=3, num_pending=2, num_success=1, expire_time=NOW + 99)
    assert batch_event(running, known=1, now=NOW, deadline=NOW + 10) is None
    fired = batch_event(running, known=0, now=NOW, deadline=NOW + 10)
    assert fired is not None and fired["status"] == "results"
    assert batch_event(running, 1, NOW + 10, NOW + 10)["status"] == "timeout"  # type: ignore[index]
    done = counters(num_requests=3, num_pending=0, num_success=2, num_error=1)
    assert batch_event(done, 3, NOW, NOW + 10)["status"] == "done"  # type: ignore[index]
    expired = counters(num_requests=3, num_pending=3, expire_time=NOW)
    assert batch_event(expired, 0, NOW, NOW + 10)["status"] == "done"  # type: ignore[index]
    empty = counters()
    assert batch_event(empty, 0, NOW, NOW + 10) is None  # nothing added yet is not done


def test_serialize_carries_no_key() -> None:
    trigger = GrokVideoBatchTrigger("grokvideo_xai_default", "b1", 4, NOW, 30)
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_grokvideo.triggers.batch.GrokVideoBatchTrigger"
    assert kwargs == {
        "conn_id": "grokvideo_xai_default",
        "batch_id": "b1",
        "known": 4,
        "deadline": NOW,
        "poll_interval": 30,
    }
    assert GrokVideoBatchTrigger(**kwargs).serialize() == (path, kwargs)


def _batch(emulator: Emulator, requests: list[dict[str, Any]]) -> str:
    base = emulator.base_url("xai")
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    with httpx.Client(base_url=base, headers=headers) as client:
        batch_id = client.post("/v1/batches", json={"name": "t"}).json()["batch_id"]
        items = [
            {"batch_request_id": f"r{i}", "batch_request": {"video_generation": body}}
            for i, body in enumerate(requests)
        ]
        client.post(f"/v1/batches/{batch_id}/requests", json={"batch_requests": items})
    return str(batch_id)


def test_fires_on_new_results_with_one_read_per_poll(emulator: Emulator, monkeypatch) -> None:
    clock = [NOW]
    monkeypatch.setattr(emulator.app, "clock", lambda: clock[0])
    batch_id = _batch(
        emulator,
        [{"prompt": "a [emulator:seconds=5]"}, {"prompt": "b [emulator:seconds=50]"}],
    )
    trigger = GrokVideoBatchTrigger("grokvideo_xai_default", batch_id, 0, NOW + 1000, 2)
    trigger.clock = lambda: clock[0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    trigger.sleep = sleep
    gets = emulator.stats()["xai_batches"]["gets"]
    event = asyncio.run(trigger.wait())
    assert event["status"] == "results" and event["batch"]["num_success"] == 1
    assert clock[0] == NOW + 6  # polls at 0, 2, 4, 6: fired on the first after the result
    assert trigger.polls == 4
    assert emulator.stats()["xai_batches"]["gets"] - gets == 4

    again = GrokVideoBatchTrigger("grokvideo_xai_default", batch_id, 1, NOW + 30, 10)
    again.clock, again.sleep = trigger.clock, sleep
    assert asyncio.run(again.wait())["status"] == "timeout"
    assert clock[0] == NOW + 30

    last = GrokVideoBatchTrigger("grokvideo_xai_default", batch_id, 1, NOW + 1000, 10)
    last.clock, last.sleep = trigger.clock, sleep
    assert asyncio.run(last.wait())["status"] == "done"


def test_errors_end_the_wait_with_an_error_event(emulator: Emulator) -> None:
    unknown = GrokVideoBatchTrigger("grokvideo_xai_default", "no-such-batch", 0, NOW, 1)
    event = asyncio.run(unknown.wait())
    assert event["status"] == "error" and "no-such-batch" in event["message"]
    assert emulator.api_key not in event["message"]
    other = GrokVideoBatchTrigger("grokvideo_xcompute_default", "b", 0, NOW, 1)
    assert "not an xAI connection" in asyncio.run(other.wait())["message"]


def test_weather_is_retried_at_the_next_poll(emulator: Emulator, monkeypatch) -> None:
    clock = [NOW]
    monkeypatch.setattr(emulator.app, "clock", lambda: clock[0])
    batch_id = _batch(emulator, [{"prompt": "a [emulator:seconds=1]"}])
    emulator.inject("503", upstream="xai", endpoint="batch", count=2)
    trigger = GrokVideoBatchTrigger("grokvideo_xai_default", batch_id, 0, NOW + 100, 5)
    trigger.clock = lambda: clock[0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    trigger.sleep = sleep
    event = asyncio.run(trigger.wait())
    assert event["status"] == "done" and trigger.polls == 3
    assert clock[0] == NOW + 10
