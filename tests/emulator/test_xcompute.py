"""The emulator's xcompute (APIMart) API over raw HTTP (``emulator/xcompute.py``), as UPSTREAMS.md
writes it: submit, poll, download, its answer shapes, and each documented rule refused in its
own error shape."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from emulator.checks import MISSING, XC, assert_mp4, assert_progress_rises, body_with

# --- the flow ------------------------------------------------------------------------------


def test_xcompute_flow(api: Any, media: Callable[..., httpx.Response]) -> None:
    before = int(time.time())
    response = api.submit("xcompute", size="9:16", duration=10, quality="720p")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 200
    data = body["data"]
    assert set(data) == {"id", "status", "progress", "created", "type"}
    assert data["id"].startswith("task_01") and len(data["id"]) == 31
    assert (data["status"], data["progress"], data["type"]) == ("submitted", 0, "video")
    assert before <= data["created"] <= time.time()

    bodies = api.poll("xcompute", data["id"])
    assert all(b["code"] == 200 for b in bodies)
    tasks = [b["data"] for b in bodies]
    statuses = [t["status"] for t in tasks]
    assert set(statuses) <= {"pending", "processing", "completed"}
    assert "processing" in statuses
    assert_progress_rises([t["progress"] for t in tasks])
    for task in tasks:
        assert task["id"] == data["id"]
        assert task["estimated_time"] > 0.3  # conservative: longer than the real job
        assert task["created"] == data["created"]
        assert ("result" in task) == (task["status"] == "completed")
    done = tasks[-1]
    assert done["status"] == "completed" and done["progress"] == 100
    assert done["completed"] >= done["created"] and done["actual_time"] >= 1
    result = done["result"]
    video = result["videos"][0]
    assert isinstance(video["url"], list) and len(video["url"]) == 1
    assert video["expires_at"] == done["completed"] + 24 * 3600
    assert_mp4(media(video["url"][0]))
    thumb = media(result["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert thumb.headers["content-type"] == "image/jpeg"


def test_xcompute_status_accepts_language_query(api: Any) -> None:
    job_id = api.submit_id("xcompute")
    response = api.client.get(api.url("xcompute", f"/v1/tasks/{job_id}"), params={"language": "zh"})
    assert response.status_code == 200 and response.json()["data"]["id"] == job_id


def test_xcompute_list_submit_shape(api: Any) -> None:
    response = api.submit("xcompute", prompt="a dog [emulator:list-submit]")
    body = response.json()
    assert body["code"] == 200
    assert isinstance(body["data"], list) and len(body["data"]) == 1
    item = body["data"][0]
    assert set(item) == {"task_id", "status"} and item["status"] == "submitted"
    assert api.poll("xcompute", item["task_id"])[-1]["data"]["status"] == "completed"


def test_xcompute_bare_status_and_url_string(
    api: Any, media: Callable[..., httpx.Response]
) -> None:
    job_id = api.submit_id("xcompute", prompt="[emulator:bare] [emulator:url-string] a dog")
    bodies = api.poll("xcompute", job_id)
    assert all("code" not in b and "data" not in b for b in bodies)
    assert bodies[-1]["id"] == job_id and bodies[-1]["status"] == "completed"
    url = bodies[-1]["result"]["videos"][0]["url"]
    assert isinstance(url, str)
    assert_mp4(media(url))


def test_xcompute_fail_and_cancel(api: Any) -> None:
    cancel_id = api.submit_id("xcompute", prompt="x [emulator:cancel]")
    failed = api.poll("xcompute", api.submit_id("xcompute", prompt="x [emulator:fail]"))[-1]
    task = failed["data"]
    assert task["status"] == "failed" and "result" not in task
    assert task["error"]["code"] and "rejected" in task["error"]["message"]
    assert task["error"]["type"]
    cancelled = api.poll("xcompute", cancel_id)
    assert cancelled[-1]["data"]["status"] == "cancelled"


def test_xcompute_no_url(api: Any) -> None:
    done = api.poll("xcompute", api.submit_id("xcompute", prompt="x [emulator:no-url]"))[-1]
    assert done["data"]["status"] == "completed"
    assert done["data"]["result"]["videos"] == []


def test_xcompute_imagine_1_5_answers_the_list_shape(api: Any) -> None:
    response = api.submit("xcompute", model="grok-imagine-1.5-video-apimart", duration=6)
    assert response.status_code == 200
    (entry,) = response.json()["data"]
    assert entry["status"] == "submitted"
    assert api.poll("xcompute", entry["task_id"])[-1]["data"]["status"] == "completed"


# --- validation ---------------------------------------------------------------------------

XCOMPUTE_INVALID = [
    ("model", MISSING),
    ("model", "grok-imagine-video"),
    ("prompt", MISSING),
    ("prompt", ""),
    ("prompt", 42),
    ("size", "4:3"),
    ("size", "16x9"),
    ("duration", "6"),
    ("duration", 5),
    ("duration", 31),
    ("duration", 6.5),
    ("duration", True),
    ("quality", "720P"),
    ("quality", "1080p"),
    ("image_urls", ["https://example.com/a.png"] * 8),
    ("image_urls", ["data:image/png;base64,iVBORw0KGgo="]),
    ("image_urls", ["iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"]),
    ("image_urls", ["ftp://example.com/a.png"]),
    ("image_urls", "https://example.com/a.png"),
    ("prompt", "x [emulator:nope]"),
    ("prompt", "x [emulator:expire]"),
]


@pytest.mark.parametrize(("field", "value"), XCOMPUTE_INVALID)
def test_xcompute_validation(api: Any, field: str, value: Any) -> None:
    response = api.submit("xcompute", body_with(XC, field, value))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 400 and error["type"] == "invalid_request_error"
    assert field.split("_")[0] in error["message"] or "marker" in error["message"]
    assert api.emulator.stats()["upstreams"]["xcompute"]["submissions"] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", 30),
        ("duration", 6),
        ("size", "2:3"),
        ("quality", "480p"),
        ("image_urls", ["https://example.com/a.png"] * 7),
        ("prompt", "一只狗在海滩上奔跑，阳光明媚，慢镜头"),
    ],
)
def test_xcompute_accepts_documented_values(api: Any, field: str, value: Any) -> None:
    assert api.submit("xcompute", body_with(XC, field, value)).status_code == 200


def test_xcompute_rejects_non_json_body(api: Any) -> None:
    url = api.url("xcompute", "/v1/videos/generations")
    for content in (b"{not json", b"[1, 2]", b""):
        response = api.client.post(url, content=content)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
