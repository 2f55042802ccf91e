"""What a failed request means: the one place that says whether it may be sent again and
whether it may have created a (paid) job upstream.

Retries (the hook's, with :class:`RetryPolicy`), failover (``tasks/failover.py``), the durable
submit (``tasks/submit_record.py``), the batch's re-attach and the spend budget's release all
ask these.  Pure: exceptions in, answers out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from airflow_provider_grokvideo.exceptions import (
    InvalidVideoRequest,
    SubmitOutcomeUnknown,
    UnexpectedResponse,
    UpstreamHTTPError,
    UpstreamUnreachable,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried: exponential backoff with jitter, or ``Retry-After``.

    Status reads retry 429, 5xx, unreadable answers and network errors.  Submits retry only
    what surely never reached the upstream (429, connection refused or never opened): a paid
    video must never be generated twice.
    """

    attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 60.0

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            return min(float(asked), self.max_wait)
        backoff = self.initial_wait * 2 ** (attempt - 1)
        return min(backoff, self.max_wait) * random.uniform(0.5, 1.0)


def is_transient_read_error(error: BaseException) -> bool:
    """Weather on a status read: the same GET may well succeed later."""
    if isinstance(error, UpstreamHTTPError):
        return error.is_transient
    return isinstance(error, (UpstreamUnreachable, UnexpectedResponse))


def is_safe_submit_retry(error: BaseException) -> bool:
    """Whether a failed submit surely never reached the upstream (429, never connected)."""
    if isinstance(error, UpstreamHTTPError):
        return error.status_code == 429
    return isinstance(error, UpstreamUnreachable) and not isinstance(error, SubmitOutcomeUnknown)


def is_safe_keyed_submit_retry(error: BaseException) -> bool:
    """Whether a failed submit may be sent again with its ``Idempotency-Key``, on a host that
    honors keys: anything that may be weather (a lost answer, a timeout, 408, 429, 5xx, an
    unreadable answer), since the identical request with the same key replays the original
    job instead of making a second.  APIMart's rule: "retry only the identical request with
    the original key"."""
    if isinstance(error, UpstreamHTTPError):
        return error.status_code in (408, 429) or error.status_code >= 500
    return isinstance(error, (UpstreamUnreachable, UnexpectedResponse))


def may_have_created_a_job(error: BaseException) -> bool:
    """Whether a failed submit may have left a (paid) job upstream: anything but bad input
    refused before sending, an upstream's refusal (4xx but 408) and what surely never reached
    it."""
    if isinstance(error, InvalidVideoRequest) or is_safe_submit_retry(error):
        return False
    if isinstance(error, UpstreamHTTPError):
        return error.status_code >= 500 or error.status_code == 408
    return True  # a lost answer, or an error we cannot place: the job may exist


class SubmitJournal(Protocol):
    """Told by :meth:`GrokVideoHook.submit_call` when a paid request may be in flight: the
    generate task's durable record (``tasks/submit_record.py``) says "a job may exist" only
    from just before a POST leaves until an answer that surely created none."""

    def sending(self) -> None:
        """The POST leaves now: the key's request budget has granted its turn, and the request
        is written to the socket as soon as this returns (called on every attempt; the wait for
        the budget comes before it, so a try killed while waiting leaves nothing unknown).  An
        error raised here sends nothing."""

    def not_sent(self) -> None:
        """The attempt surely created no job (a 429, a refusal, never connected): called
        before the back-off sleep, so a worker killed during it leaves nothing unknown."""

    def answered(self, generation_id: str) -> None:
        """The answer is read: the job is ``generation_id``.  Called before anything else is
        done with it (no log line first), so that the window in which a killed try leaves a
        job without its id is the one write."""
