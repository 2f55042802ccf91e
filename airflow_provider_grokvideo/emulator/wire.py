"""Plain ASGI plumbing shared by the upstream modules: replies, request bodies, headers.

Kept tiny on purpose: the status poll is the hot path, so a reply is a named tuple of ready
bytes, sent with two ASGI messages and no framework in between.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, NamedTuple

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

CT_JSON = (b"content-type", b"application/json")
CT_HTML = (b"content-type", b"text/html; charset=utf-8")
CT_TEXT = (b"content-type", b"text/plain; charset=utf-8")

#: The most a request body may carry (xAI accepts an image as a data URI).
MAX_BODY_BYTES = 20 * 1024 * 1024

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Reply(NamedTuple):
    """One complete HTTP answer: status, body bytes and headers (content-type included)."""

    status: int
    body: bytes
    headers: Headers


def json_reply(status: int, obj: Any, extra: Iterable[tuple[bytes, bytes]] = ()) -> Reply:
    """A JSON answer."""
    return Reply(status, _dumps(obj).encode(), [CT_JSON, *extra])


def text_reply(status: int, text: str, extra: Iterable[tuple[bytes, bytes]] = ()) -> Reply:
    """A plain-text answer."""
    return Reply(status, text.encode(), [CT_TEXT, *extra])


_HTML_TITLES = {
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


def html_error(status: int) -> Reply:
    """The HTML page a reverse proxy shows when the service behind it fails."""
    title = _HTML_TITLES.get(status, f"{status} Error")
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return Reply(status, page.encode(), [CT_HTML])


async def send_reply(send: Send, reply: Reply, *, head: bool = False) -> None:
    """Send ``reply`` as one response (headers only for HEAD requests)."""
    headers = [*reply.headers, (b"content-length", str(len(reply.body)).encode())]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else reply.body})


async def read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The whole request body, or ``None`` when it is larger than ``limit`` bytes."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body if len(body) <= limit else None
    parts = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def request_headers(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """The ``authorization``, ``host`` and ``range`` headers of a request, in one pass."""
    auth = host = rng = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value
        elif name == b"host":
            host = value
        elif name == b"range":
            rng = value
    return auth, host, rng


def public_base(scope: Scope, host: bytes | None) -> str:
    """``scheme://host[:port]`` as the client addressed this server (for absolute video URLs)."""
    scheme = scope.get("scheme", "http")
    if host:
        return f"{scheme}://{host.decode('latin-1')}"
    server = scope.get("server")
    if server:
        name, port = server[0], server[1]
        if ":" in name:
            name = f"[{name}]"
        return f"{scheme}://{name}:{port}"
    return f"{scheme}://localhost"


def bearer_token(header: bytes | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme is case-insensitive)."""
    if not header:
        return None
    scheme, _, token = header.decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None
