"""The source video of an edit or an extension, from whatever an earlier task handed over.

``video_url`` of :class:`~airflow_provider_grokvideo.operators.edit.GrokVideoEditOperator` and
:class:`~airflow_provider_grokvideo.operators.extend.GrokVideoExtendOperator` may be:

- an earlier wait's XCom, ``VideoGeneration.to_dict()`` (``wait.output``, or the one-task
  ``wait_for_completion`` generate's): its first video URL (the upstream's, valid for hours)
  and its ``duration`` when the upstream reported one; or the text Jinja renders of it;
- a public http(s) URL, or a ``data:video/mp4;base64,...`` URI, sent as it is;
- a stored copy: the download task's XCom (its list of URIs: the first ``.mp4``) or one URI
  that Airflow's ``ObjectStoragePath`` reads (``file://``, ``s3://conn@bucket/key``...),
  read and sent as a data URI of the MP4 (at most :data:`MAX_STORED_BYTES`).

Nothing here is logged: a data URI is the video itself, and an upstream URL may be signed.
"""

from __future__ import annotations

import ast
import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_grokvideo.exceptions import InvalidVideoRequest

#: The largest stored copy sent as a data URI (its base64 is a third larger).  xAI documents no
#: limit on a data URI's size; past this, give the video a public URL instead.
MAX_STORED_BYTES = 20 * 1024 * 1024
_SENT_AS_IS = ("http", "https", "data")


def read_source(
    value: Any, source_duration: Any, *, upstream: str
) -> tuple[str, int | float | str | None]:
    """``(video_url, source_duration)`` to submit: a URL or data URI, and the source's length
    in seconds where known (``source_duration`` as given wins over the generation's own).

    Raises :class:`InvalidVideoRequest` (field ``video_url``) for what is not a video source.
    """
    value = _parsed(value)
    length: Any = source_duration
    if isinstance(value, Mapping):
        urls = [url for url in value.get("video_urls") or [] if isinstance(url, str) and url]
        status = value.get("status")
        if status not in (None, "succeeded") or not urls:
            _refuse(
                upstream,
                f"generation {value.get('generation_id')} ({status or 'no status'})",
                "a finished generation with a video URL",
            )
        if length is None:
            length = value.get("duration")
        value = urls[0]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        entries = [str(item) for item in value if item]
        videos = [item for item in entries if item.lower().split("?")[0].endswith(".mp4")]
        if not entries:
            _refuse(upstream, value, "a video URL or a stored copy's URI")
        value = (videos or entries)[0]
    if not isinstance(value, str) or not value.strip():
        _refuse(upstream, value, "a video URL, a data URI or a stored copy's URI")
    value = value.strip()
    if urlsplit(value).scheme.lower() in _SENT_AS_IS:
        return value, length
    return _stored_as_data_uri(value, upstream), length


def _parsed(value: Any) -> Any:
    """A rendered template of a dict or a list (JSON, or Python's repr of it) read back."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        text = value.strip()
        try:
            return json.loads(text)
        except ValueError:
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return value
    return value


def _stored_as_data_uri(uri: str, upstream: str) -> str:
    from airflow.sdk import ObjectStoragePath

    try:
        path = ObjectStoragePath(uri)
        size = path.stat().st_size
        if size > MAX_STORED_BYTES:
            _refuse(
                upstream,
                uri,
                f"a stored copy of at most {MAX_STORED_BYTES // 2**20} MiB sent as a data URI "
                f"(this one is {size} bytes): give the video a public http(s) URL instead",
            )
        data = path.read_bytes()
    except InvalidVideoRequest:
        raise
    except Exception as exc:
        _refuse(
            upstream,
            uri,
            f"an http(s) URL, a data URI or a readable stored copy (reading it failed: "
            f"{type(exc).__name__}: {exc})",
        )
    from airflow_provider_grokvideo.media.signatures import SIGNATURE_BYTES, is_video

    if not is_video(data[:SIGNATURE_BYTES]):
        _refuse(upstream, uri, "an MP4 video (this stored file is not one)")
    return "data:video/mp4;base64," + base64.b64encode(data).decode("ascii")


def _refuse(upstream: str, value: object, allowed: str) -> None:
    raise InvalidVideoRequest(upstream, "video_url", value, allowed)
