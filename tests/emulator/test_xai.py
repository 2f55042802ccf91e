"""The emulator's xAI edits, extensions, reference images, 1080p and 202 polls, over raw HTTP
as UPSTREAMS.md section 3 writes them (no provider code in the loop)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.emulator.__main__ import build_parser
from airflow_provider_grokvideo.emulator.app import EmulatorApp
from airflow_provider_grokvideo.emulator.faults import MarkerError, parse_markers
from airflow_provider_grokvideo.emulator.xai import UNKNOWN_SOURCE_SECONDS, output_seconds

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
