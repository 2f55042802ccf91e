"""The transfer path on its own: input, file names, URL checks, and what a CDN can answer.

Bodies the emulator cannot produce (HTML instead of a video, a 403, an empty body) come from
``httpx.MockTransport``; the operator's tests (``tests/operators/test_download.py``) run the same
path against the emulator over real sockets.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from download_support import files_under

from airflow_provider_grokvideo.delivery.download import (
    InvalidDownloadInput,
    VideoDownloadError,
    VideoURLExpired,
    download_file,
    format_expiry,
    make_download_client,
    parse_generation,
    redact_url,
    thumbnail_file_name,
    video_file_names,
)
from airflow_provider_grokvideo.models import VideoGeneration


def succeeded(**changes: Any) -> dict[str, Any]:
    base = VideoGeneration(
        generation_id="task_01",
        status="succeeded",
        video_urls=["https://cdn.example/v.mp4"],
    ).to_dict()
    base.update(changes)
    return base


def test_parse_generation_accepts_dict_json_repr_and_dataclass() -> None:
    value = succeeded(expires_at=1762940095.0)
    for form in (value, json.dumps(value), repr(value), VideoGeneration.from_dict(value)):
        parsed = parse_generation(form)
        assert parsed.generation_id == "task_01"
        assert parsed.video_urls == ["https://cdn.example/v.mp4"]
        assert parsed.expires_at == 1762940095.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (succeeded(status="failed", error_message="content rejected"), "status 'failed'"),
        (succeeded(status="running"), "only a succeeded generation"),
        (succeeded(video_urls=[]), "carries no video_urls"),
        (["https://cdn.example/v.mp4"], "not list"),
        ("", "empty string"),
        ("None", "not NoneType"),
        ("no json here", "neither JSON nor a dict"),
        ({"status": "succeeded"}, "no generation_id"),
        (succeeded(status="done"), "not a valid VideoGeneration"),
    ],
)
def test_parse_generation_refuses_what_cannot_be_downloaded(value: Any, message: str) -> None:
    with pytest.raises(InvalidDownloadInput, match=message):
        parse_generation(value)


def test_file_names() -> None:
    assert video_file_names("{generation_id}.mp4", "task_01", 1) == ["task_01.mp4"]
    assert video_file_names("{generation_id}", "task_01", 1) == ["task_01.mp4"]
    assert video_file_names("{generation_id}.mp4", "task_01", 2) == [
        "task_01-1.mp4",
        "task_01-2.mp4",
    ]
    assert video_file_names("2025-01-01/clip_{n}", "x", 2) == [
        "2025-01-01/clip_1.mp4",
        "2025-01-01/clip_2.mp4",
    ]
    assert video_file_names("{generation_id}.mov", "a/../b", 1) == ["a_.._b.mov"]
    assert thumbnail_file_name("{generation_id}.mp4", "task_01", "https://c/i.png?x=1") == (
        "task_01-thumbnail.png"
    )
    assert thumbnail_file_name("day/clip-{n}.mp4", "task_01", "https://c/i") == (
        "day/clip-thumbnail.jpg"
    )
    for bad in ("../{generation_id}", "/abs/{generation_id}", "a//b"):
        with pytest.raises(InvalidDownloadInput, match="relative name"):
            video_file_names(bad, "task_01", 1)


def test_signed_query_strings_are_not_logged() -> None:
    signed = "https://cdn.example/v.mp4?X-Amz-Signature=abc&X-Amz-Expires=60"
    assert redact_url(signed) == "https://cdn.example/v.mp4?<signed>"
    assert redact_url("https://cdn.example/v.mp4?quality=hd") == (
        "https://cdn.example/v.mp4?quality=hd"
    )
    assert format_expiry(1762940095) == "2025-11-12T09:34:55Z"


@pytest.mark.parametrize("status", [403, 404, 410])
def test_expired_statuses_name_the_expiry(tmp_path: Path, status: int) -> None:
    expires = time.time() + 60  # the upstream's clock may disagree with the CDN's
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text="AccessDenied"))
    with make_download_client(transport=transport) as client, pytest.raises(VideoURLExpired) as e:
        download_file(
            "https://videos.example.net/v.mp4?Signature=s",
            (tmp_path / "v.mp4").as_uri(),
            client=client,
            expires_at=expires,
        )
    message = str(e.value)
    assert f"HTTP {status}" in message and "videos.example.net" in message
    assert format_expiry(expires) in message
    assert "Signature=s" not in message


def test_non_mp4_body_refused(tmp_path: Path) -> None:
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>" * 1000
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=page, headers={"Content-Type": "text/html"})

    transport = httpx.MockTransport(handler)
    with (
        make_download_client(transport=transport) as client,
        pytest.raises(VideoDownloadError) as caught,
    ):
        download_file("https://cdn.example.org/v.mp4", (tmp_path / "v.mp4").as_uri(), client=client)
    message = str(caught.value)
    assert "cdn.example.org" in message and "not an MP4" in message and "ftyp" in message
    assert files_under(tmp_path) == []
    assert "authorization" not in seen[0].headers


def test_short_body_refused(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"\x00\x00\x00\x20ftypisom")

    with make_download_client(transport=httpx.MockTransport(handler)) as client:
        stored = download_file(
            "https://cdn.example.org/tiny.mp4", (tmp_path / "t.mp4").as_uri(), client=client
        )
    assert stored.size == 12  # complete, and its first box names an MP4 brand: accepted

    def cut(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"\x00\x00\x00\x20ftyp")

    with (
        make_download_client(transport=httpx.MockTransport(cut)) as client,
        pytest.raises(VideoDownloadError, match=r"'ftyp' box is cut short"),
    ):
        download_file("https://cdn.example.org/c.mp4", (tmp_path / "c.mp4").as_uri(), client=client)

    def empty(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"")

    transport = httpx.MockTransport(empty)
    with (
        make_download_client(transport=transport) as client,
        pytest.raises(VideoDownloadError, match=r"cdn\.example\.org is not an MP4"),
    ):
        download_file("https://cdn.example.org/e.mp4", (tmp_path / "e.mp4").as_uri(), client=client)
    assert files_under(tmp_path) == ["t.mp4"]


def test_a_client_with_credentials_is_refused(tmp_path: Path) -> None:
    with (
        httpx.Client(headers={"Authorization": "Bearer secret"}) as client,
        pytest.raises(ValueError, match="must not carry credentials"),
    ):
        download_file("https://cdn.example.org/v.mp4", (tmp_path / "v.mp4").as_uri(), client=client)
