"""The three hooks over real sockets against the bundled emulator."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import httpx
import pytest
from airflow.sdk import Connection
from hook_support import FAST, make_hook, wait_until_done

from airflow_provider_grokvideo.exceptions import (
    GrokVideoError,
    InvalidVideoRequest,
    SubmitOutcomeUnknown,
    UnexpectedResponse,
    UpstreamHTTPError,
    UpstreamUnreachable,
)
from airflow_provider_grokvideo.hooks import get_video_hook, hook_class_for
from airflow_provider_grokvideo.hooks.base import (
    GrokVideoHook,
)
from airflow_provider_grokvideo.hooks.clients import BearerAuth, SharedClient, parse_retry_after
from airflow_provider_grokvideo.hooks.mountsea import MountseaVideoHook
from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy
from airflow_provider_grokvideo.hooks.settings import ConnectionSettings
from airflow_provider_grokvideo.hooks.xai import XAIVideoHook
from airflow_provider_grokvideo.hooks.xcompute import XComputeVideoHook

UPSTREAMS = ["xcompute", "mountsea", "xai"]
SECRET = "sk-test-0123456789abcdef"


def submissions(emulator, upstream: str) -> int:
    return emulator.stats()["upstreams"][upstream]["submissions"]


# --- the happy path, per upstream ------------------------------------------------------------


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_text_to_video_end_to_end(grokvideo_emulator, upstream):
    hook = make_hook(grokvideo_emulator, upstream)
    generation_id = hook.submit_video("a red fox running through snow", duration=6)
    first = hook.get_video(generation_id)
    assert first.generation_id == generation_id
    assert first.status in ("queued", "running", "succeeded")
    done = wait_until_done(hook, generation_id)
    assert done.status == "succeeded", done
    assert done.video_urls and done.video_urls[0].startswith(grokvideo_emulator.url)
    assert submissions(grokvideo_emulator, upstream) == 1


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_image_to_video_end_to_end(grokvideo_emulator, upstream):
    hook = make_hook(grokvideo_emulator, upstream)
    generation_id = hook.submit_video(
        "make it move", image_urls=["https://example.com/start.png"], duration=6
    )
    assert wait_until_done(hook, generation_id).status == "succeeded"


@pytest.mark.parametrize("upstream", UPSTREAMS)
async def test_async_status_read_shares_one_pooled_client(grokvideo_emulator, upstream):
    hook = make_hook(grokvideo_emulator, upstream)
    generation_id = await asyncio.to_thread(hook.submit_video, "a lighthouse at dusk", duration=6)
    twin = make_hook(grokvideo_emulator, upstream)
    async with hook.async_session() as client, twin.async_session() as same:
        assert client is same
        results = await asyncio.gather(*(h.aget_video(generation_id) for h in [hook, twin] * 10))
        assert {r.generation_id for r in results} == {generation_id}
        opened = grokvideo_emulator.stats()["connections_opened"]
        while not (generation := await hook.aget_video(generation_id)).is_terminal:
            await asyncio.sleep(0.2)
        # Later polls reuse the pool's kept-alive connections: none is opened per poll.
        assert grokvideo_emulator.stats()["connections_opened"] == opened
    assert generation.status == "succeeded"
    assert client.is_closed  # the last lease closed the pooled client


def test_xcompute_reports_progress_and_estimate(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator, "xcompute")
    generation_id = hook.submit_video("slow [emulator:seconds=3]")
    time.sleep(1.5)
    generation = hook.get_video(generation_id)
    assert generation.status in ("queued", "running")
    assert generation.progress is not None and 0 <= generation.progress < 100
    assert generation.estimated_seconds and generation.created_at


@pytest.mark.parametrize("marker", ["list-submit", "bare", "url-string"])
def test_xcompute_alternative_documented_shapes(grokvideo_emulator, marker):
    hook = make_hook(grokvideo_emulator, "xcompute")
    generation_id = hook.submit_video(f"shape test [emulator:{marker}]")
    done = wait_until_done(hook, generation_id)
    assert done.status == "succeeded" and done.video_urls


@pytest.mark.parametrize("shape", ["output", "other"])
def test_mountsea_result_shapes(grokvideo_emulator, shape):
    hook = make_hook(grokvideo_emulator, "mountsea")
    generation_id = hook.submit_video(f"shape test [emulator:result-shape={shape}]")
    done = wait_until_done(hook, generation_id)
    assert done.status == "succeeded" and done.video_urls[0].startswith(grokvideo_emulator.url)


@pytest.mark.parametrize(
    ("upstream", "marker", "status", "words"),
    [
        ("xcompute", "fail", "failed", ["content"]),
        ("xcompute", "cancel", "cancelled", []),
        ("mountsea", "fail", "failed", ["content"]),
        ("mountsea", "timeout", "failed", ["time"]),
        ("mountsea", "no-url", "failed", ["no http(s) video URL"]),
        ("xai", "fail", "failed", ["content"]),
        ("xai", "expire", "expired", ["expired"]),
        ("xai", "no-url", "failed", ["moderation"]),
    ],
)
def test_unsuccessful_outcomes_carry_the_upstream_reason(
    grokvideo_emulator, upstream, marker, status, words
):
    hook = make_hook(grokvideo_emulator, upstream)
    done = wait_until_done(hook, hook.submit_video(f"outcome [emulator:{marker}]"))
    assert done.status == status
    for word in words:
        assert word.lower() in (done.error_message or "").lower()


def test_unknown_status_is_running_and_logged_once(grokvideo_emulator, caplog, capfd):
    GrokVideoHook._unknown_statuses_logged.clear()
    hook = make_hook(grokvideo_emulator, "xai")
    generation_id = hook.submit_video("odd words [emulator:unknown-status] [emulator:seconds=2]")
    seen = []
    with caplog.at_level(logging.WARNING):
        while not (generation := hook.get_video(generation_id)).is_terminal:
            seen.append(generation.status)
            time.sleep(0.1)
    assert generation.status == "succeeded" and "running" in seen
    logged = caplog.text + capfd.readouterr().out  # Airflow's structlog may print directly
    assert logged.count("undocumented status") == 1


# --- connections ---------------------------------------------------------------------------


def test_host_replaces_the_base_url_and_keeps_its_path_prefix(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator, "mountsea")
    assert hook.settings.base_url == grokvideo_emulator.base_url("mountsea")
    assert hook.settings.base_url.endswith("/mountsea")
    assert hook.test_connection()[0]


@pytest.mark.parametrize(
    ("cls", "url"),
    [
        (XComputeVideoHook, "https://xcompute.us"),
        (MountseaVideoHook, "https://api.mountsea.ai"),
        (XAIVideoHook, "https://api.x.ai"),
    ],
)
def test_default_base_urls_and_connection_ids(cls, url):
    conn = Connection(conn_id="c", conn_type=cls.conn_type, password="k")
    assert cls("c", connection=conn).settings.base_url == url
    assert cls.default_conn_name == f"{cls.conn_type}_default"
    host_only = Connection(
        conn_id="c", conn_type=cls.conn_type, host="proxy.local", port=8443, password="k"
    )
    assert cls("c", connection=host_only).settings.base_url == "https://proxy.local:8443"


def test_connection_extras():
    conn = Connection(
        conn_id="c",
        conn_type="grokvideo_xai",
        password="k",
        extra=json.dumps({"model": "grok-imagine-video-2", "timeout": 12, "relax_limits": "true"}),
    )
    settings = ConnectionSettings.from_connection(conn, "https://api.x.ai")
    assert (settings.model, settings.timeout, settings.relax_limits) == (
        "grok-imagine-video-2",
        12.0,
        True,
    )
    # The connection's model is used, and relaxed limits accept it.
    call = XAIVideoHook("c", connection=conn).build_request("p", duration=30)
    assert call.json == {"model": "grok-imagine-video-2", "prompt": "p", "duration": 30}


def test_hook_is_chosen_by_connection_type(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MY_VIDEOS",
        json.dumps({"conn_type": "grokvideo_mountsea", "password": "k"}),
    )
    assert isinstance(get_video_hook("my_videos"), MountseaVideoHook)
    with pytest.raises(ValueError, match="grokvideo_mountsea, grokvideo_xai, grokvideo_xcompute"):
        hook_class_for("http", "web")


def test_connection_without_key_or_with_a_bad_host_is_refused():
    conn = Connection(conn_id="c", conn_type="grokvideo_xai")
    with pytest.raises(GrokVideoError, match="no API key"):
        XAIVideoHook("c", connection=conn).submit_video("p")
    conn = Connection(conn_id="c", conn_type="grokvideo_xai", host="ftp://x", password="k")
    with pytest.raises(GrokVideoError, match="not an http"):
        XAIVideoHook("c", connection=conn).submit_video("p")


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_test_connection_is_free_and_tells_a_bad_key(grokvideo_emulator, upstream):
    ok, message = make_hook(grokvideo_emulator, upstream).test_connection()
    assert ok and "API key accepted" in message
    ok, message = make_hook(grokvideo_emulator, upstream, key=SECRET).test_connection()
    assert not ok and "rejected the API key" in message and SECRET not in message
    assert submissions(grokvideo_emulator, upstream) == 0


# --- refusals and errors ---------------------------------------------------------------------


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_bad_input_is_refused_before_any_request(grokvideo_emulator, upstream):
    hook = make_hook(grokvideo_emulator, upstream)
    with pytest.raises(InvalidVideoRequest, match="duration=99"):
        hook.submit_video("a prompt", duration=99)
    stats = grokvideo_emulator.stats()
    assert stats["upstreams"][upstream] == {**stats["upstreams"][upstream], "submissions": 0}
    assert stats["connections_opened"] == 0


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_upstream_refusal_carries_status_code_and_message(grokvideo_emulator, upstream):
    hook = make_hook(grokvideo_emulator, upstream, relax_limits=True)
    with pytest.raises(UpstreamHTTPError) as info:
        hook.submit_video("a prompt", duration=99)  # passes relaxed checks, the upstream refuses
    error = info.value
    assert error.status_code == 400 and "duration" in error.message.lower()
    assert str(error).startswith(f"{upstream} answered HTTP 400")


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_bad_key_error_never_shows_the_key(grokvideo_emulator, upstream, caplog, capfd):
    hook = make_hook(grokvideo_emulator, upstream, key=SECRET)
    with caplog.at_level(logging.DEBUG), pytest.raises(UpstreamHTTPError) as info:
        hook.submit_video("a prompt")
    assert info.value.status_code == (400 if upstream == "xai" else 401)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert SECRET not in repr(hook) and SECRET not in repr(hook.settings)
    assert SECRET not in repr(hook.get_conn().auth)
    assert SECRET not in caplog.text + capfd.readouterr().out


def test_not_found_is_not_retried(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator, "xcompute")
    with pytest.raises(UpstreamHTTPError) as info:
        hook.get_video("task_does_not_exist")
    assert info.value.status_code == 404
    assert grokvideo_emulator.stats()["upstreams"]["xcompute"]["status_reads"] == 1


# --- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_status_reads_ride_through_429_with_retry_after(grokvideo_emulator, upstream):
    hook = make_hook(grokvideo_emulator, upstream)
    generation_id = hook.submit_video("a prompt")
    grokvideo_emulator.inject("429", count=2, upstream=upstream, endpoint="status", retry_after=1)
    started = time.monotonic()
    generation = hook.get_video(generation_id)
    assert generation.generation_id == generation_id
    assert time.monotonic() - started >= 1.8  # both Retry-After delays were honoured


@pytest.mark.parametrize("fault", ["500", "502", "503", "drop", "malformed"])
def test_status_reads_ride_through_server_errors(grokvideo_emulator, fault):
    hook = make_hook(grokvideo_emulator, "mountsea")
    generation_id = hook.submit_video("a prompt")
    grokvideo_emulator.inject(fault, count=2, endpoint="status")
    assert hook.get_video(generation_id).generation_id == generation_id


async def test_async_status_reads_ride_through_429_and_5xx(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator, "xai")
    generation_id = await asyncio.to_thread(hook.submit_video, "a prompt")
    grokvideo_emulator.inject("429", count=1, endpoint="status", retry_after=1)
    grokvideo_emulator.inject("503", count=1, endpoint="status")
    assert (await hook.aget_video(generation_id)).generation_id == generation_id
    grokvideo_emulator.inject("500", count=1, endpoint="status")
    with pytest.raises(UpstreamHTTPError, match="HTTP 500"):
        await hook.aget_video(generation_id, retry=False)


def test_status_retries_give_up_after_the_policy(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator, "xcompute")
    generation_id = hook.submit_video("a prompt")
    grokvideo_emulator.inject("503", count=10, endpoint="status")
    with pytest.raises(UpstreamHTTPError, match="HTTP 503"):
        hook.get_video(generation_id)
    assert grokvideo_emulator.stats()["upstreams"]["xcompute"]["faults"] == FAST.attempts


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_submit_is_retried_through_429(grokvideo_emulator, upstream):
    hook = make_hook(grokvideo_emulator, upstream)
    grokvideo_emulator.inject("429", count=2, upstream=upstream, endpoint="submit", retry_after=0)
    assert hook.submit_video("a prompt")
    assert submissions(grokvideo_emulator, upstream) == 1


@pytest.mark.parametrize("fault", ["500", "502", "503"])
def test_submit_is_not_retried_after_a_server_error(grokvideo_emulator, fault):
    hook = make_hook(grokvideo_emulator, "xcompute")
    grokvideo_emulator.inject(fault, count=1, endpoint="submit")
    with pytest.raises(UpstreamHTTPError, match=f"HTTP {fault}"):
        hook.submit_video("a prompt")
    upstream = grokvideo_emulator.stats()["upstreams"]["xcompute"]
    assert (upstream["faults"], upstream["submit_requests"]) == (1, 0)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_lost_submit_answer_is_never_submitted_twice(grokvideo_emulator, upstream):
    hook = make_hook(grokvideo_emulator, upstream)
    grokvideo_emulator.inject("lost-answer", count=1, upstream=upstream, endpoint="submit")
    with pytest.raises(SubmitOutcomeUnknown, match="not submitted again"):
        hook.submit_video("a prompt")
    assert submissions(grokvideo_emulator, upstream) == 1


def test_malformed_submit_answer_is_not_resubmitted(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator, "mountsea")
    grokvideo_emulator.inject("malformed", count=1, endpoint="submit")
    with pytest.raises(SubmitOutcomeUnknown, match="not submitted again"):
        hook.submit_video("a prompt")
    upstream = grokvideo_emulator.stats()["upstreams"]["mountsea"]
    assert (upstream["faults"], upstream["submit_requests"]) == (1, 0)


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    conn = Connection(
        conn_id="c", conn_type="grokvideo_xai", host=f"http://127.0.0.1:{port}", password=SECRET
    )
    hook = XAIVideoHook("c", connection=conn, retry=FAST)
    with pytest.raises(UpstreamUnreachable, match="no answer from xai") as info:
        hook.submit_video("a prompt")
    assert not isinstance(info.value, SubmitOutcomeUnknown)
    assert SECRET not in str(info.value)


# --- the key goes to the API host only -----------------------------------------------------------


def test_bearer_auth_is_sent_to_the_api_origin_only():
    seen: dict[str, str | None] = {}

    def record(request: httpx.Request) -> httpx.Response:
        seen[str(request.url)] = request.headers.get("Authorization")
        return httpx.Response(200, json={})

    auth = BearerAuth(SECRET, ("https", "api.x.ai", None))
    with httpx.Client(transport=httpx.MockTransport(record), auth=auth) as client:
        client.get("https://api.x.ai/v1/videos/1")
        client.get("https://api.x.ai:443/v1/videos/2")
        client.get("https://vidgen.x.ai/v.mp4")
        client.get("http://api.x.ai/v1/videos/3")
    assert seen == {
        "https://api.x.ai/v1/videos/1": f"Bearer {SECRET}",
        "https://api.x.ai/v1/videos/2": f"Bearer {SECRET}",
        "https://vidgen.x.ai/v.mp4": None,
        "http://api.x.ai/v1/videos/3": None,
    }
    assert SECRET not in repr(auth)


async def test_async_status_read_goes_to_the_api_only(monkeypatch):
    """The trigger's status read (straight to the pooled transport, past the client's auth and
    redirect handling) still sends the key to the API's own URL only, with the connection's
    timeout, and follows no redirect."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/moved"):
            return httpx.Response(302, headers={"Location": "https://cdn.example.com/v.mp4"})
        return httpx.Response(200, json={"status": "pending", "progress": 40})

    conn = Connection(
        conn_id="c",
        conn_type="grokvideo_xai",
        host="https://api.example.com/prefix",
        password=SECRET,
        extra=json.dumps({"timeout": 7}),
    )
    hook = XAIVideoHook("c", connection=conn, retry=FAST)
    transport = httpx.MockTransport(record)
    monkeypatch.setattr(
        hook,
        "_new_shared_client",
        lambda: SharedClient(httpx.AsyncClient(transport=transport), transport),
    )
    generation = await hook.aget_video("r1", retry=False)
    assert (generation.status, generation.progress) == ("queued", 40)
    (request,) = seen
    assert str(request.url) == "https://api.example.com/prefix/v1/videos/r1"
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert request.extensions["timeout"] == {"connect": 7.0, "read": 7.0, "write": 7.0, "pool": 7.0}

    with pytest.raises(UnexpectedResponse, match="not JSON"):
        await hook.aget_video("moved", retry=False)
    assert [str(r.url.host) for r in seen] == ["api.example.com", "api.example.com"]


