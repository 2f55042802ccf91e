"""Every stored video checked against its request: the download operator reads the file it
stored (duration, size, aspect ratio, sound) and says whether it is what was asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.hooks import get_video_hook
from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator

ASSET = Asset(name="spots", uri="file:///grokvideo/spots")
ASKED = {"duration": "2", "aspect_ratio": "9:16", "resolution": "720p", "audio": True}


def finished(prompt: str) -> dict[str, Any]:
    hook = get_video_hook("grokvideo_xai_default")
    generation_id = hook.submit_video(
        f"{prompt} [emulator:seconds=0]", duration=2, aspect_ratio="9:16", resolution="720p"
    )
    return hook.get_video(generation_id).to_dict()


class TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def download(generation: dict[str, Any], tmp_path: Path, **kwargs: Any) -> tuple[TI, Any]:
    ti, events = TI(), OutletEventAccessors()
    task = GrokVideoDownloadOperator(
        task_id="download",
        generation=generation,
        destination=tmp_path.as_uri(),
        outlets=[ASSET],
        **kwargs,
    )
    task.execute(cast(Any, {"ti": ti, "outlet_events": events}))
    return ti, events


def test_a_stored_video_that_is_what_was_asked(emulator: Emulator, tmp_path: Path) -> None:
    ti, events = download(finished("a spot"), tmp_path, expect=str(ASKED))  # a rendered template
    delivered = ti.pushed["grokvideo"]["delivered"]
    assert delivered["matches"] is True and (delivered["width"], delivered["height"]) == (720, 1280)
    assert events[ASSET].extra["delivered"] == delivered


def test_a_stored_video_that_is_not_warns_or_fails(
    emulator: Emulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    generation = finished("a spot [emulator:mismatch]")
    ti, _ = download(generation, tmp_path / "a", expect=ASKED)
    assert ti.pushed["grokvideo"]["delivered"]["matches"] is False
    assert "aspect ratio: 1280x720 is not 9:16" in capfd.readouterr().out
    with pytest.raises(AirflowFailException, match="is not what was asked"):
        download(generation, tmp_path / "b", expect=ASKED, on_mismatch="fail")


def test_without_expect_the_reported_duration_is_checked(
    emulator: Emulator, tmp_path: Path
) -> None:
    ti, _ = download(finished("a spot [emulator:mismatch]"), tmp_path)
    assert ti.pushed["grokvideo"]["delivered"]["mismatches"] == [
        "duration: 1 s, asked 2 s (± 0.25 s)"
    ]


def test_on_mismatch_takes_two_words() -> None:
    with pytest.raises(ValueError, match="on_mismatch must be one of warn, fail"):
        GrokVideoDownloadOperator(
            task_id="d", generation={}, destination="file:///tmp", on_mismatch="shrug"
        )
