"""Direct delivery (``deliver_to``) against a real S3 API server (moto's) and the emulator,
which PUTs the video to the presigned URL as xAI does: the object is there and checked; a
failed upload falls back to downloading the upstream's URL; a mismatch warns or fails."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.media.probe import probe
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.tasks.catalog import result_record

FAST = {"poll_interval": 0.1, "min_poll_interval": 0.05, "max_poll_interval": 0.2}


class Context(dict):
    """A task context that keeps the XCom records pushed (``ti.xcom_push``)."""

    def __init__(self) -> None:
        pushed: dict[str, Any] = {}

        class TI:
            def xcom_push(self, key: str, value: Any) -> None:
                pushed[key] = value

        super().__init__(ti=TI())
        self.pushed = pushed


def deliver(bucket: str, prompt: str = "a spot", **kwargs: Any) -> GrokVideoGenerateOperator:
    arguments: dict[str, Any] = {
        "task_id": "spot",
        "conn_id": "grokvideo_xai_default",
        "prompt": f"{prompt} [emulator:seconds=0.2]",
        "model": "grok-imagine-video-1.5",
        "duration": 2,
        "aspect_ratio": "9:16",
        "resolution": "720p",
        "reference_audios": ["ara"],
        "deliver_to": f"s3://moto_s3@{bucket}/spots/spot.mp4",
        "deferrable": False,
        **FAST,
    }
    arguments.update(kwargs)
    return GrokVideoGenerateOperator(**arguments)


def stored(client: Any, bucket: str) -> bytes:
    return client.get_object(Bucket=bucket, Key="spots/spot.mp4")["Body"].read()


def test_the_upstream_puts_the_video_into_the_bucket_and_it_is_checked(
    emulator: Emulator, s3_bucket: Any
) -> None:
    bucket, client = s3_bucket
    context = Context()
    result = deliver(bucket).execute(context=context)  # type: ignore[arg-type]
    delivery = result["delivery"]
    assert delivery["via"] == "upload_url" and "fallback" not in delivery
    assert delivery["uri"] == f"s3://moto_s3@{bucket}/spots/spot.mp4"
    data = stored(client, bucket)
    assert data[4:8] == b"ftyp" and delivery["size"] == len(data)
    delivered = delivery["delivered"]
    assert delivered["matches"] is True, delivered["mismatches"]
    assert (delivered["width"], delivered["height"], delivered["audio"]) == (720, 1280, True)
    assert delivered["duration"] == pytest.approx(2.0, abs=0.1)
    record = context.pushed["grokvideo"]
    assert record["delivered"]["matches"] is True and record["videos"] == [delivery["uri"]]
    assert record["delivery"] == {"via": "upload_url"}
    # xAI gives no thumbnail: a poster frame (PyAV) is stored beside the video, for the page.
    assert delivery["thumbnail"] == f"s3://moto_s3@{bucket}/spots/spot.jpg"
    poster = client.get_object(Bucket=bucket, Key="spots/spot.jpg")["Body"].read()
    assert poster[:3] == b"\xff\xd8\xff" and record["thumbnail"] == delivery["thumbnail"]
    # The presigned URL is the bucket's credential: it is nowhere in what the task keeps.
    assert "X-Amz-Signature" not in repr(result) + repr(record)


def test_a_failed_upload_falls_back_to_the_video_url_and_says_so(
    emulator: Emulator, s3_bucket: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    bucket, client = s3_bucket
    result = deliver(bucket, prompt="a spot [emulator:upload-fail]").execute(context=Context())  # type: ignore[arg-type]
    delivery = result["delivery"]
    assert delivery["via"] == "download"
    assert "storage error" in delivery["fallback"]
    assert result["storage_error"]
    assert stored(client, bucket)[4:8] == b"ftyp"
    assert delivery["delivered"]["matches"] is True
    # The fallback download carried no API key to the video's host.
    assert emulator.stats()["cdn_requests_with_authorization"] == 0
    assert "falling back to downloading" in capfd.readouterr().out


def test_no_object_after_the_job_falls_back_too(
    emulator: Emulator, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, client = s3_bucket
    # A presigned URL for another key: the PUT lands elsewhere, nothing at the destination.
    from airflow_provider_grokvideo.tasks import deliver as deliver_module

    real = deliver_module.presigned_upload_url
    monkeypatch.setattr(
        deliver_module,
        "presigned_upload_url",
        lambda uri, timeout: real(uri.replace("spot.mp4", "elsewhere.mp4"), timeout),
    )
    result = deliver(bucket).execute(context=Context())  # type: ignore[arg-type]
    assert result["delivery"]["fallback"] == "no object at the destination after the job ended"
    assert stored(client, bucket)[4:8] == b"ftyp"


def test_a_mismatching_video_warns_by_default_and_fails_on_request(
    emulator: Emulator, s3_bucket: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    bucket, _ = s3_bucket
    result = deliver(bucket, prompt="a spot [emulator:mismatch]").execute(context=Context())  # type: ignore[arg-type]
    delivered = result["delivery"]["delivered"]
    assert delivered["matches"] is False
    joined = " ".join(delivered["mismatches"])
    assert "duration" in joined and "aspect ratio" in joined and "audio" in joined
    assert "is not what was asked" in capfd.readouterr().out
    task = deliver(bucket, prompt="a spot [emulator:mismatch]", on_mismatch="fail")
    with pytest.raises(AirflowFailException, match="is not what was asked"):
        task.execute(context=Context())  # type: ignore[arg-type]


def test_direct_delivery_is_refused_by_name_where_the_upstream_has_none(
    emulator: Emulator,
) -> None:
    task = GrokVideoGenerateOperator(
        task_id="spot",
        conn_id="grokvideo_xcompute_default",
        prompt="p",
        deliver_to="s3://moto_s3@bucket/spot.mp4",
    )
    with pytest.raises(AirflowFailException, match=r"upload_url.*offered by xai"):
        task.execute(context={})  # type: ignore[arg-type]
    assert emulator.stats()["upstreams"]["xcompute"]["submissions"] == 0


def test_a_bad_destination_is_refused_before_anything_is_sent(emulator: Emulator) -> None:
    task = deliver("bucket", deliver_to="ftp://bucket/spot.mp4")
    with pytest.raises(ValueError, match="deliver_to must be s3://"):
        task.execute(context={})  # type: ignore[arg-type]
    assert emulator.stats()["upstreams"]["xai"]["submissions"] == 0


def test_the_delivered_file_reads_the_same_without_pyav(emulator: Emulator, s3_bucket: Any) -> None:
    bucket, client = s3_bucket
    deliver(bucket).execute(context=Context())  # type: ignore[arg-type]
    import io

    info = probe(io.BytesIO(stored(client, bucket)), use_pyav=False)
    assert (info.width, info.height, info.audio, info.codec) == (720, 1280, True, "h264")


def test_xais_files_copy_reaches_the_result_record_and_asset_event(emulator: Emulator) -> None:
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import OutletEventAccessors

    asset = Asset(name="kept", uri="file:///grokvideo/kept")
    context = Context()
    context["outlet_events"] = OutletEventAccessors()
    task = GrokVideoGenerateOperator(
        task_id="keep",
        conn_id="grokvideo_xai_default",
        prompt="kept [emulator:seconds=0.1]",
        duration=1,
        storage_options={"filename": "kept.mp4", "expires_after": 7200, "public_url": True},
        wait_for_completion=True,
        deferrable=False,
        outlets=[asset],
        **FAST,
    )
    result = task.execute(context=context)  # type: ignore[arg-type]
    output = result["file_output"]
    assert output["file_id"].startswith("file_") and output["filename"] == "kept.mp4"
    # The page reads a succeeded wait's record from its return value.
    assert context.pushed["grokvideo"]["stage"] == "submitted"
    record = result_record(result, None)
    assert record is not None and record["file_output"]["file_id"] == output["file_id"]
    assert record["file_output"]["expires_at_utc"]
    assert context["outlet_events"][asset].extra["file_output"] == output
