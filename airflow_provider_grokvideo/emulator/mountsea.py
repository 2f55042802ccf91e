"""Mountsea: wire format, as UPSTREAMS.md section 2 and the seed's OpenAPI document it.

* ``POST /xai/videos`` -> ``{"taskId":"…"}`` (no envelope)
* ``GET /xai/tasks?taskId=…`` -> ``{"taskId","status","result","errorMessage","errorCode",
  "finishedAt","createdAt","traceId"}``
* errors: Mountsea is a NestJS application (operationId ``XaiVideoController_generateVideo``),
  so errors are NestJS's: ``{"statusCode":401,"message":"Unauthorized"}`` and, for
  class-validator failures, ``{"statusCode":400,"message":[…],"error":"Bad Request"}``.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_grokvideo.emulator.faults import MarkerError, parse_markers
from airflow_provider_grokvideo.emulator.jobs import QUEUED, RUNNING, UNKNOWN, Job, uuid4_hex
from airflow_provider_grokvideo.emulator.upstream import (
    STATUS,
    SUBMIT,
    Links,
    SubmitSpec,
    UpstreamAPI,
    is_http_url,
    is_number,
    retry_after_header,
)
from airflow_provider_grokvideo.emulator.wire import Reply, json_reply

MODELS: tuple[str, ...] = ("grok-imagine-video",)
DURATIONS: tuple[int, ...] = (6, 10, 12, 16, 20)
ASPECT_RATIOS: tuple[str, ...] = ("2:3", "3:2", "1:1", "9:16", "16:9")
RESOLUTIONS: tuple[str, ...] = ("480P", "720P")
DEFAULT_DURATION = 6
MAX_PROMPT_CHARS = 1000
MAX_IMAGES = 5
#: Queue words, in the order a job passes through them.
QUEUE_WORDS: tuple[str, ...] = ("pending", "ready", "assigned")
#: Status word of the ``unknown-status`` scenario (not in Mountsea's documented list).
UNKNOWN_WORD = "rendering"

_SUBMIT_PATH = "/xai/videos"
_STATUS_PATH = "/xai/tasks"


def _one_of(field: str, allowed: tuple[Any, ...]) -> str:
    return f"{field} must be one of the following values: {', '.join(str(a) for a in allowed)}"


def _bad_request(message: str | list[str]) -> Reply:
    return json_reply(400, {"statusCode": 400, "message": message, "error": "Bad Request"})


def iso(ts: float) -> str:
    """JavaScript's ``Date.prototype.toISOString()`` of a unix time."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def task_id_from_query(query: bytes) -> str | None:
    """The ``taskId`` query parameter, if any."""
    if not query:
        return None
    if query.startswith(b"taskId=") and b"&" not in query and b"%" not in query:
        return query[7:].decode("latin-1") or None
    values = parse_qs(query.decode("latin-1"))
    found = values.get("taskId")
    return found[0] if found and found[0] else None


