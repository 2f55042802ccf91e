"""Failover: which failed submits surely created no job (``tasks/failover.py``).

Every outcome class both ways, from the exceptions the hooks really raise; then the hooks
themselves, over real sockets against the emulator, to prove they raise those exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_grokvideo.dialects.mountsea import DIALECT as MOUNTSEA
from airflow_provider_grokvideo.dialects.xai import DIALECT as XAI
from airflow_provider_grokvideo.dialects.xcompute import DIALECT as XCOMPUTE
from airflow_provider_grokvideo.emulator import UPSTREAMS, Emulator
from airflow_provider_grokvideo.exceptions import (
    GenerationFailed,
    GrokVideoError,
    InvalidVideoRequest,
    SubmitOutcomeUnknown,
    UnexpectedResponse,
    UpstreamHTTPError,
    UpstreamUnreachable,
)
from airflow_provider_grokvideo.hooks import get_video_hook
from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy
from airflow_provider_grokvideo.tasks.failover import no_job_reason

DIALECTS = {"xcompute": XCOMPUTE, "mountsea": MOUNTSEA, "xai": XAI}
XAI_CREDITS = (
    "Your team 0a1b has either used all available credits or reached its monthly spending "
    "limit. To continue making API requests, please purchase more credits or raise your "
    "spending limit."
)


def http(upstream: str, status: int, message: str = "error", code: str | None = None):
    return UpstreamHTTPError(upstream, status, code, message)


# --- surely no job: another connection may be tried -----------------------------------------


@pytest.mark.parametrize("upstream", list(DIALECTS))
def test_a_connection_that_never_opened_created_nothing(upstream):
    error = UpstreamUnreachable(f"no answer from {upstream} (ConnectError: refused)")
    assert no_job_reason(error, DIALECTS[upstream]) == "the connection never opened"


@pytest.mark.parametrize("upstream", list(DIALECTS))
@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_created_nothing(upstream, status):
    reason = no_job_reason(http(upstream, status, "Unauthorized"), DIALECTS[upstream])
    assert reason == f"the API key was refused (HTTP {status})"


def test_xai_refuses_a_key_with_a_400():
    error = http("xai", 400, "Incorrect API key provided: xa***ab.", "invalid_argument")
    assert no_job_reason(error, XAI) == "the API key was refused (HTTP 400)"


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea"])
def test_a_reseller_400_about_the_key_is_a_bad_request(upstream):
    # Only xAI says "bad key" with a 400; elsewhere a 400 may be anything the upstream refused.
    error = http(upstream, 400, "Incorrect API key provided")
    assert no_job_reason(error, DIALECTS[upstream]) is None


@pytest.mark.parametrize("upstream", list(DIALECTS))
def test_out_of_balance_created_nothing(upstream):
    error = http(upstream, 402, "Insufficient balance", "payment_required")
    assert no_job_reason(error, DIALECTS[upstream]) == "out of balance (HTTP 402)"


@pytest.mark.parametrize("status", [429, 403])
def test_xai_out_of_credits_created_nothing(status):
    reason = no_job_reason(http("xai", status, XAI_CREDITS), XAI)
    assert reason is not None and reason.startswith(f"out of credits (HTTP {status}: Your team")
    assert len(reason) < 200  # a reason, not the whole message


@pytest.mark.parametrize("upstream", list(DIALECTS))
def test_a_429_past_the_hooks_retries_created_nothing(upstream):
    error = http(upstream, 429, "Too many requests: rate limit exceeded, retry later")
    reason = no_job_reason(error, DIALECTS[upstream])
    assert reason == "rate-limited past its retries (HTTP 429)"


@pytest.mark.parametrize("upstream", list(DIALECTS))
def test_a_request_refused_before_sending_created_nothing(upstream):
    error = InvalidVideoRequest(upstream, "duration", 99, "6..30 seconds", model="m")
    reason = no_job_reason(error, DIALECTS[upstream])
    assert reason is not None and reason.startswith("refused by its limits before sending: ")
    assert "duration=99" in reason


# --- the job may exist: the task must fail on this connection ---------------------------------


@pytest.mark.parametrize("upstream", list(DIALECTS))
@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_a_server_error_or_a_request_timeout_may_have_a_job(upstream, status):
    assert no_job_reason(http(upstream, status), DIALECTS[upstream]) is None


@pytest.mark.parametrize("upstream", list(DIALECTS))
@pytest.mark.parametrize("status", [400, 404, 409, 413, 422])
def test_other_refusals_are_not_proof_enough(upstream, status):
    # A refusal is most likely free, but what it means is the upstream's: never assumed.
    assert no_job_reason(http(upstream, status, "bad request"), DIALECTS[upstream]) is None


@pytest.mark.parametrize("upstream", list(DIALECTS))
def test_a_lost_answer_may_have_a_job(upstream):
    error = SubmitOutcomeUnknown(
        f"the submit to {upstream} got no answer (ReadTimeout: timed out); the job may have "
        "been created upstream, so it is not submitted again"
    )
    assert no_job_reason(error, DIALECTS[upstream]) is None


def test_an_unreadable_answer_may_have_a_job():
    assert no_job_reason(UnexpectedResponse("xai: no request_id"), XAI) is None


@pytest.mark.parametrize(
    "error",
    [
        GrokVideoError("something else"),
        GenerationFailed("g-1", "failed", "moderation", "refused"),
        RuntimeError("boom"),
        TimeoutError("timed out"),
        ConnectionResetError("reset by peer"),
        KeyboardInterrupt(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_unknown_error_may_have_a_job(error):
    assert no_job_reason(error, XCOMPUTE) is None


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea"])
def test_a_reseller_429_about_credits_is_a_rate_limit_all_the_same(upstream):
    # Both are free, but only xAI is known to say "out of credits" with a 429.
    error = http(upstream, 429, "insufficient credits")
    reason = no_job_reason(error, DIALECTS[upstream])
    assert reason == "rate-limited past its retries (HTTP 429)"


def test_an_xai_403_without_credits_is_a_refused_key():
    error = http("xai", 403, "The caller does not have permission", "permission_denied")
    assert no_job_reason(error, XAI) == "the API key was refused (HTTP 403)"


# --- the dialects' readings ---------------------------------------------------------------


@pytest.mark.parametrize("upstream", list(DIALECTS))
def test_402_is_out_of_credits_everywhere(upstream):
    dialect = DIALECTS[upstream]
    assert dialect.out_of_credits(402, "anything")
    assert not dialect.out_of_credits(500, "no credits left")
    assert not dialect.out_of_credits(401, "credits")


def test_xai_out_of_credits_is_a_429_or_403_that_says_so():
    assert XAI.out_of_credits(429, XAI_CREDITS)
    assert XAI.out_of_credits(403, XAI_CREDITS)
    assert XAI.out_of_credits(429, "Your account balance is exhausted")
    assert not XAI.out_of_credits(429, "Too many requests: rate limit exceeded, retry later")
    assert not XAI.out_of_credits(403, "The caller does not have permission")
    assert not XAI.out_of_credits(400, XAI_CREDITS)


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea"])
def test_resellers_say_out_of_credits_with_402_only(upstream):
    assert not DIALECTS[upstream].out_of_credits(429, XAI_CREDITS)
    assert not DIALECTS[upstream].out_of_credits(403, XAI_CREDITS)


# --- the hooks raise those exceptions: real hooks, real sockets, the emulator -----------------

FAST = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05)
NO_JOB, MAY_EXIST = True, False


@pytest.fixture(scope="module")
def own_ports_emulator() -> Iterator[Emulator]:
    """Every upstream on a port of its own too, so that an outage can refuse connections."""
    with Emulator(job_seconds=1, upstream_ports=UPSTREAMS) as emulator:
        yield emulator


@pytest.fixture
def emu(own_ports_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    own_ports_emulator.reset()
    for upstream in UPSTREAMS:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_FAILOVER_{upstream.upper()}",
            own_ports_emulator.airflow_connection(upstream),
        )
    return own_ports_emulator


def submit_error(upstream: str, **request: Any) -> BaseException:
    hook = get_video_hook(f"failover_{upstream}", retry=FAST)
    with pytest.raises(GrokVideoError) as info:
        hook.submit_video("a lighthouse at dusk", **request)
    return info.value


def down(kind: str) -> Callable[[Emulator, str], None]:
    return lambda emu, upstream: emu.set_outage(upstream, kind)


def fault(name: str, **kw: Any) -> Callable[[Emulator, str], None]:
    return lambda emu, upstream: emu.inject(name, upstream=upstream, endpoint="submit", **kw)


def wrong_key(emu: Emulator, upstream: str, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = json.loads(emu.airflow_connection(upstream))
    monkeypatch.setenv(
        f"AIRFLOW_CONN_FAILOVER_{upstream.upper()}", json.dumps(conn | {"password": "sk-nope"})
    )


CASES: list[tuple[str, str, Any, bool, str]] = [
    *[(u, "refuse", down("refuse"), NO_JOB, "the connection never opened") for u in UPSTREAMS],
    *[(u, "401", down("401"), NO_JOB, "the API key was refused") for u in UPSTREAMS],
    ("xcompute", "402", down("402"), NO_JOB, "out of balance (HTTP 402)"),
    ("mountsea", "402", down("402"), NO_JOB, "out of balance (HTTP 402)"),
    ("xai", "credits", down("credits"), NO_JOB, "out of credits (HTTP 429: Your team"),
    *[(u, "429", fault("429", count=5, retry_after=0), NO_JOB, "rate-limited") for u in UPSTREAMS],
    *[(u, "500", fault("500"), MAY_EXIST, "HTTP 500") for u in UPSTREAMS],
    *[(u, "503", fault("503"), MAY_EXIST, "HTTP 503") for u in UPSTREAMS],
    *[
        (u, "lost-answer", fault("lost-answer"), MAY_EXIST, "not submitted again")
        for u in UPSTREAMS
    ],
    *[(u, "drop", fault("drop"), MAY_EXIST, "not submitted again") for u in UPSTREAMS],
    ("xcompute", "malformed", fault("malformed"), MAY_EXIST, "not submitted again"),
]


@pytest.mark.parametrize(
    ("upstream", "outcome", "arrange", "no_job", "says"),
    CASES,
    ids=[f"{u}-{o}" for u, o, *_ in CASES],
)
def test_real_submits_fail_with_what_failover_reads(emu, upstream, outcome, arrange, no_job, says):
    arrange(emu, upstream)
    error = submit_error(upstream)
    reason = no_job_reason(error, DIALECTS[upstream])
    assert (reason is not None) is no_job, (error, reason)
    assert says in (reason if no_job else str(error)), (error, reason)
    if no_job:  # and truly nothing was created upstream
        assert emu.stats()["upstreams"][upstream]["submissions"] == 0
    if outcome == "refuse":
        assert type(error) is UpstreamUnreachable and "ConnectError" in str(error)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_real_wrong_key_is_a_refused_key(emu, upstream, monkeypatch):
    wrong_key(emu, upstream, monkeypatch)
    error = submit_error(upstream)
    status = 400 if upstream == "xai" else 401
    assert no_job_reason(error, DIALECTS[upstream]) == f"the API key was refused (HTTP {status})"
    assert emu.stats()["upstreams"][upstream]["submissions"] == 0


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_real_request_out_of_limits_is_refused_before_sending(emu, upstream):
    error = submit_error(upstream, duration=99)
    assert isinstance(error, InvalidVideoRequest)
    assert no_job_reason(error, DIALECTS[upstream]).startswith("refused by its limits")  # type: ignore[union-attr]
    assert emu.stats()["upstreams"][upstream]["requests"] == 0


def test_a_real_read_timeout_may_have_a_job(emu, monkeypatch):
    conn = json.loads(emu.airflow_connection("mountsea"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_FAILOVER_MOUNTSEA", json.dumps(conn | {"extra": {"timeout": 0.3}})
    )
    emu.inject("late-answer", upstream="mountsea", endpoint="submit", delay=2)
    error = submit_error("mountsea")
    assert isinstance(error, SubmitOutcomeUnknown) and "ReadTimeout" in str(error)
    assert no_job_reason(error, MOUNTSEA) is None
    assert emu.stats()["upstreams"]["mountsea"]["submissions"] == 1  # it did exist
