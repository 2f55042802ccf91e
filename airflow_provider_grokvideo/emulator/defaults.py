"""Constants shared by every part of the emulator (no imports, so it is free to load)."""

from __future__ import annotations

#: The API key the emulator accepts when none is configured.
DEFAULT_API_KEY = "emulator-key"
#: How long a job lives, from submission to its final state, when no marker says otherwise.
DEFAULT_JOB_SECONDS = 3.0
#: How many jobs the emulator remembers at once before it forgets old finished ones.
DEFAULT_MAX_JOBS = 50_000
#: The upstreams the emulator serves, each under ``/<name>`` on the same port.
UPSTREAMS: tuple[str, ...] = ("xcompute", "mountsea", "xai")
#: Endpoint classes a global fault can target.
#: ``batch``: xAI's Batch API (``/xai/v1/batches...``), every call of it.
ENDPOINTS: tuple[str, ...] = ("submit", "status", "cdn", "batch")
