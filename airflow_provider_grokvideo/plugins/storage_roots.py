"""What the "Grok videos" page may serve: files under the storage roots the API server allows.

The page streams the stored copy that a task instance's ``grokvideo`` XCom record names.  A
record is written by task code, or by anyone who may write XComs of a DAG through Airflow's REST
API, so its URI is not trusted: it is served only when

1. it is an object-store URI (:data:`OBJECT_STORE_SCHEMES`: local files, ``s3://``, ``gs://``,
   Azure...), never ``http(s)://``, ``ftp://``, ``data:`` or a bare path, and carries no
   credentials (``user:password@``), no query, no fragment;
2. its path has no ``.``, ``..`` or empty segment and no percent-encoded separator or dot
   (``%2e``, ``%2f``, ``%5c``), so that what is checked is what is opened;
3. it lies, segment by segment, under one of the roots of the API server's setting
   ``[grokvideo] page_storage_roots`` (same scheme, same connection id, same bucket), and for
   local files after every symlink is resolved, the root's own included;
4. its name is of the kind asked for (:data:`VIDEO_EXTENSIONS`, :data:`IMAGE_EXTENSIONS`) and
   its first bytes say so too (an MP4 ``ftyp`` box at offset 4; a JPEG, PNG, WebP, GIF or AVIF
   signature: ``media/signatures.py``, as the download checks), read before the first byte is sent.

A local file is opened without following a final symlink, must be a regular file (a FIFO
would hang the server) and, where ``/proc`` tells, is checked again once open: a symlink swapped
in between the check and the open serves nothing.

Anything else raises :class:`Refused` with a short reason that names no path and no content.
No roots: nothing is served.  Pure at import (the standard library only): the plugin module that
every task start imports never imports this; the API server's app does.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from airflow_provider_grokvideo.media.signatures import SIGNATURE_BYTES, media_type

#: Bytes read from storage and sent at a time (a range read asks the store for no more).
CHUNK_SIZE = 256 * 1024

log = logging.getLogger(__name__)

#: The API server's setting: ``[grokvideo] page_storage_roots``.
SECTION = "grokvideo"
OPTION = "page_storage_roots"
ENV_VAR = f"AIRFLOW__{SECTION.upper()}__{OPTION.upper()}"

FileKind = Literal["video", "thumbnail"]

#: Schemes of the object stores the page serves (Airflow's ``ObjectStoragePath`` filesystems:
#: local files, and those of the Amazon, Google, Azure and Alibaba providers).  A root of any
#: other scheme (``http``, ``https``, ``ftp``, ``data``, ``memory``, ``sftp``...) is ignored.
OBJECT_STORE_SCHEMES = frozenset(
    {"file", "local", "s3", "s3a", "gs", "gcs", "abfs", "abfss", "adl", "az", "oss"}
)
_LOCAL_SCHEMES = frozenset({"file", "local"})
#: Names of the files the page shows.  The download task names a video ``<id>.mp4`` unless its
#: ``file_name`` says otherwise (and checks the ``ftyp`` box: MP4 and QuickTime files), and a
#: thumbnail after the upstream's image (``.jpg`` when unknown).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_ENCODED_SEPARATOR = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


class Refused(Exception):
    """The page does not serve this file; ``reason`` is short, and names no path or content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Place:
    """A location in one store: a root, or a file a record names (normalized)."""

    scheme: str  # "file" for local files (``file`` and ``local``)
    conn_id: str  # the Airflow connection of the store; "" when none
    bucket: str  # "" for local files
    parts: tuple[str, ...]  # the path's segments

    @property
    def local(self) -> bool:
        return self.scheme == "file"

    @property
    def path(self) -> str:
        return "/" + "/".join(self.parts)

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else ""

    def uri(self) -> str:
        """The URI to open (``ObjectStoragePath``), rebuilt from the checked parts."""
        user = f"{self.conn_id}@" if self.conn_id else ""
        return f"{self.scheme}://{user}{self.bucket}{self.path}"

    def contains(self, other: Place) -> bool:
        return (
            (self.scheme, self.conn_id, self.bucket) == (other.scheme, other.conn_id, other.bucket)
            and len(other.parts) > len(self.parts)
            and other.parts[: len(self.parts)] == self.parts
        )


@dataclass
class StoredObject:
    """An open stored file, checked: what :func:`~.ranges.file_response` streams."""

    handle: Any  # a binary file object, at offset 0
    size: int
    media_type: str
    name: str


