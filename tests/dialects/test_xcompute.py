"""The xcompute (APIMart) dialect against its documented JSON (UPSTREAMS.md): bodies, submit and
status answers."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.dialects import xcompute
from airflow_provider_grokvideo.dialects.base import HttpCall
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, UnexpectedResponse
from airflow_provider_grokvideo.models import VideoRequest

XC = xcompute.DIALECT

# --- exact request body ---------------------------------------------------------------------


def test_xcompute_text_to_video_body():
    call = XC.submit_call(
        VideoRequest(
            prompt="一只狗在海滩上奔跑，阳光明媚，慢镜头",
            duration=6,
            aspect_ratio="16:9",
            resolution="720p",
        )
    )
    assert call == HttpCall(
        "POST",
        "/v1/videos/generations",
        json={
            "model": "grok-imagine-1.0-video-apimart",
            "prompt": "一只狗在海滩上奔跑，阳光明媚，慢镜头",
            "size": "16:9",
            "duration": 6,
            "quality": "720p",
        },
    )


def test_xcompute_image_to_video_body():
    call = XC.submit_call(
        VideoRequest(
            prompt="让画面动起来，添加自然的动态效果",
            image_urls=("https://example.com/start.png",),
            aspect_ratio="16:9",
            duration=10,
            resolution="720P",
        )
    )
    assert call.json == {
        "model": "grok-imagine-1.0-video-apimart",
        "prompt": "让画面动起来，添加自然的动态效果",
        "size": "16:9",
        "duration": 10,
        "quality": "720p",
        "image_urls": ["https://example.com/start.png"],
    }


# --- xcompute answers ---------------------------------------------------------------------


def test_xcompute_submit_documented_shape():
    body = {
        "code": 200,
        "data": {
            "id": "task_01JNXXXXXXXXXXXXXXXXXX",
            "status": "submitted",
            "progress": 0,
            "created": 1710000000,
            "type": "video",
        },
    }
    assert XC.parse_submit(body) == "task_01JNXXXXXXXXXXXXXXXXXX"


def test_xcompute_submit_list_shape_of_other_apimart_models():
    body = {"code": 200, "data": [{"task_id": "task_abc", "status": "submitted"}]}
    assert XC.parse_submit(body) == "task_abc"


@pytest.mark.parametrize("body", [{"code": 200, "data": {}}, {"code": 200, "data": []}, "x", None])
def test_xcompute_submit_without_id_is_unexpected(body):
    with pytest.raises(UnexpectedResponse, match="no task id"):
        XC.parse_submit(body)


def test_xcompute_status_processing():
    body = {
        "code": 200,
        "data": {
            "id": "task_1",
            "status": "processing",
            "progress": 91,
            "created": 1765000891,
            "estimated_time": 600,
        },
    }
    parsed = XC.parse_status(body, "task_1")
    gen = parsed.generation
    assert (gen.status, gen.progress, gen.estimated_seconds, gen.created_at) == (
        "running",
        91,
        600.0,
        1765000891.0,
    )
    assert parsed.unknown_status is None and gen.video_urls == []


COMPLETED = {
    "id": "task_01K9S",
    "status": "completed",
    "progress": 100,
    "result": {
        "thumbnail_url": "https://upload.apimart.ai/f/image/t.jpg",
        "videos": [{"url": ["https://upload.apimart.ai/f/video/v.mp4"], "expires_at": 1762940095}],
    },
    "created": 1762853430,
    "completed": 1762853695,
    "estimated_time": 600,
    "actual_time": 265,
}


@pytest.mark.parametrize("enveloped", [True, False], ids=["enveloped", "bare"])
def test_xcompute_status_completed(enveloped):
    body = {"code": 200, "data": COMPLETED} if enveloped else COMPLETED
    gen = XC.parse_status(body, "task_01K9S").generation
    assert gen.status == "succeeded"
    assert gen.video_urls == ["https://upload.apimart.ai/f/video/v.mp4"]
    assert gen.thumbnail_url == "https://upload.apimart.ai/f/image/t.jpg"
    assert gen.expires_at == 1762940095.0
    assert gen.progress == 100


def test_xcompute_status_url_as_plain_string():
    task = {**COMPLETED, "result": {"videos": [{"url": "https://u.example/v.mp4"}]}}
    assert XC.parse_status(task, "t").generation.video_urls == ["https://u.example/v.mp4"]


def test_xcompute_status_failed_with_error():
    body = {
        "code": 200,
        "data": {
            "id": "t",
            "status": "failed",
            "error": {"code": 400, "message": "content rejected", "type": "invalid_request_error"},
        },
    }
    gen = XC.parse_status(body, "t").generation
    assert (gen.status, gen.error_code, gen.error_message) == (
        "failed",
        "invalid_request_error",
        "content rejected",
    )
    public_client_shape = {"status": "failed", "error": {"message": "content rejected"}}
    gen = XC.parse_status(public_client_shape, "t").generation
    assert (gen.status, gen.error_message) == ("failed", "content rejected")


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("submitted", "queued"),
        ("pending", "queued"),
        ("processing", "running"),
        ("cancelled", "cancelled"),
        ("failed", "failed"),
    ],
)
def test_xcompute_status_words(word, status):
    assert XC.parse_status({"id": "t", "status": word}, "t").generation.status == status


def test_xcompute_unknown_status_means_still_running_and_is_reported():
    parsed = XC.parse_status({"code": 200, "data": {"id": "t", "status": "rendering"}}, "t")
    assert parsed.generation.status == "running" and parsed.unknown_status == "rendering"


def test_xcompute_completed_without_url_is_a_failure():
    gen = XC.parse_status({"id": "t", "status": "completed", "result": {"videos": []}}, "t")
    assert gen.generation.status == "failed" and "no video URL" in gen.generation.error_message


def test_xcompute_status_path_quotes_the_id():
    assert XC.status_call("task/../x") == HttpCall("GET", "/v1/tasks/task%2F..%2Fx")
    with pytest.raises(InvalidVideoRequest, match="generation_id"):
        XC.status_call("")


def test_xcompute_reports_no_cost():
    done = {"code": 200, "data": {**COMPLETED}}
    assert XC.parse_status(done, "task_01K9S").generation.cost_usd is None
