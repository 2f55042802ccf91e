"""Scenarios: per-job prompt markers and global, counted faults.

Per job, a marker in the prompt such as ``[emulator:fail]`` or ``[emulator:seconds=5]`` decides
how that job lives and ends.  Globally, :class:`FaultQueue` holds faults injected through
``POST /_emulator/faults`` (or :meth:`Emulator.inject`): the next ``count`` requests that match
``upstream`` and ``endpoint`` get the fault instead of (or on top of) the normal answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_grokvideo.emulator.defaults import ENDPOINTS, UPSTREAMS

# --------------------------------------------------------------------------------------------
# Per-job markers
# --------------------------------------------------------------------------------------------

MARKER_PREFIX = "[emulator:"
_MARKER_RE = re.compile(r"\[emulator:([a-z][a-z0-9-]*)(?:=([^\]]*))?\]")

#: Marker names that decide how a job ends (at most one per prompt).
OUTCOME_MARKERS: tuple[str, ...] = ("fail", "cancel", "expire", "timeout", "no-url")

#: Every marker, with the upstreams it applies to.
MARKERS: dict[str, frozenset[str]] = {
    "fail": frozenset(UPSTREAMS),
    "cancel": frozenset({"xcompute", "mountsea"}),
    "expire": frozenset({"xai"}),
    "timeout": frozenset({"mountsea"}),
    "no-url": frozenset(UPSTREAMS),
    "unknown-status": frozenset(UPSTREAMS),
    "list-submit": frozenset({"xcompute"}),
    "bare": frozenset({"xcompute"}),
    "url-string": frozenset({"xcompute"}),
    "result-shape": frozenset({"mountsea"}),
    "seconds": frozenset(UPSTREAMS),
    "video-mb": frozenset(UPSTREAMS),
    "cut-download": frozenset(UPSTREAMS),
    "url-expired": frozenset(UPSTREAMS),
    "pending-202": frozenset({"xai"}),
    # A finished video that is not what was asked (emulator/media.py), and a failed PUT to
    # output.upload_url (emulator/delivery.py).
    "mismatch": frozenset({"xai"}),
    "upload-fail": frozenset({"xai"}),
}
_VALUED = frozenset({"result-shape", "seconds", "video-mb", "pending-202"})
PENDING_202_SHAPES: tuple[str, ...] = ("empty", "body")
RESULT_SHAPES: tuple[str, ...] = ("videoUrl", "output", "other")
MAX_MARKER_SECONDS = 86_400.0
MAX_VIDEO_MB = 10_240.0


class MarkerError(ValueError):
    """A prompt carries a marker that is unknown, malformed or not for this upstream."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """How one job behaves, decided by the markers of its prompt."""

    outcome: str = "succeeded"  # succeeded | failed | cancelled | expired | timeout | no_url
    unknown_status: bool = False
    list_submit: bool = False
    bare: bool = False
    url_string: bool = False
    result_shape: str = "videoUrl"
    seconds: float | None = None
    video_mb: float | None = None
    cut_download: bool = False
    url_expired: bool = False
    pending_202: str | None = None  # xAI: a running job's poll answers 202 ("empty", "body")
    mismatch: bool = False
    upload_fail: bool = False

    @property
    def markers(self) -> list[str]:
        """The markers that produce this scenario (for the control endpoints)."""
        out: list[str] = []
        names = {"failed": "fail", "cancelled": "cancel", "expired": "expire"}
        if self.outcome != "succeeded":
            out.append(names.get(self.outcome, self.outcome.replace("_", "-")))
        for flag in (
            "unknown_status",
            "list_submit",
            "bare",
            "url_string",
            "cut_download",
            "mismatch",
            "upload_fail",
        ):
            if getattr(self, flag):
                out.append(flag.replace("_", "-"))
        if self.url_expired:
            out.append("url-expired")
        if self.result_shape != "videoUrl":
            out.append(f"result-shape={self.result_shape}")
        if self.seconds is not None:
            out.append(f"seconds={self.seconds:g}")
        if self.video_mb is not None:
            out.append(f"video-mb={self.video_mb:g}")
        if self.pending_202 is not None:
            out.append(f"pending-202={self.pending_202}")
        return out


#: The scenario of every prompt without markers (shared, so plain jobs cost no extra memory).
DEFAULT_SCENARIO = Scenario()

_OUTCOMES = {
    "fail": "failed",
    "cancel": "cancelled",
    "expire": "expired",
    "timeout": "timeout",
    "no-url": "no_url",
}
_FLAGS = {
    "unknown-status": "unknown_status",
    "list-submit": "list_submit",
    "bare": "bare",
    "url-string": "url_string",
    "cut-download": "cut_download",
    "url-expired": "url_expired",
    "mismatch": "mismatch",
    "upload-fail": "upload_fail",
}


def _number(name: str, raw: str, upper: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise MarkerError(
            f"emulator marker [emulator:{name}=...] needs a number, got {raw!r}"
        ) from None
    if not math.isfinite(value) or value < 0 or value > upper:
        raise MarkerError(f"emulator marker [emulator:{name}=...] must be between 0 and {upper:g}")
    return value


def parse_markers(prompt: str, upstream: str) -> tuple[Scenario, str]:
    """The scenario a prompt asks for and the prompt with its markers removed.

    Raises :class:`MarkerError` for an unknown marker, a bad value, a marker that does not apply
    to ``upstream`` or two outcome markers in one prompt.
    """
    if MARKER_PREFIX not in prompt:
        return DEFAULT_SCENARIO, prompt
    changes: dict[str, Any] = {}
    for match in _MARKER_RE.finditer(prompt):
        name, value = match.group(1), match.group(2)
        upstreams = MARKERS.get(name)
        if upstreams is None:
            known = ", ".join(sorted(MARKERS))
            raise MarkerError(f"unknown emulator marker [emulator:{name}]; known markers: {known}")
        if upstream not in upstreams:
            where = ", ".join(sorted(upstreams))
            raise MarkerError(
                f"emulator marker [emulator:{name}] does not apply to {upstream} (only: {where})"
            )
        if (value is not None) != (name in _VALUED):
            form = f"[emulator:{name}=VALUE]" if name in _VALUED else f"[emulator:{name}]"
            raise MarkerError(f"emulator marker must be written {form}")
        if name in _OUTCOMES:
            if "outcome" in changes:
                raise MarkerError(
                    "at most one of the outcome markers "
                    + ", ".join(f"[emulator:{n}]" for n in OUTCOME_MARKERS)
                    + " per prompt"
                )
            changes["outcome"] = _OUTCOMES[name]
        elif name in _FLAGS:
            changes[_FLAGS[name]] = True
        elif name == "result-shape":
            assert value is not None
            if value not in RESULT_SHAPES:
                raise MarkerError(
                    "emulator marker [emulator:result-shape=...] must be one of "
                    + ", ".join(RESULT_SHAPES)
                )
            changes["result_shape"] = value
        elif name == "seconds":
            assert value is not None
            changes["seconds"] = _number(name, value, MAX_MARKER_SECONDS)
        elif name == "video-mb":
            assert value is not None
            changes["video_mb"] = _number(name, value, MAX_VIDEO_MB)
        elif name == "pending-202":
            if value not in PENDING_202_SHAPES:
                raise MarkerError(
                    "emulator marker [emulator:pending-202=...] must be one of "
                    + ", ".join(PENDING_202_SHAPES)
                )
            changes["pending_202"] = value
    leftover = _MARKER_RE.sub("", prompt)
    if MARKER_PREFIX in leftover:
        raise MarkerError(
            "malformed emulator marker: write [emulator:name] or [emulator:name=value]"
        )
    return (replace(DEFAULT_SCENARIO, **changes) if changes else DEFAULT_SCENARIO), leftover.strip()


# --------------------------------------------------------------------------------------------
# Global faults
# --------------------------------------------------------------------------------------------

#: Every global fault name.
FAULTS: tuple[str, ...] = (
    "429",
    "500",
    "502",
    "503",
    "drop",
    "lost-answer",
    "slow",
    "late-answer",
    "malformed",
)
#: Faults that answer normally, only late: ``slow`` waits before processing the request,
#: ``late-answer`` after (a submission's job exists while its client still waits).
DELAYED_FAULTS = frozenset({"slow", "late-answer"})
DEFAULT_RETRY_AFTER = 1.0
DEFAULT_SLOW_DELAY = 3.0


@dataclass(slots=True)
class Fault:
    """A fault waiting for its next ``remaining`` matching requests."""

    fault: str
    remaining: int
    upstream: str | None = None
    endpoint: str | None = None
    retry_after: float = DEFAULT_RETRY_AFTER
    delay: float = DEFAULT_SLOW_DELAY

    def matches(self, upstream: str | None, endpoint: str) -> bool:
        return (self.upstream is None or self.upstream == upstream) and (
            self.endpoint is None or self.endpoint == endpoint
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fault": self.fault,
            "count": self.remaining,
            "upstream": self.upstream,
            "endpoint": self.endpoint,
        }
        if self.fault == "429":
            out["retry_after"] = self.retry_after
        if self.fault in DELAYED_FAULTS:
            out["delay"] = self.delay
        return out


def _seconds(name: str, value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be zero or more seconds, got {value!r}")
    return float(value)


def make_fault(
    fault: str | int,
    *,
    count: int = 1,
    upstream: str | None = None,
    endpoint: str | None = None,
    retry_after: float | None = None,
    delay: float | None = None,
) -> Fault:
    """A validated :class:`Fault` (raises :class:`ValueError` naming the bad field)."""
    name = str(fault)
    if name not in FAULTS:
        raise ValueError(f"fault must be one of {', '.join(FAULTS)}; got {fault!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    if upstream is not None and upstream not in UPSTREAMS:
        allowed = ", ".join(UPSTREAMS)
        raise ValueError(f"upstream must be one of {allowed} or null; got {upstream!r}")
    if endpoint is not None and endpoint not in ENDPOINTS:
        allowed = ", ".join(ENDPOINTS)
        raise ValueError(f"endpoint must be one of {allowed} or null; got {endpoint!r}")
    return Fault(
        fault=name,
        remaining=count,
        upstream=upstream,
        endpoint=endpoint,
        retry_after=_seconds("retry_after", retry_after, DEFAULT_RETRY_AFTER),
        delay=_seconds("delay", delay, DEFAULT_SLOW_DELAY),
    )


class FaultQueue:
    """Injected faults, first in first out; each request consumes at most one."""

    __slots__ = ("_faults", "fired")

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self.fired: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self._faults)

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def take(self, upstream: str | None, endpoint: str) -> Fault | None:
        """The fault for this request, if one is waiting (counts it down)."""
        for index, fault in enumerate(self._faults):
            if fault.matches(upstream, endpoint):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[index]
                self.fired[fault.fault] = self.fired.get(fault.fault, 0) + 1
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()

    def reset(self) -> None:
        self._faults.clear()
        self.fired = {}

    def pending(self) -> list[dict[str, Any]]:
        return [fault.to_dict() for fault in self._faults]