def test_upstream_text_echoing_the_key_is_scrubbed():
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": f"bad key {SECRET}"}})

    conn = Connection(conn_id="c", conn_type="grokvideo_xcompute", password=SECRET)
    hook = XComputeVideoHook("c", connection=conn, retry=FAST)
    hook.get_conn()._transport = httpx.MockTransport(echo)
    with pytest.raises(UpstreamHTTPError) as info:
        hook.get_video("t")
    assert SECRET not in str(info.value) and "bad key ***" in str(info.value)


@pytest.mark.parametrize(
    ("header", "expected"), [("3", 3.0), ("0.5", 0.5), (None, None), ("soon", None)]
)
def test_retry_after_header(header, expected):
    assert parse_retry_after(header) == expected


def test_retry_policy_prefers_the_upstreams_delay():
    error = UpstreamHTTPError("xai", 429, None, "slow down", retry_after=7)
    assert RetryPolicy(max_wait=60).wait_for(1, error) == 7
    assert RetryPolicy(max_wait=5).wait_for(1, error) == 5
    assert 0.5 <= RetryPolicy(initial_wait=1).wait_for(1, None) <= 1.0
    assert 4.0 <= RetryPolicy(initial_wait=1).wait_for(4, None) <= 8.0


# --- today's models, unknown models, and cost ------------------------------------------------


