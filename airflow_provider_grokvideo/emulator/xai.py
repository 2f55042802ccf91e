"""xAI's official REST API: wire format, as UPSTREAMS.md section 3 documents it.

* ``POST /v1/videos/generations`` -> ``{"request_id":"…"}``
* ``GET /v1/videos/{request_id}`` -> HTTP 200 with ``status`` ``pending`` | ``done`` |
  ``failed`` | ``expired`` (``progress`` present while the job runs)
* errors: ``{"code":"Client specified an invalid argument","error":"…"}``; a bad API key is a
  400 (not a 401) whose message says "Incorrect API key provided".
* cost: a ``done`` answer carries the billed cost in ``usage.cost_in_usd_ticks``
  (1 USD = 10**10 ticks), the duration times the published price per second.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_grokvideo.emulator.faults import MarkerError, parse_markers
from airflow_provider_grokvideo.emulator.jobs import QUEUED, RUNNING, UNKNOWN, Job, uuid4_hex
from airflow_provider_grokvideo.emulator.upstream import (
    STATUS,
    SUBMIT,
    Links,
    SubmitSpec,
    UpstreamAPI,
    is_http_url,
    is_image_data_uri,
    is_integer,
    retry_after_header,
)
from airflow_provider_grokvideo.emulator.wire import Reply, json_reply

MODEL = "grok-imagine-video"
#: Imagine 1.5 (stable since 2026-06-22) takes the same fields.
MODELS: tuple[str, ...] = (MODEL, "grok-imagine-video-1.5")
#: Ticks per second of video by resolution: the published $0.05/s at 480p and $0.07/s at 720p
#: of grok-imagine-video.  No 1.5 price is published: the emulator bills 1.5 the same, and a
#: request without a resolution at 480p (xAI's default is not documented).
TICKS_PER_SECOND: dict[str, int] = {"480p": 500_000_000, "720p": 700_000_000}
UNSPECIFIED_RESOLUTION = "480p"
ASPECT_RATIOS: tuple[str, ...] = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
RESOLUTIONS: tuple[str, ...] = ("480p", "720p")
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 1, 15, 8
#: Status word of the ``unknown-status`` scenario (not in xAI's documented list).
UNKNOWN_WORD = "rendering"

INVALID_ARGUMENT = "Client specified an invalid argument"
NOT_FOUND = "Some requested entity was not found"
EXHAUSTED = "Some resource has been exhausted"

_SUBMIT_PATH = "/v1/videos/generations"
_VIDEOS_PREFIX = "/v1/videos/"


def _error(status: int, code: str, message: str) -> Reply:
    return json_reply(status, {"code": code, "error": message})


class XaiAPI(UpstreamAPI):
    name = "xai"

    def route(self, method: str, path: str, query: bytes) -> tuple[str, str] | Reply:
        if path == _SUBMIT_PATH:
            if method == "POST":
                return SUBMIT, ""
            return _error(405, INVALID_ARGUMENT, f"Method {method} is not allowed on {path}")
        if path.startswith(_VIDEOS_PREFIX):
            request_id = path[len(_VIDEOS_PREFIX) :]
            if request_id and "/" not in request_id:
                if method == "GET":
                    return STATUS, request_id
                return _error(405, INVALID_ARGUMENT, f"Method {method} is not allowed on {path}")
        return _error(404, NOT_FOUND, f"No handler found for {method} {path}")

    def new_id(self, now: float) -> str:
        return uuid4_hex()

    def unauthorized(self) -> Reply:
        # The real answer masks the key ("xa***ab"); the emulator never echoes any of it.
        return _error(
            400,
            INVALID_ARGUMENT,
            "Incorrect API key provided: ***. You can obtain an API key from https://console.x.ai.",
        )

    def bad_request(self, messages: list[str]) -> Reply:
        return _error(400, INVALID_ARGUMENT, "; ".join(messages))

    def invalid_json(self, detail: str) -> Reply:
        return _error(400, INVALID_ARGUMENT, f"Failed to deserialize the JSON body: {detail}")

    def too_large(self) -> Reply:
        return _error(413, INVALID_ARGUMENT, "Request body is too large")

    def not_found(self, job_id: str) -> Reply:
        return _error(404, NOT_FOUND, f"No video generation request found with id {job_id}")

    def rate_limited(self, retry_after: float) -> Reply:
        return json_reply(
            429,
            {"code": EXHAUSTED, "error": "Too many requests: rate limit exceeded, retry later"},
            [retry_after_header(retry_after)],
        )

    # ---------------------------------------------------------------------------- validation

    def parse_submit(self, body: Any) -> SubmitSpec | list[str]:
        if not isinstance(body, dict):
            return ["request body must be a JSON object"]
        prompt = body.get("prompt")
        if prompt is None:
            return ["prompt is required"]
        if not isinstance(prompt, str):
            return [f"prompt must be a string, got {type(prompt).__name__}"]
        if not prompt.strip():
            return ["prompt must not be empty"]
        model = body.get("model")
        if model is not None and model not in MODELS:
            return [f"Model not found: {model!r}; video models: {', '.join(MODELS)}"]
        duration = body.get("duration")
        if duration is None:
            duration = DEFAULT_DURATION
        elif not is_integer(duration):
            return [f"duration must be an integer number of seconds, got {duration!r}"]
        elif not MIN_DURATION <= duration <= MAX_DURATION:
            return [f"duration {duration} is out of range; allowed: {MIN_DURATION}-{MAX_DURATION}"]
        ratio = body.get("aspect_ratio")
        if ratio is not None and ratio not in ASPECT_RATIOS:
            return [f"aspect_ratio {ratio!r} is not supported; allowed: {', '.join(ASPECT_RATIOS)}"]
        resolution = body.get("resolution")
        if resolution is not None and resolution not in RESOLUTIONS:
            return [
                f"resolution {resolution!r} is not supported; allowed: {', '.join(RESOLUTIONS)}"
            ]
        image = body.get("image")
        if image is not None:
            if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                return ['image must be an object {"url": "<http(s) URL or data URI>"}']
            url = image["url"]
            if not (is_http_url(url) or is_image_data_uri(url)):
                return ["image.url must be an http(s) URL or a base64 data:image/... URI"]
        try:
            scenario, _ = parse_markers(prompt, self.name)
        except MarkerError as exc:
            return [str(exc)]
        ticks = duration * TICKS_PER_SECOND[resolution or UNSPECIFIED_RESOLUTION]
        return SubmitSpec(scenario, float(duration), model or MODEL, ticks)

    # ---------------------------------------------------------------------------- answers

    def submitted(self, job: Job) -> Reply:
        return json_reply(200, {"request_id": job.id})

    def status(self, job: Job, now: float, links: Links) -> Reply:
        phase = job.phase(now)
        model = job.model or MODEL
        body: dict[str, Any]
        if phase == QUEUED:
            body = {"status": "pending", "model": model}
        elif phase in (RUNNING, UNKNOWN):
            body = {
                "status": "pending" if phase == RUNNING else UNKNOWN_WORD,
                "progress": job.progress(now),
                "model": model,
            }
        elif phase == "succeeded":
            duration = job.video_duration
            body = {
                "status": "done",
                "video": {
                    "url": links.video(job.id),
                    "duration": int(duration) if duration == int(duration) else duration,
                    "respect_moderation": True,
                },
                "model": model,
                "usage": {"cost_in_usd_ticks": job.cost_ticks},
            }
        elif phase == "no_url":
            duration = job.video_duration
            body = {
                "status": "done",
                "video": {
                    "duration": int(duration) if duration == int(duration) else duration,
                    "respect_moderation": False,
                },
                "model": model,
                # The video was rendered, then withheld: it is billed all the same.
                "usage": {"cost_in_usd_ticks": job.cost_ticks},
            }
        elif phase == "expired":
            body = {"status": "expired", "model": model}
        else:
            body = {
                "status": "failed",
                "error": {
                    "code": "invalid_argument",
                    "message": "Generated video rejected by content moderation.",
                },
                "model": model,
            }
        return json_reply(200, body)
