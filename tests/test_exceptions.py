"""The provider's errors: what their messages say, and which ones are weather."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.exceptions import (
    GenerationFailed,
    GrokVideoError,
    InvalidVideoRequest,
    SubmitOutcomeUnknown,
    UnexpectedResponse,
    UpstreamHTTPError,
    UpstreamUnreachable,
)


def test_a_refused_field_names_the_upstream_the_value_and_what_is_allowed() -> None:
    error = InvalidVideoRequest("mountsea", "duration", 7, "10 or 15")
    assert str(error) == "mountsea: duration=7 is not accepted; mountsea allows 10 or 15"
    assert isinstance(error, ValueError)  # Airflow and users catch bad arguments as ValueError
    assert (error.upstream, error.field, error.value, error.allowed) == (
        "mountsea",
        "duration",
        7,
        "10 or 15",
    )


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "invalid_api_key", "xai answered HTTP 401 (invalid_api_key): no entry"),
        (502, None, "xai answered HTTP 502: no entry"),
    ],
)
def test_an_http_error_says_who_answered_what(status: int, code: str | None, expected: str) -> None:
    assert str(UpstreamHTTPError("xai", status, code, "no entry")) == expected


@pytest.mark.parametrize(
    ("status", "transient"),
    [(429, True), (500, True), (503, True), (400, False), (401, False), (404, False)],
)
def test_only_429_and_5xx_are_weather(status: int, transient: bool) -> None:
    assert UpstreamHTTPError("xcompute", status, None, "x").is_transient is transient


def test_retry_after_is_kept_for_the_back_off() -> None:
    assert UpstreamHTTPError("xcompute", 429, None, "slow down", retry_after=7.0).retry_after == 7.0


def test_a_lost_submit_answer_is_a_kind_of_unreachable_upstream() -> None:
    # Code that handles "no answer" handles it too; the hooks never retry it (a second
    # submit could bill a second video).
    assert issubclass(SubmitOutcomeUnknown, UpstreamUnreachable)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("content_policy", "refused", "generation g1 failed [content_policy]: refused"),
        (None, None, "generation g1 failed: no reason given"),
    ],
)
def test_a_failed_generation_carries_the_upstreams_code_and_message(
    code: str | None, message: str | None, expected: str
) -> None:
    error = GenerationFailed("g1", "failed", code, message)
    assert str(error) == expected
    assert (error.generation_id, error.status, error.error_code, error.error_message) == (
        "g1",
        "failed",
        code,
        message,
    )


@pytest.mark.parametrize(
    "error_type",
    [
        InvalidVideoRequest,
        UnexpectedResponse,
        UpstreamHTTPError,
        UpstreamUnreachable,
        SubmitOutcomeUnknown,
        GenerationFailed,
    ],
)
def test_every_error_is_a_grokvideo_error(error_type: type[Exception]) -> None:
    assert issubclass(error_type, GrokVideoError)