@pytest.mark.parametrize(
    ("upstream", "model"),
    [("xai", "grok-imagine-video-1.5"), ("xcompute", "grok-imagine-1.5-video-apimart")],
)
def test_todays_models_are_submitted_and_finish(grokvideo_emulator, upstream, model):
    hook = make_hook(grokvideo_emulator, upstream)
    generation_id = hook.submit_video("a kite", model=model, duration=6, resolution="720p")
    assert grokvideo_emulator.job(generation_id)["model"] == model
    assert wait_until_done(hook, generation_id).status == "succeeded"


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_unknown_model_is_sent_with_one_warning_and_the_upstream_refusal_surfaces(
    grokvideo_emulator, upstream, caplog, capfd
):
    GrokVideoHook._unknown_models_logged.clear()
    hook = make_hook(grokvideo_emulator, upstream)
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            with pytest.raises(UpstreamHTTPError) as info:
                # A duration no known model allows: not checked for a model the dialect lacks.
                hook.submit_video("a prompt", model="grok-imagine-video-9", duration=99)
    error = info.value
    assert error.status_code == 400 and not error.is_transient
    assert "model" in error.message.lower()  # the upstream's own words, naming the field
    stats = grokvideo_emulator.stats()["upstreams"][upstream]
    assert (stats["submit_requests"], stats["rejected"], stats["submissions"]) == (2, 2, 0)
    logged = caplog.text + capfd.readouterr().out
    assert logged.count("'grok-imagine-video-9' is not one this provider knows") == 1
    assert "limits were not checked" in logged


