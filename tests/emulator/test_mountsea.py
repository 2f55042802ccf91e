"""The emulator's Mountsea API over raw HTTP (``emulator/mountsea.py``), as UPSTREAMS.md writes
it: submit, poll, download, its result shapes and failures, and each documented rule refused in
its own error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from emulator.checks import ISO_Z, MISSING, MS, assert_mp4, body_with

# --- the flow ------------------------------------------------------------------------------


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


# --- validation ---------------------------------------------------------------------------

MOUNTSEA_INVALID = [
    ("model", MISSING, "model must be one of the following values: grok-imagine-video"),
    ("model", "grok-imagine-1.0-video-apimart", "model must be one of the following values"),
    ("prompt", MISSING, "prompt must be a string"),
    ("prompt", "", "prompt should not be empty"),
    ("prompt", "a" * 1001, "prompt must be shorter than or equal to 1000 characters"),
    ("duration", "6", "duration must be one of the following values: 6, 10, 12, 16, 20"),
    ("duration", 8, "duration must be one of the following values: 6, 10, 12, 16, 20"),
    ("duration", 30, "duration must be one of the following values: 6, 10, 12, 16, 20"),
    ("aspectRatio", "4:3", "aspectRatio must be one of the following values: 2:3, 3:2"),
    ("resolution", "720p", "resolution must be one of the following values: 480P, 720P"),
    ("resolution", "1080P", "resolution must be one of the following values: 480P, 720P"),
    ("images", ["https://example.com/a.png"] * 6, "images must contain no more than 5 elements"),
    ("images", [1], "each value in images must be a string"),
    ("images", ["data:image/png;base64,iVBORw0KGgo="], "each value in images must be a URL"),
    ("images", "https://example.com/a.png", "images must be an array"),
    ("prompt", "x [emulator:expire]", "emulator marker [emulator:expire] does not apply"),
]


@pytest.mark.parametrize(("field", "value", "message"), MOUNTSEA_INVALID)
def test_mountsea_validation(api: Any, field: str, value: Any, message: str) -> None:
    response = api.submit("mountsea", body_with(MS, field, value))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["statusCode"] == 400 and body["error"] == "Bad Request"
    assert isinstance(body["message"], list)
    assert any(m.startswith(message) for m in body["message"]), body["message"]


def test_mountsea_reports_every_failed_rule(api: Any) -> None:
    response = api.submit("mountsea", {"prompt": "x", "duration": "6", "resolution": "720p"})
    assert response.json() == {
        "statusCode": 400,
        "message": [
            "model must be one of the following values: grok-imagine-video",
            "duration must be one of the following values: 6, 10, 12, 16, 20",
            "resolution must be one of the following values: 480P, 720P",
        ],
        "error": "Bad Request",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", 20),
        ("duration", 12),
        ("aspectRatio", "2:3"),
        ("resolution", "480P"),
        ("images", ["https://example.com/a.png"] * 5),
        ("prompt", "a" * 1000),
    ],
)
def test_mountsea_accepts_documented_values(api: Any, field: str, value: Any) -> None:
    assert api.submit("mountsea", body_with(MS, field, value)).status_code == 200


def test_mountsea_status_needs_task_id_and_known_paths(api: Any) -> None:
    response = api.client.get(api.url("mountsea", "/xai/tasks"))
    assert response.status_code == 400 and response.json()["statusCode"] == 400
    response = api.client.get(api.url("mountsea", "/xai/tasks/abc"))  # not a path segment
    assert response.status_code == 404
    assert response.json() == {
        "message": "Cannot GET /xai/tasks/abc",
        "error": "Not Found",
        "statusCode": 404,
    }
    bad = api.client.post(api.url("mountsea", "/xai/videos"), content=b"{oops")
    assert bad.status_code == 400 and bad.json()["error"] == "Bad Request"
