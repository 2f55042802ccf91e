"""A poster frame for the page, taken from the video itself (PyAV) where the upstream gives
no thumbnail (xAI gives none): the first frame, as a JPEG."""

from __future__ import annotations

from io import BytesIO
from typing import IO


def poster_jpeg(handle: IO[bytes]) -> bytes | None:
    """The first frame of the video in ``handle`` as JPEG bytes; None without PyAV or when
    no frame decodes (the page then shows no thumbnail, as before)."""
    try:
        import av
    except ImportError:
        return None
    try:
        handle.seek(0)
        with av.open(handle) as container:
            frame = next(container.decode(video=0), None)
        if frame is None:
            return None
        out = BytesIO()
        with av.open(out, "w", format="image2pipe") as image:
            stream = image.add_stream("mjpeg", rate=1)
            stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuvj420p"
            image.mux(stream.encode(frame.reformat(format="yuvj420p")))
            image.mux(stream.encode(None))
        return out.getvalue() or None
    except (av.FFmpegError, StopIteration, ValueError):
        return None
    finally:
        handle.seek(0)
