"""The emulator's videos without PyAV: the packaged sample with its MP4 header rewritten.

The header says what the request asked: ``mvhd``, ``tkhd``, ``elst`` and ``mdhd`` the duration
(``stts`` spreads the sample's frames over it), ``tkhd`` and ``avc1`` the width and height, and
a second, sound track (``soun``, AAC in ``mp4a``/``esds``, no samples) when sound was asked.
The pictures are still the sample's few frames: a reader of the header (``media.probe``
without PyAV) sees the video asked for, a player shows the sample stretched.  With PyAV the
emulator encodes a real video instead (``emulator/media.py``).
"""

from __future__ import annotations

import struct
from functools import lru_cache

from airflow_provider_grokvideo.emulator.cdn import sample_bytes

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}
AUDIO_RATE = 16_000


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def _boxes(data: bytearray, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(kind, offset of the box, its size) of each box in ``data[start:end]``, depth first."""
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size < 8:
            break
        found.append((kind, offset, size))
        if kind in _CONTAINERS:
            found.extend(_boxes(data, offset + 8, offset + size))
        offset += size
    return found


@lru_cache(maxsize=32)
def header_video(duration: float, width: int, height: int, audio: bool) -> bytes:
    """The sample MP4 whose header says ``duration`` seconds of ``width`` x ``height``, with a
    sound track when ``audio``."""
    data = bytearray(sample_bytes("sample.mp4"))
    boxes = _boxes(data, 0, len(data))
    where = {kind: (offset, size) for kind, offset, size in boxes}
    mvhd = where[b"mvhd"][0] + 8
    movie_scale = struct.unpack_from(">I", data, mvhd + 12)[0]  # version 0 assumed (sample)
    movie_length = round(duration * movie_scale)
    struct.pack_into(">I", data, mvhd + 16, movie_length)
    tkhd = where[b"tkhd"][0] + 8
    struct.pack_into(">I", data, tkhd + 20, movie_length)
    tkhd_end = where[b"tkhd"][0] + where[b"tkhd"][1]
    struct.pack_into(">II", data, tkhd_end - 8, width << 16, height << 16)
    if b"elst" in where:
        struct.pack_into(">I", data, where[b"elst"][0] + 16, movie_length)
    mdhd = where[b"mdhd"][0] + 8
    media_scale = struct.unpack_from(">I", data, mdhd + 12)[0]
    media_length = round(duration * media_scale)
    struct.pack_into(">I", data, mdhd + 16, media_length)
    stts = where[b"stts"][0] + 8
    entries = struct.unpack_from(">I", data, stts + 4)[0]
    frames = sum(struct.unpack_from(">I", data, stts + 8 + 8 * i)[0] for i in range(entries))
    # One entry for every frame (the box keeps its size: the others become zero-length runs).
    delta = max(1, media_length // max(1, frames))
    for i in range(entries):
        count = frames if i == 0 else 0
        struct.pack_into(">II", data, stts + 8 + 8 * i, count, delta if i == 0 else 0)
    entry = where[b"stsd"][0] + 16  # the first sample entry (avc1)
    struct.pack_into(">HH", data, entry + 32, width, height)
    if not audio:
        return bytes(data)
    track = _sound_track(duration, movie_scale, movie_length)
    moov_offset, moov_size = where[b"moov"]
    # Everything after moov moves by the track's size: the video's chunk offsets with it.
    stco = where[b"stco"][0] + 8
    for i in range(struct.unpack_from(">I", data, stco + 4)[0]):
        at = stco + 8 + 4 * i
        struct.pack_into(">I", data, at, struct.unpack_from(">I", data, at)[0] + len(track))
    struct.pack_into(">I", data, moov_offset, moov_size + len(track))
    struct.pack_into(">I", data, mvhd + 96, 3)  # next_track_ID
    end = moov_offset + moov_size
    return bytes(data[:end]) + track + bytes(data[end:])


def _sound_track(duration: float, movie_scale: int, movie_length: int) -> bytes:
    """A ``soun`` track of AAC (mono, 16 kHz) with no samples: the header's "has sound"."""
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = _full(
        b"tkhd",
        struct.pack(">IIIII", 0, 0, 2, 0, movie_length)
        + bytes(8)
        + struct.pack(">hhHH", 0, 1, 0x0100, 0)
        + matrix
        + struct.pack(">II", 0, 0),
        flags=3,
    )
    mdhd = _full(
        b"mdhd", struct.pack(">IIIIHH", 0, 0, AUDIO_RATE, round(duration * AUDIO_RATE), 0x55C4, 0)
    )
    hdlr = _full(b"hdlr", struct.pack(">I4s", 0, b"soun") + bytes(12) + b"SoundHandler\x00")
    dinf = _box(b"dinf", _full(b"dref", struct.pack(">I", 1) + _full(b"url ", b"", flags=1)))
    config = bytes([0x05, 0x02, 0x14, 0x08])  # AudioSpecificConfig: AAC LC, 16 kHz, mono
    decoder = bytes([0x04, 13 + len(config), 0x40, 0x15]) + bytes(11) + config
    descriptor = bytes([0x03, 3 + len(decoder) + 3, 0, 0, 0]) + decoder + bytes([0x06, 1, 2])
    mp4a = _box(
        b"mp4a",
        bytes(6)
        + struct.pack(">H", 1)
        + bytes(8)
        + struct.pack(">HHHHI", 1, 16, 0, 0, AUDIO_RATE << 16)
        + _full(b"esds", descriptor),
    )
    stbl = _box(
        b"stbl",
        _full(b"stsd", struct.pack(">I", 1) + mp4a)
        + _full(b"stts", struct.pack(">I", 0))
        + _full(b"stsc", struct.pack(">I", 0))
        + _full(b"stsz", struct.pack(">II", 0, 0))
        + _full(b"stco", struct.pack(">I", 0)),
    )
    minf = _box(b"minf", _full(b"smhd", bytes(4)) + dinf + stbl)
    return _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr + minf))
