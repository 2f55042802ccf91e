"""The emulator's xAI API over raw HTTP (``emulator/xai.py``), as UPSTREAMS.md section 3 writes
it (no provider code in the loop): edits, extensions, reference images, 1080p and 202 polls;
the flow; each documented rule refused in xAI's own error shape."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.emulator.__main__ import build_parser
from airflow_provider_grokvideo.emulator.app import EmulatorApp
from airflow_provider_grokvideo.emulator.faults import MarkerError, parse_markers
from airflow_provider_grokvideo.emulator.xai import UNKNOWN_SOURCE_SECONDS, output_seconds
from emulator.checks import (
    MISSING,
    XAI,
    assert_mp4,
    assert_progress_rises,
    body_with,
)

EDITS, EXTENSIONS = "/v1/videos/edits", "/v1/videos/extensions"


def done(api: Any, job_id: str) -> dict[str, Any]:
    return api.poll("xai", job_id)[-1]


def post(api: Any, path: str, body: dict[str, Any]) -> httpx.Response:
    return api.client.post(api.url("xai", path), json=body)


def test_the_output_length_assumption() -> None:
    assert output_seconds("edit", 8.0) == 8.0
    assert output_seconds("extend", 10.0, 10.0) == 20.0
    assert UNKNOWN_SOURCE_SECONDS == 6.0


def test_extensions_chain_from_the_emulators_own_videos(api: Any) -> None:
    job_id = api.submit_id("xai", prompt="a kite", duration=10)
    clip = done(api, job_id)
    assert clip["video"]["duration"] == 10
    for length in (20, 30):
        answer = post(
            api,
            EXTENSIONS,
            {"prompt": "next", "video": {"url": clip["video"]["url"]}, "duration": 10},
        )
        assert answer.status_code == 200, answer.text
        clip = done(api, answer.json()["request_id"])
        assert clip["status"] == "done" and clip["video"]["duration"] == length
        assert clip["usage"]["cost_in_usd_ticks"] == 10 * 500_000_000  # the added 10 s at 480p
    # A 30 s video is not edited (sources of at most 8.7 s).
    answer = post(api, EDITS, {"prompt": "p", "video": {"url": clip["video"]["url"]}})
    assert answer.status_code == 400 and "at most 8.7 s" in answer.json()["error"]
    # A 32 s one is not extended (sources of 2 to 30 s, by the schema).
    answer = post(
        api, EXTENSIONS, {"prompt": "p", "video": {"url": clip["video"]["url"]}, "duration": 2}
    )
    longer = done(api, answer.json()["request_id"])
    answer = post(api, EXTENSIONS, {"prompt": "p", "video": {"url": longer["video"]["url"]}})
    assert answer.status_code == 400 and "2 to 30 s" in answer.json()["error"]


def test_an_extension_adds_its_default_six_seconds_and_an_edit_keeps_the_length(api: Any) -> None:
    source = "https://cdn.example/foreign.mp4"  # not the emulator's: assumed 6 s long
    extension = post(api, EXTENSIONS, {"prompt": "p", "video": {"url": source}})
    edit = post(api, EDITS, {"prompt": "p", "video": {"file_id": "file-123"}})
    assert extension.status_code == edit.status_code == 200
    assert done(api, extension.json()["request_id"])["video"]["duration"] == 12
    assert done(api, edit.json()["request_id"])["video"]["duration"] == 6
    assert api.emulator.stats()["upstreams"]["xai"]["submissions"] == 2


def test_edits_are_refused_without_a_key_and_rate_limited_like_submits(api: Any) -> None:
    body = {"prompt": "p", "video": {"url": "https://cdn.example/a.mp4"}}
    answer = httpx.post(api.url("xai", EDITS), json=body)
    assert answer.status_code == 400 and "Incorrect API key" in answer.json()["error"]
    api.emulator.inject("503", count=1, upstream="xai", endpoint="submit")
    assert post(api, EDITS, body).status_code == 503
    assert post(api, EDITS, body).status_code == 200


def test_reference_images_and_1080p(api: Any) -> None:
    refs = [{"url": "https://img.example/a.png"}, {"file_id": "file-1"}]
    assert api.submit("xai", reference_images=refs, duration=10).status_code == 200
    assert api.submit("xai", model="grok-imagine-video-1.5", resolution="1080p").status_code == 200
    assert api.submit("xai", resolution="1080p").status_code == 400


@pytest.mark.parametrize("shape", ["empty", "body"])
def test_pending_202_switch_and_marker(emu: Emulator, api: Any, shape: str) -> None:
    url = f"{emu.url}/_emulator/xai-pending-202"
    assert httpx.get(url).json() == {"xai_pending_202": None}
    assert httpx.put(url, json={"xai_pending_202": shape}).json() == {"xai_pending_202": shape}
    assert emu.stats()["xai_pending_202"] == shape
    job_id = api.submit_id("xai", prompt="slow [emulator:seconds=1]")
    running = api.status("xai", job_id)
    assert running.status_code == 202
    if shape == "empty":
        assert running.content == b""
    else:
        assert running.json()["status"] == "pending" and 0 <= running.json()["progress"] < 100
    time.sleep(1.05)
    assert api.status("xai", job_id).status_code == 200
    assert httpx.put(url, json={"xai_pending_202": "off"}).json() == {"xai_pending_202": None}
    marked = api.submit_id(
        "xai", prompt=f"slow [emulator:seconds=1] [emulator:pending-202={shape}]"
    )
    assert api.status("xai", marked).status_code == 202
    assert httpx.get(f"{emu.url}/_emulator/jobs/{marked}").json()["markers"] == [
        "seconds=1",
        f"pending-202={shape}",
    ]


def test_bad_pending_202_settings_are_refused(emu: Emulator) -> None:
    url = f"{emu.url}/_emulator/xai-pending-202"
    assert httpx.put(url, json={"xai_pending_202": "sometimes"}).status_code == 400
    assert httpx.put(url, json=["empty"]).status_code == 400
    with pytest.raises(ValueError, match="empty, body or off"):
        EmulatorApp(xai_pending_202="yes")
    with pytest.raises(MarkerError, match="empty, body"):
        parse_markers("[emulator:pending-202=half]", "xai")
    with pytest.raises(MarkerError, match="does not apply to mountsea"):
        parse_markers("[emulator:pending-202=body]", "mountsea")


def test_cli_option() -> None:
    assert build_parser().parse_args([]).xai_pending_202 == "off"
    assert build_parser().parse_args(["--xai-pending-202", "body"]).xai_pending_202 == "body"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--xai-pending-202", "always"])


# --- the flow ------------------------------------------------------------------------------


def test_xai_flow(api: Any, media: Callable[..., httpx.Response]) -> None:
    response = api.submit(
        "xai",
        prompt="a lighthouse [emulator:seconds=1]",  # long enough to see queued and running
        model="grok-imagine-video",
        duration=6,
        aspect_ratio="4:3",
        resolution="720p",
        image={"url": "https://example.com/start.png"},
    )
    assert response.status_code == 200
    assert set(response.json()) == {"request_id"}
    bodies = api.poll("xai", response.json()["request_id"])
    assert {b["status"] for b in bodies[:-1]} == {"pending"}
    assert any("progress" not in b for b in bodies[:-1])  # queued: no progress
    assert any("progress" in b for b in bodies[:-1])  # running: progress present
    assert_progress_rises([b["progress"] for b in bodies if "progress" in b])
    done = bodies[-1]
    assert done == {
        "status": "done",
        "video": {"url": done["video"]["url"], "duration": 6, "respect_moderation": True},
        "model": "grok-imagine-video",
        "usage": {"cost_in_usd_ticks": 6 * 700_000_000},  # $0.07/s at 720p: $0.42
    }
    assert_mp4(media(done["video"]["url"]))


def test_xai_imagine_1_5_is_accepted_echoed_and_billed(api: Any) -> None:
    request_id = api.submit_id("xai", model="grok-imagine-video-1.5", duration=10)
    done = api.poll("xai", request_id)[-1]
    assert done["model"] == "grok-imagine-video-1.5"
    # Billed at its published base price, $0.08/s.
    assert done["usage"] == {"cost_in_usd_ticks": 10 * 800_000_000}
    response = api.submit("xai", model="grok-imagine-video-2")
    assert response.status_code == 400 and "grok-imagine-video-2" in response.json()["error"]


def test_xai_default_duration_and_data_uri_image(api: Any) -> None:
    image = {"url": "data:image/png;base64,iVBORw0KGgo="}
    done = api.poll("xai", api.submit_id("xai", image=image))[-1]
    assert done["video"]["duration"] == 8


def test_xai_failed_expired_no_url(api: Any) -> None:
    ids = [api.submit_id("xai", prompt=f"x [emulator:{m}]") for m in ("fail", "expire", "no-url")]
    failed, expired, no_url = (api.poll("xai", job_id)[-1] for job_id in ids)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] and failed["error"]["message"]
    assert expired["status"] == "expired" and "video" not in expired
    assert no_url["status"] == "done"
    assert no_url["video"]["respect_moderation"] is False and "url" not in no_url["video"]


# --- validation ---------------------------------------------------------------------------

XAI_INVALID = [
    ("prompt", MISSING),
    ("prompt", ""),
    ("prompt", ["a"]),
    ("model", "grok-imagine-1.0-video-apimart"),
    ("duration", 0),
    ("duration", 16),
    ("duration", "8"),
    ("duration", 7.5),
    ("aspect_ratio", "5:4"),
    ("aspect_ratio", "16x9"),
    ("resolution", "720P"),
    ("resolution", "1080p"),
    ("image", "https://example.com/a.png"),
    ("image", [{"url": "https://example.com/a.png"}]),
    ("image", {"url": "ftp://example.com/a.png"}),
    ("image", {"url": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"}),
    ("image", {}),
    ("prompt", "x [emulator:cancel]"),
    ("prompt", "x [emulator:seconds=abc]"),
]


@pytest.mark.parametrize(("field", "value"), XAI_INVALID)
def test_xai_validation(api: Any, field: str, value: Any) -> None:
    response = api.submit("xai", body_with(XAI, field, value))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "Client specified an invalid argument"
    assert isinstance(body["error"], str) and body["error"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", 1),
        ("duration", 15),
        ("aspect_ratio", "3:4"),
        ("resolution", "480p"),
        ("model", "grok-imagine-video"),
        ("image", {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}),
    ],
)
def test_xai_accepts_documented_values(api: Any, field: str, value: Any) -> None:
    assert api.submit("xai", body_with(XAI, field, value)).status_code == 200
