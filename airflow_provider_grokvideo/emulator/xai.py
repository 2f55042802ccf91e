"""xAI's official REST API: wire format, as UPSTREAMS.md section 3 documents it.

* ``POST /v1/videos/generations`` -> ``{"request_id":"…"}`` (text, one ``image`` or up to 7
  ``reference_images`` to video)
* ``POST /v1/videos/edits`` and ``POST /v1/videos/extensions`` (a ``video`` to change or to
  continue) -> ``{"request_id":"…"}``, polled like generations
* ``GET /v1/videos/{request_id}`` -> HTTP 200 with ``status`` ``pending`` | ``done`` |
  ``failed`` | ``expired`` (``progress`` present while the job runs); while the job runs, HTTP
  202 instead when asked (``pending_202``: ``"empty"`` answers no body, ``"body"``
  ``{"status":"pending","progress":N}``), as xAI's schema allows
* errors: ``{"code":"Client specified an invalid argument","error":"…"}``; a bad API key is a
  400 (not a 401) whose message says "Incorrect API key provided".
* cost: a ``done`` answer carries the billed cost in ``usage.cost_in_usd_ticks``
  (1 USD = 10**10 ticks), the duration times the published price per second.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from airflow_provider_grokvideo.emulator.delivery import awaiting_delivery, storage_error
from airflow_provider_grokvideo.emulator.faults import (
    PENDING_202_SHAPES,
    MarkerError,
    parse_markers,
)
from airflow_provider_grokvideo.emulator.jobs import QUEUED, RUNNING, UNKNOWN, Job, uuid4_hex
from airflow_provider_grokvideo.emulator.media import shape_for
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

#: Marker values and ``xai_pending_202`` settings: how a running job's poll answers HTTP 202.
PENDING_202 = PENDING_202_SHAPES

MODEL = "grok-imagine-video"
#: Imagine 1.5 (stable since 2026-06-22) takes the same fields.
MODELS: tuple[str, ...] = (MODEL, "grok-imagine-video-1.5")
#: Ticks per second of video by resolution: the published $0.05/s at 480p and $0.07/s at 720p
#: of grok-imagine-video.  No 1.5 price is published: the emulator bills 1.5 the same, and a
#: request without a resolution at 480p (xAI's default is not documented).
TICKS_PER_SECOND: dict[str, int] = {"480p": 500_000_000, "720p": 700_000_000}
#: No 1080p price is published (Imagine 1.5 only): the emulator bills it as 720p.
TICKS_PER_SECOND["1080p"] = TICKS_PER_SECOND["720p"]
#: Imagine 1.5: xAI's model list gives $0.08/s as its base price, billed so at every resolution.
MODEL_TICKS_PER_SECOND: dict[str, int] = {"grok-imagine-video-1.5": 800_000_000}
UNSPECIFIED_RESOLUTION = "480p"
#: xAI's documented default aspect ratio.
DEFAULT_ASPECT_RATIO = "16:9"
#: reference_audios: preset voices (xAI's TTS voices) or clips, at most 3, on 1.5 only.
VOICES: tuple[str, ...] = ("ara", "eve", "leo", "rex", "sal")
MAX_REFERENCE_AUDIOS = 3
AUDIO_MODELS: tuple[str, ...] = ("grok-imagine-video-1.5",)
MAX_KEYFRAMES = 4
STORAGE_KEYS = frozenset({"filename", "expires_after", "public_url"})
ASPECT_RATIOS: tuple[str, ...] = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
RESOLUTIONS: tuple[str, ...] = ("480p", "720p")
#: 1080p "on models that advertise it": Imagine 1.5.
MODEL_RESOLUTIONS: dict[str, tuple[str, ...]] = {"grok-imagine-video-1.5": (*RESOLUTIONS, "1080p")}
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 1, 15, 8
#: reference_images: at most 7; a video from them lasts at most 10 s; not with ``image``.
MAX_REFERENCE_IMAGES, MAX_REFERENCE_DURATION = 7, 10
#: Edits: the source video is at most 8.7 s long.
MAX_EDIT_SOURCE = 8.7
#: Extensions: 2..10 s added (6 by default) to a source of 2..30 s (the schema; the docs say 15).
MIN_EXTENSION, MAX_EXTENSION, DEFAULT_EXTENSION = 2, 10, 6
MIN_EXTEND_SOURCE, MAX_EXTEND_SOURCE = 2.0, 30.0
#: Status word of the ``unknown-status`` scenario (not in xAI's documented list).
UNKNOWN_WORD = "rendering"

INVALID_ARGUMENT = "Client specified an invalid argument"
NOT_FOUND = "Some requested entity was not found"
EXHAUSTED = "Some resource has been exhausted"

_SUBMIT_PATH = "/v1/videos/generations"
_VIDEOS_PREFIX = "/v1/videos/"
EDIT, EXTEND = "edit", "extend"
_OPERATION_PATHS = {"/v1/videos/edits": EDIT, "/v1/videos/extensions": EXTEND}

# -- ASSUMPTION: how long an edit's or an extension's output is ------------------------------
# xAI documents the inputs (an edit takes a source of at most 8.7 s, an extension adds 2..10 s)
# and that the output follows the input's format, but not the output's length.  The emulator
# assumes, here and nowhere else: an edit keeps its source's length; an extension is its source
# plus the seconds added.  A source it did not make itself (a foreign URL, a data URI, a Files
# id) is assumed UNKNOWN_SOURCE_SECONDS long.
UNKNOWN_SOURCE_SECONDS = 6.0


def output_seconds(operation: str, source_seconds: float, added_seconds: float = 0.0) -> float:
    """The assumed length of an edit's (``source``) or an extension's (``source + added``)
    output; see the assumption above."""
    return source_seconds + added_seconds if operation == EXTEND else source_seconds


_VIDEO_DATA_URI = re.compile(r"^data:video/mp4;base64,[A-Za-z0-9+/=\s]+$", re.IGNORECASE)


def _error(status: int, code: str, message: str) -> Reply:
    return json_reply(status, {"code": code, "error": message})


class XaiAPI(UpstreamAPI):
    """xAI's wire format.  ``pending_202`` (``"empty"``, ``"body"`` or None) makes every running
    job's poll answer HTTP 202 (a job's ``[emulator:pending-202=...]`` marker wins);
    ``source_seconds`` tells the length of a video the emulator made, from its URL."""

    name = "xai"

    def __init__(
        self,
        *,
        pending_202: str | None = None,
        source_seconds: Callable[[str], float | None] | None = None,
    ) -> None:
        self.pending_202 = check_pending_202(pending_202)
        self.source_seconds = source_seconds or (lambda url: None)

    def route(self, method: str, path: str, query: bytes) -> tuple[str, str] | Reply:
        operation = _OPERATION_PATHS.get(path)
        if path == _SUBMIT_PATH or operation is not None:
            if method == "POST":
                return SUBMIT, operation or ""
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
        problem = _prompt_and_model_problem(body)
        if problem:
            return [problem]
        prompt, model = body["prompt"], body.get("model")
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
        allowed = MODEL_RESOLUTIONS.get(model or MODEL, RESOLUTIONS)
        if resolution is not None and resolution not in allowed:
            return [
                f"resolution {resolution!r} is not supported by {model or MODEL}; allowed: "
                + ", ".join(allowed)
            ]
        image = body.get("image")
        if image is not None:
            problem = _image_problem(image, "image")
            if problem:
                return [problem]
        references = body.get("reference_images")
        if references is not None:
            problem = _check_references(references, image, duration)
            if problem:
                return [problem]
        problem = newer_fields_problem(body, model or MODEL, duration)
        if problem:
            return [problem]
        try:
            scenario, _ = parse_markers(prompt, self.name)
        except MarkerError as exc:
            return [str(exc)]
        ticks = duration * MODEL_TICKS_PER_SECOND.get(
            model or MODEL, TICKS_PER_SECOND[resolution or UNSPECIFIED_RESOLUTION]
        )
        shape = shape_for(
            duration,
            ratio or DEFAULT_ASPECT_RATIO,
            resolution or UNSPECIFIED_RESOLUTION,
            _with_sound(body),
            mismatch=scenario.mismatch,
        )
        return SubmitSpec(
            scenario,
            float(duration),
            model or MODEL,
            ticks,
            shape,
            body.get("storage_options"),
            _upload_url(body),
        )

    def parse_operation(self, body: Any, operation: str) -> SubmitSpec | list[str]:
        """An edit (``POST /v1/videos/edits``) or extension (``/v1/videos/extensions``)."""
        problem = _prompt_and_model_problem(body) or storage_problem(body)
        if problem:
            return [problem]
        prompt, model = body["prompt"], body.get("model")
        known = {"prompt", "model", "video", "duration", "output", "user", "storage_options"}
        unknown = sorted(set(body) - known)
        if operation == EDIT and "duration" in body:
            unknown.append("duration")
        if unknown:
            return [f"unknown field(s) for a video {operation}: {', '.join(unknown)}"]
        video = body.get("video")
        if video is None:
            return ["video is required"]
        if not isinstance(video, dict) or not (
            isinstance(video.get("url"), str) or isinstance(video.get("file_id"), str)
        ):
            return ['video must be an object {"url": "<http(s) URL or data URI>"} or {"file_id"}']
        url = video.get("url")
        if isinstance(url, str) and not (is_http_url(url) or _VIDEO_DATA_URI.match(url)):
            return ["video.url must be an http(s) URL or a base64 data:video/mp4 URI"]
        # A file id the emulator did not receive is, as a foreign URL, of unknown length.
        source = self.source_seconds(url if url is not None else video["file_id"])
        source = UNKNOWN_SOURCE_SECONDS if source is None else source
        added = 0.0
        if operation == EDIT:
            if source > MAX_EDIT_SOURCE:
                return [f"video is {source:g} s long; an edit takes at most {MAX_EDIT_SOURCE} s"]
        else:
            duration = body.get("duration")
            if duration is None:
                duration = DEFAULT_EXTENSION
            elif not is_integer(duration):
                return [f"duration must be an integer number of seconds, got {duration!r}"]
            elif not MIN_EXTENSION <= duration <= MAX_EXTENSION:
                return [
                    f"duration {duration} is out of range; allowed: {MIN_EXTENSION}-{MAX_EXTENSION}"
                ]
            if not MIN_EXTEND_SOURCE <= source <= MAX_EXTEND_SOURCE:
                return [
                    f"video is {source:g} s long; an extension takes {MIN_EXTEND_SOURCE:g} to "
                    f"{MAX_EXTEND_SOURCE:g} s"
                ]
            added = float(duration)
        try:
            scenario, _ = parse_markers(prompt, self.name)
        except MarkerError as exc:
            return [str(exc)]
        # Billed: an extension its added seconds, an edit its source's; at 480p (the source's
        # resolution is not tracked), as a generation without a resolution.
        billed = added if operation == EXTEND else source
        ticks = round(billed * TICKS_PER_SECOND[UNSPECIFIED_RESOLUTION])
        seconds = output_seconds(operation, source, added)
        # The output follows the source's format: the emulator's own sources are 16:9 480p.
        shape = shape_for(
            seconds, DEFAULT_ASPECT_RATIO, UNSPECIFIED_RESOLUTION, True, mismatch=scenario.mismatch
        )
        return SubmitSpec(
            scenario,
            seconds,
            model or MODEL,
            ticks,
            shape,
            body.get("storage_options"),
            _upload_url(body),
        )

    # ---------------------------------------------------------------------------- answers

    def submitted(self, job: Job) -> Reply:
        return json_reply(200, {"request_id": job.id})

    def status(self, job: Job, now: float, links: Links) -> Reply:
        phase = job.phase(now)
        if phase == "succeeded" and awaiting_delivery(job):
            phase = RUNNING  # done, but not yet PUT to its upload_url
        model = job.model or MODEL
        body: dict[str, Any]
        pending_202 = job.scenario.pending_202 or self.pending_202
        if pending_202 is not None and phase in (QUEUED, RUNNING):
            if pending_202 == "empty":
                return Reply(202, b"", [])
            return json_reply(202, {"status": "pending", "progress": job.progress(now)})
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
            video: dict[str, Any] = {
                "url": links.video(job.id),
                "duration": int(duration) if duration == int(duration) else duration,
                "respect_moderation": True,
            }
            if job.storage_options is not None:
                video["file_output"] = file_output(job, links)
            error = storage_error(job)
            if error is not None:
                video["storage_error"] = {"code": "upload_failed", "message": error}
            body = {
                "status": "done",
                "video": video,
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


def file_output(job: Job, links: Links) -> dict[str, Any]:
    """``video.file_output``: the output kept in xAI's Files as ``storage_options`` asked."""
    options = job.storage_options or {}
    ends = job.ends
    output: dict[str, Any] = {
        "file_id": f"file_{job.id}",
        "filename": options.get("filename") or f"{job.id}.mp4",
        "expires_at": int(ends + options["expires_after"]) if "expires_after" in options else None,
    }
    public = options.get("public_url")
    if public:
        life = public.get("expires_after", 86_400) if isinstance(public, dict) else 86_400
        output["public_url"] = links.video(job.id)
        output["public_url_expires_at"] = int(ends + life)
    return output


