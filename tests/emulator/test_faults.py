"""Global faults (``POST /_emulator/faults`` and ``Emulator.inject``), over real sockets."""

from __future__ import annotations

import concurrent.futures
import json
import time
from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import Emulator

UPSTREAMS = ["xcompute", "mountsea", "xai"]


def inject(emu: Emulator, **body: Any) -> httpx.Response:
    return httpx.post(f"{emu.url}/_emulator/faults", json=body)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_429_with_retry_after_in_upstream_shape(api: Any, upstream: str) -> None:
    assert inject(api.emulator, fault="429", count=2, upstream=upstream, retry_after=7).is_success
    for _ in range(2):
        response = api.submit(upstream)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "7"
        body = response.json()
        if upstream == "xcompute":
            assert body["error"]["code"] == 429 and body["error"]["type"] == "rate_limit_error"
        elif upstream == "mountsea":
            assert body["statusCode"] == 429 and "Too Many Requests" in body["message"]
        else:
            assert body["code"] and "rate limit" in body["error"]
    assert api.submit(upstream).status_code == 200  # count used up
    stats = api.emulator.stats()
    assert stats["upstreams"][upstream]["submissions"] == 1
    assert stats["upstreams"][upstream]["faults"] == 2
    assert stats["faults_fired"] == {"429": 2}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_with_html_body(api: Any, status: int) -> None:
    api.emulator.inject(str(status), endpoint="status")
    job_id = api.submit_id("xai")  # the submit is not a status read: no fault
    response = api.status("xai", job_id)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().startswith("<html>")
    assert api.status("xai", job_id).status_code == 200


def test_drop_closes_without_response_and_does_not_process(api: Any) -> None:
    api.emulator.inject("drop", upstream="mountsea", endpoint="submit")
    with pytest.raises(httpx.RemoteProtocolError):
        api.submit("mountsea")
    stats = api.emulator.stats()
    assert stats["upstreams"]["mountsea"]["submissions"] == 0
    assert stats["jobs_total"] == 0
    assert api.submit("mountsea").status_code == 200  # the pooled client recovers


def test_drop_seen_by_plain_httpx_as_transport_error(emu: Emulator) -> None:
    emu.inject(429)  # int fault names are accepted too
    emu.reset()
    emu.inject("drop")
    with pytest.raises(httpx.TransportError) as info:
        httpx.get(emu.base_url("xai") + "/v1/videos/x", headers={"Authorization": "Bearer k"})
    assert isinstance(info.value, httpx.RemoteProtocolError)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_lost_answer_processes_then_drops(api: Any, upstream: str) -> None:
    api.emulator.inject("lost-answer", upstream=upstream, endpoint="submit")
    with pytest.raises(httpx.RemoteProtocolError):
        api.submit(upstream)
    stats = api.emulator.stats()
    assert stats["upstreams"][upstream]["submissions"] == 1  # the job was created and counted
    assert stats["jobs_total"] == 1


def test_lost_answer_on_status_counts_the_read(api: Any) -> None:
    job_id = api.submit_id("xcompute")
    api.emulator.inject("lost-answer", endpoint="status")
    with pytest.raises(httpx.RemoteProtocolError):
        api.status("xcompute", job_id)
    assert api.emulator.stats()["upstreams"]["xcompute"]["status_reads"] == 1


def test_slow_answers_after_delay(api: Any) -> None:
    job_id = api.submit_id("xai")
    api.emulator.inject("slow", delay=0.4, upstream="xai", endpoint="status")
    started = time.monotonic()
    response = api.status("xai", job_id)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.4
    with pytest.raises(httpx.ReadTimeout):
        api.emulator.inject("slow", delay=0.5)
        api.client.get(api.url("xai", f"/v1/videos/{job_id}"), timeout=0.1)


def test_malformed_is_200_with_invalid_json(api: Any) -> None:
    api.emulator.inject("malformed", upstream="xcompute")
    response = api.submit("xcompute")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert api.emulator.stats()["upstreams"]["xcompute"]["submissions"] == 0


def test_fault_filters_by_upstream_and_endpoint(api: Any) -> None:
    api.emulator.inject("503", upstream="mountsea", endpoint="status")
    assert api.submit("xai").status_code == 200
    job_id = api.submit_id("mountsea")  # submit: not targeted
    assert api.status("mountsea", job_id).status_code == 503
    assert api.status("mountsea", job_id).status_code == 200


def test_faults_fire_in_order(api: Any) -> None:
    api.emulator.inject("502")
    api.emulator.inject("429", retry_after=0.2)
    assert api.submit("xai").status_code == 502
    response = api.submit("xai")
    assert response.status_code == 429 and response.headers["retry-after"] == "0.2"
    assert api.submit("xai").status_code == 200