class MountseaAPI(UpstreamAPI):
    name = "mountsea"

    def route(self, method: str, path: str, query: bytes) -> tuple[str, str] | Reply:
        if path == _STATUS_PATH and method == "GET":
            task_id = task_id_from_query(query)
            if task_id is None:
                return _bad_request(["taskId should not be empty", "taskId must be a string"])
            return STATUS, task_id
        if path == _SUBMIT_PATH and method == "POST":
            return SUBMIT, ""
        return json_reply(
            404, {"message": f"Cannot {method} {path}", "error": "Not Found", "statusCode": 404}
        )

    def new_id(self, now: float) -> str:
        return uuid4_hex()

    def unauthorized(self) -> Reply:
        return json_reply(401, {"statusCode": 401, "message": "Unauthorized"})

    def bad_request(self, messages: list[str]) -> Reply:
        return _bad_request(messages)

    def invalid_json(self, detail: str) -> Reply:
        return _bad_request(detail)

    def too_large(self) -> Reply:
        return json_reply(
            413,
            {
                "statusCode": 413,
                "message": "request entity too large",
                "error": "Payload Too Large",
            },
        )

    def not_found(self, job_id: str) -> Reply:
        return json_reply(
            404, {"statusCode": 404, "message": f"Task {job_id} not found", "error": "Not Found"}
        )

    def rate_limited(self, retry_after: float) -> Reply:
        return json_reply(
            429,
            {"statusCode": 429, "message": "ThrottlerException: Too Many Requests"},
            [retry_after_header(retry_after)],
        )

    # ---------------------------------------------------------------------------- validation

    def parse_submit(self, body: Any) -> SubmitSpec | list[str]:
        """class-validator on ``GenerateVideoDto``: every failed rule, in field order."""
        if not isinstance(body, dict):
            return ["request body must be a JSON object"]
        errors: list[str] = []
        scenario = None
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            errors.append(f"prompt must be shorter than or equal to {MAX_PROMPT_CHARS} characters")
            errors.append("prompt must be a string")
        elif not prompt.strip():
            errors.append("prompt should not be empty")
        else:
            try:
                scenario, stripped = parse_markers(prompt, self.name)
            except MarkerError as exc:
                errors.append(str(exc))
            else:
                # The limit applies to the prompt without its emulator markers.
                if len(stripped) > MAX_PROMPT_CHARS:
                    errors.append(
                        f"prompt must be shorter than or equal to {MAX_PROMPT_CHARS} characters"
                    )
        if body.get("model") not in MODELS:
            errors.append(_one_of("model", MODELS))
        duration = body.get("duration")
        if duration is None:
            duration = DEFAULT_DURATION
        elif not is_number(duration) or duration not in DURATIONS:
            errors.append(_one_of("duration", DURATIONS))
        ratio = body.get("aspectRatio")
        if ratio is not None and ratio not in ASPECT_RATIOS:
            errors.append(_one_of("aspectRatio", ASPECT_RATIOS))
        resolution = body.get("resolution")
        if resolution is not None and resolution not in RESOLUTIONS:
            errors.append(_one_of("resolution", RESOLUTIONS))
        images = body.get("images")
        if images is not None:
            if not isinstance(images, list):
                errors.append("images must be an array")
            else:
                if len(images) > MAX_IMAGES:
                    errors.append(f"images must contain no more than {MAX_IMAGES} elements")
                if not all(isinstance(url, str) for url in images):
                    errors.append("each value in images must be a string")
                elif not all(is_http_url(url) for url in images):
                    errors.append("each value in images must be a URL address")
        if errors or scenario is None:
            return errors or ["prompt must be a string"]
        return SubmitSpec(scenario, float(duration), str(body["model"]))

    # ---------------------------------------------------------------------------- answers

    def submitted(self, job: Job) -> Reply:
        return json_reply(200, {"taskId": job.id})

    def result(self, job: Job, links: Links) -> dict[str, Any]:
        """The ``result`` of a completed task, in the shape the job's scenario asks for."""
        url = links.video(job.id)
        shape = job.scenario.result_shape
        if shape == "output":
            return {"output": {"videos": [{"url": url}]}}
        if shape == "other":
            return {"assets": [{"kind": "video", "link": url}]}
        return {"videoUrl": url}

    def status(self, job: Job, now: float, links: Links) -> Reply:
        phase = job.phase(now)
        result: dict[str, Any] = {}
        error_message: str | None = None
        error_code: int | None = None
        finished: str | None = None
        if phase == QUEUED:
            word = QUEUE_WORDS[min(2, int(job.queue_fraction(now) * 3))]
        elif phase == RUNNING:
            word = "processing"
        elif phase == UNKNOWN:
            word = UNKNOWN_WORD
        else:
            finished = iso(job.ends)
            if phase == "succeeded":
                word = "completed"
                result = self.result(job, links)
            elif phase == "no_url":
                word = "completed"
            elif phase == "cancelled":
                word = "cancelled"
                error_message = "task cancelled"
            elif phase == "timeout":
                word = "timeout"
                error_message = "video generation timed out"
                error_code = 504
            else:
                word = "failed"
                error_message = "content rejected: the request violates the content policy"
                error_code = 400
        return json_reply(
            200,
            {
                "taskId": job.id,
                "status": word,
                "result": result,
                "errorMessage": error_message,
                "errorCode": error_code,
                "finishedAt": finished,
                "createdAt": iso(job.created),
                "traceId": os.urandom(16).hex(),
            },
        )
