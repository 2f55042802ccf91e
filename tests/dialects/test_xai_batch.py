"""xAI's Batch API dialect against the documented shapes (UPSTREAMS.md, "xAI's Batch API")."""

from __future__ import annotations

import json

import pytest

from airflow_provider_grokvideo.dialects import xai_batch as xb
from airflow_provider_grokvideo.dialects.base import HttpCall
from airflow_provider_grokvideo.dialects.xai import DIALECT as XAI
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, UnexpectedResponse
from airflow_provider_grokvideo.models import VideoRequest

# -- requests ---------------------------------------------------------------------------------


def test_a_generation_is_the_interactive_body_under_video_generation():
    params = {"prompt": "a red fox", "duration": 6, "aspect_ratio": "16:9", "resolution": "720p"}
    built = xb.build_request(params, "t1-0")
    interactive = XAI.submit_call(VideoRequest(**params)).json  # type: ignore[arg-type]
    assert built.to_wire() == {
        "batch_request_id": "t1-0",
        "batch_request": {"video_generation": interactive},
    }
    assert interactive == {
        "model": "grok-imagine-video",
        "prompt": "a red fox",
        "duration": 6,
        "aspect_ratio": "16:9",
        "resolution": "720p",
    }


def test_images_references_edits_and_extensions():
    image = xb.build_request({"prompt": "p", "image_urls": "https://x/a.jpg"}, "a")
    assert image.batch_request["video_generation"]["image"] == {"url": "https://x/a.jpg"}
    refs = xb.build_request({"prompt": "p", "reference_image_urls": ["https://x/b.jpg"]}, "b")
    assert refs.batch_request["video_generation"]["reference_images"] == [
        {"url": "https://x/b.jpg"}
    ]
    edit = xb.build_request({"prompt": "make it snow", "video_url": "https://x/v.mp4"}, "c")
    assert edit.batch_request == {
        "video_generation": {
            "model": "grok-imagine-video",
            "prompt": "make it snow",
            "video": {"url": "https://x/v.mp4"},
        }
    }
    extend = xb.build_request(
        {"prompt": "then", "operation": "extend", "video_url": "https://x/v.mp4", "duration": 4},
        "d",
    )
    assert extend.batch_request == {
        "video_extension": {
            "model": "grok-imagine-video",
            "prompt": "then",
            "video": {"url": "https://x/v.mp4"},
            "duration": 4,
        }
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"prompt": "p", "duration": 16}, "requests[3].duration"),
        ({"prompt": ""}, "requests[3].prompt"),
        ({"prompt": "p", "resolution": "1080p"}, "requests[3].resolution"),
        ({"prompt": "p", "sound": True}, "requests[3].sound"),
        ({"prompt": "p", "operation": "edit", "video_url": "ftp://x"}, "requests[3].video_url"),
    ],
)
def test_a_refusal_names_the_index_and_field(params, field):
    with pytest.raises(InvalidVideoRequest) as caught:
        xb.build_request(params, "id", index=3)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_adds_are_chunked_within_the_byte_limit():
    requests = [xb.build_request({"prompt": "x" * 200}, f"r{i}") for i in range(50)]
    limit = 2000
    calls = xb.add_calls("b1", requests, max_bytes=limit)
    assert len(calls) > 1
    assert all(c.method == "POST" and c.path == "/v1/batches/b1/requests" for c in calls)
    assert all(len(json.dumps(c.json, separators=(",", ":"))) <= limit for c in calls)
    sent = [r["batch_request_id"] for c in calls for r in c.json["batch_requests"]]  # type: ignore[index]
    assert sent == [f"r{i}" for i in range(50)]
    assert xb.add_calls("b1", []) == []
    with pytest.raises(InvalidVideoRequest):
        xb.add_calls("b1", requests[:1], max_bytes=100)


def test_calls():
    assert xb.create_call("night") == HttpCall("POST", "/v1/batches", json={"name": "night"})
    assert xb.get_call("b/1").path == "/v1/batches/b%2F1"
    assert xb.cancel_call("b1") == HttpCall("POST", "/v1/batches/b1:cancel")
    assert xb.results_call("b1", "tok", 50).params == {"limit": "50", "pagination_token": "tok"}
    assert xb.requests_call("b1", None, 5000).params == {"limit": "1000"}


# -- a Batch ----------------------------------------------------------------------------------

BATCH = {
    "batch_id": "batch_1",
    "name": "night",
    "create_time": "2026-12-07T01:00:00Z",
    "expire_time": "2026-12-08T01:00:00Z",
    "cancel_time": None,
    "state": {
        "num_requests": 3,
        "num_pending": 1,
        "num_success": 1,
        "num_error": 1,
        "num_cancelled": 0,
    },
}
EXPIRE = 1_796_691_600.0  # 2026-12-08T01:00:00Z


def test_batch_counters_and_done():
    batch = xb.parse_batch(BATCH)
    assert (batch.num_requests, batch.num_pending, batch.num_finished) == (3, 1, 2)
    assert batch.expire_time == EXPIRE
    assert not batch.is_done(EXPIRE - 1)
    assert batch.is_done(EXPIRE)  # past its expiry
    done = xb.parse_batch({**BATCH, "state": {**BATCH["state"], "num_pending": 0}})
    assert done.is_done(EXPIRE - 1)
    cancelled = xb.parse_batch({**BATCH, "cancel_time": "2026-12-07T02:00:00Z"})
    assert cancelled.is_done(EXPIRE - 1)


