"""The xAI dialect against its documented JSON (UPSTREAMS.md): bodies, status answers (202s
included), every error code, the billed cost, edits and extensions."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.dialects import mountsea, xai, xcompute
from airflow_provider_grokvideo.dialects.base import HttpCall
from airflow_provider_grokvideo.exceptions import UnexpectedResponse
from airflow_provider_grokvideo.models import VideoRequest

XC = xcompute.DIALECT
MS = mountsea.DIALECT
XA = xai.DIALECT


def test_xai_text_to_video_body():
    call = XA.submit_call(
        VideoRequest(prompt="a cat", duration=8, aspect_ratio="4:3", resolution="480p")
    )
    assert call == HttpCall(
        "POST",
        "/v1/videos/generations",
        json={
            "model": "grok-imagine-video",
            "prompt": "a cat",
            "duration": 8,
            "aspect_ratio": "4:3",
            "resolution": "480p",
        },
    )


def test_xai_image_to_video_body_accepts_url_and_data_uri():
    call = XA.submit_call(VideoRequest(prompt="move", image_urls=("https://e.com/i.png",)))
    assert call.json == {
        "model": "grok-imagine-video",
        "prompt": "move",
        "image": {"url": "https://e.com/i.png"},
    }
    data_uri = "data:image/png;base64,iVBORw0KGgo="
    assert XA.submit_call(VideoRequest(prompt="move", image_urls=(data_uri,))).json["image"] == {
        "url": data_uri
    }


# --- xAI answers --------------------------------------------------------------------------


def test_xai_submit_shape():
    assert XA.parse_submit({"request_id": "r-1"}) == "r-1"
    with pytest.raises(UnexpectedResponse, match="request_id"):
        XA.parse_submit({"id": "r-1"})


def test_xai_status_documented_answers():
    pending = XA.parse_status({"status": "pending", "model": "grok-imagine-video"}, "r").generation
    assert pending.status == "queued"
    done = XA.parse_status(
        {
            "status": "done",
            "video": {
                "url": "https://vidgen.x.ai/v.mp4",
                "duration": 6,
                "respect_moderation": True,
            },
            "model": "grok-imagine-video",
        },
        "r",
    ).generation
    assert done.status == "succeeded" and done.video_urls == ["https://vidgen.x.ai/v.mp4"]
    failed = XA.parse_status(
        {"status": "failed", "error": {"code": "invalid_argument", "message": "bad prompt"}}, "r"
    ).generation
    assert (failed.status, failed.error_code, failed.error_message) == (
        "failed",
        "invalid_argument",
        "bad prompt",
    )
    expired = XA.parse_status({"status": "expired"}, "r").generation
    assert expired.status == "expired" and "expired" in expired.error_message


def test_xai_done_without_url_is_a_moderation_failure():
    gen = XA.parse_status(
        {"status": "done", "video": {"respect_moderation": False}, "model": "grok-imagine-video"},
        "r",
    ).generation
    assert gen.status == "failed" and gen.error_code == "moderation"
    assert "moderation" in gen.error_message


def test_xai_progress_where_present_and_unknown_words():
    parsed = XA.parse_status({"status": "pending", "progress": 40}, "r")
    assert parsed.generation.progress == 40
    parsed = XA.parse_status({"status": "in_progress"}, "r")
    assert parsed.generation.status == "running" and parsed.unknown_status == "in_progress"


def test_xai_bad_key_is_recognized_from_a_400():
    assert XA.rejects_key(400, "Incorrect API key provided: xa***")
    assert not XA.rejects_key(400, "duration must be between 1 and 15")
    assert XC.rejects_key(401, "") and not XC.rejects_key(400, "Incorrect API key provided")


# --- xAI's billed cost ----------------------------------------------------------------------


def test_xai_billed_cost_is_read_in_exact_ticks():
    body = {
        "status": "done",
        "video": {"url": "https://vidgen.x.ai/v.mp4", "duration": 6, "respect_moderation": True},
        "model": "grok-imagine-video-1.5",
        "usage": {"cost_in_usd_ticks": 4_200_000_000},
    }
    gen = XA.parse_status(body, "req-1").generation
    assert (gen.cost_ticks, gen.cost_source) == (4_200_000_000, "billed")
    assert str(gen.cost_usd) == "0.42"
    assert gen.to_dict()["cost_usd"] == "0.42"


@pytest.mark.parametrize(
    ("usage", "ticks"),
    [
        (None, None),
        ({}, None),
        ({"cost_in_usd_ticks": "700000000"}, 700_000_000),
        ({"cost_in_usd_ticks": 5e8}, 500_000_000),
        ({"cost_in_usd_ticks": True}, None),
        ({"cost_in_usd_ticks": -1}, None),
        ({"cost_in_usd_ticks": 1.5}, None),
        ("lots", None),
    ],
)
def test_xai_cost_is_absent_unless_readable(usage, ticks):
    body = {"status": "pending", "model": "grok-imagine-video"}
    if usage is not None:
        body["usage"] = usage
    gen = XA.parse_status(body, "req-1").generation
    assert gen.cost_ticks == ticks
    assert gen.cost_source == ("billed" if ticks is not None else None)


# --- xAI: every error code, 202 answers, edits and extensions --------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "invalid_argument",
        "permission_denied",
        "failed_precondition",
        "service_unavailable",
        "internal_error",
    ],
)
@pytest.mark.parametrize("with_message", [True, False])
def test_xai_every_error_code_reaches_the_failed_generation(code, with_message):
    error = {"code": code, "message": "it went wrong"} if with_message else {"code": code}
    parsed = XA.parse_status({"status": "failed", "error": error}, "r-1")
    generation = parsed.generation
    assert (generation.status, generation.error_code) == ("failed", code)
    assert generation.error_message == ("it went wrong" if with_message else f"xAI reports {code}")


@pytest.mark.parametrize(
    ("body", "status", "progress"),
    [
        (None, "running", None),  # the schema's 202: no body
        ({"status": "pending", "progress": 24}, "queued", 24),
        ({"progress": 100}, "running", 99),  # a 202 is never done
        ({"status": "done"}, "running", None),
        ("not an object", "running", None),
    ],
)
def test_xai_202_is_still_running(body, status, progress):
    parsed = XA.parse_still_running(body, "r-1")
    assert parsed.unknown_status is None  # documented: no "undocumented status" warning
    assert (parsed.generation.status, parsed.generation.progress) == (status, progress)


def test_xai_done_answer_carries_the_videos_length():
    body = {"status": "done", "video": {"url": "https://vidgen.x.ai/a.mp4", "duration": 6}}
    assert XA.parse_status(body, "r-1").generation.duration == 6
    body["video"]["duration"] = "six"
    assert XA.parse_status(body, "r-1").generation.duration is None


def test_xai_offers_edits_extensions_and_references_the_resellers_none():
    assert all(XA.offers(f) for f in ("edit", "extend", "reference_images"))
    for dialect in (XC, MS):
        assert not any(dialect.offers(f) for f in ("edit", "extend", "reference_images"))
