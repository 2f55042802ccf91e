"""What a failed request means (``hooks/outcomes.py``): for each kind of failure, whether a
status read or a submit may be sent again, with or without an idempotency key, and whether a
paid job may exist upstream; and how long the retry waits."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.exceptions import (
    InvalidVideoRequest,
    SubmitOutcomeUnknown,
    UnexpectedResponse,
    UpstreamHTTPError,
    UpstreamUnreachable,
)
from airflow_provider_grokvideo.hooks.outcomes import (
    RetryPolicy,
    is_safe_keyed_submit_retry,
    is_safe_submit_retry,
    is_transient_read_error,
    may_have_created_a_job,
)


def http(status: int) -> UpstreamHTTPError:
    return UpstreamHTTPError("xai", status, None, "answered")


# (failure, read retried, submit retried, keyed submit retried, a job may exist)
OUTCOMES = [
    ("bad input", InvalidVideoRequest("xai", "duration", 99, "1 to 15"), False, False, False, False),  # noqa: E501
    ("400", http(400), False, False, False, False),
    ("401", http(401), False, False, False, False),
    ("404", http(404), False, False, False, False),
    ("408", http(408), False, False, True, True),
    ("429", http(429), True, True, True, False),
    ("500", http(500), True, False, True, True),
    ("503", http(503), True, False, True, True),
    ("never connected", UpstreamUnreachable("refused"), True, True, True, False),
    ("lost answer", SubmitOutcomeUnknown("cut off"), True, False, True, True),
    ("unreadable answer", UnexpectedResponse("no id"), True, False, True, True),
    ("unknown error", RuntimeError("?"), False, False, False, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("error", "read", "submit", "keyed", "job"),
    [pytest.param(*row[1:], id=row[0]) for row in OUTCOMES],
)
def test_what_each_failure_means(
    error: BaseException, read: bool, submit: bool, keyed: bool, job: bool
) -> None:
    assert is_transient_read_error(error) is read
    assert is_safe_submit_retry(error) is submit
    assert is_safe_keyed_submit_retry(error) is keyed
    assert may_have_created_a_job(error) is job


@pytest.mark.parametrize(("error", "job"), [(row[1], row[5]) for row in OUTCOMES])
def test_a_plain_submit_is_never_retried_when_a_job_may_exist(
    error: BaseException, job: bool
) -> None:
    # A second submit without a key could make (and bill) the video twice.
    assert not (job and is_safe_submit_retry(error))


def test_the_wait_is_the_upstreams_retry_after_capped() -> None:
    slow = UpstreamHTTPError("xai", 429, None, "slow down", retry_after=7)
    assert RetryPolicy(max_wait=60).wait_for(1, slow) == 7
    assert RetryPolicy(max_wait=5).wait_for(3, slow) == 5


@pytest.mark.parametrize(("attempt", "full"), [(1, 0.5), (2, 1.0), (3, 2.0), (9, 10.0)])
def test_without_retry_after_the_backoff_doubles_with_jitter_up_to_the_cap(
    attempt: int, full: float
) -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=10.0)
    waits = [policy.wait_for(attempt, http(503)) for _ in range(50)]
    assert all(full / 2 <= wait <= full for wait in waits)