def parse_place(uri: object, *, root: bool = False) -> Place:
    """The normalized :class:`Place` of ``uri``, or :class:`Refused`.

    A root may be a bare absolute path (``/data/videos``: a local folder) and may end with
    ``/``; a record's URI must name its scheme and a file.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise Refused("no URI")
    uri = uri.strip()
    if _CONTROL.search(uri):
        raise Refused("control characters or backslashes in the URI")
    if "?" in uri or "#" in uri:
        raise Refused("a query or fragment in the URI")
    if _ENCODED_SEPARATOR.search(uri):
        raise Refused("a percent-encoded separator or dot in the URI")
    match = _SCHEME.match(uri)
    if match is None:
        if root and uri.startswith("/"):
            uri = "file://" + uri
            match = _SCHEME.match(uri)
        else:
            raise Refused("no scheme (a bare path is never served)")
    assert match is not None
    scheme = match.group(1).lower()
    if scheme not in OBJECT_STORE_SCHEMES:
        raise Refused(f"scheme {scheme!r} is not an object store the page serves")
    rest = uri[match.end() :]
    if not rest.startswith("//"):
        raise Refused(f"not a {scheme}:// URI")
    authority, slash, path = rest[2:].partition("/")
    userinfo, at, host = authority.rpartition("@")
    if ":" in userinfo:
        raise Refused("credentials in the URI")
    if at and not userinfo:
        raise Refused("an empty connection id in the URI")
    if scheme in _LOCAL_SCHEMES:
        scheme = "file"
        if host not in ("", "localhost"):
            raise Refused("a host in a local file URI")
        host = ""
    elif not host:
        raise Refused(f"no bucket in the {scheme}:// URI")
    elif ":" in host:
        raise Refused("a port in the URI")
    segments = path.split("/") if slash else []
    if root and segments and segments[-1] == "":
        segments.pop()  # the root's own trailing "/"
    if any(part in ("", ".", "..") for part in segments):
        raise Refused("'.', '..' or an empty segment in the path")
    if not root and not segments:
        raise Refused("no file name in the URI")
    return Place(scheme, userinfo, host, tuple(segments))


@lru_cache(maxsize=8)
def read_roots(text: str) -> tuple[tuple[Place, ...], tuple[str, ...]]:
    """The roots of the setting's value (comma- or whitespace-separated URIs), and the
    problems of those ignored (one warning each, once per distinct value)."""
    roots: list[Place] = []
    problems: list[str] = []
    for item in filter(None, re.split(r"[\s,]+", text or "")):
        try:
            roots.append(parse_place(item, root=True))
        except Refused as exc:
            problems.append(f"{_without_credentials(item)}: {exc.reason}")
    for problem in problems:
        log.warning("[%s] %s: ignored root %s", SECTION, OPTION, problem)
    return tuple(roots), tuple(problems)


def _without_credentials(item: str) -> str:
    return re.sub(r"//[^/@]*:[^/@]*@", "//***@", item)


def _real(path: str) -> tuple[str, ...]:
    return tuple(part for part in os.path.realpath(path).split(os.sep) if part)


def _local_root_parts(roots: Iterable[Place]) -> list[tuple[str, ...]]:
    return [_real(root.path) for root in roots if root.local]


def _under(parts: tuple[str, ...], root_parts: Iterable[tuple[str, ...]]) -> bool:
    return any(len(parts) > len(r) and parts[: len(r)] == r for r in root_parts)


def locate(uri: object, roots: Sequence[Place], kind: FileKind) -> Place:
    """The place of ``uri`` if the page may serve it as a ``kind``, or :class:`Refused`.

    A local place comes back with every symlink resolved (what :func:`open_stored` opens).
    """
    if not roots:
        raise Refused(f"no storage roots are configured ([{SECTION}] {OPTION})")
    place = parse_place(uri)
    extensions = VIDEO_EXTENSIONS if kind == "video" else IMAGE_EXTENSIONS
    if not place.name.lower().endswith(extensions):
        raise Refused(f"not a {kind} file name ({', '.join(extensions)})")
    if not place.local:
        if not any(root.contains(place) for root in roots):
            raise Refused(f"not under the page's storage roots ([{SECTION}] {OPTION})")
        return place
    real = _real(place.path)
    if not _under(real, _local_root_parts(roots)):
        if any(root.contains(place) for root in roots):
            raise Refused("a symlink leads out of the storage root")
        raise Refused(f"not under the page's storage roots ([{SECTION}] {OPTION})")
    return Place("file", place.conn_id, "", real)


def open_stored(place: Place, roots: Sequence[Place], kind: FileKind) -> StoredObject:
    """Open the file at ``place`` (from :func:`locate`) and check its first bytes.

    Raises :class:`Refused` for what the page does not serve, ``FileNotFoundError`` when the
    file is gone.
    """
    if place.local:
        handle, size = _open_local(place, roots)
    else:
        handle, size = _open_object(place)
    try:
        head = handle.read(SIGNATURE_BYTES)
        detected = media_type(head, kind)
        if detected is None:
            what = (
                "an MP4 video (no 'ftyp' box)"
                if kind == "video"
                else "a JPEG, PNG, WebP, GIF or AVIF image"
            )
            raise Refused(f"the file's first bytes are not {what}")
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return StoredObject(handle=handle, size=size, media_type=detected, name=place.name)


def _open_local(place: Place, roots: Sequence[Place]) -> tuple[Any, int]:
    try:
        found = os.stat(place.path, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise FileNotFoundError(place.name) from exc
    if not stat.S_ISREG(found.st_mode):
        raise Refused("not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(place.path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except PermissionError as exc:
        raise Refused("the API server may not read the file") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink was swapped in since the check
            raise Refused("the file changed while it was checked") from exc
        raise
    handle = os.fdopen(fd, "rb")
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise Refused("not a regular file")
        proc = f"/proc/self/fd/{fd}"
        if os.path.exists(proc) and not _under(_real(proc), _local_root_parts(roots)):
            raise Refused("the file changed while it was checked")
    except BaseException:
        handle.close()
        raise
    return handle, int(opened.st_size)


def _open_object(place: Place) -> tuple[Any, int]:
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(place.uri())
    try:
        fs = path.fs
    except ValueError as exc:  # "No filesystem registered for scheme ..."
        raise Refused(
            f"this API server has no filesystem for {place.scheme}:// (install its provider)"
        ) from exc
    if not fs.isfile(path.path):
        raise FileNotFoundError(place.name)
    size = int(fs.size(path.path))
    return fs.open(path.path, "rb", block_size=CHUNK_SIZE), size


def configured_roots() -> tuple[Place, ...]:
    """The API server's roots: ``[grokvideo] page_storage_roots`` (or its environment
    variable), read at each call so that the page follows the server's configuration."""
    from airflow_provider_grokvideo.compat import conf

    return read_roots(conf.get(SECTION, OPTION, fallback="") or "")[0]
