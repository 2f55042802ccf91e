"""xAI, the official REST API: ``POST /v1/videos/generations`` (text, image or reference images
to video), ``POST /v1/videos/edits``, ``POST /v1/videos/extensions``, all three polled at
``GET /v1/videos/{request_id}``.

See UPSTREAMS.md section 3.  Completed and failed generations both answer HTTP 200; a job still
in progress may answer HTTP 202, with no body or ``{"status":"pending","progress":24}``
(:meth:`Dialect.parse_still_running`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_grokvideo.dialects.base import (
    OPTION_FIELDS,
    Dialect,
    HttpCall,
    Limits,
    ParsedStatus,
    SourceLimits,
    as_progress,
    error_details,
    path_segment,
)
from airflow_provider_grokvideo.models import (
    MediaOptions,
    SourceVideoRequest,
    Status,
    VideoGeneration,
    VideoRequest,
    file_id_of,
)

#: The endpoint's documented fields (UPSTREAMS.md section 3).  Its default resolution is not
#: documented, so the cost estimate of a request without one takes the dearest.
_IMAGINE = Limits(
    durations=range(1, 16),
    durations_text="whole seconds from 1 to 15",
    aspect_ratios=("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"),
    resolutions=("480p", "720p"),
    max_images=1,
    image_data_uris=True,
    default_duration=8,
    # reference_images: at most 7 (URLs or data URIs), duration at most 10 s, not with image.
    max_reference_images=7,
    reference_max_duration=10,
    # keyframes: at most 4, each at 0 < t < duration ("select models": xAI names none, so
    # both known models take them and xAI decides).
    max_keyframes=4,
)
#: Imagine 1.5: the same fields, 1080p (xAI's schema: "on models that advertise it") and up to
#: 3 reference audios (preset voices or clips; the SDK's note: 1.5 only).
_IMAGINE_15 = dataclasses.replace(
    _IMAGINE, resolutions=("480p", "720p", "1080p"), max_reference_audios=3
)

#: Edits and extensions (UPSTREAMS.md section 3).  An extension adds 2..10 s (the docs; the
#: schema says 1..10), 6 by default, to a source of 2..15 s in the docs and 2..30 s in the
#: schema: the schema's 30 is taken, so that a 10 s clip extended twice (a 30 s spot) is not
#: refused before xAI decides.  An edit takes a source of at most 8.7 s and keeps its length.
SOURCE_LIMITS = SourceLimits(
    edit_max_source_seconds=8.7,
    extend_durations=range(2, 11),
    extend_durations_text="whole seconds from 2 to 10 added",
    extend_default_duration=6,
    extend_source_seconds=(2, 30),
)
_SOURCE_PATHS = {"edit": "/v1/videos/edits", "extend": "/v1/videos/extensions"}
#: What xAI's out-of-credits answers say ("... has either used all available credits or
#: reached its monthly spending limit ..."), and nothing a rate limit says.
_OUT_OF_CREDITS = re.compile(r"credits?\b|spending limit|balance", re.IGNORECASE)


class XAIDialect(Dialect):
    name = "xai"
    default_model = "grok-imagine-video"
    models: Mapping[str, Limits] = {
        "grok-imagine-video": _IMAGINE,
        # Imagine 1.5, stable since 2026-06-22: 1..15 s, and 1080p as xAI's REST schema lists
        # for the models that advertise it.  No price is published for it (pricing.py).
        "grok-imagine-video-1.5": _IMAGINE_15,
    }
    statuses: Mapping[str, Status] = {
        "pending": "queued",
        "done": "succeeded",
        "failed": "failed",
        "expired": "expired",
    }
    source_limits = SOURCE_LIMITS
    option_fields = frozenset(OPTION_FIELDS)
    file_inputs = True

    def rejects_key(self, status_code: int, message: str) -> bool:
        # xAI answers a bad key with 400 "Incorrect API key provided", not 401.
        return status_code in (401, 403) or (status_code == 400 and "api key" in message.lower())

    def out_of_credits(self, status_code: int, message: str) -> bool:
        # xAI never answers 402: out of credits (or past the team's spending limit) is a 429
        # or a 403 whose message says so, a 429 that is no rate limit.
        if status_code in (429, 403):
            return _OUT_OF_CREDITS.search(message) is not None
        return super().out_of_credits(status_code, message)

    def submit_path(self) -> str:
        return "/v1/videos/generations"

    def submit_body(self, request: VideoRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
        if request.duration is not None:
            body["duration"] = request.duration
        if request.aspect_ratio is not None:
            body["aspect_ratio"] = request.aspect_ratio
        if request.resolution is not None:
            body["resolution"] = request.resolution
        if request.image_urls:
            body["image"] = media_ref(request.image_urls[0])
        if request.reference_image_urls:
            body["reference_images"] = [media_ref(url) for url in request.reference_image_urls]
        options = request.options
        if options.reference_audios:
            body["reference_audios"] = [
                {"url": audio} if ":" in audio else {"voice_id": audio}
                for audio in options.reference_audios
            ]
        if options.generate_audio is not None:  # only when set: its REST support is unconfirmed
            body["generate_audio"] = options.generate_audio
        if options.keyframes:
            body["keyframes"] = [
                {"image": media_ref(image), "timestamp_s": moment}
                for image, moment in options.keyframes
            ]
        _add_output(body, options)
        return body

    def source_path(self, operation: str) -> str:
        return _SOURCE_PATHS[operation]

    def source_body(self, request: SourceVideoRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "video": media_ref(request.video_url),
        }
        if request.operation == "extend" and request.duration is not None:
            body["duration"] = request.duration
        _add_output(body, request.options)
        return body

    def parse_submit(self, body: Any) -> str:
        if isinstance(body, Mapping):
            generation_id = body.get("request_id")
            if isinstance(generation_id, str) and generation_id:
                return generation_id
        raise self.unexpected("submit answer carries no request_id", body)

    def status_call(self, generation_id: str) -> HttpCall:
        generation_id = self.check_generation_id(generation_id)
        return HttpCall("GET", f"/v1/videos/{path_segment(generation_id)}")

    def parse_status(self, body: Any, generation_id: str) -> ParsedStatus:
        answer = self.require_mapping(body, "status answer")
        status, unknown = self.status_of(answer.get("status"))
        video = answer.get("video") if isinstance(answer.get("video"), Mapping) else {}
        url = video.get("url")
        urls = [url] if isinstance(url, str) and url else []
        code: str | None = None
        message: str | None = None
        if status in ("failed", "expired"):
            code, message = error_details(answer)
            error = answer.get("error")
            if isinstance(error, Mapping) and error.get("code"):
                # invalid_argument, permission_denied, failed_precondition, service_unavailable,
                # internal_error: the code itself, even without a message.
                code = str(error["code"])
                if message == "empty body":
                    message = f"xAI reports {code}"
            if status == "expired":
                message = message if message != "empty body" else "xAI says the request expired"
        if status == "succeeded" and not urls:
            status = "failed"
            code = "moderation"
            message = (
                "xAI finished the video but returned no URL: it was withheld by content "
                "moderation (respect_moderation is false)"
                if video.get("respect_moderation") is False
                else "xAI reported the video done but returned no URL"
            )
        ticks = billed_ticks(answer)
        generation = VideoGeneration(
            generation_id=generation_id,
            status=status,
            progress=as_progress(answer.get("progress")),
            video_urls=urls,
            error_code=code,
            error_message=message,
            cost_ticks=ticks,
            cost_source="billed" if ticks is not None else None,
            duration=_seconds(video.get("duration")),
            file_output=_file_output(video.get("file_output")),
            storage_error=_storage_error(video.get("storage_error")),
        )
        return ParsedStatus(generation, unknown)


def media_ref(ref: str) -> dict[str, str]:
    """An image or video input as xAI takes it: ``{"file_id"}`` for a Files upload
    (``models.file_ref``), else ``{"url"}`` (an http(s) URL or a data URI)."""
    file_id = file_id_of(ref)
    return {"file_id": file_id} if file_id is not None else {"url": ref}


def _add_output(body: dict[str, Any], options: MediaOptions) -> None:
    if options.storage_options is not None:
        body["storage_options"] = dict(options.storage_options)
    if options.upload_url is not None:
        body["output"] = {"upload_url": options.upload_url}


def _file_output(value: Any) -> dict[str, Any] | None:
    """``video.file_output`` (the Files copy ``storage_options`` asked for), its known keys."""
    if not isinstance(value, Mapping) or not value.get("file_id"):
        return None
    keys = ("file_id", "filename", "public_url", "public_url_expires_at", "expires_at")
    return {key: value.get(key) for key in keys if value.get(key) is not None}


def _storage_error(value: Any) -> str | None:
    """``video.storage_error``: a message, or ``{code, message}``."""
    if not value:
        return None
    if isinstance(value, Mapping):
        return str(value.get("message") or value.get("code") or value)
    return str(value)


def billed_ticks(answer: Mapping[str, Any]) -> int | None:
    """xAI's ``usage.cost_in_usd_ticks`` (1 USD = 10**10 ticks), when the answer carries it.

    Read as an exact integer: a JSON number without a fraction, or its digits as text.
    """
    usage = answer.get("usage")
    value = usage.get("cost_in_usd_ticks") if isinstance(usage, Mapping) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value >= 0 else None


def _seconds(value: Any) -> int | float | None:
    """The video's length from ``video.duration`` (a JSON number), when it is one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return int(value) if float(value).is_integer() else float(value)


DIALECT = XAIDialect()
