"""What every upstream's wire module provides to the router (``app.py``).

An upstream module knows its paths, envelopes, field names, status words, error bodies and
validation rules, and nothing else: it keeps no state and does no I/O.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from airflow_provider_grokvideo.emulator.faults import Scenario
from airflow_provider_grokvideo.emulator.jobs import Job
from airflow_provider_grokvideo.emulator.wire import Reply

SUBMIT = "submit"
STATUS = "status"

_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_DATA_URI = re.compile(r"^data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+$", re.IGNORECASE)


def is_http_url(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) URL with a host."""
    return bool(_HTTP_URL.match(value))


def is_image_data_uri(value: str) -> bool:
    """Whether ``value`` is a base64 ``data:image/...`` URI."""
    return bool(_DATA_URI.match(value))


def is_number(value: Any) -> bool:
    """A JSON number (``True``/``False`` are not numbers, nor is ``"6"``)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    """A JSON integer (``6``, not ``6.5``, ``"6"`` or ``true``)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class SubmitSpec:
    """What a valid submission asks of the emulator."""

    scenario: Scenario
    video_duration: float
    #: The model asked for (the upstream's default when the request names none).
    model: str = ""
    #: What the upstream bills for the video, in ticks (1 USD = 10**10), where it reports it.
    cost_ticks: int | None = None
    #: The video the job makes (``media.VideoShape``; None: the packaged sample), and xAI's
    #: ``storage_options`` and ``output.upload_url`` as asked.
    shape: Any = None
    storage_options: dict[str, Any] | None = None
    upload_url: str | None = None


@dataclass(frozen=True, slots=True)
class Links:
    """Absolute URLs of the emulator's CDN, as seen by the client of one request."""

    base: str  # scheme://host:port

    def video(self, job_id: str) -> str:
        return f"{self.base}/cdn/videos/{job_id}.mp4"

    def thumbnail(self, job_id: str) -> str:
        return f"{self.base}/cdn/thumbnails/{job_id}.jpg"


class UpstreamAPI(ABC):
    """The wire format of one upstream."""

    #: The path prefix, the stats key and the name used in markers and faults.
    name: str = ""
    #: Whether submissions honor an ``Idempotency-Key`` header (APIMart's contract).
    idempotency_keys: bool = False

    @abstractmethod
    def route(self, method: str, path: str, query: bytes) -> tuple[str, str] | Reply:
        """``(SUBMIT, "")`` (or ``(SUBMIT, operation)`` for an edit or extension route),
        ``(STATUS, job_id)`` for an API request, else the error reply.

        ``path`` is relative to the upstream's prefix (``/v1/tasks/abc``).
        """

    @abstractmethod
    def new_id(self, now: float) -> str:
        """A fresh job id in this upstream's style."""

    @abstractmethod
    def unauthorized(self) -> Reply:
        """The answer to a missing or wrong API key (never echoes the key)."""

    @abstractmethod
    def bad_request(self, messages: list[str]) -> Reply:
        """The answer to a request that breaks a documented rule."""

    @abstractmethod
    def invalid_json(self, detail: str) -> Reply:
        """The answer to a body that is not JSON."""

    @abstractmethod
    def too_large(self) -> Reply:
        """The answer to a request body over the size limit."""

    @abstractmethod
    def not_found(self, job_id: str) -> Reply:
        """The answer to a status read of an unknown (or forgotten) job id."""

    @abstractmethod
    def rate_limited(self, retry_after: float) -> Reply:
        """HTTP 429, with ``Retry-After``."""

    @abstractmethod
    def parse_submit(self, body: Any) -> SubmitSpec | list[str]:
        """Validate a submission: its :class:`SubmitSpec`, or the list of what is wrong."""

    def parse_operation(self, body: Any, operation: str) -> SubmitSpec | list[str]:
        """Validate a submission to an operation's own route (xAI's edits, extensions): only
        an upstream whose ``route`` names operations needs it."""
        return [f"{self.name} has no {operation} endpoint"]

    @abstractmethod
    def submitted(self, job: Job) -> Reply:
        """The answer to an accepted submission."""

    def key_conflict(self, message: str) -> Reply:
        """The answer to an ``Idempotency-Key`` reused with another request (or malformed)."""
        return self.bad_request([message])

    @abstractmethod
    def status(self, job: Job, now: float, links: Links) -> Reply:
        """The answer to a status read of ``job`` at time ``now``."""


def retry_after_header(retry_after: float) -> tuple[bytes, bytes]:
    """``Retry-After`` as asked: whole seconds as an integer (the RFC form, what upstreams
    send); a fraction as a decimal (``0.4``: not RFC-valid, but it keeps tests fast)."""
    if retry_after == int(retry_after):
        return (b"retry-after", str(int(retry_after)).encode())
    return (b"retry-after", f"{retry_after:.3f}".rstrip("0").rstrip(".").encode())
