"""The transfer path of a finished Grok generation's videos into any Airflow object storage.

What :class:`~airflow_provider_grokvideo.operators.download.GrokVideoDownloadOperator` and
``benchmarks/download.py`` share: reading the sensor's XCom value, checking URLs, naming the
files, streaming each one and committing it atomically under an ``ObjectStoragePath``
(``file://``, ``s3://``, ``gs://``, ...).  Not an operator, so not in ``transfers/`` (where
Airflow's providers keep transfer *operators*): the batch operator and the direct delivery's
fallback (:mod:`.check`) download through it too.

The download path is deliberately separate from the upstream hooks: it uses its own
``httpx.Client`` with no authentication, no base URL and no Airflow connection, so the API key
can never reach a video CDN.  Every file is streamed in chunks into a temporary name beside its
target, checked (length and file signature), and only then moved to its final name.

:func:`download_file` is the whole download path for one URL; the operator and
``benchmarks/download.py`` both call it.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import posixpath
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from airflow_provider_grokvideo.compat import AirflowFailException
from airflow_provider_grokvideo.exceptions import GrokVideoError
from airflow_provider_grokvideo.media.signatures import SIGNATURE_BYTES, describe_problem
from airflow_provider_grokvideo.models import VideoGeneration, WaitResult

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

FileKind = Literal["video", "thumbnail"]

#: Bytes written to storage at a time.  None: the pieces as they come off the socket (httpx
#: reads at most 64 KiB at a time), the fastest; memory stays flat either way.
DEFAULT_CHUNK_SIZE: int | None = None
#: Seconds: connecting and each network read / write.  There is no limit on the whole download,
#: only on silence.
DEFAULT_DOWNLOAD_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 15.0
DEFAULT_FILE_NAME = "{generation_id}.mp4"
#: A CDN answers these for a signed URL past its life (S3 / GCS say 403, others 404 or 410).
EXPIRED_STATUS_CODES = frozenset({403, 404, 410})
ALLOWED_SCHEMES = ("http", "https")
USER_AGENT = "airflow-provider-grokvideo-download"
_LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
#: Query parameters that make a URL a bearer credential of its own (AWS, GCS, Azure, CloudFront
#: and generic signed-URL schemes): such a query is not logged.
_SIGNED_QUERY_KEYS = re.compile(
    r"^(x-amz-|x-goog-|x-oss-|signature$|sig$|se$|sp$|sv$|st$|skoid$|token$|"
    r"auth|key-pair-id$|policy$|expires$|e$|hmac|hdnts$|verify$)",
    re.IGNORECASE,
)
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")


class VideoDownloadError(GrokVideoError):
    """A download did not produce a complete, valid file (cut off, not a video, HTTP error).

    Nothing is left under the file's final name when this is raised.  Transient causes (a
    connection cut, a 5xx) may succeed on the task's next try.
    """


class VideoURLExpired(VideoDownloadError, AirflowFailException):
    """The video URL is past its life; no retry can fetch it (the task fails without retrying)."""


class InvalidDownloadInput(GrokVideoError, AirflowFailException, ValueError):
    """A generation, URL or file name the download cannot take (fails without retrying)."""


@dataclass(frozen=True)
class StoredFile:
    """One file the download path put (or found complete) under its final name."""

    uri: str
    size: int
    kind: FileKind
    #: True when a complete copy was already there and nothing was downloaded.
    reused: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# Input


def parse_generation(value: Any) -> WaitResult:
    """Read the operator's ``generation`` input and check that it can be downloaded.

    Accepts the wait's XCom value (:meth:`WaitResult.to_xcom`, or an older version's
    ``VideoGeneration.to_dict()`` dict without ``conn_id``), a :class:`VideoGeneration` or
    :class:`WaitResult`, or that dict rendered as a string: JSON (``| tojson``) or the Python
    ``repr`` that a plain ``{{ ti.xcom_pull(...) }}`` template produces.
    """
    if isinstance(value, VideoGeneration):
        generation = WaitResult.from_xcom(value)
    else:
        data = value
        if isinstance(value, (str, bytes)):
            text = value.decode() if isinstance(value, bytes) else value
            data = _parse_text(text)
        if not isinstance(data, dict):
            raise InvalidDownloadInput(
                "generation must be the GrokVideoSensor's XCom value (a dict with "
                "generation_id, status and video_urls) or its JSON, not "
                f"{type(data).__name__}: {_shorten(repr(data))}"
            )
        if not data.get("generation_id"):
            raise InvalidDownloadInput(
                f"generation has no generation_id; keys given: {sorted(map(str, data))}"
            )
        try:
            generation = WaitResult.from_xcom(data)
        except (TypeError, ValueError) as exc:
            raise InvalidDownloadInput(f"generation is not a valid VideoGeneration: {exc}") from exc
    if generation.status != "succeeded":
        reason = generation.error_message or generation.error_code
        detail = f" ({reason})" if reason else ""
        raise InvalidDownloadInput(
            f"generation {generation.generation_id} has status {generation.status!r}{detail}: "
            "only a succeeded generation can be downloaded"
        )
    if not generation.video_urls:
        raise InvalidDownloadInput(
            f"generation {generation.generation_id} succeeded but carries no video_urls: "
            "there is nothing to download"
        )
    for url in generation.video_urls:
        if not isinstance(url, str):
            raise InvalidDownloadInput(
                f"generation {generation.generation_id}: video_urls must be strings, "
                f"not {type(url).__name__}"
            )
    return generation


def _parse_text(text: str) -> Any:
    text = text.strip()
    if not text:
        raise InvalidDownloadInput(
            "generation is an empty string (did the XCom pull find nothing?)"
        )
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        # ``{{ ti.xcom_pull('wait') }}`` renders a dict as its Python repr (None, True, '...').
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise InvalidDownloadInput(
            "generation is a string that is neither JSON nor a dict literal: "
            f"{_shorten(text)!r}; pass the sensor's output (XComArg) or use "
            "'{{ ti.xcom_pull(task_ids=\"wait\") | tojson }}'"
        ) from None


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_download_url(url: str, kind: FileKind = "video") -> None:
    """Refuse any URL that is not plain ``http``/``https`` with a host, before any request."""
    if not isinstance(url, str):
        raise InvalidDownloadInput(f"the {kind} URL must be a string, not {type(url).__name__}")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}:" if scheme else "no scheme"
        raise InvalidDownloadInput(
            f"refusing to download the {kind} from {redact_url(url)!r}: only http and https "
            f"URLs are fetched, this one has {shown}"
        )
    if not parts.hostname:
        raise InvalidDownloadInput(f"refusing to download the {kind}: URL {url!r} has no host")


def redact_url(url: str) -> str:
    """The URL for logs and messages: a signed URL's query string is replaced by ``?<signed>``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if not parts.query:
        return url
    keys = [key for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if any(_SIGNED_QUERY_KEYS.match(key) for key in keys):
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "<signed>", ""))
    return url


