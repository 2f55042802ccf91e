"""xAI's direct delivery as the emulator plays it (``emulator/delivery.py``): the finished video
PUT to the request's ``output.upload_url`` (a bucket of our own here, a real HTTP server),
without the API's credential, before the job reads as done; a failed PUT reported as the
answer's ``storage_error``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import Emulator
from emulator.checks import AUTH


class Bucket(ThreadingHTTPServer):
    """Takes PUTs (and answers ``status`` to them): each request's headers and body, kept."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.puts: list[tuple[dict[str, str], bytes]] = []
        bucket = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                bucket.puts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(bucket.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def bucket(request: pytest.FixtureRequest) -> Iterator[Bucket]:
    server = Bucket(getattr(request, "param", 200))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def finished(emu: Emulator, prompt: str, upload_url: str) -> dict[str, Any]:
    base = emu.base_url("xai")
    body = {"prompt": prompt, "output": {"upload_url": upload_url}}
    job = httpx.post(f"{base}/v1/videos/generations", json=body, headers=AUTH).json()
    for _ in range(200):
        answer = httpx.get(f"{base}/v1/videos/{job['request_id']}", headers=AUTH).json()
        if answer["status"] != "pending":
            return answer
        time.sleep(0.05)
    raise AssertionError(f"still pending: {answer}")


def test_the_video_is_in_the_bucket_before_the_job_reads_done(
    emu: Emulator, bucket: Bucket
) -> None:
    url = f"http://127.0.0.1:{bucket.server_port}/videos/a.mp4?X-Signature=s"
    done = finished(emu, "a kite", url)
    assert done["status"] == "done" and "storage_error" not in done["video"]
    [(headers, body)] = bucket.puts  # once, however often the job is read
    assert body[4:8] == b"ftyp" and headers["content-type"] == "video/mp4"
    assert "authorization" not in headers  # the signed URL is the only credential


@pytest.mark.parametrize("bucket", [403], indirect=True)
def test_a_refused_put_is_the_answers_storage_error(emu: Emulator, bucket: Bucket) -> None:
    done = finished(emu, "a kite", f"http://127.0.0.1:{bucket.server_port}/videos/b.mp4")
    assert done["video"]["storage_error"] == {
        "code": "upload_failed",
        "message": "upload to output.upload_url failed: HTTP 403",
    }


def test_the_upload_fail_marker_skips_the_put(emu: Emulator, bucket: Bucket) -> None:
    url = f"http://127.0.0.1:{bucket.server_port}/videos/c.mp4"
    done = finished(emu, "a kite [emulator:upload-fail]", url)
    assert "upload-fail marker" in done["video"]["storage_error"]["message"]
    assert bucket.puts == []