def newer_fields_problem(body: dict[str, Any], model: str, duration: int) -> str | None:
    """``reference_audios``, ``generate_audio``, ``keyframes``, ``storage_options`` and
    ``output`` (UPSTREAMS.md, "xAI's newer request fields")."""
    audios = body.get("reference_audios")
    if audios is not None:
        if model not in AUDIO_MODELS:
            return f"reference_audios is not supported by {model}"
        if not isinstance(audios, list) or not 1 <= len(audios) <= MAX_REFERENCE_AUDIOS:
            return f"reference_audios must be an array of 1..{MAX_REFERENCE_AUDIOS} items"
        for item in audios:
            if not isinstance(item, dict):
                return 'reference_audios items must be {"voice_id"} or {"url"}'
            voice, url = item.get("voice_id"), item.get("url")
            if voice is not None and voice not in VOICES:
                return f"unknown voice_id {voice!r}; voices: {', '.join(VOICES)}"
            if voice is None and not (
                isinstance(url, str) and (is_http_url(url) or url.startswith("data:audio/"))
            ):
                return "reference_audios[].url must be an http(s) URL or a data:audio/ URI"
    if "generate_audio" in body and not isinstance(body["generate_audio"], bool):
        return "generate_audio must be a boolean"
    keyframes = body.get("keyframes")
    if keyframes is not None:
        if not isinstance(keyframes, list) or len(keyframes) > MAX_KEYFRAMES:
            return f"keyframes must be an array of at most {MAX_KEYFRAMES}"
        for item in keyframes:
            moment = item.get("timestamp_s") if isinstance(item, dict) else None
            if not isinstance(moment, (int, float)) or not 0 < moment < duration:
                return f"keyframes[].timestamp_s must be within (0, {duration})"
            problem = _image_problem(item.get("image"), "keyframes[].image")
            if problem:
                return problem
    return storage_problem(body)


