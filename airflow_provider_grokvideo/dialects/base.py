"""What every upstream dialect shares: the request it produces, its limits, validation.

A dialect is pure: it turns a normalized :class:`VideoRequest` into an :class:`HttpCall` and
an upstream's JSON into a normalized :class:`VideoGeneration`.  No I/O, no Airflow import, so
each one is tested with the vendors' documented JSON alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, UnexpectedResponse
from airflow_provider_grokvideo.models import Status, VideoGeneration, VideoRequest


@dataclass(frozen=True)
class HttpCall:
    """One HTTP request, relative to the upstream's base URL."""

    method: str
    path: str
    params: dict[str, str] | None = None
    json: dict[str, Any] | None = None


@dataclass(frozen=True)
class Limits:
    """What an upstream documents as acceptable for one model, as data.

    ``durations`` is any collection supporting ``in`` (a ``range`` for 6..30, a set for
    {6, 10, 12, 16, 20}); ``resolutions`` are written the way the upstream spells them.
    ``default_duration`` and ``default_resolution`` are what the upstream uses when the request
    leaves them out, where documented (``None`` when not): the cost estimate reads them.
    """

    durations: Collection[int]
    durations_text: str
    aspect_ratios: tuple[str, ...]
    resolutions: tuple[str, ...]
    max_images: int
    max_prompt_chars: int | None = None
    image_data_uris: bool = False
    image_schemes: tuple[str, ...] = ("http", "https")
    default_duration: int | None = None
    default_resolution: str | None = None
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedStatus:
    """A status answer read: the normalized generation, and the upstream's word if unknown."""

    generation: VideoGeneration
    unknown_status: str | None = None


class Dialect:
    """Base of the three dialects: validation and error reading shared, wire format per upstream."""

    name: str
    default_model: str
    #: Every model this dialect knows, with its documented limits.  A model not listed is not
    #: refused for being new: its request is checked for types only and sent (the hook warns
    #: once), and the upstream's own refusal, if any, reaches the user.
    models: Mapping[str, Limits]
    #: Upstream status word -> normalized status; words not listed mean "still running".
    statuses: Mapping[str, Status]

    # -- what each upstream defines ------------------------------------------------------
    def submit_body(self, request: VideoRequest) -> dict[str, Any]:
        raise NotImplementedError

    def submit_path(self) -> str:
        raise NotImplementedError

    def parse_submit(self, body: Any) -> str:
        raise NotImplementedError

    def status_call(self, generation_id: str) -> HttpCall:
        raise NotImplementedError

    def parse_status(self, body: Any, generation_id: str) -> ParsedStatus:
        raise NotImplementedError

    def format_resolution(self, resolution: str) -> str:
        return resolution.lower()

    def rejects_key(self, status_code: int, message: str) -> bool:
        """Whether an error answer means "this API key is not accepted"."""
        return status_code in (401, 403)

    # -- shared ----------------------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        """The limits of the upstream's default model."""
        return self.models[self.default_model]

    def model_limits(self, model: str | None) -> Limits | None:
        """The documented limits of ``model`` (the default model when None); None if unknown."""
        return self.models.get(model or self.default_model)

    def submit_call(self, request: VideoRequest, *, relaxed: bool = False) -> HttpCall:
        """Validate ``request`` against this upstream's limits and build the submit request."""
        request = self.validate(request, relaxed=relaxed)
        return HttpCall("POST", self.submit_path(), json=self.submit_body(request))

    def validate(self, request: VideoRequest, *, relaxed: bool = False) -> VideoRequest:
        """Return ``request`` normalized (model filled, duration a number, resolution spelled
        the upstream's way) or raise :class:`InvalidVideoRequest` naming the field (and the
        model, for a limit of a known model).

        ``relaxed`` keeps only the type checks, for when an upstream widens its limits first;
        a model this dialect does not know gets the type checks only as well.
        """
        model = request.model or self.default_model
        if not isinstance(model, str) or not model.strip():
            self._refuse("model", model, "a non-empty string")
        model = model.strip()
        known = self.models.get(model)
        relaxed = relaxed or known is None
        # An unknown model's request still meets the upstream's format (image URL kinds).
        lim = known or self.limits
        refused_for = model if known is not None else None

        prompt = request.prompt
        if not isinstance(prompt, str) or not prompt.strip():
            self._refuse("prompt", prompt, "a non-empty string")
        if not relaxed and lim.max_prompt_chars is not None and len(prompt) > lim.max_prompt_chars:
            self._refuse(
                "prompt",
                _shorten(prompt),
                f"at most {lim.max_prompt_chars} characters, got {len(prompt)}",
                refused_for,
            )

        duration = _as_number(request.duration)
        if request.duration is not None:
            if duration is None or duration <= 0:
                self._refuse("duration", request.duration, "a positive number of seconds")
            if not relaxed and duration not in lim.durations:
                self._refuse("duration", request.duration, lim.durations_text, refused_for)

        aspect_ratio = request.aspect_ratio
        if aspect_ratio is not None:
            if not isinstance(aspect_ratio, str):
                self._refuse("aspect_ratio", aspect_ratio, "a string such as '16:9'")
            aspect_ratio = aspect_ratio.strip()
            if not relaxed and aspect_ratio not in lim.aspect_ratios:
                self._refuse(
                    "aspect_ratio", request.aspect_ratio, _one_of(lim.aspect_ratios), refused_for
                )

        resolution = request.resolution
        if resolution is not None:
            if not isinstance(resolution, str):
                self._refuse("resolution", resolution, "a string such as '720p'")
            resolution = self.format_resolution(resolution.strip())
            if not relaxed and resolution not in lim.resolutions:
                self._refuse(
                    "resolution", request.resolution, _one_of(lim.resolutions), refused_for
                )

        images = request.image_urls
        if isinstance(images, str) or not all(isinstance(url, str) for url in images):
            self._refuse("image_urls", images, "a list of URL strings")
        if not relaxed and len(images) > lim.max_images:
            self._refuse(
                "image_urls",
                f"{len(images)} images",
                f"at most {lim.max_images} image{'s' if lim.max_images > 1 else ''}",
                refused_for,
            )
        for url in images:
            self._check_image_url(url, lim, relaxed=relaxed)

        return VideoRequest(
            prompt=prompt,
            model=model,
            duration=duration,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            image_urls=tuple(images),
        )

    def _check_image_url(self, url: str, lim: Limits, *, relaxed: bool) -> None:
        if url.startswith("data:"):
            if not lim.image_data_uris:
                self._refuse(
                    "image_urls",
                    _shorten(url),
                    "public http(s) image URLs only; base64/data URIs are refused",
                )
            return
        scheme = urlsplit(url).scheme.lower()
        parsed_ok = scheme in lim.image_schemes and urlsplit(url).netloc
        if not parsed_ok and not relaxed:
            allowed = " or ".join(lim.image_schemes)
            extra = " or a data URI" if lim.image_data_uris else ""
            self._refuse("image_urls", _shorten(url), f"absolute {allowed} URLs{extra}")

    def _refuse(
        self, field_name: str, value: object, allowed: str, model: str | None = None
    ) -> None:
        raise InvalidVideoRequest(self.name, field_name, value, allowed, model=model)

    def check_generation_id(self, generation_id: object) -> str:
        if not isinstance(generation_id, str) or not generation_id.strip():
            self._refuse("generation_id", generation_id, "a non-empty string")
        assert isinstance(generation_id, str)
        return generation_id.strip()

    def status_of(self, word: object) -> tuple[Status, str | None]:
        """Normalized status for an upstream word, and the word itself if it is unknown."""
        text = str(word).strip().lower() if word is not None else ""
        if text in self.statuses:
            return self.statuses[text], None
        return "running", text or "<missing>"

    def unexpected(self, what: str, body: Any) -> UnexpectedResponse:
        return UnexpectedResponse(f"{self.name}: {what}; body was {_shorten(repr(body), 300)}")

    def require_mapping(self, body: Any, what: str) -> Mapping[str, Any]:
        if not isinstance(body, Mapping):
            raise self.unexpected(f"{what} is not a JSON object", body)
        return body


