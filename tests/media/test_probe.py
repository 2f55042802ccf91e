"""Reading a delivered video (``media/probe.py``): PyAV or the MP4 header alone; what is no MP4
is refused."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_grokvideo.emulator.cdn import sample_bytes
from airflow_provider_grokvideo.media.probe import NotAVideo, probe, read_mp4_header

READERS = pytest.mark.parametrize("use_pyav", [True, False], ids=["pyav", "mp4-header"])


def test_the_header_reader_refuses_what_is_no_mp4() -> None:
    with pytest.raises(NotAVideo, match="no ftyp"):
        read_mp4_header(io.BytesIO(b"<html>not a video</html>"))
    sample = sample_bytes("sample.mp4")
    moov = sample.index(b"moov") - 4
    with pytest.raises(NotAVideo, match="no moov"):
        read_mp4_header(io.BytesIO(sample[:moov] if moov > 16 else sample[:16]))
    with pytest.raises(NotAVideo):
        probe(io.BytesIO(b"garbage" * 10), use_pyav=True)


@READERS
def test_both_readers_read_what_the_video_says(
    use_pyav: bool, made: Callable[..., io.BytesIO]
) -> None:
    info = probe(made(), use_pyav=use_pyav)
    assert (info.width, info.height, info.codec, info.audio) == (720, 1280, "h264", True)
    assert info.duration == pytest.approx(3, abs=0.1)
    assert info.reader == ("pyav" if use_pyav else "mp4-header")
    silent = probe(made(mismatch=True), use_pyav=use_pyav)
    assert silent.audio is False and (silent.width, silent.height) == (1280, 720)


def test_a_path_is_read_as_its_file(tmp_path: Path, made: Callable[..., io.BytesIO]) -> None:
    path = tmp_path / "video.mp4"
    path.write_bytes(made().getvalue())
    assert probe(path, use_pyav=False) == probe(made(), use_pyav=False)
    assert probe(str(path), use_pyav=False).to_dict()["width"] == 720
