"""Mountsea: ``POST /xai/videos``, ``GET /xai/tasks?taskId=``.

Specified by seed ``004_4a22aadb4089654a.txt``; see UPSTREAMS.md section 2.  Where the video
URL lives in ``result`` is not documented: known names first, then any http(s) URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_grokvideo.dialects.base import (
    Dialect,
    HttpCall,
    Limits,
    ParsedStatus,
    as_epoch,
    as_progress,
    first_http_url,
)
from airflow_provider_grokvideo.models import Status, VideoGeneration, VideoRequest


class MountseaDialect(Dialect):
    name = "mountsea"
    default_model = "grok-imagine-video"
    models: Mapping[str, Limits] = {
        # The seed's OpenAPI schema (the English page's 6/10/15 s and one image disagree).
        "grok-imagine-video": Limits(
            durations=frozenset({6, 10, 12, 16, 20}),
            durations_text="one of 6, 10, 12, 16, 20 seconds",
            aspect_ratios=("2:3", "3:2", "1:1", "9:16", "16:9"),
            resolutions=("480P", "720P"),
            max_images=5,
            max_prompt_chars=1000,
            image_data_uris=False,
            default_duration=6,
            default_resolution="720P",
        ),
    }
    statuses: Mapping[str, Status] = {
        "pending": "queued",
        "ready": "queued",
        "assigned": "queued",
        "processing": "running",
        "completed": "succeeded",
        "failed": "failed",
        "timeout": "failed",
        "cancelled": "cancelled",
    }

    def format_resolution(self, resolution: str) -> str:
        return resolution.upper()

    def submit_path(self) -> str:
        return "/xai/videos"

    def submit_body(self, request: VideoRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
        if request.duration is not None:
            body["duration"] = request.duration
        if request.aspect_ratio is not None:
            body["aspectRatio"] = request.aspect_ratio
        if request.resolution is not None:
            body["resolution"] = request.resolution
        if request.image_urls:
            body["images"] = list(request.image_urls)
        return body

    def parse_submit(self, body: Any) -> str:
        if isinstance(body, Mapping):
            generation_id = body.get("taskId")
            if isinstance(generation_id, str) and generation_id:
                return generation_id
        raise self.unexpected("submit answer carries no taskId", body)

    def status_call(self, generation_id: str) -> HttpCall:
        generation_id = self.check_generation_id(generation_id)
        return HttpCall("GET", "/xai/tasks", params={"taskId": generation_id})

    def parse_status(self, body: Any, generation_id: str) -> ParsedStatus:
        task = self.require_mapping(body, "status answer")
        word = task.get("status")
        status, unknown = self.status_of(word)
        result = task.get("result")
        urls = video_urls(result) if status == "succeeded" else []
        code = _text(task.get("errorCode"))
        message = _text(task.get("errorMessage"))
        if status == "failed" and str(word).lower() == "timeout":
            code = code or "timeout"
            message = message or "Mountsea timed the task out"
        if status != "failed" and status != "cancelled":
            # Mountsea documents errorMessage on every answer; it only means something on failure.
            code = message = None
        if status == "succeeded" and not urls:
            status = "failed"
            code = "no_video_url"
            message = (
                "Mountsea reported the task completed but no http(s) video URL was found in "
                f"its result (keys: {sorted(result) if isinstance(result, Mapping) else result!r})"
            )
        generation = VideoGeneration(
            generation_id=str(task.get("taskId") or generation_id),
            status=status,
            progress=as_progress(task.get("progress")),
            video_urls=urls,
            error_code=code,
            error_message=message,
            created_at=as_epoch(task.get("createdAt")),
        )
        return ParsedStatus(generation, unknown)


def video_urls(result: Any) -> list[str]:
    """The video URLs in Mountsea's undocumented ``result``: known names, then any URL."""
    if isinstance(result, str):
        return [result] if first_http_url(result) else []
    if not isinstance(result, Mapping):
        return []
    for name in ("videoUrl", "video_url", "videoURL", "url"):
        value = result.get(name)
        if isinstance(value, str) and first_http_url(value):
            return [value]
        if isinstance(value, list):
            found = [v for v in value if isinstance(v, str) and first_http_url(v)]
            if found:
                return found
    for container in (result.get("output"), result):
        videos = container.get("videos") if isinstance(container, Mapping) else None
        if isinstance(videos, list):
            found = [
                v["url"]
                for v in videos
                if isinstance(v, Mapping)
                and isinstance(v.get("url"), str)
                and first_http_url(v["url"])
            ]
            if found:
                return found
    url = first_http_url(result)
    return [url] if url else []


def _text(value: Any) -> str | None:
    # The documented sample carries errorCode/errorMessage on every answer: 0 or "" is no error.
    return None if value in (None, "", 0) else str(value)


DIALECT = MountseaDialect()
