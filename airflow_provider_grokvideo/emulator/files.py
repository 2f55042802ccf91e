"""Uploads of inputs, kept in memory (the newest :data:`MAX_FILES`):

- xAI's Files API, as far as video inputs need it: ``POST /v1/files`` (multipart ``file``, at
  most 50 MB, an optional ``expires_after`` in seconds before it) answers the file's id, which
  a request then names as ``{"file_id": …}`` (``image``, ``video``, ``reference_images``,
  ``keyframes``);
- APIMart's ``POST /v1/uploads/images`` (xcompute's prefix): multipart ``file``, answered with
  a URL valid 72 hours (UPSTREAMS.md, "APIMart: media URLs last 72 hours").
"""

from __future__ import annotations

import io
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_grokvideo.emulator.wire import Receive, Scope, Send, json_reply, send_reply

FILES_PATH = "/v1/files"
APIMART_UPLOADS_PATH = "/v1/uploads/images"
APIMART_URL_SECONDS = 72 * 3600
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FILES = 64
EXPIRES_AFTER = (3600, 2_592_000)


@dataclass(frozen=True, slots=True)
class StoredFile:
    file_id: str
    filename: str
    data: bytes
    created_at: int
    expires_at: int | None

    def seconds(self) -> float | None:
        """The length of an uploaded MP4 (its header's), else None."""
        from airflow_provider_grokvideo.media.probe import NotAVideo, read_mp4_header

        try:
            return read_mp4_header(io.BytesIO(self.data)).duration
        except (NotAVideo, ValueError, IndexError):
            return None


class XaiFiles:
    """The uploaded files, by id."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self.uploads = 0

    def clear(self) -> None:
        self._files.clear()
        self.uploads = 0

    def get(self, file_id: str) -> StoredFile | None:
        stored = self._files.get(file_id)
        expires_at = stored.expires_at if stored is not None else None
        if expires_at is not None and self.clock() > expires_at:
            return None
        return stored

    async def handle(
        self,
        api: Any,
        scope: Scope,
        receive: Receive,
        send: Send,
        authorized: Callable[[bytes | None], bool],
        image_base: str | None = None,
    ) -> None:
        """Answer an upload; ``image_base`` (the CDN's base URL) makes it APIMart's."""
        from starlette.requests import Request

        request = Request(scope, receive)
        if not authorized(request.headers.get("authorization", "").encode("latin-1") or None):
            await send_reply(send, api.unauthorized())
            return
        if scope["method"] != "POST":
            await send_reply(send, api.bad_request([f"{scope['method']} is not allowed here"]))
            return
        try:
            form = await request.form(max_part_size=MAX_FILE_BYTES + 1)
        except Exception as exc:
            await send_reply(send, api.bad_request([f"a multipart form is expected: {exc}"]))
            return
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            await send_reply(send, api.bad_request(["file is required (multipart)"]))
            return
        data = await upload.read()
        if len(data) > MAX_FILE_BYTES:
            await send_reply(send, api.too_large())
            return
        expires_at = None
        raw = form.get("expires_after")
        now = int(self.clock())
        if isinstance(raw, str) and raw:
            low, high = EXPIRES_AFTER
            if not raw.isdigit() or not low <= int(raw) <= high:
                await send_reply(
                    send, api.bad_request([f"expires_after must be {low}..{high} seconds"])
                )
                return
            expires_at = now + int(raw)
        stored = StoredFile(
            f"file_{uuid.uuid4().hex}", upload.filename or "upload", data, now, expires_at
        )
        self._files[stored.file_id] = stored
        while len(self._files) > MAX_FILES:
            self._files.popitem(last=False)
        self.uploads += 1
        if image_base is not None:
            url = f"{image_base}/cdn/uploads/{stored.file_id}"
            expires = now + APIMART_URL_SECONDS
            await send_reply(
                send, json_reply(200, {"code": 200, "data": {"url": url, "expires_at": expires}})
            )
            return
        await send_reply(
            send,
            json_reply(
                200,
                {
                    "id": stored.file_id,
                    "object": "file",
                    "bytes": len(data),
                    "created_at": now,
                    "filename": stored.filename,
                    "expires_at": expires_at,
                },
            ),
        )
