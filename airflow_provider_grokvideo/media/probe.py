"""Read a video's duration, width × height, video codec and whether it has sound.

With PyAV installed (the ``[media]`` extra: FFmpeg's own demuxers and decoders) the file is
opened with it; without, the MP4's own header is read: ``mvhd`` (duration), each track's
``tkhd`` (width and height), ``hdlr`` (video or sound) and ``stsd`` (the codec's four-letter
code).  Only the boxes are read: ``mdat`` (the media itself) is skipped with a seek, so a large
video costs a few small reads.  PyAV is imported only here, only when called.
"""

from __future__ import annotations

import os
import struct
from dataclasses import asdict, dataclass
from typing import IO, Any

from airflow_provider_grokvideo.media.signatures import SIGNATURE_BYTES, is_video

#: MP4 sample-entry codes and the codec names FFmpeg gives them.
CODECS: dict[bytes, str] = {
    b"avc1": "h264",
    b"avc3": "h264",
    b"hvc1": "hevc",
    b"hev1": "hevc",
    b"av01": "av1",
    b"vp09": "vp9",
    b"mp4v": "mpeg4",
    b"mp4a": "aac",
    b"Opus": "opus",
}
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
#: The most of one header box read into memory (a moov is kilobytes; refuse a runaway one).
MAX_BOX_BYTES = 64 * 1024 * 1024


class NotAVideo(ValueError):
    """The file is not an MP4 (or a video PyAV can open)."""


@dataclass(frozen=True)
class MediaInfo:
    """What the file says about itself; ``None`` where it does not say.  ``reader``: ``"pyav"``
    or ``"mp4-header"``; ``frame_rate``: frames per second where known."""

    duration: float | None
    width: int | None
    height: int | None
    codec: str | None
    audio: bool
    reader: str
    frame_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pyav_available() -> bool:
    """Whether PyAV can be imported (without importing it twice)."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def probe(source: str | os.PathLike[str] | IO[bytes], *, use_pyav: bool | None = None) -> MediaInfo:
    """Read ``source`` (a local path or a seekable binary file).  ``use_pyav``: True to require
    PyAV, False for the MP4 header alone, None for PyAV when installed."""
    if use_pyav is None:
        use_pyav = pyav_available()
    if use_pyav:
        return _probe_pyav(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return read_mp4_header(handle)
    return read_mp4_header(source)


def _probe_pyav(source: str | os.PathLike[str] | IO[bytes]) -> MediaInfo:
    import av

    try:
        container = av.open(os.fspath(source) if isinstance(source, os.PathLike) else source)
    except av.FFmpegError as exc:
        raise NotAVideo(f"not a video PyAV can open: {exc}") from None
    with container:
        videos = container.streams.video
        if not videos:
            raise NotAVideo("the file has no video stream")
        stream = videos[0]
        duration = None
        if container.duration is not None:
            duration = container.duration / av.time_base
        elif stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        rate = stream.average_rate or stream.base_rate
        return MediaInfo(
            duration=round(duration, 3) if duration is not None else None,
            width=stream.codec_context.width or None,
            height=stream.codec_context.height or None,
            codec=stream.codec_context.name,
            audio=bool(container.streams.audio),
            reader="pyav",
            frame_rate=float(rate) if rate else None,
        )


def read_mp4_header(handle: IO[bytes]) -> MediaInfo:
    """The MP4 header's own account of the file (see the module's docstring)."""
    handle.seek(0)
    if not is_video(handle.read(SIGNATURE_BYTES)):
        raise NotAVideo("not an MP4 file (no ftyp box at its start)")
    moov = _find_top_level(handle, b"moov")
    if moov is None:
        raise NotAVideo("the MP4 has no moov box (no header to read)")
    duration: float | None = None
    video: dict[str, Any] | None = None
    audio = False
    for kind, body in _boxes(moov):
        if kind == b"mvhd":
            duration = _mvhd_duration(body)
        elif kind == b"trak":
            track = _track(body)
            if track["handler"] == b"vide" and video is None:
                video = track
            elif track["handler"] == b"soun":
                audio = True
    if video is None:
        raise NotAVideo("the MP4 has no video track")
    return MediaInfo(
        duration=round(duration, 3) if duration is not None else None,
        width=video["width"],
        height=video["height"],
        codec=video["codec"],
        audio=audio,
        reader="mp4-header",
    )


def _find_top_level(handle: IO[bytes], wanted: bytes) -> bytes | None:
    offset = 0
    while True:
        handle.seek(offset)
        header = handle.read(8)
        if len(header) < 8:
            return None
        size, kind = struct.unpack(">I4s", header)
        head = 8
        if size == 1:
            size = struct.unpack(">Q", handle.read(8))[0]
            head = 16
        elif size == 0:  # to the end of the file
            if kind != wanted:
                return None
            return handle.read(MAX_BOX_BYTES)
        if size < head:
            raise NotAVideo(f"a malformed MP4 box at byte {offset}")
        if kind == wanted:
            if size - head > MAX_BOX_BYTES:
                raise NotAVideo("the MP4's moov box is implausibly large")
            body = handle.read(size - head)
            if len(body) < size - head:
                raise NotAVideo("the MP4 is truncated inside its moov box")
            return body
        offset += size


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        head = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, offset + 8)[0]
            head = 16
        elif size == 0:
            size = len(data) - offset
        if size < head or offset + size > len(data):
            break
        out.append((kind, data[offset + head : offset + size]))
        offset += size
    return out


def _mvhd_duration(body: bytes) -> float | None:
    version = body[0]
    if version == 1:
        timescale, duration = struct.unpack_from(">IQ", body, 20)
    else:
        timescale, duration = struct.unpack_from(">II", body, 12)
    return duration / timescale if timescale else None


def _track(trak: bytes) -> dict[str, Any]:
    info: dict[str, Any] = {"handler": None, "width": None, "height": None, "codec": None}
    stack = [trak]
    while stack:
        for kind, body in _boxes(stack.pop()):
            if kind == b"tkhd":
                # Width and height: the last 8 bytes, 16.16 fixed point.
                width, height = struct.unpack_from(">II", body, len(body) - 8)
                info["width"], info["height"] = width >> 16 or None, height >> 16 or None
            elif kind == b"hdlr":
                info["handler"] = body[8:12]
            elif kind == b"stsd" and len(body) >= 16:
                code = body[12:16]
                info["codec"] = CODECS.get(code, code.decode("latin-1").strip())
            elif kind in _CONTAINERS:
                stack.append(body)
    return info
