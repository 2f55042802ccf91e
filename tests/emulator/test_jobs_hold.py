"""The hold: every unfinished job's clock stands still until the release, then each job lives
the rest of its life (in the store, and over HTTP on every upstream and the CDN)."""

from __future__ import annotations

import time

import httpx
import pytest

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.emulator.faults import DEFAULT_SCENARIO
from airflow_provider_grokvideo.emulator.jobs import Job, JobStore
from emulator.conftest import TERMINAL, Api


def make_job(job_id: str, created: float, seconds: float) -> Job:
    return Job(job_id, "xai", created, seconds, DEFAULT_SCENARIO, 8.0)


def test_a_hold_stops_unfinished_clocks_and_the_release_restarts_them() -> None:
    store = JobStore(100)
    done, running = make_job("done", 0.0, 10.0), make_job("running", 0.0, 100.0)
    store.add(done, 0.0)
    store.add(running, 0.0)
    store.hold(50.0)
    assert store.held
    store.hold(60.0)  # holding again keeps the first start of the hold
    late = make_job("late", 70.0, 20.0)  # submitted during the hold
    store.add(late, 70.0)

    at_hold = (running.phase(50.0), running.progress(50.0))
    assert at_hold == ("running", 37)
    # An hour later nothing held has moved; what had finished before stays finished.
    assert (running.phase(3_650.0), running.progress(3_650.0)) == at_hold
    assert (late.phase(3_650.0), late.progress(3_650.0)) == ("queued", 0)
    assert done.phase(3_650.0) == "succeeded" and done.has_video(3_650.0)
    assert not running.finished(3_650.0) and not running.has_video(3_650.0)
    assert store.counts(3_650.0)["succeeded"] == 1

    assert store.release(3_650.0) == 2
    assert not store.held and store.release(3_700.0) == 0
    # Each lives the rest of its life from the release: 50 s and 20 s more.
    assert running.progress(3_650.0) == 37 and running.ends == 3_700.0
    assert running.phase(3_699.0) == "running" and running.phase(3_700.0) == "succeeded"
    assert late.ends == 3_670.0 and late.finished(3_670.0)
    assert done.ends == 10.0


def test_a_second_hold_adds_to_the_first() -> None:
    store = JobStore(10)
    job = make_job("j", 0.0, 100.0)
    store.add(job, 0.0)
    store.hold(10.0)
    store.release(20.0)
    store.hold(30.0)
    assert job.elapsed(1_000.0) == 20.0
    store.release(40.0)
    assert job.ends == 120.0 and job.elapsed(50.0) == 30.0


def test_reset_ends_a_hold() -> None:
    store = JobStore(10)
    store.hold(1.0)
    store.clear()
    assert not store.held


@pytest.mark.parametrize("upstream", sorted(TERMINAL))
def test_held_jobs_stay_unfinished_over_http_until_released(
    api: Api, emu: Emulator, upstream: str
) -> None:
    control = f"{emu.url}/_emulator"
    assert httpx.post(f"{control}/hold").json() == {"held": True}
    assert emu.stats()["held"] is True
    job_id = api.submit_id(upstream)
    time.sleep(0.5)  # longer than the test emulator's jobs (0.3 s)
    body = api.status(upstream, job_id).json()
    assert api.status_of(upstream, body) not in TERMINAL[upstream], body
    assert emu.job(job_id)["state"] == "queued"  # type: ignore[index]

    assert httpx.post(f"{control}/release").json() == {"held": False, "jobs_released": 1}
    assert emu.stats()["held"] is False
    assert api.status_of(upstream, api.poll(upstream, job_id)[-1]) in TERMINAL[upstream]


def test_the_python_api_holds_and_releases(emu: Emulator, api: Api) -> None:
    emu.hold()
    job_id = api.submit_id("xai")
    time.sleep(0.4)
    assert emu.job(job_id)["state"] == "queued"  # type: ignore[index]
    assert emu.release() == 1
    api.poll("xai", job_id)
    emu.hold()
    emu.reset()
    assert emu.stats()["held"] is False


def test_the_first_status_read_after_the_end_is_recorded() -> None:
    """``seen_ended``: when a client first learned that a job had ended (the deployment
    figures split a wait's end into noticing it and Airflow's part)."""
    now = [1_800_000_000.0]
    with Emulator(job_seconds=10.0) as emulator:
        emulator.app.clock = lambda: now[0]
        headers = {"Authorization": "Bearer emulator-key"}
        with httpx.Client(base_url=emulator.base_url("xai"), headers=headers) as client:
            job_id = client.post("/v1/videos/generations", json={"prompt": "a kite"}).json()[
                "request_id"
            ]
            info = f"{emulator.url}/_emulator/jobs/{job_id}"
            client.get(f"/v1/videos/{job_id}")
            assert httpx.get(info).json()["seen_ended"] is None  # still running
            now[0] += 12.0
            assert httpx.get(info).json()["seen_ended"] is None  # ended, nobody asked yet
            client.get(f"/v1/videos/{job_id}")
            now[0] += 5.0
            client.get(f"/v1/videos/{job_id}")
            job = httpx.get(info).json()
    assert job["seen_ended"] == 1_800_000_012.0 and job["ends"] == 1_800_000_010.0