def storage_problem(body: dict[str, Any]) -> str | None:
    """``storage_options`` and ``output`` (shared by generations, edits and extensions)."""
    storage = body.get("storage_options")
    if storage is not None:
        if not isinstance(storage, dict) or set(storage) - STORAGE_KEYS:
            return "storage_options takes filename, expires_after and public_url"
        for life in (storage.get("expires_after"), _public_life(storage.get("public_url"))):
            if life is not None and (not is_integer(life) or not 3600 <= life <= 2_592_000):
                return "expires_after must be 3600..2592000 seconds"
    output = body.get("output")
    if output is not None and (
        not isinstance(output, dict) or not is_http_url(output.get("upload_url") or "")
    ):
        return 'output must be {"upload_url": "<a signed http(s) URL>"}'
    return None


def _public_life(public: Any) -> Any:
    return public.get("expires_after") if isinstance(public, dict) else None


def _image_problem(image: Any, name: str) -> str | None:
    if not isinstance(image, dict):
        return f'{name} must be an object {{"url"}} or {{"file_id"}}'
    if isinstance(image.get("file_id"), str) and "url" not in image:
        return None
    url = image.get("url")
    if not isinstance(url, str) or not (is_http_url(url) or is_image_data_uri(url)):
        return f"{name}.url must be an http(s) URL or a base64 data:image/... URI"
    return None


