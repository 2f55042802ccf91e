"""xcompute (an APIMart white-label): wire format, as UPSTREAMS.md section 1 documents it.

* ``POST /v1/videos/generations`` -> ``{"code":200,"data":{"id":"task_…","status":"submitted",…}}``
  (or, with ``[emulator:list-submit]``, ``{"code":200,"data":[{"task_id":…,"status":…}]}``)
* ``GET /v1/tasks/{task_id}`` -> ``{"code":200,"data":{task}}`` (bare task with ``[emulator:bare]``)
* errors: ``{"error":{"code":N,"message":"…","type":"…"}}``
"""

from __future__ import annotations

import math
from typing import Any

from airflow_provider_grokvideo.emulator.faults import MarkerError, parse_markers
from airflow_provider_grokvideo.emulator.jobs import QUEUED, RUNNING, UNKNOWN, Job, ulid
from airflow_provider_grokvideo.emulator.upstream import (
    STATUS,
    SUBMIT,
    Links,
    SubmitSpec,
    UpstreamAPI,
    is_http_url,
    is_integer,
    retry_after_header,
)
from airflow_provider_grokvideo.emulator.wire import Reply, json_reply

MODELS: tuple[str, ...] = ("grok-imagine-1.0-video-apimart", "grok-imagine-1.5-video-apimart")
#: Models whose submit answers the list shape ``{"code":200,"data":[{"task_id":…}]}``.
LIST_SUBMIT_MODELS: frozenset[str] = frozenset({"grok-imagine-1.5-video-apimart"})
SIZES: tuple[str, ...] = ("16:9", "9:16", "1:1", "3:2", "2:3")
QUALITIES: tuple[str, ...] = ("480p", "720p")
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 6, 30, 6
MAX_IMAGES = 7
#: Seconds between completion and the expiry of the video URLs.
URL_LIFETIME = 24 * 3600
#: Status word of the ``unknown-status`` scenario (not in xcompute's documented list).
UNKNOWN_WORD = "rendering"

_SUBMIT_PATH = "/v1/videos/generations"
_TASKS_PREFIX = "/v1/tasks/"


def _error(status: int, message: str, kind: str) -> Reply:
    return json_reply(status, {"error": {"code": status, "message": message, "type": kind}})


def estimated_time(seconds: float) -> int:
    """A conservative estimate, larger than the job's real duration (600 s for 265 s upstream)."""
    return max(math.ceil(seconds * 2.5), math.floor(seconds) + 1)


