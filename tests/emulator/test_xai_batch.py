"""The emulator's xAI Batch API over real sockets, as UPSTREAMS.md writes it (raw HTTP, no
provider code), on an injected clock: no sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY, Emulator
from airflow_provider_grokvideo.emulator.xai_batch import URL_SECONDS

JOB_SECONDS = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clocked() -> Iterator[tuple[Emulator, Clock]]:
    clock = Clock()
    emulator = Emulator(job_seconds=JOB_SECONDS)
    emulator.app.clock = clock
    with emulator:
        yield emulator, clock


@pytest.fixture
def batch_api(clocked: tuple[Emulator, Clock]) -> Iterator[tuple[Any, Clock]]:
    emulator, clock = clocked
    emulator.reset()
    base = emulator.base_url("xai")
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        yield client, clock


def gen(request_id: str, prompt: str = "a lighthouse", **extra: Any) -> dict[str, Any]:
    return {
        "batch_request_id": request_id,
        "batch_request": {"video_generation": {"prompt": prompt, "duration": 6, **extra}},
    }


def all_pages(client: httpx.Client, path: str, key: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if token:
            params["pagination_token"] = token
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body[key]
        token = body.get("pagination_token")
        if not token:
            return items


def test_a_batch_from_creation_to_results(batch_api: tuple[httpx.Client, Clock]) -> None:
    client, clock = batch_api
    created = client.post("/v1/batches", json={"name": "night"})
    assert created.status_code == 200, created.text
    batch = created.json()
    batch_id = batch["batch_id"]
    assert batch["name"] == "night" and batch["state"]["num_requests"] == 0
    assert batch["cancel_time"] is None and batch["expire_time"] > batch["create_time"]

    requests = [gen(f"r{i}") for i in range(12)]
    requests.append(gen("bad", model="grok-2-image"))  # refused: the string error shape
    requests.append(gen("moderated", prompt="x [emulator:fail]"))  # {code, message}
    requests.append(
        {
            "batch_request_id": "ext",
            "batch_request": {
                "video_extension": {"prompt": "then", "video": {"url": "https://x/v.mp4"}}
            },
        }
    )
    added = client.post(f"/v1/batches/{batch_id}/requests", json={"batch_requests": requests})
    assert added.status_code == 200 and added.json() == {}
    again = client.post(f"/v1/batches/{batch_id}/requests", json={"batch_requests": [gen("r0")]})
    assert again.status_code == 400 and "already exists" in again.json()["error"]

    state = client.get(f"/v1/batches/{batch_id}").json()["state"]
    assert state == {
        "num_requests": 15,
        "num_pending": 14,
        "num_success": 0,
        "num_error": 1,
        "num_cancelled": 0,
    }
    # Results can be listed while others are pending.
    early = client.get(f"/v1/batches/{batch_id}/results").json()
    assert [r["batch_request_id"] for r in early["results"]] == ["bad"]
    assert isinstance(early["results"][0]["batch_result"]["error"], str)

    clock.now += JOB_SECONDS * 1.5
    state = client.get(f"/v1/batches/{batch_id}").json()["state"]
    assert state["num_pending"] == 0 and state["num_success"] == 13 and state["num_error"] == 2

    results = all_pages(client, f"/v1/batches/{batch_id}/results", "results", limit=4)
    ids = [r["batch_request_id"] for r in results]
    assert sorted(ids) == sorted(r["batch_request_id"] for r in requests)
    assert ids != [r["batch_request_id"] for r in requests]  # no fixed order
    by_id = {r["batch_request_id"]: r["batch_result"] for r in results}
    assert by_id["moderated"]["error"] == {
        "code": "invalid_argument",
        "message": "Generated video rejected by content moderation.",
    }
    ok = by_id["r3"]["response"]["video_generation"]
    # Billed at half the interactive price: 6 s at 480p is $0.30 interactively.
    assert ok["usage"]["cost_in_usd_ticks"] == 1_500_000_000
    assert ok["video"]["duration"] == 6 and ok["error"] is None
    assert "video_extension" in by_id["ext"]["response"]

    metadata = all_pages(
        client, f"/v1/batches/{batch_id}/requests", "batch_request_metadata", limit=5
    )
    assert [m["batch_request_id"] for m in metadata] == [r["batch_request_id"] for r in requests]
    assert {m["state"] for m in metadata} == {"succeeded", "failed"}

    listed = client.get("/v1/batches").json()["batches"]
    assert [b["batch_id"] for b in listed] == [batch_id]


def test_result_urls_expire_an_hour_after_the_result(
    batch_api: tuple[httpx.Client, Clock], clocked: tuple[Emulator, Clock]
) -> None:
    client, clock = batch_api
    emulator = clocked[0]
    batch_id = client.post("/v1/batches", json={"name": "n"}).json()["batch_id"]
    created = clock.now
    two_seconds = gen("a", prompt="a [emulator:seconds=2]")
    client.post(f"/v1/batches/{batch_id}/requests", json={"batch_requests": [two_seconds]})
    clock.now = created + 2  # the result is ready
    result = client.get(f"/v1/batches/{batch_id}/results").json()["results"][0]
    url = result["batch_result"]["response"]["video_generation"]["video"]["url"]
    with httpx.Client(timeout=10) as cdn:
        assert cdn.get(url).status_code == 200
        clock.now = created + 2 + URL_SECONDS - 0.01
        assert cdn.get(url).status_code == 200
        clock.now = created + 2 + URL_SECONDS
        assert cdn.get(url).status_code == 410
        # Shortened by a setting; restored by a reset.
        assert emulator.set_xai_batch_url_seconds(5) == 5
        clock.now = created + 6.9
        assert cdn.get(url).status_code == 200
        clock.now = created + 7
        assert cdn.get(url).status_code == 410
        put = httpx.put(f"{emulator.url}/_emulator/xai-batch", json={"url_seconds": None})
        assert put.json()["url_seconds"] == URL_SECONDS
        assert httpx.put(f"{emulator.url}/_emulator/xai-batch", json={"x": 1}).status_code == 400


def test_cancel_stops_pending_requests(batch_api: tuple[httpx.Client, Clock]) -> None:
    client, clock = batch_api
    batch_id = client.post("/v1/batches", json={"name": "n"}).json()["batch_id"]
    quick = gen("quick", prompt="q [emulator:seconds=1]")
    client.post(f"/v1/batches/{batch_id}/requests", json={"batch_requests": [quick, gen("slow")]})
    clock.now += 2
    cancelled = client.post(f"/v1/batches/{batch_id}:cancel")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_time"]
    clock.now += JOB_SECONDS * 2
    state = client.get(f"/v1/batches/{batch_id}").json()["state"]
    assert (state["num_success"], state["num_cancelled"], state["num_pending"]) == (1, 1, 0)
    results = client.get(f"/v1/batches/{batch_id}/results").json()["results"]
    assert [r["batch_request_id"] for r in results] == ["quick"]
    refused = client.post(f"/v1/batches/{batch_id}/requests", json={"batch_requests": [gen("z")]})
    assert refused.status_code == 400


def test_unknown_batches_bad_bodies_and_keys(batch_api: tuple[httpx.Client, Clock]) -> None:
    client, _ = batch_api
    assert client.get("/v1/batches/nope").status_code == 404
    assert client.post("/v1/batches/nope:cancel").status_code == 404
    assert client.post("/v1/batches", json=[]).status_code == 400
    batch_id = client.post("/v1/batches", json={}).json()["batch_id"]
    assert client.post(f"/v1/batches/{batch_id}/requests", json={}).status_code == 400
    assert client.delete(f"/v1/batches/{batch_id}").status_code == 405
    bad_key = httpx.get(
        str(client.base_url).rstrip("/") + f"/v1/batches/{batch_id}",
        headers={"Authorization": "Bearer wrong"},
    )
    assert bad_key.status_code == 400 and "wrong" not in bad_key.text


def test_the_command_line_setting_is_what_a_reset_restores() -> None:
    from airflow_provider_grokvideo.emulator.__main__ import build_parser
    from airflow_provider_grokvideo.emulator.app import EmulatorApp

    args = build_parser().parse_args(["--xai-batch-url-seconds", "30"])
    assert args.xai_batch_url_seconds == 30
    app = EmulatorApp()
    app.batches.start_url_seconds = app.batches.set_url_seconds(args.xai_batch_url_seconds)
    app.batches.set_url_seconds(2)
    app.reset()
    assert app.batches.url_seconds == 30
    assert app.batches.set_url_seconds(None) == URL_SECONDS
    with pytest.raises(ValueError):
        app.batches.set_url_seconds(0)
