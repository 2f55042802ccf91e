"""xAI's newer request fields (dialects/options.py): each valid and refused, per model and
per upstream, before any request; the xAI dialect's wire shape of each."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_grokvideo.dialects.mountsea import DIALECT as MOUNTSEA
from airflow_provider_grokvideo.dialects.options import media_options
from airflow_provider_grokvideo.dialects.xai import DIALECT as XAI
from airflow_provider_grokvideo.dialects.xai_batch import build_request as batch_request
from airflow_provider_grokvideo.dialects.xcompute import DIALECT as XCOMPUTE
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
from airflow_provider_grokvideo.models import SourceVideoRequest, VideoRequest, file_ref

V15 = "grok-imagine-video-1.5"


def body(model: str | None = V15, duration: int | None = 6, **options: Any) -> dict[str, Any]:
    request = VideoRequest(
        "a spot", model=model, duration=duration, options=media_options(**options)
    )
    call = XAI.submit_call(request)
    assert call.json is not None
    return call.json


def refused(
    dialect: Any = XAI, model: str | None = V15, duration: int | None = 6, **options: Any
) -> str:
    request = VideoRequest(
        "a spot", model=model, duration=duration, options=media_options(**options)
    )
    with pytest.raises(InvalidVideoRequest) as caught:
        dialect.submit_call(request)
    return str(caught.value)


def test_reference_audios_voices_and_clips_on_1_5() -> None:
    sent = body(reference_audios=["ara", {"voice_id": "rex"}, {"url": "https://a.example/v.wav"}])
    assert sent["reference_audios"] == [
        {"voice_id": "ara"},
        {"voice_id": "rex"},
        {"url": "https://a.example/v.wav"},
    ]
    assert body(reference_audios="data:audio/wav;base64,AAAA")["reference_audios"] == [
        {"url": "data:audio/wav;base64,AAAA"}
    ]


@pytest.mark.parametrize(
    ("model", "audios", "words"),
    [
        ("grok-imagine-video", ["ara"], "grok-imagine-video-1.5 only"),
        (V15, ["ara", "eve", "leo", "rex"], "at most 3"),
        (V15, ["nobody"], "one of xAI's voices"),
        (V15, ["ftp://a/b.wav"], "http(s) clip URL"),
        (V15, ["data:image/png;base64,AA"], "data:audio"),
    ],
)
def test_reference_audios_refused(model: str, audios: list[str], words: str) -> None:
    message = refused(model=model, reference_audios=audios)
    assert "reference_audios" in message and words in message


def test_generate_audio_is_sent_only_when_set() -> None:
    assert "generate_audio" not in body()
    assert body(generate_audio=False)["generate_audio"] is False
    assert body(generate_audio="true")["generate_audio"] is True  # a rendered template
    assert "true or false" in refused(generate_audio="maybe")


def test_storage_options_valid_and_refused() -> None:
    options = {
        "filename": "spot.mp4",
        "expires_after": 86400,
        "public_url": {"expires_after": 3600},
    }
    assert body(storage_options=options)["storage_options"] == options
    assert "storage_options.colour" in refused(storage_options={"colour": "red"})
    assert "3600 to 2592000" in refused(storage_options={"expires_after": 60})
    assert "public_url.expires_after" in refused(
        storage_options={"public_url": {"expires_after": 10**8}}
    )
    assert "storage_options.public_url" in refused(storage_options={"public_url": "yes"})


def test_keyframes_within_the_duration() -> None:
    sent = body(keyframes=[{"image": {"url": "https://a.example/k.png"}, "timestamp_s": 2.5}])
    assert sent["keyframes"] == [{"image": {"url": "https://a.example/k.png"}, "timestamp_s": 2.5}]
    by_file = body(keyframes=[(file_ref("file_1"), 1)])
    assert by_file["keyframes"] == [{"image": {"file_id": "file_1"}, "timestamp_s": 1}]
    assert "below the duration, 6 s" in refused(keyframes=[("https://a.example/k.png", 6)])
    assert "0 < t" in refused(keyframes=[("https://a.example/k.png", 0)])
    # Without a duration, xAI's default (8 s) bounds them.
    assert "below the duration, 8 s" in refused(
        duration=None, keyframes=[("https://a.example/k.png", 9)]
    )
    five = [("https://a.example/k.png", t) for t in (1, 2, 3, 4, 5)]
    assert "at most 4" in refused(keyframes=five)


def test_1080p_on_1_5_only() -> None:
    request = VideoRequest("p", model=V15, resolution="1080p")
    assert XAI.submit_call(request).json["resolution"] == "1080p"  # type: ignore[index]
    with pytest.raises(InvalidVideoRequest, match="1080p"):
        XAI.submit_call(VideoRequest("p", model="grok-imagine-video", resolution="1080p"))


def test_file_ids_become_file_id_objects_on_xai() -> None:
    request = VideoRequest("p", image_urls=(file_ref("file_img"),))
    assert XAI.submit_call(request).json["image"] == {"file_id": "file_img"}  # type: ignore[index]
    source = SourceVideoRequest("edit", "p", file_ref("file_vid"))
    assert XAI.source_call(source).json["video"] == {"file_id": "file_vid"}  # type: ignore[index]
    with pytest.raises(InvalidVideoRequest, match="no file ids on xcompute"):
        XCOMPUTE.submit_call(VideoRequest("p", image_urls=(file_ref("file_img"),)))


@pytest.mark.parametrize("dialect", [XCOMPUTE, MOUNTSEA], ids=lambda d: d.name)
@pytest.mark.parametrize(
    "options",
    [
        {"reference_audios": ["ara"]},
        {"generate_audio": False},
        {"storage_options": {"expires_after": 3600}},
        {"keyframes": [("https://a.example/k.png", 1)]},
        {"upload_url": "https://bucket.example/put?sig=1"},
    ],
    ids=lambda o: next(iter(o)),
)
def test_refused_by_name_on_the_resellers(dialect: Any, options: dict[str, Any]) -> None:
    name = next(iter(options))
    message = refused(dialect, model=None, **options)
    assert message.startswith(f"{dialect.name}: {name}=") and "offered by xai" in message
    assert "sig=1" not in message  # a signed URL is never shown


def test_edits_take_storage_and_delivery_only() -> None:
    source = SourceVideoRequest(
        "extend",
        "p",
        "https://a.example/v.mp4",
        options=media_options(
            storage_options={"filename": "x.mp4"}, upload_url="https://b.example/put"
        ),
    )
    sent = XAI.source_call(source).json
    assert sent["storage_options"] == {"filename": "x.mp4"}  # type: ignore[index]
    assert sent["output"] == {"upload_url": "https://b.example/put"}  # type: ignore[index]
    with_audio = SourceVideoRequest(
        "edit", "p", "https://a.example/v.mp4", options=media_options(generate_audio=False)
    )
    with pytest.raises(InvalidVideoRequest, match="no generate_audio on an edit"):
        XAI.source_call(with_audio)


def test_batch_requests_take_the_fields() -> None:
    built = batch_request(
        {"prompt": "p", "model": V15, "reference_audios": ["eve"], "generate_audio": True}, "r1"
    )
    wire = built.to_wire()["batch_request"]["video_generation"]
    assert wire["reference_audios"] == [{"voice_id": "eve"}] and wire["generate_audio"] is True
    with pytest.raises(InvalidVideoRequest, match=r"requests\[2\]\.reference_audios"):
        batch_request({"prompt": "p", "reference_audios": ["eve"]}, "r3", index=2)


def test_the_output_s_files_copy_is_read() -> None:
    answer = {
        "status": "done",
        "video": {
            "url": "https://vidgen.x.ai/a.mp4",
            "file_output": {
                "file_id": "file_9",
                "public_url": "https://files.x.ai/p",
                "expires_at": 5,
            },
            "storage_error": {"code": "upload_failed", "message": "PUT answered 403"},
        },
    }
    generation = XAI.parse_status(answer, "g1").generation
    assert generation.file_output == {
        "file_id": "file_9",
        "public_url": "https://files.x.ai/p",
        "expires_at": 5,
    }
    assert generation.storage_error == "PUT answered 403"
    assert generation.to_dict()["file_output"]["file_id"] == "file_9"