def format_expiry(expires_at: float | None) -> str:
    """``expires_at`` (unix seconds) as an ISO-8601 UTC time, e.g. ``2025-11-12T09:34:55Z``."""
    if expires_at is None:
        return "unknown"
    moment = datetime.fromtimestamp(float(expires_at), tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "<no host>"
    except ValueError:
        return "<unparseable URL>"


def _expiry_phrase(expires_at: float | None) -> str:
    if expires_at is None:
        return (
            "expires_at unknown: the upstream did not say; its video URLs live about 24 hours "
            "after the generation completes (xAI; 1 hour for batch results, 72 hours on APIMart)"
        )
    return f"expires_at {format_expiry(expires_at)}"


# --------------------------------------------------------------------------------------------
# File names


def _safe_id(generation_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(generation_id)).lstrip(".")
    return safe or "generation"


def _substitute(template: str, generation_id: str, n: str) -> str:
    # Plain replacement, not str.format: other braces in a user's name are left alone.
    return template.replace("{generation_id}", _safe_id(generation_id)).replace("{n}", n)


def _check_relative(name: str, template: str) -> str:
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise InvalidDownloadInput(
            f"file_name {template!r} gives {name!r}: it must be a relative name without "
            "empty, '.' or '..' parts"
        )
    return name


def _with_video_extension(template: str) -> str:
    last = template.rsplit("/", 1)[-1]
    bare = last.replace("{generation_id}", "").replace("{n}", "")
    return template if "." in bare else template + ".mp4"


def video_file_names(template: str, generation_id: str, count: int) -> list[str]:
    """The names of a generation's videos under the destination.

    ``{generation_id}`` and ``{n}`` (1-based index) are replaced; ``.mp4`` is added when the
    name has no extension; with several videos and no ``{n}``, ``-{n}`` goes before the
    extension so the names differ.
    """
    template = _with_video_extension(template.strip())
    if count > 1 and "{n}" not in template:
        head, dot, ext = template.rpartition(".")
        template = f"{head}-{{n}}.{ext}" if dot else template + "-{n}"
    return [
        _check_relative(_substitute(template, generation_id, str(n)), template)
        for n in range(1, count + 1)
    ]


def thumbnail_file_name(template: str, generation_id: str, thumbnail_url: str) -> str:
    """The thumbnail's name: the video name with ``-thumbnail`` and the image's extension.

    A ``{n}`` in the template becomes ``thumbnail`` instead (``clip-{n}.mp4`` gives
    ``clip-thumbnail.jpg``).
    """
    template = _with_video_extension(template.strip())
    path_ext = posixpath.splitext(urlsplit(thumbnail_url).path)[1].lower()
    ext = path_ext if path_ext in _IMAGE_EXTENSIONS else ".jpg"
    if "{n}" in template:
        stem = posixpath.splitext(_substitute(template, generation_id, "thumbnail"))[0]
    else:
        stem = posixpath.splitext(_substitute(template, generation_id, ""))[0] + "-thumbnail"
    return _check_relative(stem + ext, template)


# --------------------------------------------------------------------------------------------
# Checks of what arrived


def _is_local(path: ObjectStoragePath) -> bool:
    return (path.protocol or "") in _LOCAL_PROTOCOLS


def _existing_size(path: ObjectStoragePath) -> int | None:
    """Size of the file at ``path``, or None when there is none."""
    try:
        fs = path.fs
        if not fs.isfile(path.path):
            return None
        return int(fs.size(path.path))
    except (FileNotFoundError, OSError):
        return None


def _existing_is_valid(path: ObjectStoragePath, kind: FileKind) -> bool:
    try:
        head = path.fs.cat_file(path.path, start=0, end=SIGNATURE_BYTES)
    except (FileNotFoundError, OSError):
        return False
    return describe_problem(bytes(head), kind) is None


def _remove_quietly(path: ObjectStoragePath) -> None:
    try:
        if _is_local(path):
            os.unlink(path.path)
        else:
            path.fs.rm_file(path.path)
    except FileNotFoundError:
        pass
    except OSError:
        log.warning("Could not remove the temporary file %s", path, exc_info=True)


def _commit(tmp: ObjectStoragePath, target: ObjectStoragePath) -> None:
    """Give the verified temporary file its final name.

    On a local (or mounted) filesystem this is ``os.replace`` in the same directory: one atomic
    rename, so the final name either does not exist or names a complete file.  Object stores
    have no rename: fsspec's ``mv`` is a server-side copy then a delete of the temporary key;
    the copy is atomic on S3, GCS and Azure (the target key appears only once complete), so the
    guarantee holds there too, at the cost of one server-side copy.  We do not write straight to
    the final key because fsspec's buffered writers commit whatever was written when a ``with``
    block exits on an exception, which would publish a half-downloaded object.
    """
    if _is_local(target):
        os.replace(tmp.path, target.path)
    else:
        target.fs.mv(tmp.path, target.path)


# --------------------------------------------------------------------------------------------
# HTTP


def make_download_client(
    timeout: float | httpx.Timeout | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client for video CDNs: no auth, no base URL, no connection, redirects followed.

    ``Accept-Encoding: identity`` keeps the bytes on the wire the bytes of the file, so the
    ``Content-Length`` check compares like with like.
    """
    if timeout is None:
        timeout = DEFAULT_DOWNLOAD_TIMEOUT
    if not isinstance(timeout, httpx.Timeout):
        timeout = httpx.Timeout(timeout, connect=min(float(timeout), DEFAULT_CONNECT_TIMEOUT))
    return httpx.Client(
        follow_redirects=True,
        max_redirects=10,
        timeout=timeout,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        transport=transport,
    )


def _refuse_authenticated(client: httpx.Client) -> None:
    if client.auth is not None or "authorization" in client.headers:
        raise ValueError(
            "the download client must not carry credentials: video URLs are fetched from "
            "third-party CDNs that must never see the API key"
        )


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None


def _remote_size(client: httpx.Client, url: str) -> int | None:
    """The remote's size from a HEAD, or None when it cannot tell.

    Best effort only: a URL signed for GET alone answers HEAD with 403, and some CDNs do not
    do HEAD at all; the GET that follows decides.
    """
    try:
        response = client.head(url)
    except httpx.HTTPError as exc:
        log.debug("HEAD %s failed (%s); checking with the GET instead", redact_url(url), exc)
        return None
    if response.status_code != 200:
        return None
    return _content_length(response)


def _check_status(
    response: httpx.Response, url: str, kind: FileKind, expires_at: float | None
) -> None:
    code = response.status_code
    if code == 200:
        return
    host = _host(url)
    final_host = response.url.host if response.url else host
    via = f" (redirected to {final_host})" if final_host and final_host != host else ""
    answer = f"HTTP {code} {response.reason_phrase or ''}".rstrip()
    if code in EXPIRED_STATUS_CODES:
        raise VideoURLExpired(
            f"the {kind} URL on {host}{via} has expired: the host answered {answer} "
            f"({_expiry_phrase(expires_at)}); video URLs cannot be renewed, generate the video "
            "again"
        )
    raise VideoDownloadError(f"could not download the {kind} from {host}{via}: {answer}")


def download_file(
    url: str,
    target: ObjectStoragePath | str,
    *,
    client: httpx.Client | None = None,
    kind: FileKind = "video",
    expires_at: float | None = None,
    overwrite: bool = False,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
) -> StoredFile:
    """Download ``url`` to ``target``, streaming, checked, and atomically named.

    - Only ``http``/``https`` URLs are fetched; anything else is refused before any request.
    - A URL past ``expires_at`` (unix seconds) is not tried; 403, 404 and 410 answers are read
      as expiry too.  Both raise :class:`VideoURLExpired` naming the time.
    - Unless ``overwrite``, a file already at ``target`` with the remote's size (HEAD, or the
      GET's ``Content-Length`` before any body is read) and a valid signature is kept and
      nothing is downloaded.  When the URL has expired (by ``expires_at`` or the host's answer),
      a valid file already at ``target`` is kept too: only a complete, checked download is ever
      given that name.
    - The body goes to a temporary name beside ``target``; a short body (bytes received vs
      ``Content-Length``), a cut connection or a wrong signature (an MP4 ``ftyp`` box for
      videos, an image signature for thumbnails) raises :class:`VideoDownloadError` naming the
      host and the reason, and removes the temporary file.

    ``client`` must carry no credentials; by default a fresh :func:`make_download_client`.
    """
    from airflow.sdk import ObjectStoragePath

    if isinstance(target, str):
        target = ObjectStoragePath(target)
    check_download_url(url, kind)
    host = _host(url)
    started = time.monotonic()

    existing = None if overwrite else _existing_size(target)
    if expires_at is not None and float(expires_at) <= time.time():
        if existing is not None and _existing_is_valid(target, kind):
            log.warning(
                "The %s URL on %s expired at %s; keeping %s (%d bytes), stored complete by an "
                "earlier run",
                kind,
                host,
                format_expiry(expires_at),
                target,
                existing,
            )
            return StoredFile(str(target), existing, kind, True, time.monotonic() - started)
        raise VideoURLExpired(
            f"the {kind} URL on {host} expired at {format_expiry(expires_at)} (expires_at), "
            "before this download; video URLs cannot be renewed, generate the video again"
        )

    own_client = client is None
    if client is None:
        client = make_download_client()
    else:
        _refuse_authenticated(client)
    try:
        if existing is not None:
            remote = _remote_size(client, url)
            if remote == existing and _existing_is_valid(target, kind):
                return _reused(target, existing, kind, started)
        try:
            with client.stream("GET", url) as response:
                try:
                    _check_status(response, url, kind, expires_at)
                except VideoURLExpired as exc:
                    if existing is None or not _existing_is_valid(target, kind):
                        raise
                    log.warning("%s; keeping %s, stored complete by an earlier run", exc, target)
                    return _reused(target, existing, kind, started)
                expected = _content_length(response)
                if (
                    existing is not None
                    and expected == existing
                    and _existing_is_valid(target, kind)
                ):
                    return _reused(target, existing, kind, started)
                size = _stream_to_storage(response, url, target, kind, expected, chunk_size)
        except httpx.HTTPError as exc:
            raise VideoDownloadError(
                f"could not download the {kind} from {host}: {_describe(exc)}"
            ) from exc
    finally:
        if own_client:
            client.close()
    seconds = time.monotonic() - started
    log.info(
        "Stored %s (%d bytes, %.1f MB/s) from %s",
        target,
        size,
        size / 1e6 / seconds if seconds > 0 else 0.0,
        redact_url(url),
    )
    return StoredFile(str(target), size, kind, False, seconds)


def _reused(target: ObjectStoragePath, size: int, kind: FileKind, started: float) -> StoredFile:
    log.info(
        "%s already holds the complete %s (%d bytes); not downloading it again", target, kind, size
    )
    return StoredFile(str(target), size, kind, True, time.monotonic() - started)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _stream_to_storage(
    response: httpx.Response,
    url: str,
    target: ObjectStoragePath,
    kind: FileKind,
    expected: int | None,
    chunk_size: int | None,
) -> int:
    """Write the response body to a temporary name, check it, then give it ``target``'s name."""
    host = _host(url)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.part"
    fs = target.fs
    if _is_local(target):
        os.makedirs(os.path.dirname(target.path) or ".", exist_ok=True)
    head = bytearray()
    checked = False
    written = 0
    try:
        try:
            with fs.open(tmp.path, "wb") as out:
                for chunk in _body_pieces(response, chunk_size):
                    written += len(chunk)
                    if not checked:
                        head += chunk[: SIGNATURE_BYTES - len(head)]
                        if len(head) >= SIGNATURE_BYTES:
                            checked = True
                            # Refuse a wrong body at once, not after reading all of it.
                            _raise_if_wrong_signature(head, kind, host)
                    out.write(chunk)
        except httpx.HTTPError as exc:
            of = f" of {expected}" if expected is not None else ""
            raise VideoDownloadError(
                f"the download of the {kind} from {host} was cut off after "
                f"{_wire_bytes(response, written)}{of} bytes ({_describe(exc)}); nothing was "
                f"stored under {target.name}"
            ) from exc
        received = _wire_bytes(response, written)
        if expected is not None and received != expected:
            raise VideoDownloadError(
                f"the download of the {kind} from {host} is incomplete: received {received} "
                f"of {expected} bytes (Content-Length); nothing was stored under {target.name}"
            )
        _raise_if_wrong_signature(head, kind, host)
        stored = int(fs.size(tmp.path))
        if stored != written:
            raise VideoDownloadError(
                f"storage holds {stored} bytes after writing {written} bytes of the {kind} "
                f"from {host}; nothing was stored under {target.name}"
            )
        _commit(tmp, target)
        return stored
    except BaseException:
        _remove_quietly(tmp)
        raise


def _is_encoded(response: httpx.Response) -> bool:
    return response.headers.get("content-encoding", "").strip().lower() not in ("", "identity")


def _body_pieces(response: httpx.Response, chunk_size: int | None) -> Iterator[bytes]:
    """The body as it comes off the socket (httpx reads at most 64 KiB at a time).

    Re-chunking into bigger pieces costs copies: measured on loopback it nearly halves the
    throughput, so it is only done when ``chunk_size`` asks for it.  An identity body is read
    raw (no decoder); a compressed one (a server ignoring ``Accept-Encoding: identity``) is
    decoded.
    """
    if _is_encoded(response) or response.is_stream_consumed:
        # Also a body already read into memory (a mock transport, an event hook that read it).
        return response.iter_bytes(chunk_size)
    return response.iter_raw(chunk_size)


def _wire_bytes(response: httpx.Response, written: int) -> int:
    """Body bytes as sent (what ``Content-Length`` counts): ``written`` unless compressed."""
    return response.num_bytes_downloaded if _is_encoded(response) else written


def _raise_if_wrong_signature(head: bytearray, kind: FileKind, host: str) -> None:
    problem = describe_problem(bytes(head), kind)
    if problem:
        raise VideoDownloadError(f"the {kind} downloaded from {host} is {problem}")


def parse_expect(value: Any) -> dict[str, Any] | None:
    """The download operator's ``expect``: a dict, or the text a template rendered of one
    (JSON, or Python's repr); None when not given."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    if isinstance(value, str):
        parsed = _parse_text(value)
        value = parsed if isinstance(parsed, dict) else None
    if not isinstance(value, dict):
        raise ValueError(f"expect must be a dict of what was asked, not {value!r}")
    return dict(value)