class XComputeAPI(UpstreamAPI):
    name = "xcompute"
    idempotency_keys = True  # APIMart's published contract; see emulator/idempotency.py

    def route(self, method: str, path: str, query: bytes) -> tuple[str, str] | Reply:
        if path.startswith(_TASKS_PREFIX):
            task_id = path[len(_TASKS_PREFIX) :]
            if task_id and "/" not in task_id:
                if method == "GET":
                    return STATUS, task_id
                return _error(405, f"method {method} not allowed", "invalid_request_error")
        elif path == _SUBMIT_PATH:
            if method == "POST":
                return SUBMIT, ""
            return _error(405, f"method {method} not allowed", "invalid_request_error")
        return _error(404, f"Invalid URL ({method} {path})", "invalid_request_error")

    def new_id(self, now: float) -> str:
        return "task_" + ulid(now)

    def unauthorized(self) -> Reply:
        return _error(401, "Invalid or missing API key", "authentication_error")

    def bad_request(self, messages: list[str]) -> Reply:
        return _error(400, "; ".join(messages), "invalid_request_error")

    def invalid_json(self, detail: str) -> Reply:
        return _error(400, f"invalid JSON body: {detail}", "invalid_request_error")

    def too_large(self) -> Reply:
        return _error(413, "request body too large", "invalid_request_error")

    def not_found(self, job_id: str) -> Reply:
        return _error(404, f"task not found: {job_id}", "invalid_request_error")

    def rate_limited(self, retry_after: float) -> Reply:
        reply = _error(429, "Rate limit exceeded, please retry later", "rate_limit_error")
        reply.headers.append(retry_after_header(retry_after))
        return reply

    # ---------------------------------------------------------------------------- validation

    def parse_submit(self, body: Any) -> SubmitSpec | list[str]:
        if not isinstance(body, dict):
            return ["request body must be a JSON object"]
        model = body.get("model")
        if model is None:
            return [f"model is required; supported models: {', '.join(MODELS)}"]
        if model not in MODELS:
            return [f"model {model!r} is not supported; supported models: {', '.join(MODELS)}"]
        prompt = body.get("prompt")
        if prompt is None:
            return ["prompt is required"]
        if not isinstance(prompt, str):
            return [f"prompt must be a string, got {type(prompt).__name__}"]
        if not prompt.strip():
            return ["prompt must not be empty"]
        size = body.get("size")
        if size is not None and size not in SIZES:
            return [f"size {size!r} is not supported; allowed: {', '.join(SIZES)}"]
        duration = body.get("duration")
        if duration is None:
            duration = DEFAULT_DURATION
        elif not is_integer(duration):
            return [
                f"duration must be an integer number of seconds (a JSON number, not a string),"
                f" got {duration!r}"
            ]
        elif not MIN_DURATION <= duration <= MAX_DURATION:
            return [f"duration {duration} is out of range; allowed: {MIN_DURATION}-{MAX_DURATION}"]
        quality = body.get("quality")
        if quality is not None and quality not in QUALITIES:
            return [f"quality {quality!r} is not supported; allowed: {', '.join(QUALITIES)}"]
        images = body.get("image_urls")
        if images is not None:
            if not isinstance(images, list):
                return ["image_urls must be an array of URLs"]
            if len(images) > MAX_IMAGES:
                return [f"image_urls has {len(images)} images; at most {MAX_IMAGES} are allowed"]
            for index, url in enumerate(images):
                if not isinstance(url, str) or not is_http_url(url):
                    return [
                        f"image_urls[{index}] must be a public http(s) URL;"
                        " base64 and data URIs are not supported"
                    ]
        try:
            scenario, _ = parse_markers(prompt, self.name)
        except MarkerError as exc:
            return [str(exc)]
        return SubmitSpec(scenario, float(duration), model)

    # ---------------------------------------------------------------------------- answers

    def key_conflict(self, message: str) -> Reply:
        return _error(409, message, "idempotency_error")

    def submitted(self, job: Job) -> Reply:
        # The envelope's request_id (APIMart's contract) identifies this answer, not the task.
        request_id = f"req_{ulid()}"
        if job.scenario.list_submit or job.model in LIST_SUBMIT_MODELS:
            data = [{"task_id": job.id, "status": "submitted"}]
            return json_reply(200, {"code": 200, "data": data, "request_id": request_id})
        return json_reply(
            200,
            {
                "code": 200,
                "data": {
                    "id": job.id,
                    "status": "submitted",
                    "progress": 0,
                    "created": int(job.created),
                    "type": "video",
                },
                "request_id": request_id,
            },
        )

    def task(self, job: Job, now: float, links: Links) -> dict[str, Any]:
        """The task object of a status answer (without the ``code``/``data`` envelope)."""
        phase = job.phase(now)
        created = int(job.created)
        estimate = estimated_time(job.seconds)
        if phase == QUEUED:
            return {
                "id": job.id,
                "status": "pending",
                "progress": 0,
                "created": created,
                "estimated_time": estimate,
            }
        if phase in (RUNNING, UNKNOWN):
            return {
                "id": job.id,
                "status": "processing" if phase == RUNNING else UNKNOWN_WORD,
                "progress": job.progress(now),
                "created": created,
                "estimated_time": estimate,
            }
        completed = int(job.ends)
        actual = max(1, math.ceil(job.seconds))
        if phase == "succeeded" or phase == "no_url":
            result: dict[str, Any]
            if phase == "no_url":
                result = {"videos": []}
            else:
                url = links.video(job.id)
                scenario = job.scenario
                expires = completed - 3600 if scenario.url_expired else completed + URL_LIFETIME
                result = {
                    "thumbnail_url": links.thumbnail(job.id),
                    "videos": [
                        {"url": url if scenario.url_string else [url], "expires_at": expires}
                    ],
                }
            return {
                "id": job.id,
                "status": "completed",
                "progress": 100,
                "result": result,
                "created": created,
                "completed": completed,
                "estimated_time": estimate,
                "actual_time": actual,
            }
        if phase == "cancelled":
            return {
                "id": job.id,
                "status": "cancelled",
                "progress": 0,
                "created": created,
                "completed": completed,
                "estimated_time": estimate,
            }
        # failed (content rejected)
        return {
            "id": job.id,
            "status": "failed",
            "progress": 0,
            "created": created,
            "completed": completed,
            "estimated_time": estimate,
            "error": {
                "code": 400,
                "message": "content rejected: the request violates the content policy",
                "type": "content_policy_violation",
            },
        }

    def status(self, job: Job, now: float, links: Links) -> Reply:
        task = self.task(job, now, links)
        if job.scenario.bare:
            return json_reply(200, task)
        return json_reply(200, {"code": 200, "data": task})
