"""The records each task pushes for the "Grok videos" page."""

from __future__ import annotations

import json

import pytest

from airflow_provider_grokvideo.models import VideoGeneration, utc_text
from airflow_provider_grokvideo.tasks.catalog import (
    RANK_STATUSES,
    STATUS_RANKS,
    generation_record,
    make_record,
    merge_records,
    stored_record,
    submitted_record,
)

FINISHED = VideoGeneration(
    generation_id="task_01",
    status="succeeded",
    progress=100,
    video_urls=["https://cdn.example/f/video/a.mp4?X-Amz-Signature=abc"],
    thumbnail_url="https://cdn.example/f/image/a.jpg?sig=1",
    expires_at=1762940095,
    created_at=1762853695,
).to_dict()


def test_the_sensors_xcom_value_has_readable_times_beside_unix_seconds() -> None:
    assert FINISHED["expires_at"] == 1762940095
    assert FINISHED["expires_at_utc"] == "2025-11-12T09:34:55Z" == utc_text(1762940095)
    assert FINISHED["created_at_utc"] == "2025-11-11T09:34:55Z"
    assert VideoGeneration.from_dict(FINISHED).expires_at == 1762940095  # still reads back
    assert utc_text(None) is None and utc_text("soon") is None


def test_a_submitted_record_says_what_was_asked_and_when() -> None:
    record = submitted_record(
        "task_01", upstream="xai", conn_id="c", prompt="p" * 5000, model="m", duration="6"
    )
    assert (record["stage"], record["status"], record["rank"]) == ("submitted", "submitted", 0)
    assert record["duration"] == 6 and len(record["prompt"]) == 2000
    assert record["submitted_at_utc"] == utc_text(record["submitted_at"])
    assert "aspect_ratio" not in record  # None is left out: a merge never erases


def test_a_generation_record_keeps_no_upstream_url() -> None:
    record = generation_record(FINISHED)
    assert record["status"] == "succeeded" and record["rank"] == STATUS_RANKS["succeeded"]
    assert record["video_host"] == "cdn.example" and record["has_thumbnail"] is True
    assert "Signature" not in json.dumps(record) and "sig=" not in json.dumps(record)
    assert record["expires_at_utc"] == "2025-11-12T09:34:55Z"
    timeout = generation_record({**FINISHED, "status": "running"}, status="timeout", error="late")
    assert (timeout["status"], timeout["stage"], timeout["error"]) == ("timeout", "waiting", "late")
    assert "finished_at" not in timeout


def test_merging_keeps_each_stages_fields_and_the_furthest_status() -> None:
    merged = merge_records(
        [
            stored_record("task_01", videos=["file:///v.mp4"], thumbnail=None, sizes={}),
            submitted_record("task_01", upstream="xai", conn_id="c", prompt="fox", model="m"),
            generation_record(FINISHED),
        ]
    )
    assert merged["status"] == "succeeded" and merged["stage"] == "stored"
    assert merged["prompt"] == "fox" and merged["videos"] == ["file:///v.mp4"]
    assert merged["expires_at"] == 1762940095


def test_ranks_are_unique_and_records_refuse_unknown_fields() -> None:
    assert len(RANK_STATUSES) == len(STATUS_RANKS)
    with pytest.raises(ValueError, match="status"):
        make_record("submitted", "g", "done")
    with pytest.raises(ValueError, match="api_key"):
        make_record("submitted", "g", "queued", api_key="x")


def test_the_submission_names_the_connection_of_the_hook_that_made_it() -> None:
    # After a failover the hook is another connection's than the operator's first.
    from types import SimpleNamespace

    from airflow_provider_grokvideo.dialects.xai import DIALECT
    from airflow_provider_grokvideo.tasks.catalog import XCOM_KEY, record_submission

    pushed: list[dict[str, object]] = []
    ti = SimpleNamespace(xcom_push=lambda key, value: pushed.append({key: value}))
    operator = SimpleNamespace(
        conn_id="first", prompt="p", model=None, duration=None, aspect_ratio=None, resolution=None
    )
    hook = SimpleNamespace(
        conn_id="fallback", settings=SimpleNamespace(model=None), dialect=DIALECT
    )
    record_submission({"ti": ti}, operator, hook, "r-1")
    assert pushed[0][XCOM_KEY]["conn_id"] == "fallback"  # type: ignore[index]