# -- helpers shared by the dialects --------------------------------------------------------


def path_segment(generation_id: str) -> str:
    """Quote an id for use as one URL path segment (no '/' smuggling)."""
    return quote(generation_id, safe="")


def error_details(body: Any, text: str = "") -> tuple[str | None, str]:
    """The (code, message) of an upstream error body, whatever its documented shape.

    Shapes read: ``{"error": {"code", "message", "type"}}`` (xcompute, xAI),
    ``{"code": "...", "error": "..."}`` (xAI REST), ``{"statusCode", "message", "error"}``
    (Mountsea's NestJS gateway), ``{"errorCode", "errorMessage"}`` (Mountsea tasks); anything
    else (an HTML error page, say) is summarized from its text.
    """
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            code = err.get("type") or err.get("code")
            message = err.get("message")
            if message:
                return _text(code), str(message)
        message = body.get("message") or body.get("errorMessage") or body.get("msg")
        if isinstance(err, str) and err and not message:
            return _text(body.get("code")), err
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
        if message:
            code = body.get("errorCode") or body.get("code") or err
            return _text(code), str(message)
    return None, _summarize_text(text)


def first_http_url(value: Any) -> str | None:
    """The first http(s) URL found anywhere in a JSON value, depth first."""
    for url in _http_urls(value):
        return url
    return None


def _http_urls(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if re.match(r"https?://", value, re.IGNORECASE):
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _http_urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _http_urls(item)


def as_epoch(value: Any) -> float | None:
    """Unix seconds from a number or an ISO-8601 string; None when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        # Some APIs send milliseconds; no video job was created before 2001 in seconds.
        return float(value) / 1000 if value > 1e11 else float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def as_progress(value: Any) -> int | None:
    number = _as_number(value)
    if number is None:
        return None
    return max(0, min(100, int(number)))


def _as_number(value: Any) -> int | float | None:
    """A JSON number from an int, float or numeric string (templated fields render to text)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _one_of(values: tuple[str, ...]) -> str:
    return "one of " + ", ".join(repr(v) for v in values)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summarize_text(text: str) -> str:
    if not text.strip():
        return "empty body"
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        return f"HTML page: {title.group(1).strip()}"
    plain = re.sub(r"<[^>]+>", " ", text)
    return _shorten(" ".join(plain.split()), 200)
