"""What a file's first bytes say it is: the one place that tells an MP4 video, and the
thumbnails the provider stores and the page shows, from anything else (an HTML error page, a
truncated body).  Pure, no import: the download, the delivery check, the uploads, the edit's
source video and the page's file route all read it.
"""

from __future__ import annotations

from typing import Literal

#: Bytes enough for every signature below.
SIGNATURE_BYTES = 16

Kind = Literal["video", "thumbnail"]

#: ISO base media ``ftyp`` brands of a still image (AVIF): a thumbnail, not a video.
_IMAGE_BRANDS = (b"avif", b"avis")


def _ftyp_brand(head: bytes) -> bytes | None:
    """The major brand of an ISO base media file (MP4, QuickTime, AVIF), else ``None``."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return head[8:12]
    return None


def media_type(head: bytes, kind: Kind) -> str | None:
    """The media type ``head`` shows if it is a ``kind`` the provider stores and the page
    shows (a video: MP4 or QuickTime; a thumbnail: JPEG, PNG, WebP, GIF or AVIF, the images a
    browser draws), else ``None``."""
    brand = _ftyp_brand(head)
    if kind == "video":
        if brand is None or brand in _IMAGE_BRANDS:
            return None
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if brand in _IMAGE_BRANDS:
        return "image/avif"
    return None


def is_video(head: bytes) -> bool:
    """Whether ``head`` starts an MP4 (or QuickTime) video: an ``ftyp`` box at offset 4."""
    return media_type(head, "video") is not None


def describe_problem(head: bytes, kind: Kind) -> str | None:
    """Why ``head`` is not a ``kind`` (a sentence with its first bytes), or ``None``."""
    if media_type(head, kind) is not None:
        return None
    first = bytes(head[:16])
    if kind == "video":
        if head[4:8] != b"ftyp":
            return f"not an MP4 video: no 'ftyp' box at offset 4 (first bytes {first!r})"
        if _ftyp_brand(head) is None:
            return f"not an MP4 video: its 'ftyp' box is cut short (first bytes {first!r})"
        return f"not an MP4 video but a still image (first bytes {first!r})"
    return f"not a JPEG, PNG, WebP, GIF or AVIF image (first bytes {first!r})"
