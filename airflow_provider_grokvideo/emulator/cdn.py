"""The emulator's video "CDN": finished videos and thumbnails, with HTTP Range support.

Every video is a real, playable one-second MP4 (``sample.mp4``, 160x90 H.264).  A job with
``[emulator:video-mb=N]`` gets an N-MiB file instead: the same MP4 followed by one top-level
``free`` box of zero padding, still playable, and streamed in chunks: never held in memory.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable, Iterator
from functools import cache, lru_cache
from importlib import resources

from airflow_provider_grokvideo.emulator.wire import CT_TEXT, Send

CHUNK_BYTES = 256 * 1024
MIB = 1024 * 1024
_ZEROS = bytes(CHUNK_BYTES)

VIDEO_TYPE = (b"content-type", b"video/mp4")
JPEG_TYPE = (b"content-type", b"image/jpeg")
_COMMON = [(b"accept-ranges", b"bytes"), (b"cache-control", b"public, max-age=86400")]


@cache
def sample_bytes(name: str) -> bytes:
    """A packaged media file (``sample.mp4`` or ``sample.jpg``)."""
    return resources.files(__package__).joinpath(name).read_bytes()


class MediaFile:
    """A file made of a byte prefix and an optional run of zeros, served by byte range."""

    __slots__ = ("prefix", "size")

    def __init__(self, prefix: bytes, size: int | None = None) -> None:
        self.prefix = prefix
        self.size = len(prefix) if size is None else size

    @classmethod
    def video(cls, megabytes: float | None = None) -> MediaFile:
        """The sample MP4, padded with a ``free`` box up to ``megabytes`` MiB when asked."""
        sample = sample_bytes("sample.mp4")
        if megabytes is None:
            return cls(sample)
        return _padded_video(int(megabytes * MIB))

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """The bytes ``[start, end)`` in pieces of at most :data:`CHUNK_BYTES`."""
        prefix = self.prefix
        if start < len(prefix):
            stop = min(end, len(prefix))
            for offset in range(start, stop, CHUNK_BYTES):
                yield prefix[offset : min(stop, offset + CHUNK_BYTES)]
            start = stop
        while start < end:
            n = min(CHUNK_BYTES, end - start)
            yield _ZEROS if n == CHUNK_BYTES else _ZEROS[:n]
            start += n


@lru_cache(maxsize=64)
def _padded_video(total: int) -> MediaFile:
    sample = sample_bytes("sample.mp4")
    padding = total - len(sample)
    if padding < 16:
        return MediaFile(sample)
    if padding < 2**32:
        header = struct.pack(">I4s", padding, b"free")
    else:  # 64-bit box size ("largesize")
        header = struct.pack(">I4sQ", 1, b"free", padding)
    return MediaFile(sample + header, total)


def parse_range(value: bytes | None, size: int) -> tuple[int, int] | bool | None:
    """``(start, end_exclusive)`` of a single-range ``Range`` header.

    ``None`` means "send the whole file" (no header, or one this server ignores, such as a
    multi-range request); ``False`` means the range cannot be satisfied (416).
    """
    if not value:
        return None
    text = value.decode("latin-1").strip()
    unit, _, spec = text.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:  # suffix: the last N bytes
            length = int(last)
            if length <= 0:
                return False
            return max(0, size - length), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size:
        return False
    if end <= start:  # "bytes=9-3" is not a valid range: ignore the header
        return None
    return start, min(end, size)


async def send_media(
    send: Send,
    media: MediaFile,
    content_type: tuple[bytes, bytes],
    *,
    range_header: bytes | None,
    head: bool,
    cut: bool,
    drop: Callable[[], Awaitable[None]],
) -> int:
    """Send ``media`` (or the requested range of it); return the body bytes sent.

    With ``cut``, the headers announce the full length but only half of the body is sent before
    ``drop()`` closes the connection.
    """
    size = media.size
    wanted = parse_range(range_header, size)
    if wanted is False:
        await send(
            {
                "type": "http.response.start",
                "status": 416,
                "headers": [
                    CT_TEXT,
                    (b"content-range", f"bytes */{size}".encode()),
                    (b"content-length", b"0"),
                    *_COMMON,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return 0
    headers = [content_type, *_COMMON]
    if not isinstance(wanted, tuple):
        status, start, end = 200, 0, size
    else:
        status, (start, end) = 206, wanted
        headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
    headers.append((b"content-length", str(end - start).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if head:
        await send({"type": "http.response.body", "body": b""})
        return 0
    stop = start + (end - start) // 2 if cut else end
    sent = 0
    for chunk in media.chunks(start, stop):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        sent += len(chunk)
    if cut:
        await drop()
        return sent
    await send({"type": "http.response.body", "body": b""})
    return sent