def _with_sound(body: dict[str, Any]) -> bool:
    """xAI's videos have sound unless ``generate_audio`` is false."""
    return body.get("generate_audio") is not False


def _upload_url(body: dict[str, Any]) -> str | None:
    output = body.get("output")
    return output.get("upload_url") if isinstance(output, dict) else None


def check_pending_202(value: str | None) -> str | None:
    """``"empty"``, ``"body"`` or None (an empty string or ``"off"`` too)."""
    if value in (None, "", "off"):
        return None
    if value not in PENDING_202:
        raise ValueError(f"xai_pending_202 must be one of {', '.join(PENDING_202)} or off")
    return value


def _check_references(references: Any, image: Any, duration: int) -> str | None:
    if not isinstance(references, list) or not references:
        return 'reference_images must be a non-empty array of {"url"} or {"file_id"}'
    if len(references) > MAX_REFERENCE_IMAGES:
        return f"reference_images: at most {MAX_REFERENCE_IMAGES} images, got {len(references)}"
    if image is not None:
        return "image and reference_images cannot be used together"
    if duration > MAX_REFERENCE_DURATION:
        return f"duration {duration} is too long with reference_images: at most 10"
    for item in references:
        if not isinstance(item, dict):
            return 'reference_images items must be objects {"url"} or {"file_id"}'
        url = item.get("url")
        if isinstance(item.get("file_id"), str) and url is None:
            continue
        if not isinstance(url, str) or not (is_http_url(url) or is_image_data_uri(url)):
            return "reference_images[].url must be an http(s) URL or a base64 data:image/... URI"
    return None


def _prompt_and_model_problem(body: Any) -> str | None:
    """What every xAI video POST (generation, edit, extension) checks first."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    prompt = body.get("prompt")
    if prompt is None:
        return "prompt is required"
    if not isinstance(prompt, str):
        return f"prompt must be a string, got {type(prompt).__name__}"
    if not prompt.strip():
        return "prompt must not be empty"
    model = body.get("model")
    if model is not None and model not in MODELS:
        return f"Model not found: {model!r}; video models: {', '.join(MODELS)}"
    return None
