"""The emulator's video CDN: MP4s, ranges, big streamed videos, cut downloads, expiry."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

import httpx
import psutil
import pytest

from airflow_provider_grokvideo.emulator.cdn import sample_bytes

SAMPLE = sample_bytes("sample.mp4")


def finished_video_url(api: Any, upstream: str = "xai", prompt: str = "x") -> str:
    job_id = api.submit_id(upstream, prompt=prompt)
    done = api.poll(upstream, job_id)[-1]
    if upstream == "xai":
        return str(done["video"]["url"])
    if upstream == "mountsea":
        return str(done["result"]["videoUrl"])
    url = done["data"]["result"]["videos"][0]["url"]
    return str(url[0])


def test_sample_is_a_real_mp4() -> None:
    size, kind = struct.unpack(">I4s", SAMPLE[:8])
    assert kind == b"ftyp" and 8 <= size < 64
    assert b"moov" in SAMPLE and b"mdat" in SAMPLE and b"avc1" in SAMPLE
    assert sample_bytes("sample.jpg")[:2] == b"\xff\xd8"


def test_range_requests(api: Any, media: Callable[..., httpx.Response]) -> None:
    url = finished_video_url(api)
    video = media(url).content  # made for the request (emulator/media.py)
    size = len(video)
    cases = {
        "bytes=0-99": (0, 100),
        "bytes=100-": (100, size),
        f"bytes=-{size + 50}": (0, size),
        "bytes=-10": (size - 10, size),
        f"bytes=10-{size * 2}": (10, size),
    }
    for header, (start, end) in cases.items():
        response = media(url, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
        assert int(response.headers["content-length"]) == end - start
        assert response.content == video[start:end]
    full = media(url, headers={"Range": "bytes=0-1,5-9"})  # multi-range: whole file
    assert full.status_code == 200 and full.content == video
    unsatisfiable = media(url, headers={"Range": f"bytes={size}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{size}"
    head = httpx.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(size)
    assert head.headers["accept-ranges"] == "bytes" and head.content == b""


def test_big_video_is_streamed(api: Any) -> None:
    url = finished_video_url(api, prompt="big [emulator:video-mb=50]")
    size = 50 * 1024 * 1024
    process = psutil.Process()
    rss_before = process.memory_info().rss
    received = 0
    chunks = 0
    first = b""
    started = time.monotonic()
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == size
        assert "transfer-encoding" not in response.headers
        for chunk in response.iter_raw():
            if not first:
                first = chunk[:16]
            received += len(chunk)
            chunks += 1
    assert received == size and chunks > 10
    assert first[4:8] == b"ftyp"
    assert process.memory_info().rss - rss_before < 30 * 1024 * 1024  # never held whole
    assert time.monotonic() - started < 20
    # The padding is one top-level "free" box right after the sample MP4: still playable.
    tail = httpx.get(url, headers={"Range": f"bytes={len(SAMPLE)}-{len(SAMPLE) + 7}"})
    assert tail.content == struct.pack(">I4s", size - len(SAMPLE), b"free")
    last = httpx.get(url, headers={"Range": "bytes=-4"})
    assert last.status_code == 206 and last.content == b"\0\0\0\0"


def test_cut_download_closes_half_way(api: Any) -> None:
    url = finished_video_url(api, "mountsea", "x [emulator:cut-download] [emulator:video-mb=2]")
    received = 0
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == 2 * 1024 * 1024
        for chunk in response.iter_raw():
            received += len(chunk)
    assert 0 < received < 2 * 1024 * 1024


def test_url_expired(api: Any, media: Callable[..., httpx.Response]) -> None:
    job_id = api.submit_id("xcompute", prompt="x [emulator:url-expired]")
    task = api.poll("xcompute", job_id)[-1]["data"]
    video = task["result"]["videos"][0]
    assert video["expires_at"] < time.time()
    response = media(video["url"][0])
    assert response.status_code in (403, 410)
    for upstream in ("mountsea", "xai"):
        url = finished_video_url(api, upstream, "x [emulator:url-expired]")
        assert media(url).status_code in (403, 410)


def test_cdn_counts_requests_with_authorization(
    api: Any, media: Callable[..., httpx.Response]
) -> None:
    url = finished_video_url(api)
    assert media(url).status_code == 200
    assert media(url, headers={"Authorization": "Bearer emulator-key"}).status_code == 200
    assert media(url, headers={"Range": "bytes=0-1"}).status_code == 206
    assert api.client.get(url).status_code == 200  # the API client carries the key
    stats = api.emulator.stats()
    assert stats["cdn_requests"] == 4
    assert stats["cdn_requests_with_authorization"] == 2


def test_cdn_not_ready_unknown_and_failed(api: Any, media: Callable[..., httpx.Response]) -> None:
    base = api.emulator.url
    running = api.submit_id("xai", prompt="x [emulator:seconds=30]")
    assert media(f"{base}/cdn/videos/{running}.mp4").status_code == 404
    assert media(f"{base}/cdn/videos/nothing.mp4").status_code == 404
    assert media(f"{base}/cdn/elsewhere/{running}.mp4").status_code == 404
    failed = api.submit_id("xai", prompt="x [emulator:fail] [emulator:seconds=0]")
    assert media(f"{base}/cdn/videos/{failed}.mp4").status_code == 404
    assert httpx.post(f"{base}/cdn/videos/{running}.mp4").status_code == 405


def test_cdn_faults(api: Any, media: Callable[..., httpx.Response]) -> None:
    url = finished_video_url(api, "mountsea")
    api.emulator.inject("503", endpoint="cdn", upstream="xai")  # other upstream: no effect
    assert media(url).status_code == 200
    api.emulator.clear_faults()
    api.emulator.inject("503", endpoint="cdn")
    api.emulator.inject("429", endpoint="cdn", retry_after=3)
    api.emulator.inject("drop", endpoint="cdn")
    assert media(url).status_code == 503
    limited = media(url)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    with pytest.raises(httpx.RemoteProtocolError):
        media(url)
    assert media(url).status_code == 200
    assert api.status("mountsea", url.rsplit("/", 1)[1][:-4]).status_code == 200
