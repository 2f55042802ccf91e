"""Videos whose header says what was asked (``emulator/mp4_header.py``): the sample MP4 with its
length, size and sound track rewritten, read back by the provider's own MP4 header reader."""

from __future__ import annotations

import io

import pytest

from airflow_provider_grokvideo.emulator.cdn import sample_bytes
from airflow_provider_grokvideo.emulator.mp4_header import header_video
from airflow_provider_grokvideo.media.probe import read_mp4_header


@pytest.mark.parametrize(
    ("duration", "width", "height", "audio"),
    [
        (6.0, 1280, 720, True),
        (10.0, 720, 1280, False),
        (3.5, 854, 480, True),
        (15, 480, 480, False),
    ],
)
def test_the_header_says_what_was_asked(
    duration: float, width: int, height: int, audio: bool
) -> None:
    info = read_mp4_header(io.BytesIO(header_video(duration, width, height, audio)))
    assert info.duration == pytest.approx(duration, abs=0.01)
    assert (info.width, info.height, info.audio) == (width, height, audio)


def test_the_sample_itself_is_left_as_it_is() -> None:
    before = sample_bytes("sample.mp4")
    made = header_video(8.0, 640, 360, True)
    assert sample_bytes("sample.mp4") == before and made != before
    assert made[4:8] == b"ftyp"  # still an MP4 to every reader