def test_an_empty_batch_is_not_done_and_protobuf_omits_zeros():
    empty = xb.parse_batch({"batch_id": "b", "state": {}})
    assert not empty.is_done(0)
    texty = xb.parse_batch({"batch_id": "b", "state": {"num_requests": "2", "num_success": "2"}})
    assert texty.num_requests == 2 and texty.num_pending == 0 and texty.is_done(0)


def test_a_batch_without_id_is_unexpected():
    with pytest.raises(UnexpectedResponse):
        xb.parse_batch({"state": {}})
    with pytest.raises(UnexpectedResponse):
        xb.parse_batch([])


# -- pages ------------------------------------------------------------------------------------


def test_request_metadata_page():
    page = xb.parse_requests_page(
        {
            "batch_request_metadata": [
                {
                    "batch_request_id": "a",
                    "endpoint": "video_generation",
                    "model": "grok-imagine-video",
                    "state": "succeeded",
                    "create_time": "2026-12-07T01:00:00Z",
                    "finish_time": None,
                },
                {"batch_request_id": "b", "state": "BATCH_REQUEST_STATE_PENDING"},
                {"state": "pending"},  # no id: not ours
            ],
            "pagination_token": "next",
        }
    )
    assert [(m.batch_request_id, m.state) for m in page.items] == [
        ("a", "succeeded"),
        ("b", "pending"),
    ]
    assert page.next_token == "next"
    assert xb.parse_requests_page({"batch_request_metadata": []}).next_token is None


def _ok(request_id: str, url: str, ticks: int) -> dict:
    return {
        "batch_request_id": request_id,
        "batch_result": {
            "response": {
                "video_generation": {
                    "model": "grok-imagine-video",
                    "video": {"url": url, "duration": 6, "respect_moderation": True},
                    "usage": {"cost_in_usd_ticks": ticks},
                    "error": None,
                }
            }
        },
    }


def test_results_out_of_order_both_error_shapes_and_billed_cost():
    page = xb.parse_results_page(
        {
            "results": [
                _ok("r2", "https://vidgen.x.ai/b.mp4", 1_500_000_000),
                {
                    "batch_request_id": "r0",
                    "batch_result": {"error": "Model is not supported for batch processing"},
                },
                {
                    "batch_request_id": "r1",
                    "batch_result": {"error": {"code": "invalid_argument", "message": "moderated"}},
                },
                {"batch_request_id": "r3", "batch_result": {"error": {"code": "internal"}}},
            ],
            "pagination_token": "",
        }
    )
    assert page.next_token is None  # an empty token ends the list
    by_id = {r.batch_request_id: r.generation for r in page.items}
    assert list(by_id) == ["r2", "r0", "r1", "r3"]
    ok = by_id["r2"]
    assert ok.status == "succeeded" and ok.video_urls == ["https://vidgen.x.ai/b.mp4"]
    assert ok.duration == 6 and ok.cost_ticks == 1_500_000_000 and ok.cost_source == "billed"
    assert ok.to_dict()["cost_usd"] == "0.15"
    assert (by_id["r0"].status, by_id["r0"].error_code) == ("failed", None)
    assert by_id["r0"].error_message == "Model is not supported for batch processing"
    assert (by_id["r1"].error_code, by_id["r1"].error_message) == ("invalid_argument", "moderated")
    assert by_id["r3"].error_message == "xAI reports internal"
    assert by_id["r0"].cost_ticks is None


def test_an_extension_result_and_an_inner_error_and_a_withheld_video():
    ext = xb.parse_result(
        {
            "batch_request_id": "e",
            "batch_result": {
                "response": {
                    "video_extension": {
                        "video": {"url": "https://vidgen.x.ai/e.mp4", "duration": 10},
                        "usage": {"cost_in_usd_ticks": "2000000000"},
                    }
                }
            },
        }
    )
    assert ext.generation.status == "succeeded" and ext.generation.cost_ticks == 2_000_000_000
    inner = xb.parse_result(
        {
            "batch_request_id": "i",
            "batch_result": {
                "response": {"video_generation": {"error": {"code": "x", "message": "no"}}}
            },
        }
    )
    assert (inner.generation.status, inner.generation.error_message) == ("failed", "no")
    withheld = xb.parse_result(
        {
            "batch_request_id": "w",
            "batch_result": {
                "response": {
                    "video_generation": {
                        "video": {"duration": 6, "respect_moderation": False},
                        "usage": {"cost_in_usd_ticks": 3},
                    }
                }
            },
        }
    )
    assert withheld.generation.status == "failed"
    assert withheld.generation.error_code == "moderation"
    empty = xb.parse_result({"batch_request_id": "z", "batch_result": {}})
    assert empty.generation.status == "failed"


def test_a_batch_cancelled_by_xai_is_done_and_the_batch_list():
    by_xai = xb.parse_batch({**BATCH, "cancel_by_xai_message": "policy"})
    assert by_xai.is_done(EXPIRE - 1) and by_xai.cancel_by_xai_message == "policy"
    page = xb.parse_batches_page({"batches": [BATCH], "pagination_token": "2"})
    assert [b.batch_id for b in page.items] == ["batch_1"] and page.next_token == "2"
    assert xb.list_call("2", 50) == HttpCall(
        "GET", "/v1/batches", params={"limit": "50", "pagination_token": "2"}
    )
    with pytest.raises(UnexpectedResponse):
        xb.parse_batches_page({"results": []})
