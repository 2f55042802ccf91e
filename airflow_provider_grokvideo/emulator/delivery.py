"""xAI's direct delivery: the finished video PUT to the request's ``output.upload_url``.

As xAI does (UPSTREAMS.md, "xAI's newer request fields"): when the job is done the video is
PUT to the signed URL, with no credential of the API (the URL carries its own signature); a
failed PUT is reported as the answer's ``video.storage_error``.  The emulator PUTs when the
finished job is first read, before that read is answered (until then the job reads as
pending), so a client never sees "done" before the object is in the bucket.  The
``[emulator:upload-fail]`` marker skips the PUT and reports the error.
"""

from __future__ import annotations

from typing import Any

import httpx

from airflow_provider_grokvideo.emulator.cdn import sample_bytes
from airflow_provider_grokvideo.emulator.media import video_bytes

DELIVERED = "delivered"
DELIVERING = "delivering"
#: What a skipped or failed PUT reports (``storage_error``).
FAILED_MARKER = "upload to output.upload_url failed: the emulator's upload-fail marker"


async def deliver_if_due(job: Any, now: float, links: Any) -> None:
    """PUT ``job``'s video to its ``upload_url`` once, when it has just succeeded."""
    if job is None or job.upload_url is None or job.delivery is not None:
        return
    if job.phase(now) != "succeeded":
        return
    if job.scenario.upload_fail:
        job.delivery = FAILED_MARKER
        return
    job.delivery = DELIVERING
    data = (video_bytes(job.shape) if job.shape else None) or sample_bytes("sample.mp4")
    try:
        async with httpx.AsyncClient(timeout=30.0) as client:
            answer = await client.put(
                job.upload_url, content=data, headers={"content-type": "video/mp4"}
            )
    except httpx.HTTPError as exc:
        job.delivery = f"upload to output.upload_url failed: {type(exc).__name__}"
        return
    if answer.status_code >= 300:
        job.delivery = f"upload to output.upload_url failed: HTTP {answer.status_code}"
    else:
        job.delivery = DELIVERED


def storage_error(job: Any) -> str | None:
    """The ``storage_error`` a finished job reports, if any."""
    if job.delivery in (None, DELIVERED, DELIVERING):
        return None
    return str(job.delivery)


def awaiting_delivery(job: Any) -> bool:
    """Whether a finished job still reads as pending: its PUT has not been made yet."""
    return job.upload_url is not None and job.delivery in (None, DELIVERING)
