"""Failover across connections: which failed submits surely created no job.

A generate task given ``fallback_conn_ids`` submits through its first connection and moves to
the next one only when the failure proves that nothing was generated (and nothing will be
billed): the key or the account was refused before any work, the request was refused by the
provider's own checks before it was sent, or the connection never opened.  Whenever the job
may exist upstream (a 5xx, a 408, a timeout, a reset, a lost answer, an answer we cannot read,
an error we do not know), moving on could pay for the same video twice: the task fails there.

Pure: no Airflow import (the generate operator imports this when its task runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_grokvideo.exceptions import (
    InvalidVideoRequest,
    SubmitOutcomeUnknown,
    UpstreamHTTPError,
    UpstreamUnreachable,
)

if TYPE_CHECKING:
    from airflow_provider_grokvideo.dialects.base import Dialect

#: The most of an upstream's or a check's message a reason quotes.
_QUOTED_CHARS = 120


def no_job_reason(error: BaseException, dialect: Dialect) -> str | None:
    """Why the submit that raised ``error`` surely created no job, in a few words; ``None``
    when the job may exist (then no other connection may be tried).

    ``dialect`` is the upstream's that was asked: it reads what a refused key and an empty
    account look like there (xAI says both differently from the resellers).
    """
    if isinstance(error, InvalidVideoRequest):
        return f"refused by its limits before sending: {_quote(str(error))}"
    if isinstance(error, SubmitOutcomeUnknown):
        return None  # the request may have reached the upstream: its job may exist
    if isinstance(error, UpstreamUnreachable):
        # The hook raises the plain class for a submit only when the connection never opened
        # (refused, connect timeout, no pooled connection): the request never left.
        return "the connection never opened"
    if isinstance(error, UpstreamHTTPError):
        return _http_reason(error, dialect)
    return None


def _http_reason(error: UpstreamHTTPError, dialect: Dialect) -> str | None:
    status = error.status_code
    # Checked before the key: xAI says "out of credits" with a 403 as well as a 429.
    if dialect.out_of_credits(status, error.message):
        if status == 402:
            return "out of balance (HTTP 402)"
        return f"out of credits (HTTP {status}: {_quote(error.message)})"
    if status in (401, 403) or dialect.rejects_key(status, error.message):
        return f"the API key was refused (HTTP {status})"
    if status == 429:
        # A submit's 429 is retried by the hook (it surely created nothing); this one is the
        # last of those retries.
        return "rate-limited past its retries (HTTP 429)"
    return None


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTED_CHARS else text[: _QUOTED_CHARS - 1] + "…"
