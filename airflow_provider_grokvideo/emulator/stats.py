"""One upstream's request counters, read through ``GET /_emulator/stats`` (``docs/emulator.md``).

Plain slot attributes, because the router (``app.py``) increments them on every request of its
hot path, the status polls included.
"""

from __future__ import annotations


class UpstreamStats:
    """Counters of one upstream (plain attributes: incremented on every request)."""

    __slots__ = (
        "auth_failures",
        "faults",
        "idempotent_replays",
        "not_found",
        "outage_connections_closed",
        "outage_refused",
        "rate_limited_status",
        "rate_limited_submit",
        "rejected",
        "requests",
        "status_reads",
        "submissions",
        "submit_requests",
    )

    def __init__(self) -> None:
        self.requests = 0  # every request under this upstream's prefix
        self.submit_requests = 0  # submissions that reached the handler (accepted or not)
        self.submissions = 0  # accepted submissions: jobs created
        self.status_reads = 0  # status reads that reached the handler
        self.rejected = 0  # submissions refused by validation (400/413)
        self.auth_failures = 0  # requests refused for a missing or wrong key
        self.not_found = 0  # status reads of unknown job ids
        self.faults = 0  # requests that got an injected fault
        self.rate_limited_submit = 0  # submissions refused by the rate limit (429)
        self.rate_limited_status = 0  # status reads refused by the rate limit (429)
        self.idempotent_replays = 0  # submissions answered with an earlier job (same key)
        self.outage_refused = 0  # requests answered with an outage's error (401, 402, credits)
        # Connections a "refuse" outage closed (the connects it refuses never reach us).
        self.outage_connections_closed = 0

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}
