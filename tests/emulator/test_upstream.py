"""Auth and validation: each documented rule refused in the upstream's own error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import Emulator

XC = {"model": "grok-imagine-1.0-video-apimart", "prompt": "a dog"}
MS = {"model": "grok-imagine-video", "prompt": "a cat"}
XAI = {"prompt": "a lighthouse"}
MISSING = object()
WRONG_KEY = "sk-wrong-key-0123456789"


def body_with(base: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    body = dict(base)
    if value is MISSING:
        body.pop(field, None)
    else:
        body[field] = value
    return body


# -------------------------------------------------------------------------------- auth


def call(emu: Emulator, upstream: str, endpoint: str, headers: dict[str, str]) -> httpx.Response:
    base = emu.base_url(upstream)
    if endpoint == "submit":
        path = {"xcompute": "/v1/videos/generations", "mountsea": "/xai/videos"}
        body = {"xcompute": XC, "mountsea": MS, "xai": XAI}[upstream]
        url = base + path.get(upstream, "/v1/videos/generations")
        return httpx.post(url, json=body, headers=headers)
    path = {"xcompute": "/v1/tasks/x", "mountsea": "/xai/tasks?taskId=x", "xai": "/v1/videos/x"}
    return httpx.get(base + path[upstream], headers=headers)


@pytest.mark.parametrize("endpoint", ["submit", "status"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {WRONG_KEY}"},
        {"Authorization": "Basic ZW11bGF0b3Ita2V5Og=="},
        {"Authorization": "emulator-key"},
    ],
    ids=["missing", "wrong", "basic", "no-scheme"],
)
@pytest.mark.parametrize("upstream", ["xcompute", "mountsea", "xai"])
def test_auth_failures(
    emu: Emulator, upstream: str, endpoint: str, headers: dict[str, str]
) -> None:
    response = call(emu, upstream, endpoint, headers)
    body = response.json()
    if upstream == "xcompute":
        assert response.status_code == 401
        assert body["error"]["code"] == 401
        assert body["error"]["type"] == "authentication_error" and body["error"]["message"]
    elif upstream == "mountsea":
        assert response.status_code == 401
        assert body == {"statusCode": 401, "message": "Unauthorized"}
    else:
        assert response.status_code == 400
        assert body["code"] == "Client specified an invalid argument"
        assert "Incorrect API key provided" in body["error"]
    assert WRONG_KEY not in response.text and "emulator-key" not in response.text
    assert emu.stats()["upstreams"][upstream]["auth_failures"] == 1
    assert emu.stats()["upstreams"][upstream]["submissions"] == 0


def test_bearer_scheme_is_case_insensitive(emu: Emulator) -> None:
    response = call(emu, "xai", "submit", {"Authorization": "bearer emulator-key"})
    assert response.status_code == 200


def test_several_keys_accepted() -> None:
    with Emulator(api_key=["k1", "k2"], job_seconds=0.1) as emu:
        for key in ("k1", "k2"):
            response = call(emu, "mountsea", "submit", {"Authorization": f"Bearer {key}"})
            assert response.status_code == 200
        assert call(emu, "mountsea", "submit", {"Authorization": "Bearer emulator-key"}).is_error


# -------------------------------------------------------------------------------- xcompute

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


# -------------------------------------------------------------------------------- Mountsea

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


# -------------------------------------------------------------------------------- xAI

XAI_INVALID = [
    ("prompt", MISSING),
    ("prompt", ""),
    ("prompt", ["a"]),
    ("model", "grok-imagine-1.0-video-apimart"),
    ("duration", 0),
    ("duration", 16),
    ("duration", "8"),
    ("duration", 7.5),
    ("aspect_ratio", "5:4"),
    ("aspect_ratio", "16x9"),
    ("resolution", "720P"),
    ("resolution", "1080p"),
    ("image", "https://example.com/a.png"),
    ("image", [{"url": "https://example.com/a.png"}]),
    ("image", {"url": "ftp://example.com/a.png"}),
    ("image", {"url": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"}),
    ("image", {}),
    ("prompt", "x [emulator:cancel]"),
    ("prompt", "x [emulator:seconds=abc]"),
]


@pytest.mark.parametrize(("field", "value"), XAI_INVALID)
def test_xai_validation(api: Any, field: str, value: Any) -> None:
    response = api.submit("xai", body_with(XAI, field, value))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "Client specified an invalid argument"
    assert isinstance(body["error"], str) and body["error"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", 1),
        ("duration", 15),
        ("aspect_ratio", "3:4"),
        ("resolution", "480p"),
        ("model", "grok-imagine-video"),
        ("image", {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}),
    ],
)
def test_xai_accepts_documented_values(api: Any, field: str, value: Any) -> None:
    assert api.submit("xai", body_with(XAI, field, value)).status_code == 200


@pytest.mark.parametrize("upstream", ["xcompute", "xai"])
def test_unknown_paths_are_404(api: Any, upstream: str) -> None:
    response = api.client.get(api.url(upstream, "/v2/nothing"))
    assert response.status_code == 404
    assert response.json()
