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

from airflow_provider_grokvideo.dialects.options import SOURCE_FIELDS, validate_options
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, UnexpectedResponse
from airflow_provider_grokvideo.models import (
    SOURCE_OPERATIONS,
    SourceVideoRequest,
    Status,
    VideoGeneration,
    VideoRequest,
    file_id_of,
)

#: The dialect modules (``dialects/<name>.py``, each with its ``DIALECT``): read to say which
#: upstream offers what a refused request asks for.
UPSTREAM_MODULES: tuple[str, ...] = ("xcompute", "mountsea", "xai")
#: The features beyond text- and image-to-video, as named in refusals.
FEATURES: dict[str, str] = {
    "edit": "video edits",
    "extend": "video extensions",
    "reference_images": "reference images (reference-to-video)",
    "reference_audios": "reference audios (preset voices or clips)",
    "generate_audio": "generate_audio (a silent video on request)",
    "storage_options": "storage_options (the output kept in xAI's Files)",
    "keyframes": "keyframes",
    "upload_url": "direct delivery (output.upload_url, deliver_to)",
    "file_inputs": "inputs uploaded to the upstream's Files (file ids)",
}
#: The request fields of :class:`~airflow_provider_grokvideo.models.MediaOptions`.
OPTION_FIELDS: tuple[str, ...] = (
    "reference_audios",
    "generate_audio",
    "storage_options",
    "keyframes",
    "upload_url",
)


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
    #: Reference-to-video: at most this many reference images (0: the upstream has none);
    #: with them the duration is at most ``reference_max_duration`` and no ``image_urls``.
    max_reference_images: int = 0
    reference_max_duration: int | None = None
    #: reference_audios (voices or clips) and keyframes: at most this many (0: none).
    max_reference_audios: int = 0
    max_keyframes: int = 0


