"""The Mountsea dialect against its documented JSON (UPSTREAMS.md): bodies, submit and status
answers wherever the video's URL is."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.dialects import mountsea
from airflow_provider_grokvideo.dialects.base import HttpCall, as_epoch
from airflow_provider_grokvideo.exceptions import UnexpectedResponse
from airflow_provider_grokvideo.models import VideoRequest

MS = mountsea.DIALECT


def test_mountsea_text_to_video_body():
    call = MS.submit_call(
        VideoRequest(prompt="小猫在吃鱼", duration=10, aspect_ratio="9:16", resolution="720p")
    )
    assert call == HttpCall(
        "POST",
        "/xai/videos",
        json={
            "model": "grok-imagine-video",
            "prompt": "小猫在吃鱼",
            "duration": 10,
            "aspectRatio": "9:16",
            "resolution": "720P",
        },
    )


def test_mountsea_image_to_video_body():
    call = MS.submit_call(
        VideoRequest(
            prompt="animate",
            duration=6,
            image_urls=("https://example.com/a.png", "https://example.com/b.png"),
        )
    )
    assert call.json == {
        "model": "grok-imagine-video",
        "prompt": "animate",
        "duration": 6,
        "images": ["https://example.com/a.png", "https://example.com/b.png"],
    }


# --- Mountsea answers ---------------------------------------------------------------------


def test_mountsea_submit_shape():
    assert MS.parse_submit({"taskId": "abc"}) == "abc"
    with pytest.raises(UnexpectedResponse, match="taskId"):
        MS.parse_submit({"code": 200})


def test_mountsea_status_call_uses_a_query_parameter():
    assert MS.status_call("a/b") == HttpCall("GET", "/xai/tasks", params={"taskId": "a/b"})


def _ms_task(status, result=None, **extra):
    return {
        "taskId": "m1",
        "status": status,
        "result": result if result is not None else {},
        "errorMessage": "",
        "errorCode": 0,
        "finishedAt": "2026-01-02T03:04:05Z",
        "createdAt": "2026-01-02T03:00:00Z",
        "traceId": "tr",
        **extra,
    }


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("pending", "queued"),
        ("ready", "queued"),
        ("assigned", "queued"),
        ("processing", "running"),
        ("cancelled", "cancelled"),
    ],
)
def test_mountsea_status_words(word, status):
    gen = MS.parse_status(_ms_task(word), "m1").generation
    assert gen.status == status and gen.error_message is None
    assert gen.created_at == as_epoch("2026-01-02T03:00:00Z")


@pytest.mark.parametrize(
    "result",
    [
        {"videoUrl": "https://cdn.example/v.mp4"},
        {"output": {"videos": [{"url": "https://cdn.example/v.mp4"}]}},
        {"videos": [{"url": "https://cdn.example/v.mp4"}]},
        {"data": {"assets": [{"href": "https://cdn.example/v.mp4"}]}},
    ],
    ids=["videoUrl", "output.videos", "videos", "any-url"],
)
def test_mountsea_completed_finds_the_url_wherever_it_is(result):
    gen = MS.parse_status(_ms_task("completed", result), "m1").generation
    assert gen.status == "succeeded" and gen.video_urls == ["https://cdn.example/v.mp4"]


def test_mountsea_known_names_win_over_other_urls():
    result = {"cover": "https://cdn.example/c.jpg", "videoUrl": "https://cdn.example/v.mp4"}
    gen = MS.parse_status(_ms_task("completed", result), "m1").generation
    assert gen.video_urls == ["https://cdn.example/v.mp4"]


def test_mountsea_completed_without_any_url_fails_clearly():
    gen = MS.parse_status(_ms_task("completed", {"note": "ok"}), "m1").generation
    assert gen.status == "failed" and gen.error_code == "no_video_url"
    assert "no http(s) video URL" in gen.error_message and "note" in gen.error_message


def test_mountsea_failed_and_timeout():
    gen = MS.parse_status(
        _ms_task("failed", errorMessage="content rejected", errorCode=123), "m1"
    ).generation
    assert (gen.status, gen.error_code, gen.error_message) == ("failed", "123", "content rejected")
    gen = MS.parse_status(_ms_task("timeout"), "m1").generation
    assert (gen.status, gen.error_code) == ("failed", "timeout")
    assert "timed the task out" in gen.error_message


def test_mountsea_unknown_status():
    parsed = MS.parse_status(_ms_task("queued_for_gpu"), "m1")
    assert parsed.generation.status == "running" and parsed.unknown_status == "queued_for_gpu"


def test_mountsea_reports_no_cost():
    ms = {"taskId": "t", "status": "completed", "result": {"videoUrl": "https://m.example/v.mp4"}}
    assert MS.parse_status(ms, "t").generation.cost_usd is None
