"""Local files as inputs: an image, reference image, keyframe or source video given as a local
path or an ``ObjectStoragePath`` (``file://``, ``s3://conn@bucket/key``...) is uploaded to the
upstream and sent by reference, never as a base64 body larger than the upstream allows.

- xAI: ``POST /v1/files`` (multipart: ``expires_after`` then ``file``; at most 50 MB), sent as
  ``{"file_id": …}`` (``models.file_ref``).
- xcompute: images only, through APIMart's ``POST /v1/uploads/images`` (multipart ``file``;
  the answer's URL lives 72 h), where the host is APIMart's own (its documented host, or a
  connection whose ``idempotent_submits`` extra says it is APIMart's: the white-label
  documents no uploads).
- Anything else is refused, naming the field and what the upstream takes instead.

The API key goes to the API host only (the hook's client); the file is read from the worker.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_grokvideo.dialects.base import first_http_url
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, UnexpectedResponse
from airflow_provider_grokvideo.media.signatures import SIGNATURE_BYTES, is_video
from airflow_provider_grokvideo.models import FILE_REF_PREFIX, file_ref

if TYPE_CHECKING:
    from airflow_provider_grokvideo.hooks.base import GrokVideoHook

#: xAI's Files: at most 50 MB per file; kept a day unless told otherwise.
MAX_UPLOAD_BYTES = 50 * 1000 * 1000
DEFAULT_EXPIRES_AFTER = 86_400
XAI_FILES_PATH = "/v1/files"
APIMART_IMAGES_PATH = "/v1/uploads/images"
_REMOTE = ("http", "https", "data")


def is_local_input(value: Any) -> bool:
    """Whether ``value`` names a file to upload (a path, an ``ObjectStoragePath`` or its URI)
    rather than something sent as it is (an http(s) URL, a data URI, a file reference)."""
    if value is None or isinstance(value, (list, tuple, dict)):
        return False
    if not isinstance(value, str):
        return hasattr(value, "read_bytes") or isinstance(value, os.PathLike)
    text = value.strip()
    if not text or text.startswith(FILE_REF_PREFIX):
        return False
    scheme = urlsplit(text).scheme.lower()
    if scheme in _REMOTE:
        return False
    return bool(scheme) or text.startswith(("/", "./", "~"))


def upload_input(
    hook: GrokVideoHook,
    source: Any,
    *,
    field: str,
    kind: str = "image",
    expires_after: int = DEFAULT_EXPIRES_AFTER,
) -> str:
    """Upload ``source`` and return what the request sends instead: a file reference (xAI)
    or a URL (APIMart).  Raises :class:`InvalidVideoRequest` where the upstream takes none."""
    dialect = hook.dialect
    images_on_apimart = dialect.name == "xcompute" and kind == "image" and hook.idempotent
    if not dialect.file_inputs and not images_on_apimart:
        what = "image" if kind == "image" else "video"
        raise InvalidVideoRequest(
            dialect.name,
            field,
            str(source),
            f"public http(s) URLs: {dialect.name} takes no upload of a local {what} here "
            "(xAI's Files take images and videos; APIMart's host takes images)",
        )
    name, data = _read(source, dialect.name, field)
    if kind == "video" and not is_video(data[:SIGNATURE_BYTES]):
        raise InvalidVideoRequest(
            dialect.name, field, str(source), "an MP4 video (this stored file is not one)"
        )
    client = hook.get_conn()
    if dialect.file_inputs:
        response = client.post(
            XAI_FILES_PATH,
            data={"expires_after": str(expires_after)},
            files={"file": (name, data, _media_type(name, kind))},
        )
        body = hook._read(response, submit=False)
        file_id = body.get("id") or body.get("file_id") if isinstance(body, dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise UnexpectedResponse(f"{dialect.name}: the file upload answered no file id")
        hook.log.info(
            "Uploaded %s (%d bytes) to %s's Files: %s", name, len(data), dialect.name, file_id
        )
        return file_ref(file_id)
    response = client.post(
        APIMART_IMAGES_PATH, files={"file": (name, data, _media_type(name, kind))}
    )
    url = first_http_url(hook._read(response, submit=False))
    if url is None:
        raise UnexpectedResponse(f"{dialect.name}: the image upload answered no URL")
    hook.log.info("Uploaded %s (%d bytes) to %s's image uploads", name, len(data), dialect.name)
    return url


def _read(source: Any, upstream: str, field: str) -> tuple[str, bytes]:
    from airflow.sdk import ObjectStoragePath

    text = os.fspath(source) if isinstance(source, os.PathLike) else source
    path = (
        source
        if hasattr(source, "read_bytes")
        else ObjectStoragePath(
            os.path.expanduser(text) if isinstance(text, str) and "://" not in text else text
        )
    )
    try:
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise InvalidVideoRequest(
                upstream, field, str(source), f"files of at most 50 MB (this one is {size} bytes)"
            )
        return path.name or "upload", path.read_bytes()
    except InvalidVideoRequest:
        raise
    except Exception as exc:
        raise InvalidVideoRequest(
            upstream,
            field,
            str(source),
            f"a readable file (reading it failed: {type(exc).__name__}: {exc})",
        ) from None


def _media_type(name: str, kind: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if kind == "video":
        return "video/mp4"
    return {"png": "image/png", "webp": "image/webp", "gif": "image/gif"}.get(suffix, "image/jpeg")