@dataclass(frozen=True)
class SourceLimits:
    """What an upstream documents for edits and extensions of an existing video, as data.

    ``edit_max_source_seconds``: the longest video an edit takes (an edit keeps its source's
    length, so its cost is priced at this where the source's length is unknown).
    ``extend_durations``: the seconds an extension may add; ``extend_default_duration`` what it
    adds when the request says nothing.  ``extend_source_seconds``: the (shortest, longest)
    video an extension takes.  ``video_data_types``: the media types a ``data:`` source may have.
    """

    edit_max_source_seconds: float
    extend_durations: Collection[int]
    extend_durations_text: str
    extend_default_duration: int
    extend_source_seconds: tuple[float, float]
    video_data_types: tuple[str, ...] = ("video/mp4",)
    video_schemes: tuple[str, ...] = ("http", "https")


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
    #: Edits and extensions of a video, where the upstream documents them (None: it does not).
    source_limits: SourceLimits | None = None
    #: Whether the upstream documents an ``Idempotency-Key`` on submits, and the hosts where
    #: it is documented to be honored (a white-label may not pass the header through).
    idempotency_keys: bool = False
    idempotent_hosts: tuple[str, ...] = ()
    #: Which of :data:`OPTION_FIELDS` the upstream documents, and whether inputs may be file
    #: ids of its own Files (``models.file_ref``).
    option_fields: frozenset[str] = frozenset()
    file_inputs: bool = False

    def submit_headers(self, idempotency_key: str) -> dict[str, str] | None:
        """The headers of a submit carrying ``idempotency_key`` (only where
        ``idempotency_keys``; the key is checked against the upstream's rule)."""
        return None

    def submit_request_id(self, body: Any) -> str | None:
        """The id the upstream gives its answer to a submit, where it gives one (for logs)."""
        return None

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

    def source_path(self, operation: str) -> str:
        """The path of an edit or extension submit (only where ``source_limits`` is set)."""
        raise NotImplementedError

    def source_body(self, request: SourceVideoRequest) -> dict[str, Any]:
        raise NotImplementedError

    def parse_still_running(self, body: Any, generation_id: str) -> ParsedStatus:
        """A status read answered HTTP 202 ("still in progress"), with ``body`` the JSON it
        carried (None for an empty body): the job is still running, whatever else it says;
        its ``progress`` is read where present.  Never a warning: 202 is a documented answer.
        """
        answer = body if isinstance(body, Mapping) else {}
        status: Status = "running"
        word = answer.get("status")
        if word is not None:
            known, unknown = self.status_of(word)
            if unknown is None and known in ("queued", "running"):
                status = known
        progress = as_progress(answer.get("progress"))
        if progress is not None and progress >= 100:
            progress = 99  # 100 means done; a 202 says it is not
        return ParsedStatus(VideoGeneration(generation_id, status, progress=progress))

    def format_resolution(self, resolution: str) -> str:
        return resolution.lower()

    def rejects_key(self, status_code: int, message: str) -> bool:
        """Whether an error answer means "this API key is not accepted"."""
        return status_code in (401, 403)

    def out_of_credits(self, status_code: int, message: str) -> bool:
        """Whether an error answer means "this account has no money left": 402 on every
        upstream (xcompute's ``payment_required``); xAI says it otherwise (see its dialect)."""
        return status_code == 402

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

    def source_call(self, request: SourceVideoRequest, *, relaxed: bool = False) -> HttpCall:
        """Validate an edit or extension and build its submit request (refused, before any
        request, by an upstream that documents none, naming the upstream that offers it)."""
        request = self.validate_source(request, relaxed=relaxed)
        return HttpCall("POST", self.source_path(request.operation), json=self.source_body(request))

    def validate_source(
        self, request: SourceVideoRequest, *, relaxed: bool = False
    ) -> SourceVideoRequest:
        """Return an edit or extension normalized (model filled, durations numbers) or raise
        :class:`InvalidVideoRequest` naming the field.  ``relaxed`` (or a model this dialect
        does not know) keeps the type checks and the source's format only."""
        operation = request.operation
        if operation not in SOURCE_OPERATIONS:
            self._refuse("operation", operation, "'edit' or 'extend'")
        lim = self.source_limits
        if lim is None:
            self.refuse_feature(operation)
        assert lim is not None
        model = request.model or self.default_model
        if not isinstance(model, str) or not model.strip():
            self._refuse("model", model, "a non-empty string")
        model = model.strip()
        relaxed = relaxed or model not in self.models
        refused_for = model if model in self.models else None
        prompt = request.prompt
        if not isinstance(prompt, str) or not prompt.strip():
            what = "what happens next" if operation == "extend" else "how to change the video"
            self._refuse("prompt", prompt, f"a non-empty string ({what})")
        self._check_video_url(request.video_url, lim)

        source = _as_number(request.source_duration)
        if request.source_duration is not None and (source is None or source <= 0):
            self._refuse("source_duration", request.source_duration, "a positive number of seconds")
        duration = _as_number(request.duration)
        if operation == "edit":
            if request.duration is not None:
                self._refuse(
                    "duration", request.duration, "no duration on an edit: it keeps its source's"
                )
            if not relaxed and source is not None and source > lim.edit_max_source_seconds:
                self._refuse(
                    "source_duration",
                    request.source_duration,
                    f"source videos of at most {lim.edit_max_source_seconds:g} s to edit",
                    refused_for,
                )
        else:
            if request.duration is not None:
                if duration is None or duration <= 0:
                    self._refuse("duration", request.duration, "a positive number of seconds")
                if not relaxed and duration not in lim.extend_durations:
                    self._refuse(
                        "duration", request.duration, lim.extend_durations_text, refused_for
                    )
            shortest, longest = lim.extend_source_seconds
            if not relaxed and source is not None and not shortest <= source <= longest:
                self._refuse(
                    "source_duration",
                    request.source_duration,
                    f"source videos of {shortest:g} to {longest:g} s to extend",
                    refused_for,
                )
        options = validate_options(
            self,
            request.options,
            lim=self.models.get(model) or self.limits,
            duration=None,
            relaxed=relaxed,
            refused_for=refused_for,
            fields=SOURCE_FIELDS,
        )
        return SourceVideoRequest(
            operation=operation,
            prompt=prompt,
            video_url=request.video_url.strip(),
            model=model,
            duration=duration,
            source_duration=source,
            options=options,
        )

    def refuse_feature(self, feature: str, value: object = None) -> None:
        """Refuse what this upstream does not document, naming the upstreams that do."""
        offered = offered_by(feature)
        where = f"; {FEATURES[feature]} are offered by {' and '.join(offered)}" if offered else ""
        if feature in SOURCE_OPERATIONS:
            field_name, value = "operation", feature
        else:
            field_name = "reference_image_urls"
        self._refuse(field_name, value, f"no {FEATURES[feature]}{where}")

    def offers(self, feature: str) -> bool:
        """Whether this upstream documents ``feature`` (see :data:`FEATURES`)."""
        if feature in SOURCE_OPERATIONS:
            return self.source_limits is not None
        if feature == "reference_images":
            return any(lim.max_reference_images for lim in self.models.values())
        if feature in OPTION_FIELDS:
            return self.offers_option(feature)
        if feature == "file_inputs":
            return self.file_inputs
        raise ValueError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")

    def offers_option(self, name: str) -> bool:
        """Whether this upstream takes the request field ``name`` (:data:`OPTION_FIELDS`)."""
        return name in self.option_fields

    def refuse_option(self, name: str, value: object) -> None:
        """Refuse a field this upstream does not document, by its name, naming who does."""
        offered = offered_by(name)
        where = f"; {FEATURES[name]} are offered by {' and '.join(offered)}" if offered else ""
        shown = "<a signed URL>" if name == "upload_url" else value
        self._refuse(name, shown, f"no {name} on {self.name}{where}")

    def _check_video_url(self, url: object, lim: SourceLimits) -> None:
        allowed = (
            f"an absolute {' or '.join(lim.video_schemes)} URL of the video, or a data URI "
            f"({', '.join(f'data:{t};base64,...' for t in lim.video_data_types)})"
        )
        if not isinstance(url, str) or not url.strip():
            self._refuse("video_url", url, allowed)
        assert isinstance(url, str)
        url = url.strip()
        if file_id_of(url) is not None:
            if not self.file_inputs:
                self._refuse("video_url", url, f"no file ids on {self.name}; {allowed}")
            return
        if url.startswith("data:"):
            media_type = url[5:].split(";", 1)[0].split(",", 1)[0].strip().lower()
            if media_type not in lim.video_data_types or ";base64," not in url[:80]:
                self._refuse("video_url", _shorten(url), allowed)
            return
        parts = urlsplit(url)
        if parts.scheme.lower() not in lim.video_schemes or not parts.netloc:
            self._refuse("video_url", _shorten(url), allowed)

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

        references = request.reference_image_urls
        if isinstance(references, str) or not all(isinstance(url, str) for url in references):
            self._refuse("reference_image_urls", references, "a list of URL strings")
        if references:
            self._check_references(references, images, duration, lim, relaxed, refused_for)

        options = validate_options(
            self,
            request.options,
            lim=lim,
            duration=duration,
            relaxed=relaxed,
            refused_for=refused_for,
        )
        return VideoRequest(
            prompt=prompt,
            model=model,
            duration=duration,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            image_urls=tuple(images),
            reference_image_urls=tuple(references),
            options=options,
        )

    def _check_references(
        self,
        references: tuple[str, ...],
        images: tuple[str, ...],
        duration: int | float | None,
        lim: Limits,
        relaxed: bool,
        refused_for: str | None,
    ) -> None:
        if not any(limits.max_reference_images for limits in self.models.values()):
            self.refuse_feature("reference_images", [_shorten(url) for url in references])
        if relaxed:
            for url in references:
                self._check_image_url(url, lim, relaxed=True, field_name="reference_image_urls")
            return
        if not lim.max_reference_images:
            self._refuse("reference_image_urls", f"{len(references)} images", "none", refused_for)
        if len(references) > lim.max_reference_images:
            self._refuse(
                "reference_image_urls",
                f"{len(references)} images",
                f"at most {lim.max_reference_images} reference images",
                refused_for,
            )
        if images:
            self._refuse(
                "image_urls",
                f"{len(images)} image(s) with reference_image_urls",
                "image_urls or reference_image_urls, not both",
                refused_for,
            )
        top = lim.reference_max_duration
        if top is not None and duration is not None and duration > top:
            self._refuse(
                "duration", duration, f"at most {top} s with reference images", refused_for
            )
        for url in references:
            self._check_image_url(url, lim, relaxed=False, field_name="reference_image_urls")

    def _check_image_url(
        self, url: str, lim: Limits, *, relaxed: bool, field_name: str = "image_urls"
    ) -> None:
        if file_id_of(url) is not None:
            if not self.file_inputs:
                offered = " and ".join(offered_by("file_inputs"))
                self._refuse(field_name, url, f"no file ids on {self.name} (offered by {offered})")
            return
        if url.startswith("data:"):
            if not lim.image_data_uris:
                self._refuse(
                    field_name,
                    _shorten(url),
                    "public http(s) image URLs only; base64/data URIs are refused",
                )
            return
        scheme = urlsplit(url).scheme.lower()
        parsed_ok = scheme in lim.image_schemes and urlsplit(url).netloc
        if not parsed_ok and not relaxed:
            allowed = " or ".join(lim.image_schemes)
            extra = " or a data URI" if lim.image_data_uris else ""
            self._refuse(field_name, _shorten(url), f"absolute {allowed} URLs{extra}")

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


def offered_by(feature: str) -> list[str]:
    """The upstreams (dialect names) that document ``feature`` (see :data:`FEATURES`)."""
    from importlib import import_module

    names = []
    for module in UPSTREAM_MODULES:
        dialect = import_module(f"airflow_provider_grokvideo.dialects.{module}").DIALECT
        if dialect.offers(feature):
            names.append(dialect.name)
    return names


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
