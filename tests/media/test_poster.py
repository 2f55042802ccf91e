"""A video's poster frame (``media/poster.py``): a JPEG, or nothing for what is no video."""

from __future__ import annotations

import io
from collections.abc import Callable

from airflow_provider_grokvideo.media.poster import poster_jpeg


def test_a_poster_frame_is_a_jpeg(made: Callable[..., io.BytesIO]) -> None:
    poster = poster_jpeg(made())
    assert poster is not None and poster[:3] == b"\xff\xd8\xff"
    assert poster_jpeg(io.BytesIO(b"not a video")) is None
