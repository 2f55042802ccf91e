"""The delivered-video check (``media/check.py``): a matching and a mismatching video, read with
PyAV and from the MP4 header alone, the tolerances; and how the page shows the check."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from airflow_provider_grokvideo.media.check import Expected, compare, expected_audio, video_size
from airflow_provider_grokvideo.media.probe import probe

SPOT = Expected(duration=3, aspect_ratio="9:16", resolution="720p", audio=True)
READERS = pytest.mark.parametrize("use_pyav", [True, False], ids=["pyav", "mp4-header"])


@READERS
def test_a_video_that_is_what_was_asked_matches(
    use_pyav: bool, made: Callable[..., io.BytesIO]
) -> None:
    delivered = compare(probe(made(), use_pyav=use_pyav), SPOT)
    assert delivered["matches"] is True and delivered["mismatches"] == []
    assert (delivered["width"], delivered["height"], delivered["codec"]) == (720, 1280, "h264")
    assert delivered["reader"] == ("pyav" if use_pyav else "mp4-header")


@READERS
def test_a_video_that_is_not_says_how(use_pyav: bool, made: Callable[..., io.BytesIO]) -> None:
    delivered = compare(probe(made(mismatch=True), use_pyav=use_pyav), SPOT)
    assert delivered["matches"] is False
    kinds = [why.split(":")[0] for why in delivered["mismatches"]]
    assert kinds == ["duration", "aspect ratio", "audio"]


def test_tolerances_resolution_and_codec(made: Callable[..., io.BytesIO]) -> None:
    info = probe(made(), use_pyav=False)
    assert compare(info, Expected(duration=3.08))["matches"]  # within two frames at 24 fps
    assert not compare(info, Expected(duration=3.3))["matches"]
    assert compare(info, Expected(resolution="480p"))["mismatches"] == [
        "resolution: 720x1280 is not 480p"
    ]
    assert compare(info, Expected(codec="hevc"))["mismatches"] == ["codec: h264, asked hevc"]
    assert compare(info, Expected(audio=False))["mismatches"] == [
        "audio: present, asked for a silent video"
    ]
    assert video_size("9:16", "720p") == (720, 1280) and video_size("16:9", "480p") == (854, 480)
    assert expected_audio(None, ["ara"]) is True and expected_audio(False, None) is False
    assert expected_audio(None, None) is None


def test_the_page_shows_the_check_and_xais_files_copy(made: Callable[..., io.BytesIO]) -> None:
    from airflow_provider_grokvideo.plugins.generations import Filters, Generation, Page, TaskRef
    from airflow_provider_grokvideo.plugins.page import render_page

    ref = TaskRef("d", "r", "spot", -1)
    record = {
        "generation_id": "g1",
        "status": "succeeded",
        "prompt": "a spot",
        "delivered": compare(probe(made(mismatch=True), use_pyav=False), SPOT),
        "delivery": {"via": "download", "fallback": "no object"},
        "file_output": {
            "file_id": "file_7",
            "public_url": "javascript:alert(1)",
            "expires_at_utc": "2026-12-08T00:00:00Z",
        },
    }
    generation = Generation("d", "r", "g1", datetime.now(timezone.utc), record, {"stored": ref})
    html = render_page(Page([generation], 1, Filters()), base="/grok-videos", dag_ids=["d"])
    assert 'class="badge badge-mismatch"' in html and "aspect ratio: 1280x720 is not 9:16" in html
    assert "via download" in html and "fallback: no object" in html
    assert "file_7" in html and "kept until 2026-12-08T00:00:00Z" in html
    assert "javascript:" not in html  # a task's words make no link
    record["delivered"] = compare(probe(made(), use_pyav=False), SPOT)
    assert 'class="badge badge-match"' in render_page(
        Page([generation], 1, Filters()), base="/grok-videos", dag_ids=["d"]
    )
