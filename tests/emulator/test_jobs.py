"""In-process units: the bounded job store, the job's life, markers, ranges, padded videos."""

from __future__ import annotations

import struct
import time
import tracemalloc

import pytest

from airflow_provider_grokvideo.emulator.app import EmulatorApp
from airflow_provider_grokvideo.emulator.cdn import MediaFile, parse_range, sample_bytes
from airflow_provider_grokvideo.emulator.faults import (
    DEFAULT_SCENARIO,
    MarkerError,
    make_fault,
    parse_markers,
)
from airflow_provider_grokvideo.emulator.jobs import Job, JobStore, ulid, uuid4_hex


def make_job(job_id: str, created: float, seconds: float) -> Job:
    return Job(job_id, "xai", created, seconds, DEFAULT_SCENARIO, 8.0)


def test_store_holds_ten_thousand_jobs_and_forgets_finished_first() -> None:
    now = 1_000_000.0
    store = JobStore(10_000)
    # 5,000 old jobs still running, then 5,000 newer jobs already finished.
    for i in range(5_000):
        store.add(make_job(f"running-{i}", now - 100, 3_600), now)
    for i in range(5_000):
        store.add(make_job(f"done-{i}", now - 50, 1), now)
    assert len(store) == 10_000 and store.evicted == 0
    started = time.perf_counter()
    for i in range(2_000):
        store.add(make_job(f"new-{i}", now, 3_600), now)
    assert time.perf_counter() - started < 1.0  # amortized O(1)
    assert len(store) <= 10_000
    assert all(store.get(f"running-{i}") is not None for i in range(5_000))
    assert store.get("done-0") is None and store.get("new-1999") is not None
    assert store.evicted == 12_000 - len(store)
    counts = store.counts(now)
    assert sum(counts.values()) == len(store) == 10_000
    assert counts["queued"] == 7_000 and counts["succeeded"] == 3_000


def test_store_forgets_oldest_when_nothing_finished() -> None:
    now = 1_000.0
    store = JobStore(100)
    for i in range(150):
        store.add(make_job(f"j{i}", now, 60), now)
    assert len(store) <= 100
    assert store.get("j0") is None and store.get("j149") is not None


def test_ten_thousand_jobs_in_bounded_memory() -> None:
    app = EmulatorApp(max_jobs=10_000)
    tracemalloc.start()
    now = time.time()
    for i in range(20_000):
        app.jobs.add(make_job(uuid4_hex(), now - (20_000 - i) * 0.001, 0.5), now)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(app.jobs) <= 10_000
    assert peak < 20 * 1024 * 1024
    assert app.stats()["jobs_total"] == len(app.jobs)


def test_job_life() -> None:
    job = make_job("a", 100.0, 10.0)
    assert job.phase(100.0) == "queued" and job.progress(100.0) == 0
    assert job.phase(101.0) == "queued"
    assert job.phase(103.0) == "running" and 0 < job.progress(103.0) < 99
    assert job.progress(109.99) == 99
    assert job.phase(110.0) == "succeeded" and job.progress(110.0) == 100
    assert job.has_video(110.0) and not job.has_video(109.0)
    instant = make_job("b", 100.0, 0.0)
    assert instant.phase(100.0) == "succeeded"


def test_ids() -> None:
    ids = {ulid() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 26 and i.startswith("01") for i in ids)
    value = uuid4_hex()
    assert len(value) == 36 and value[14] == "4"


def test_markers() -> None:
    scenario, stripped = parse_markers(
        "a dog [emulator:fail] [emulator:seconds=2.5] [emulator:video-mb=3]", "xai"
    )
    assert scenario.outcome == "failed" and scenario.seconds == 2.5 and scenario.video_mb == 3
    assert stripped == "a dog"
    assert scenario.markers == ["fail", "seconds=2.5", "video-mb=3"]
    assert parse_markers("plain", "xai") == (DEFAULT_SCENARIO, "plain")
    for bad, upstream in [
        ("[emulator:boom]", "xai"),
        ("[emulator:fail] [emulator:cancel]", "xcompute"),
        ("[emulator:timeout]", "xai"),
        ("[emulator:bare]", "mountsea"),
        ("[emulator:result-shape=weird]", "mountsea"),
        ("[emulator:seconds]", "xai"),
        ("[emulator:fail=1]", "xai"),
        ("[emulator:seconds=-1]", "xai"),
        ("[emulator:FAIL]", "xai"),
    ]:
        with pytest.raises(MarkerError):
            parse_markers(bad, upstream)


def test_parse_range() -> None:
    assert parse_range(None, 100) is None
    assert parse_range(b"bytes=0-9", 100) == (0, 10)
    assert parse_range(b"bytes=90-", 100) == (90, 100)
    assert parse_range(b"bytes=-5", 100) == (95, 100)
    assert parse_range(b"bytes=100-", 100) is False
    assert parse_range(b"bytes=-0", 100) is False
    assert parse_range(b"bytes=9-3", 100) is None
    assert parse_range(b"items=0-9", 100) is None
    assert parse_range(b"bytes=a-b", 100) is None


def test_padded_video_boxes() -> None:
    sample = sample_bytes("sample.mp4")
    media = MediaFile.video(1)
    assert media.size == 1024 * 1024
    data = b"".join(media.chunks(0, media.size))
    assert len(data) == media.size and data.startswith(sample)
    offset, boxes = 0, []
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append(kind)
        offset += size
    assert offset == len(data)
    assert boxes[0] == b"ftyp" and boxes[-1] == b"free" and b"moov" in boxes
    assert b"".join(media.chunks(10, 20)) == sample[10:20]
    huge = MediaFile.video(5000)  # > 4 GiB: a 64-bit "largesize" free box
    header = huge.prefix[len(sample) :]
    assert struct.unpack(">I4sQ", header) == (1, b"free", huge.size - len(sample))


def test_make_fault_defaults() -> None:
    fault = make_fault("429")
    assert (fault.remaining, fault.retry_after, fault.upstream, fault.endpoint) == (
        1,
        1.0,
        None,
        None,
    )
    assert make_fault("slow").delay == 3.0
