"""What a file's first bytes say it is (``media/signatures.py``): the videos and thumbnails the
provider stores and the page shows, told from HTML pages, truncated bodies and still images."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.media import signatures

MP4 = b"\0\0\0\x18ftypmp42\0\0\0\0isommp42" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0\0\x10JFIF\0" + bytes(32)
PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(32)
WEBP = b"RIFF\x24\0\0\0WEBPVP8 " + bytes(32)
GIF = b"GIF89a" + bytes(32)


@pytest.mark.parametrize(
    ("head", "kind", "media_type"),
    [
        (MP4, "video", "video/mp4"),
        (b"\0\0\0\x14ftypqt  \0\0\0\0", "video", "video/quicktime"),
        (JPEG, "thumbnail", "image/jpeg"),
        (PNG, "thumbnail", "image/png"),
        (WEBP, "thumbnail", "image/webp"),
        (GIF, "thumbnail", "image/gif"),
        (JPEG, "video", None),
        (MP4, "thumbnail", None),
        (b"<html><script>", "thumbnail", None),
        (b"RIFF\0\0\0\0WAVE", "thumbnail", None),
        (b"\0\0\0\x18ftyp", "video", None),  # cut short
        (b"\0\0\0\x1cftypavif\0\0\0\0", "thumbnail", "image/avif"),
        (b"\0\0\0\x1cftypavif\0\0\0\0", "video", None),  # a still image, not a video
        (b"\0\0\0\x18ftypheic\0\0\0\0", "thumbnail", None),  # no browser draws it
    ],
)
def test_what_the_first_bytes_are(head: bytes, kind: str, media_type: str | None) -> None:
    assert signatures.media_type(head, kind) == media_type  # type: ignore[arg-type]


def test_the_real_sample_video_and_thumbnail_are_recognised() -> None:
    from airflow_provider_grokvideo.emulator.cdn import sample_bytes

    mp4 = sample_bytes("sample.mp4")[: signatures.SIGNATURE_BYTES]
    jpg = sample_bytes("sample.jpg")[: signatures.SIGNATURE_BYTES]
    assert signatures.is_video(mp4) and not signatures.is_video(jpg)
    assert signatures.media_type(jpg, "thumbnail") == "image/jpeg"


@pytest.mark.parametrize(
    ("head", "kind", "words"),
    [
        (b"<html><body>502", "video", "no 'ftyp' box at offset 4"),
        (b"\0\0\0\x18ftyp", "video", "'ftyp' box is cut short"),
        (b"\0\0\0\x1cftypavif\0\0\0\0", "video", "but a still image"),
        (b"\0\0\0\x18ftypheic\0\0\0\0", "thumbnail", "not a JPEG, PNG, WebP, GIF or AVIF"),
    ],
)
def test_a_refusal_says_why_with_the_first_bytes(head: bytes, kind: str, words: str) -> None:
    problem = signatures.describe_problem(head, kind)  # type: ignore[arg-type]
    assert problem is not None and words in problem
    assert repr(head[:16]) in problem  # what was there, for the log reader


def test_what_is_recognised_has_no_problem() -> None:
    assert signatures.describe_problem(MP4, "video") is None
    assert signatures.describe_problem(PNG, "thumbnail") is None