def test_a_known_models_limit_is_still_refused_before_any_request(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator, "xai")
    with pytest.raises(InvalidVideoRequest) as info:
        hook.submit_video("p", model="grok-imagine-video-1.5", duration=20)
    assert info.value.model == "grok-imagine-video-1.5"
    assert "not accepted by model 'grok-imagine-video-1.5'" in str(info.value)
    assert grokvideo_emulator.stats()["requests"] == 0


def test_xai_billed_cost_comes_back_with_the_video(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator, "xai")
    generation_id = hook.submit_video("a kite", duration=6, resolution="720p")
    done = wait_until_done(hook, generation_id)
    assert (done.cost_ticks, str(done.cost_usd), done.cost_source) == (
        4_200_000_000,
        "0.42",
        "billed",
    )
    # The estimate before submitting agrees with the bill.
    estimate = hook.estimate_cost(duration=6, resolution="720p")
    assert estimate is not None and estimate.cost_ticks == done.cost_ticks


def test_estimate_cost_uses_the_table_the_connection_and_sends_nothing(grokvideo_emulator):
    xai_hook = make_hook(grokvideo_emulator, "xai")
    assert str(xai_hook.estimate_cost(duration="6", resolution="480P").cost_usd) == "0.3"
    # Imagine 1.5 at xAI's published base price, at every resolution.
    imagine_15 = xai_hook.estimate_cost(model="grok-imagine-video-1.5", duration=6)
    assert str(imagine_15.cost_usd) == "0.48"
    with pytest.raises(InvalidVideoRequest, match="duration=99"):
        xai_hook.estimate_cost(duration=99)
    priced = make_hook(
        grokvideo_emulator,
        "xai",
        prices={"grok-imagine-video-1.5": {"480p": 0.04, "720p": 0.06}, "grok-imagine-video": 1},
    )
    found = priced.estimate_cost(model="grok-imagine-video-1.5", duration=10, resolution="720p")
    assert str(found.cost_usd) == "0.6" and "extra 'prices'" in found.source
    assert str(priced.estimate_cost(duration=2, resolution="480p").cost_usd) == "2"
    bad = make_hook(grokvideo_emulator, "xai", prices="{oops")
    with pytest.raises(GrokVideoError, match="extra 'prices' is not JSON"):
        bad.estimate_cost(duration=6)
    assert grokvideo_emulator.stats()["requests"] == 0
