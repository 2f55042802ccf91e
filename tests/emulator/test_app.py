"""Each upstream's raw HTTP flow, as UPSTREAMS.md writes it: submit, poll, download."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def assert_mp4(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.content[4:8] == b"ftyp"
    assert int(response.headers["content-length"]) == len(response.content)


def assert_progress_rises(values: list[int]) -> None:
    assert values == sorted(values)
    assert all(0 <= v <= 100 for v in values)


# -------------------------------------------------------------------------------- xcompute


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


# -------------------------------------------------------------------------------- Mountsea


def test_mountsea_flow(api: Any, media: Callable[..., httpx.Response]) -> None:
    response = api.submit("mountsea", duration=10, aspectRatio="9:16", resolution="480P")
    assert response.status_code == 200
    assert set(response.json()) == {"taskId"}
    task_id = response.json()["taskId"]
    bodies = api.poll("mountsea", task_id)
    words = [b["status"] for b in bodies]
    assert set(words) <= {"pending", "ready", "assigned", "processing", "completed"}
    assert "processing" in words
    keys = {
        "taskId",
        "status",
        "result",
        "errorMessage",
        "errorCode",
        "finishedAt",
        "createdAt",
        "traceId",
    }
    for body in bodies:
        assert set(body) == keys
        assert body["taskId"] == task_id and "progress" not in body
        assert ISO_Z.match(body["createdAt"]) and body["traceId"]
    running = [b for b in bodies if b["status"] != "completed"]
    assert all(b["result"] == {} and b["finishedAt"] is None for b in running)
    done = bodies[-1]
    assert done["status"] == "completed" and ISO_Z.match(done["finishedAt"])
    assert done["errorMessage"] is None and done["errorCode"] is None
    assert set(done["result"]) == {"videoUrl"}
    assert_mp4(media(done["result"]["videoUrl"]))


@pytest.mark.parametrize(
    ("shape", "find"),
    [
        ("output", lambda r: r["output"]["videos"][0]["url"]),
        ("other", lambda r: next(v for v in r["assets"][0].values() if "://" in v)),
    ],
)
def test_mountsea_result_shapes(
    api: Any, media: Callable[..., httpx.Response], shape: str, find: Callable[[Any], str]
) -> None:
    task_id = api.submit_id("mountsea", prompt=f"a cat [emulator:result-shape={shape}]")
    done = api.poll("mountsea", task_id)[-1]
    assert done["status"] == "completed" and "videoUrl" not in done["result"]
    assert_mp4(media(find(done["result"])))


@pytest.mark.parametrize(
    ("marker", "word", "code"),
    [("fail", "failed", True), ("timeout", "timeout", True), ("cancel", "cancelled", False)],
)
def test_mountsea_failures(api: Any, marker: str, word: str, code: bool) -> None:
    done = api.poll("mountsea", api.submit_id("mountsea", prompt=f"x [emulator:{marker}]"))[-1]
    assert done["status"] == word and done["result"] == {}
    assert done["errorMessage"]
    assert isinstance(done["errorCode"], int) if code else done["errorCode"] is None
    assert ISO_Z.match(done["finishedAt"])


def test_mountsea_no_url(api: Any) -> None:
    done = api.poll("mountsea", api.submit_id("mountsea", prompt="x [emulator:no-url]"))[-1]
    assert done["status"] == "completed" and done["result"] == {}


def test_mountsea_prompt_limit_ignores_markers(api: Any) -> None:
    prompt = "a" * 1000 + " [emulator:seconds=0.1]"
    assert api.submit("mountsea", prompt=prompt).status_code == 200
    response = api.submit("mountsea", prompt="a" * 1001)
    assert response.status_code == 400


# -------------------------------------------------------------------------------- xAI


def test_xai_flow(api: Any, media: Callable[..., httpx.Response]) -> None:
    response = api.submit(
        "xai",
        prompt="a lighthouse [emulator:seconds=1]",  # long enough to see queued and running
        model="grok-imagine-video",
        duration=6,
        aspect_ratio="4:3",
        resolution="720p",
        image={"url": "https://example.com/start.png"},
    )
    assert response.status_code == 200
    assert set(response.json()) == {"request_id"}
    bodies = api.poll("xai", response.json()["request_id"])
    assert {b["status"] for b in bodies[:-1]} == {"pending"}
    assert any("progress" not in b for b in bodies[:-1])  # queued: no progress
    assert any("progress" in b for b in bodies[:-1])  # running: progress present
    assert_progress_rises([b["progress"] for b in bodies if "progress" in b])
    done = bodies[-1]
    assert done == {
        "status": "done",
        "video": {"url": done["video"]["url"], "duration": 6, "respect_moderation": True},
        "model": "grok-imagine-video",
        "usage": {"cost_in_usd_ticks": 6 * 700_000_000},  # $0.07/s at 720p: $0.42
    }
    assert_mp4(media(done["video"]["url"]))


def test_xai_imagine_1_5_is_accepted_echoed_and_billed(api: Any) -> None:
    request_id = api.submit_id("xai", model="grok-imagine-video-1.5", duration=10)
    done = api.poll("xai", request_id)[-1]
    assert done["model"] == "grok-imagine-video-1.5"
    # Billed at its published base price, $0.08/s.
    assert done["usage"] == {"cost_in_usd_ticks": 10 * 800_000_000}
    response = api.submit("xai", model="grok-imagine-video-2")
    assert response.status_code == 400 and "grok-imagine-video-2" in response.json()["error"]


def test_xcompute_imagine_1_5_answers_the_list_shape(api: Any) -> None:
    response = api.submit("xcompute", model="grok-imagine-1.5-video-apimart", duration=6)
    assert response.status_code == 200
    (entry,) = response.json()["data"]
    assert entry["status"] == "submitted"
    assert api.poll("xcompute", entry["task_id"])[-1]["data"]["status"] == "completed"


def test_xai_default_duration_and_data_uri_image(api: Any) -> None:
    image = {"url": "data:image/png;base64,iVBORw0KGgo="}
    done = api.poll("xai", api.submit_id("xai", image=image))[-1]
    assert done["video"]["duration"] == 8


def test_xai_failed_expired_no_url(api: Any) -> None:
    ids = [api.submit_id("xai", prompt=f"x [emulator:{m}]") for m in ("fail", "expire", "no-url")]
    failed, expired, no_url = (api.poll("xai", job_id)[-1] for job_id in ids)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] and failed["error"]["message"]
    assert expired["status"] == "expired" and "video" not in expired
    assert no_url["status"] == "done"
    assert no_url["video"]["respect_moderation"] is False and "url" not in no_url["video"]


# -------------------------------------------------------------------------------- all three


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea", "xai"])
def test_unknown_status_word_before_finishing(api: Any, upstream: str) -> None:
    prompt = "x [emulator:unknown-status] [emulator:seconds=0.6]"
    base = {
        "xcompute": {"model": "grok-imagine-1.0-video-apimart", "prompt": prompt},
        "mountsea": {"model": "grok-imagine-video", "prompt": prompt},
        "xai": {"prompt": prompt},
    }[upstream]
    job_id = api.submit_id(upstream, base)
    words = [api.status_of(upstream, b) for b in api.poll(upstream, job_id, interval=0.02)]
    assert "rendering" in words
    assert words[-1] in {"completed", "done"}


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea", "xai"])
def test_seconds_marker_sets_job_duration(api: Any, upstream: str) -> None:
    job_id = api.submit_id(upstream, prompt="quick [emulator:seconds=0]")
    assert api.status_of(upstream, api.status(upstream, job_id).json()) in {"completed", "done"}
    slow = api.submit_id(upstream, prompt="slow [emulator:seconds=60]")
    assert api.status_of(upstream, api.status(upstream, slow).json()) not in {"completed", "done"}
    assert api.emulator.job(slow)["seconds"] == 60


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea", "xai"])
def test_unknown_job_id_is_404_in_upstream_shape(api: Any, upstream: str) -> None:
    response = api.status(upstream, "no-such-job")
    assert response.status_code == 404
    body = response.json()
    if upstream == "xcompute":
        assert body["error"]["code"] == 404 and body["error"]["message"]
    elif upstream == "mountsea":
        assert body["statusCode"] == 404 and body["error"] == "Not Found"
    else:
        assert body["code"] and "no-such-job" in body["error"]


def test_job_ids_belong_to_their_upstream(api: Any) -> None:
    xai_id = api.submit_id("xai")
    assert api.status("mountsea", xai_id).status_code == 404
    assert api.status("xai", xai_id).status_code == 200
