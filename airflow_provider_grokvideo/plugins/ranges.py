"""Serve a stored video (opened and checked by ``storage_roots.py``) with HTTP range requests.

A browser's ``<video>`` asks for ``Range: bytes=START-`` whenever the viewer seeks; the answer
is a ``206 Partial Content`` of that slice alone.  The file is opened through its filesystem
(fsspec: local files, ``s3://``, ``gs://``...), *seeked* to ``START`` and read from there in
:data:`CHUNK_SIZE` pieces: a local file reads only those bytes, an object store answers a
ranged GET of its own, so seeking to the end of a 200 MB video does not read its start
(``tests/plugins/test_ranges.py`` counts the bytes the process reads).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.plugins.storage_roots import CHUNK_SIZE

if TYPE_CHECKING:
    from starlette.responses import Response

    from airflow_provider_grokvideo.plugins.storage_roots import StoredObject
#: Longest slice answered to an open-ended range (``bytes=START-``): players ask again.  Keeps
#: one request from holding a worker thread for a whole large file.
MAX_OPEN_RANGE = 8 * 1024 * 1024
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class RangeNotSatisfiable(ValueError):
    """The ``Range`` header asks for bytes the file does not have (HTTP 416)."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(
    header: str | None, size: int, *, cap: int | None = MAX_OPEN_RANGE
) -> ByteRange | None:
    """The slice a ``Range`` header asks for, or None for the whole file.

    One range only (what players send); a header we do not understand is ignored, as RFC 9110
    allows.  ``bytes=START-`` is capped at ``cap`` bytes; ``bytes=-N`` is the last N bytes.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(max(0, size - count), size - 1)
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable(header)
    end = min(int(last), size - 1) if last else size - 1
    if not last and cap is not None:
        end = min(end, start + cap - 1)
    if end < start:
        raise RangeNotSatisfiable(header)
    return ByteRange(start, end)


def read_slice(
    handle: Any, start: int, length: int, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """``length`` bytes from ``start`` of an open binary file: seek, then read in pieces."""
    try:
        handle.seek(start)
        left = length
        while left > 0:
            piece = handle.read(min(chunk_size, left))
            if not piece:
                break
            left -= len(piece)
            yield piece
    finally:
        handle.close()


def file_response(stored: StoredObject, range_header: str | None) -> Response:
    """A (partial) response of an open, checked stored file (``storage_roots.open_stored``).

    The media type is the one its first bytes showed, never a guess from a name; the browser
    is told not to sniff, and that the answer is no page of its own (``sandbox``).
    """
    from starlette.responses import Response, StreamingResponse

    size = stored.size
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        stored.handle.close()
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if wanted is None:
        wanted, status = ByteRange(0, size - 1), 200
    else:
        status = 206
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    headers["Content-Length"] = str(max(0, wanted.length))
    return StreamingResponse(
        read_slice(stored.handle, wanted.start, wanted.length),
        status_code=status,
        headers=headers,
        media_type=stored.media_type,
    )