def test_control_endpoint_lists_validates_and_clears(emu: Emulator) -> None:
    created = inject(emu, fault="slow", count=3, upstream="xai", endpoint="cdn", delay=1.5)
    assert created.status_code == 201
    assert created.json()["added"] == {
        "fault": "slow",
        "count": 3,
        "upstream": "xai",
        "endpoint": "cdn",
        "delay": 1.5,
    }
    listed = httpx.get(f"{emu.url}/_emulator/faults").json()["faults"]
    assert listed == [created.json()["added"]]
    assert emu.stats()["faults_pending"] == listed
    for bad in (
        {"fault": "explode"},
        {"fault": "429", "count": 0},
        {"fault": "429", "upstream": "openai"},
        {"fault": "429", "endpoint": "download"},
        {"fault": "slow", "delay": -1},
        {"fault": "429", "retry_after": "soon"},
        {"fault": "429", "colour": "red"},
        {"count": 1},
    ):
        response = inject(emu, **bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]
    assert httpx.delete(f"{emu.url}/_emulator/faults").json() == {"faults": []}
    assert emu.stats()["faults_pending"] == []


def test_inject_in_python_validates(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="fault must be one of"):
        emu.inject("teapot")
    with pytest.raises(ValueError, match="count"):
        emu.inject("drop", count=-1)
    assert emu.inject("drop", count=2, upstream="xai")["count"] == 2
    emu.clear_faults()
    assert emu.stats()["faults_pending"] == []


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_late_answer_creates_the_job_before_answering(api: Any, upstream: str) -> None:
    api.emulator.inject("late-answer", delay=0.8, upstream=upstream, endpoint="submit")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(api.submit, upstream)
        # While the client still waits, the job already exists and is counted.
        deadline = time.monotonic() + 0.6
        while api.emulator.stats()["upstreams"][upstream]["submissions"] == 0:
            assert time.monotonic() < deadline, "the job was not created before the answer"
            time.sleep(0.02)
        assert not pending.done()
        response = pending.result(timeout=10)
    assert time.monotonic() - started >= 0.8
    assert response.status_code == 200
    job_id = api.job_id_of(upstream, response.json())
    assert api.emulator.job(job_id)["upstream"] == upstream  # the answer names that job
    stats = api.emulator.stats()
    assert stats["jobs_total"] == 1
    assert stats["faults_fired"] == {"late-answer": 1}


def test_late_answer_leaves_the_job_when_the_client_gives_up(api: Any) -> None:
    # A client that stops waiting (a timeout, a killed worker) has still created the job.
    api.emulator.inject("late-answer", delay=1.0, upstream="xai", endpoint="submit")
    with pytest.raises(httpx.ReadTimeout):
        api.client.post(
            api.url("xai", "/v1/videos/generations"), json={"prompt": "a kite"}, timeout=0.2
        )
    assert api.emulator.stats()["upstreams"]["xai"]["submissions"] == 1
    assert api.emulator.stats()["jobs_total"] == 1


def test_slow_submit_creates_nothing_while_the_client_waits(api: Any) -> None:
    # The contrast with late-answer: slow delays before processing.
    api.emulator.inject("slow", delay=1.0, upstream="xai", endpoint="submit")
    with pytest.raises(httpx.ReadTimeout):
        api.client.post(
            api.url("xai", "/v1/videos/generations"), json={"prompt": "a kite"}, timeout=0.2
        )
    assert api.emulator.stats()["upstreams"]["xai"]["submissions"] == 0


def test_late_answer_on_status_reads_then_answers_late(api: Any) -> None:
    job_id = api.submit_id("mountsea")
    api.emulator.inject("late-answer", delay=0.4, endpoint="status")
    started = time.monotonic()
    response = api.status("mountsea", job_id)
    assert response.status_code == 200 and response.json()["taskId"] == job_id
    assert time.monotonic() - started >= 0.4
    assert api.emulator.stats()["upstreams"]["mountsea"]["status_reads"] == 1


def test_late_answer_is_listed_with_its_delay(emu: Emulator) -> None:
    created = inject(emu, fault="late-answer", upstream="xcompute", endpoint="submit", delay=30)
    assert created.status_code == 201
    assert created.json()["added"] == {
        "fault": "late-answer",
        "count": 1,
        "upstream": "xcompute",
        "endpoint": "submit",
        "delay": 30.0,
    }
    assert inject(emu, fault="late-answer", delay=-1).status_code == 400
    assert emu.inject("late-answer")["delay"] == 3.0  # the default delay, as for slow
