"""Fixtures of the media tests: a video made as the emulator delivers it."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from airflow_provider_grokvideo.emulator.media import shape_for, video_bytes


@pytest.fixture
def made() -> Callable[..., io.BytesIO]:
    """Makes a 3 s, 9:16, 720p video with sound; ``mismatch=True``: one off in duration,
    aspect ratio and sound (the emulator's ``mismatch`` marker)."""

    def make(*, mismatch: bool = False) -> io.BytesIO:
        data = video_bytes(shape_for(3, "9:16", "720p", True, mismatch=mismatch))
        assert data is not None
        return io.BytesIO(data)

    return make
