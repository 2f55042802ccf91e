"""Range requests for stored videos: parsing, and seeking that never reads a file's start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from airflow_provider_grokvideo.plugins.ranges import (
    MAX_OPEN_RANGE,
    ByteRange,
    RangeNotSatisfiable,
    file_response,
    parse_range,
)
from airflow_provider_grokvideo.plugins.storage_roots import (
    StoredObject,
    locate,
    open_stored,
    read_roots,
)

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=0-", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("bytes=-10", ByteRange(990, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        (" Bytes = 5 - 6 ", ByteRange(5, 6)),
        ("items=0-5", None),  # not understood: the whole file, as RFC 9110 allows
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=2000-3000", "bytes=-0", "bytes=9-3"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


def test_an_open_range_is_capped_so_one_request_never_streams_a_whole_big_file() -> None:
    size = 200 * MB
    assert parse_range("bytes=0-", size) == ByteRange(0, MAX_OPEN_RANGE - 1)
    assert parse_range("bytes=0-", size, cap=None) == ByteRange(0, size - 1)
    assert parse_range(f"bytes=0-{size - 1}", size) == ByteRange(0, size - 1)  # asked for: given


def _opened(path: Path) -> StoredObject:
    """``path`` opened as the page opens it, its folder the only storage root."""
    roots, _ = read_roots(path.parent.as_uri())
    return open_stored(locate(path.as_uri(), roots, "video"), roots, "video")


def _bytes_read_by_this_process() -> int:
    # rchar: bytes this process read through read(2) and friends, page cache or not.
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


async def _body(response: object) -> bytes:
    chunks = []
    async for chunk in response.body_iterator:  # type: ignore[attr-defined]
        chunks.append(chunk if isinstance(chunk, bytes) else chunk.encode())
    return b"".join(chunks)


def test_seeking_in_a_200_mb_video_reads_only_the_slice_asked_for(tmp_path: Path) -> None:
    video = tmp_path / "big.mp4"
    size = 200 * MB
    with video.open("wb") as out:  # real bytes at both ends, so reads are checkable
        out.write(b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 4)
        out.seek(size - 2 * MB)
        out.write(bytes(range(256)) * (2 * MB // 256))
    expected = video.read_bytes()[size - MB :]
    small = tmp_path / "small.mp4"
    small.write_bytes(b"\0\0\0\x18ftypisom warm-up")
    asyncio.run(_body(file_response(_opened(small), None)))  # imports read files too

    before = _bytes_read_by_this_process()
    response = file_response(_opened(video), f"bytes={size - MB}-")
    body = asyncio.run(_body(response))
    read = _bytes_read_by_this_process() - before

    assert response.status_code == 206 and response.headers["content-type"] == "video/mp4"
    assert response.headers["content-range"] == f"bytes {size - MB}-{size - 1}/{size}"
    assert body == expected
    # The last MiB of the file, not the 199 MiB before it.
    assert MB <= read < 4 * MB, read


def test_a_missing_stored_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _opened(tmp_path / "gone.mp4")


def test_an_unsatisfiable_range_closes_the_file(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(100))
    stored = _opened(video)
    response = file_response(stored, "bytes=500-")
    assert response.status_code == 416 and response.headers["content-range"] == "bytes */112"
    assert stored.handle.closed
