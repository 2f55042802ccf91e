"""xcompute (an APIMart white-label): ``POST /v1/videos/generations``, ``GET /v1/tasks/{id}``.

Specified by seed ``000_7bf9e7feae2f285b.txt``; see UPSTREAMS.md section 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_grokvideo.dialects.base import (
    Dialect,
    HttpCall,
    Limits,
    ParsedStatus,
    as_epoch,
    as_progress,
    error_details,
    path_segment,
)
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
from airflow_provider_grokvideo.models import Status, VideoGeneration, VideoRequest

#: The seed's limits; APIMart documents the same fields and limits for Imagine 1.5.
_APIMART = Limits(
    durations=range(6, 31),
    durations_text="whole seconds from 6 to 30",
    aspect_ratios=("16:9", "9:16", "1:1", "3:2", "2:3"),
    resolutions=("480p", "720p"),
    max_images=7,
    image_data_uris=False,
    default_duration=6,
    default_resolution="480p",
)


#: APIMart's ``Idempotency-Key``: 1 to 191 visible ASCII characters, no spaces.
IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,191}")
#: The response contract version APIMart's contract asks clients to name.
RESPONSE_VERSION = "2026-07-27"


class XComputeDialect(Dialect):
    name = "xcompute"
    # APIMart's published contract (UPSTREAMS.md section 1); documented for its own host
    # only: whether the xcompute white-label passes the header through is not.
    idempotency_keys = True
    idempotent_hosts = ("api.apimart.ai",)
    default_model = "grok-imagine-1.0-video-apimart"
    models: Mapping[str, Limits] = {
        "grok-imagine-1.0-video-apimart": _APIMART,  # the seed's only model
        "grok-imagine-1.5-video-apimart": _APIMART,  # APIMart's page; submit answers a list
    }
    statuses: Mapping[str, Status] = {
        "submitted": "queued",
        "pending": "queued",
        "processing": "running",
        "completed": "succeeded",
        "failed": "failed",
        "cancelled": "cancelled",
    }

    def submit_path(self) -> str:
        return "/v1/videos/generations"

    def submit_headers(self, idempotency_key: str) -> dict[str, str]:
        if not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise InvalidVideoRequest(
                self.name,
                "idempotency_key",
                idempotency_key,
                "1 to 191 visible ASCII characters, no spaces (APIMart's rule)",
            )
        return {"Idempotency-Key": idempotency_key, "X-APIMart-Response-Version": RESPONSE_VERSION}

    def submit_request_id(self, body: Any) -> str | None:
        request_id = body.get("request_id") if isinstance(body, Mapping) else None
        return request_id if isinstance(request_id, str) and request_id else None

    def submit_body(self, request: VideoRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
        if request.aspect_ratio is not None:
            body["size"] = request.aspect_ratio
        if request.duration is not None:
            body["duration"] = request.duration
        if request.resolution is not None:
            body["quality"] = request.resolution
        if request.image_urls:
            body["image_urls"] = list(request.image_urls)
        return body

    def parse_submit(self, body: Any) -> str:
        # Documented: {"code":200,"data":{"id":...}}; other APIMart models:
        # {"code":200,"data":[{"task_id":...}]}.  Tolerate a bare object as well.
        data = _unwrap(body)
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, Mapping):
            generation_id = data.get("id") or data.get("task_id")
            if isinstance(generation_id, str) and generation_id:
                return generation_id
        raise self.unexpected("submit answer carries no task id", body)

    def status_call(self, generation_id: str) -> HttpCall:
        generation_id = self.check_generation_id(generation_id)
        return HttpCall("GET", f"/v1/tasks/{path_segment(generation_id)}")

    def parse_status(self, body: Any, generation_id: str) -> ParsedStatus:
        # The API wraps the task in {"code","data"}; xcompute's own status page shows it bare.
        task = self.require_mapping(_unwrap(body), "status answer")
        status, unknown = self.status_of(task.get("status"))
        result = task.get("result") if isinstance(task.get("result"), Mapping) else {}
        urls: list[str] = []
        expiries: list[float] = []
        for video in result.get("videos") or []:
            if not isinstance(video, Mapping):
                continue
            url = video.get("url")
            urls.extend(u for u in ([url] if isinstance(url, str) else url or []) if u)
            expiry = as_epoch(video.get("expires_at"))
            if expiry is not None:
                expiries.append(expiry)
        code, message = (None, None)
        if isinstance(task.get("error"), Mapping) or task.get("error"):
            code, message = error_details(task)
        if status == "succeeded" and not urls:
            status = "failed"
            code = code or "no_video_url"
            message = message or "xcompute reported the task completed but gave no video URL"
        generation = VideoGeneration(
            generation_id=str(task.get("id") or task.get("task_id") or generation_id),
            status=status,
            progress=as_progress(task.get("progress")),
            video_urls=urls,
            thumbnail_url=result.get("thumbnail_url") or None,
            error_code=code,
            error_message=message,
            expires_at=min(expiries) if expiries else None,
            estimated_seconds=_positive_seconds(task.get("estimated_time")),
            created_at=as_epoch(task.get("created")),
        )
        return ParsedStatus(generation, unknown)


def _unwrap(body: Any) -> Any:
    if isinstance(body, Mapping) and "data" in body and ("code" in body or len(body) == 1):
        return body["data"]
    return body


def _positive_seconds(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


DIALECT = XComputeDialect()
