"""After a delivered job ends: is the object in the bucket, and is it the video asked for?

``settle`` is called with the finished generation (``VideoGeneration.to_dict()``).  When the
upstream reports a ``storage_error``, or no object is there, or it is no MP4, the video is
downloaded from the upstream's ``video.url`` (when there is one) and uploaded to the same
object, and the result says so (``via: "download"``, ``fallback``: why).  Then the file is
read (``media.probe``) and compared with the request (``media.check``).
"""

from __future__ import annotations

import logging
import tempfile
from typing import IO, Any

from airflow_provider_grokvideo.delivery.buckets import Bucket, Destination
from airflow_provider_grokvideo.media.check import Expected, compare
from airflow_provider_grokvideo.media.probe import NotAVideo, probe
from airflow_provider_grokvideo.media.signatures import SIGNATURE_BYTES, is_video

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """The video is not in the bucket and cannot be fetched from the upstream either."""


def settle(
    destination: Destination,
    bucket: Bucket,
    generation: dict[str, Any],
    expected: Expected,
    *,
    timeout: float = 300.0,
    logger: logging.Logger | Any = log,
) -> dict[str, Any]:
    """The ``delivery`` dict: ``uri``, ``size``, ``via`` (``upload_url`` or ``download``),
    ``fallback`` (why the upload was not used, when it was not) and ``delivered`` (the check).
    """
    with tempfile.TemporaryFile() as handle:
        problem = _upstream_problem(generation) or _fetch_object(bucket, handle)
        via = "upload_url"
        if problem is not None:
            urls = [url for url in generation.get("video_urls") or [] if isinstance(url, str)]
            if not urls:
                raise DeliveryFailed(
                    f"the video was not delivered to {destination.uri} ({problem}) and the "
                    "upstream gave no video URL to fetch it from"
                )
            logger.warning(
                "Direct delivery to %s failed (%s): falling back to downloading the video "
                "from the upstream's URL and uploading it there",
                destination.uri,
                problem,
            )
            _download(urls[0], handle, timeout)
            via = "download"
        size = handle.seek(0, 2)
        handle.seek(0)
        try:
            delivered = compare(probe(handle), expected)
        except NotAVideo as exc:
            delivered = _not_a_video(str(exc))
        poster = None
        if not generation.get("thumbnail_url"):
            poster = _poster(destination, bucket, handle)
        if via == "download":
            handle.seek(0)
            bucket.upload(handle)  # last: the upload may close the file
    result = {"uri": destination.uri, "size": size, "via": via, "delivered": delivered}
    if poster is not None:
        result["thumbnail"] = poster
    if problem is not None:
        result["fallback"] = problem
    return result


def _poster(destination: Destination, bucket: Bucket, handle: IO[bytes]) -> str | None:
    """A poster frame (PyAV) stored beside the video, for the page; its URI, or None."""
    from airflow_provider_grokvideo.media.poster import poster_jpeg

    image = poster_jpeg(handle)
    if image is None:
        return None
    target = destination.sibling(".jpg")
    try:
        bucket.put(target.key, image, "image/jpeg")
    except Exception as exc:  # a poster is a nicety: the video is delivered all the same
        log.warning("could not store a poster frame at %s: %s", target.uri, exc)
        return None
    return target.uri


def _upstream_problem(generation: dict[str, Any]) -> str | None:
    error = generation.get("storage_error")
    return f"the upstream reports a storage error: {error}" if error else None


def _fetch_object(bucket: Bucket, handle: IO[bytes]) -> str | None:
    """Read the delivered object into ``handle``; why it is not a video, or None."""
    size = bucket.size()
    if size is None:
        return "no object at the destination after the job ended"
    if size < 8:
        return f"the object at the destination has {size} bytes"
    bucket.read_into(handle)
    handle.seek(0)
    if not is_video(handle.read(SIGNATURE_BYTES)):
        handle.seek(0)
        handle.truncate()
        return "the object at the destination is not an MP4 (no ftyp box)"
    return None


def _download(url: str, handle: IO[bytes], timeout: float) -> None:
    from airflow_provider_grokvideo.delivery.download import (
        check_download_url,
        make_download_client,
    )

    check_download_url(url, "video")
    handle.seek(0)
    handle.truncate()
    with make_download_client(timeout) as client, client.stream("GET", url) as response:
        if response.status_code != 200:
            raise DeliveryFailed(
                f"the fallback download answered HTTP {response.status_code}: the video "
                "is neither in the bucket nor fetchable"
            )
        for piece in response.iter_bytes():
            handle.write(piece)
    handle.seek(0)
    if not is_video(handle.read(SIGNATURE_BYTES)):
        raise DeliveryFailed("the fallback download is not an MP4 video")


def _not_a_video(why: str) -> dict[str, Any]:
    return {
        "duration": None,
        "width": None,
        "height": None,
        "codec": None,
        "audio": None,
        "matches": False,
        "mismatches": [f"not a readable video: {why}"],
        "reader": None,
    }
