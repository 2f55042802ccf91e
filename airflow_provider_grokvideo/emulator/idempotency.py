"""APIMart's ``Idempotency-Key``, as its published API contract describes it (UPSTREAMS.md
section 1): the identical request sent again with the same key replays the original task
(``Idempotency-Replayed: true``); a key is 1 to 191 visible ASCII characters.

What a reused key with a *different* request answers is not documented: the emulator refuses
it with a 409 naming the key, which is what a careful server does and what a client must never
rely on getting instead of a second job.
"""

from __future__ import annotations

import hashlib

MAX_KEY_CHARS = 191
KEY_HEADER = b"idempotency-key"
VERSION_HEADER = b"x-apimart-response-version"
REPLAYED_HEADER = (b"idempotency-replayed", b"true")


def key_problem(key: bytes) -> str | None:
    """Why ``key`` is not a valid ``Idempotency-Key`` (None when it is)."""
    if not 1 <= len(key) <= MAX_KEY_CHARS:
        return f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters (got {len(key)})"
    if any(byte < 0x21 or byte > 0x7E for byte in key):
        return "Idempotency-Key must be visible ASCII characters, no spaces"
    return None


class IdempotencyKeys:
    """The keys seen on accepted submissions: (upstream, API key, key) -> (request digest, job).

    Scoped by API key as a real service scopes them by account: another account's key never
    replays this one's job.
    """

    __slots__ = ("_seen", "max_keys")

    def __init__(self, max_keys: int = 100_000) -> None:
        self._seen: dict[tuple[str, bytes | None, bytes], tuple[str, str]] = {}
        self.max_keys = max_keys  # the oldest go first, as a service's key retention would

    @staticmethod
    def digest(raw: bytes) -> str:
        return hashlib.sha256(raw).hexdigest()

    def lookup(
        self, upstream: str, auth: bytes | None, key: bytes, digest: str
    ) -> tuple[str | None, bool]:
        """``(job id, same request)`` of an earlier submission with this key, or (None, True)."""
        seen = self._seen.get((upstream, auth, key))
        if seen is None:
            return None, True
        return seen[1], seen[0] == digest

    def remember(
        self, upstream: str, auth: bytes | None, key: bytes, digest: str, job_id: str
    ) -> None:
        if len(self._seen) >= self.max_keys:
            del self._seen[next(iter(self._seen))]
        self._seen[(upstream, auth, key)] = (digest, job_id)

    def clear(self) -> None:
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)
