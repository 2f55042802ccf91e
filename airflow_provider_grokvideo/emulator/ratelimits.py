"""Rate limits as upstreams enforce them: a token bucket per API key and upstream.

Each upstream with a limit of ``R`` requests per second gives every key a bucket that holds
``max(1, R)`` tokens (one second's worth, at least one request: a minute's budget cannot be
spent in one second) and refills at ``R`` per second.  A request that finds it empty is
refused with a 429 in the upstream's own shape, with ``Retry-After`` in whole seconds (what
upstreams send), and counted.  No state per request, one small list per key in use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from airflow_provider_grokvideo.emulator.defaults import UPSTREAMS


def validate_limits(limits: Mapping[str, Any] | None) -> dict[str, float | None]:
    """``{upstream: requests per second or None}``, checked (raises ``ValueError``)."""
    if limits is None:
        return {}
    if not isinstance(limits, Mapping):
        raise ValueError("rate limits must be an object of upstream: requests per second")
    out: dict[str, float | None] = {}
    for upstream, rate in limits.items():
        if upstream not in UPSTREAMS:
            raise ValueError(
                f"rate limit for an unknown upstream {upstream!r}; one of {', '.join(UPSTREAMS)}"
            )
        if rate is None:
            out[upstream] = None
            continue
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise ValueError(f"rate limit of {upstream} must be a number, got {rate!r}")
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate limit of {upstream} must be above 0 per second, got {rate!r}")
        out[upstream] = float(rate)
    return out


class RateLimits:
    """The configured limits and every key's bucket."""

    __slots__ = ("_buckets", "_initial", "limits")

    def __init__(self, limits: Mapping[str, Any] | None = None) -> None:
        self._initial = {k: v for k, v in validate_limits(limits).items() if v is not None}
        self.limits: dict[str, float] = dict(self._initial)
        #: (upstream, Authorization header) -> [tokens, time of the last refill]
        self._buckets: dict[tuple[str, bytes | None], list[float]] = {}

    def __bool__(self) -> bool:
        return bool(self.limits)

    def update(self, limits: Mapping[str, Any]) -> dict[str, float]:
        """Set (a number) or remove (``None``) the limits of some upstreams."""
        for upstream, rate in validate_limits(limits).items():
            if rate is None:
                self.limits.pop(upstream, None)
            else:
                self.limits[upstream] = rate
        self._buckets.clear()
        return dict(self.limits)

    def reset(self) -> None:
        """Back to the limits given at start, every bucket full."""
        self.limits = dict(self._initial)
        self._buckets.clear()

    def check(self, upstream: str, key: bytes | None, now: float) -> float | None:
        """Take a token for one request; ``None`` if allowed, else the seconds to wait."""
        rate = self.limits.get(upstream)
        if rate is None:
            return None
        capacity = max(1.0, rate)
        bucket = self._buckets.get((upstream, key))
        if bucket is None:
            bucket = self._buckets[(upstream, key)] = [capacity, now]
        else:
            bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return None
        return (1.0 - bucket[0]) / rate

    @staticmethod
    def retry_after(wait: float) -> float:
        """``Retry-After`` as upstreams send it: whole seconds, at least 1."""
        return float(max(1, math.ceil(wait)))


__all__ = ["RateLimits", "validate_limits"]
