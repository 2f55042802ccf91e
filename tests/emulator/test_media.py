"""The emulator's videos are what was asked (duration, size, aspect ratio, sound), and the
``mismatch`` marker makes one that is not; xAI's newer fields, its Files uploads and the
``storage_options`` copy, over raw HTTP as UPSTREAMS.md writes them."""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

import httpx
import pytest

from airflow_provider_grokvideo.emulator import media as emulator_media
from airflow_provider_grokvideo.emulator.media import VideoShape, shape_for
from airflow_provider_grokvideo.emulator.mp4_header import header_video
from airflow_provider_grokvideo.media.probe import probe

V15 = "grok-imagine-video-1.5"


def finished(api: Any, **body: Any) -> dict[str, Any]:
    job_id = api.submit_id("xai", **body)
    return api.poll("xai", job_id)[-1]


def test_shapes_follow_the_aspect_ratio_and_resolution() -> None:
    assert shape_for(10, "9:16", "720p", True, mismatch=False) == VideoShape(10.0, 720, 1280, True)
    assert shape_for(6, "16:9", "480p", False, mismatch=False) == VideoShape(6.0, 854, 480, False)
    assert shape_for(6, "1:1", "1080p", True, mismatch=True) == VideoShape(3.0, 1080, 1080, False)


@pytest.mark.parametrize("use_pyav", [True, False], ids=["pyav", "mp4-header"])
def test_a_video_is_as_long_as_large_and_as_loud_as_asked(api: Any, use_pyav: bool) -> None:
    answer = finished(
        api, prompt="a spot", model=V15, duration=3, aspect_ratio="9:16", resolution="720p"
    )
    data = httpx.get(answer["video"]["url"]).content
    info = probe(io.BytesIO(data), use_pyav=use_pyav)
    assert (info.width, info.height, info.codec, info.audio) == (720, 1280, "h264", True)
    assert info.duration == pytest.approx(3.0, abs=0.15)
    silent = finished(api, prompt="quiet", duration=1, generate_audio=False)
    assert probe(io.BytesIO(httpx.get(silent["video"]["url"]).content)).audio is False


def test_the_mismatch_marker_makes_another_video(api: Any) -> None:
    answer = finished(api, prompt="a spot [emulator:mismatch]", duration=4, aspect_ratio="16:9")
    info = probe(io.BytesIO(httpx.get(answer["video"]["url"]).content))
    assert info.duration == pytest.approx(2.0, abs=0.15) and info.width < info.height


def test_without_pyav_the_samples_header_says_what_was_asked(api: Any) -> None:
    emulator_media.video_bytes.cache_clear()
    with mock.patch.dict("sys.modules", {"av": None}):
        answer = finished(api, prompt="a spot", duration=4, aspect_ratio="9:16", resolution="720p")
        data = httpx.get(answer["video"]["url"]).content
    emulator_media.video_bytes.cache_clear()
    info = probe(io.BytesIO(data), use_pyav=False)
    assert (info.duration, info.width, info.height, info.audio) == (4.0, 720, 1280, True)
    # Still a valid MP4: FFmpeg opens it and decodes the sample's frames.
    assert probe(io.BytesIO(data), use_pyav=True).duration == pytest.approx(4.0, abs=0.1)
    silent = header_video(2.0, 854, 480, False)
    assert probe(io.BytesIO(silent), use_pyav=False).audio is False


def test_the_newer_fields_are_taken_and_checked(api: Any) -> None:
    ok = api.submit(
        "xai",
        prompt="p",
        model=V15,
        duration=6,
        reference_audios=[{"voice_id": "ara"}],
        keyframes=[{"image": {"url": "https://a.example/k.png"}, "timestamp_s": 2}],
        generate_audio=True,
    )
    assert ok.status_code == 200, ok.text
    for body, words in [
        ({"reference_audios": [{"voice_id": "ara"}]}, "not supported by grok-imagine-video"),
        ({"model": V15, "reference_audios": [{"voice_id": "zed"}]}, "unknown voice_id"),
        (
            {"duration": 4, "keyframes": [{"image": {"url": "https://a/k.png"}, "timestamp_s": 4}]},
            "within",
        ),
        ({"storage_options": {"expires_after": 5}}, "expires_after"),
        ({"output": {"upload_url": "not a url"}}, "upload_url"),
        ({"generate_audio": "yes"}, "boolean"),
    ]:
        answer = api.submit("xai", prompt="p", **body)
        assert answer.status_code == 400 and words in answer.json()["error"], (body, answer.text)


def test_storage_options_report_the_files_copy(api: Any) -> None:
    answer = finished(
        api,
        prompt="p",
        duration=1,
        storage_options={"filename": "spot.mp4", "expires_after": 3600, "public_url": True},
    )
    output = answer["video"]["file_output"]
    assert output["file_id"].startswith("file_") and output["filename"] == "spot.mp4"
    assert output["public_url"] == answer["video"]["url"]
    assert output["expires_at"] > output["public_url_expires_at"] - 86_400


def test_files_uploads_feed_inputs(api: Any) -> None:
    url = api.url("xai", "/v1/files")
    video = httpx.get(finished(api, prompt="p", duration=3)["video"]["url"]).content
    answer = api.client.post(
        url, data={"expires_after": "3600"}, files={"file": ("clip.mp4", video, "video/mp4")}
    )
    assert answer.status_code == 200, answer.text
    file_id = answer.json()["id"]
    assert answer.json()["bytes"] == len(video) and answer.json()["expires_at"]
    edit = api.client.post(
        api.url("xai", "/v1/videos/edits"), json={"prompt": "p", "video": {"file_id": file_id}}
    )
    job = api.poll("xai", edit.json()["request_id"])[-1]
    assert job["video"]["duration"] == 3  # read from the uploaded file
    assert (
        api.client.post(url, data={"expires_after": "5"}, files={"file": ("a", b"x")}).status_code
        == 400
    )
    assert api.client.post(url, data={"x": "1"}).status_code == 400
    unauthorized = httpx.post(url, files={"file": ("a", b"x")})
    assert unauthorized.status_code == 400 and "API key" in unauthorized.text
