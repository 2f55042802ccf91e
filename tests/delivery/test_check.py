"""After a delivered job ends (``delivery/check.py``): the object in a real S3 bucket (moto's
server) is read and checked; a missing or broken one is replaced by the upstream's video, fetched
from the emulator, saying why; with neither, the delivery fails naming the destination."""

from __future__ import annotations

from typing import Any

import pytest
from download_support import finished_task, generation_from_task

from airflow_provider_grokvideo.delivery.buckets import Destination, bucket_for
from airflow_provider_grokvideo.delivery.check import DeliveryFailed, settle
from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.emulator.cdn import sample_bytes
from airflow_provider_grokvideo.media.check import Expected

SAMPLE = sample_bytes("sample.mp4")


def destination(bucket: str) -> Destination:
    return Destination.parse(f"s3://moto_s3@{bucket}/spots/spot.mp4")


def stored(client: Any, bucket: str, key: str = "spots/spot.mp4") -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_the_delivered_object_is_read_checked_and_given_a_poster(s3_bucket: Any) -> None:
    name, client = s3_bucket
    client.put_object(Bucket=name, Key="spots/spot.mp4", Body=SAMPLE)
    where = destination(name)
    result = settle(where, bucket_for(where), {"status": "succeeded"}, Expected())
    assert (result["uri"], result["size"], result["via"]) == (where.uri, len(SAMPLE), "upload_url")
    assert result["delivered"]["matches"] is True and "fallback" not in result
    assert result["thumbnail"] == f"s3://moto_s3@{name}/spots/spot.jpg"
    assert stored(client, name, "spots/spot.jpg")[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("object_body", "generation", "reason"),
    [
        (None, {}, "no object at the destination after the job ended"),
        (b"<html>AccessDenied</html>", {}, "not an MP4 (no ftyp box)"),
        (SAMPLE, {"storage_error": "upload_failed"}, "the upstream reports a storage error"),
    ],
    ids=["no object", "not a video", "storage error"],
)
def test_otherwise_the_upstreams_video_is_fetched_and_put_there(
    emulator: Emulator,
    s3_bucket: Any,
    object_body: bytes | None,
    generation: dict[str, Any],
    reason: str,
) -> None:
    name, client = s3_bucket
    if object_body is not None:
        client.put_object(Bucket=name, Key="spots/spot.mp4", Body=object_body)
    made = generation_from_task(finished_task(emulator))
    where = destination(name)
    result = settle(where, bucket_for(where), {**made, **generation}, Expected())
    assert result["via"] == "download" and reason in result["fallback"]
    assert stored(client, name)[4:8] == b"ftyp" and result["size"] == len(stored(client, name))


def test_with_nothing_to_fetch_the_delivery_fails_naming_the_destination(s3_bucket: Any) -> None:
    name, _ = s3_bucket
    where = destination(name)
    with pytest.raises(DeliveryFailed, match=rf"not delivered to {where.uri} .* no video URL"):
        settle(where, bucket_for(where), {"video_urls": []}, Expected())
