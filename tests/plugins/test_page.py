"""The "Grok videos" page's line for an xAI batch's card (pure: a page rendered from records)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_grokvideo.plugins.generations import Filters, Generation, Page, TaskRef
from airflow_provider_grokvideo.plugins.page import render_page
from airflow_provider_grokvideo.tasks.catalog import make_record


def page_of(record: dict) -> str:
    ref = TaskRef("night", "run-1", "batch", -1)
    generation = Generation(
        "night",
        "run-1",
        record["generation_id"],
        datetime(2026, 12, 7, tzinfo=timezone.utc),
        record,
        {"stored": ref},
    )
    return render_page(
        Page([generation], 1, Filters()), base="/grokvideo", dag_ids=["night"], now=0.0
    )


def test_a_batch_card_says_how_many_videos_and_how_many_failed() -> None:
    record = make_record(
        "stored", "batch_1", "failed", upstream="xai", batch={"videos": 500, "failed": 3}
    )
    assert "<dt>batch</dt><dd>xAI batch of 500 video(s), 3 failed · batch prices</dd>" in (
        page_of(record)
    )
    whole = make_record("stored", "batch_2", "succeeded", batch={"videos": 2, "failed": 0})
    assert "<dd>xAI batch of 2 video(s) · batch prices</dd>" in page_of(whole)
    # A single video's card has no batch line; a forged one stays text.
    assert "<dt>batch</dt>" not in page_of(make_record("stored", "v1", "succeeded"))
    forged = make_record("stored", "b3", "succeeded", batch={"videos": "<b>x</b>", "failed": 0})
    assert "<b>x</b>" not in page_of(forged) and "&lt;b&gt;x&lt;/b&gt;" in page_of(forged)
