"""Where a delivered video goes (delivery/buckets.py): destinations read and refused, and the
storage provider imported only when a task delivers."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.delivery.buckets import Destination, bucket_for


def test_destinations_are_read_with_their_connection() -> None:
    s3 = Destination.parse("s3://aws_prod@spots/2026/12/spot.mp4")
    assert (s3.scheme, s3.conn_id, s3.bucket, s3.key) == (
        "s3",
        "aws_prod",
        "spots",
        "2026/12/spot.mp4",
    )
    assert s3.uri == "s3://aws_prod@spots/2026/12/spot.mp4"
    assert s3.sibling(".jpg").key == "2026/12/spot.jpg"
    gs = Destination.parse("gcs://bucket/a/b.mp4")
    assert (gs.scheme, gs.conn_id, gs.uri) == ("gs", None, "gs://bucket/a/b.mp4")


@pytest.mark.parametrize(
    "uri", ["ftp://bucket/a.mp4", "s3://bucket", "s3://bucket/dir/", "/local/a.mp4", "", None]
)
def test_what_is_no_bucket_object_is_refused(uri: object) -> None:
    with pytest.raises(ValueError, match="deliver_to must be s3://"):
        Destination.parse(uri)


def test_a_missing_provider_is_named_with_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "airflow.providers.google.cloud.hooks.gcs", None)
    with pytest.raises(ImportError, match=r"airflow-provider-grokvideo\[gcs\]"):
        bucket_for(Destination.parse("gs://bucket/spot.mp4"))
