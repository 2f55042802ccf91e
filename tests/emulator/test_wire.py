"""The emulator's ASGI plumbing (``emulator/wire.py``): replies as ready bytes, the request's
headers, the base URL as the client addressed it, the bearer token, and bodies read up to a
limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_grokvideo.emulator.wire import (
    bearer_token,
    html_error,
    json_reply,
    public_base,
    read_body,
    request_headers,
    send_reply,
    text_reply,
)


def test_replies_carry_their_content_type_and_extra_headers() -> None:
    reply = json_reply(200, {"prompt": "caf\u00e9", "n": [1]}, [(b"x-a", b"1")])
    assert json.loads(reply.body) == {"prompt": "caf\u00e9", "n": [1]}
    assert reply.body == '{"prompt":"caf\u00e9","n":[1]}'.encode()  # compact, as upstreams send
    assert (b"content-type", b"application/json") in reply.headers and (
        b"x-a",
        b"1",
    ) in reply.headers
    assert text_reply(404, "nope").body == b"nope"


def test_a_proxy_error_is_nginxs_html_page() -> None:
    page = html_error(502)
    assert page.status == 502 and b"<title>502 Bad Gateway</title>" in page.body
    assert b"<title>599 Error</title>" in html_error(599).body


async def test_a_reply_is_sent_whole_with_its_length_and_no_body_for_head() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await send_reply(send, text_reply(200, "hello"))
    await send_reply(send, text_reply(200, "hello"), head=True)
    assert (b"content-length", b"5") in sent[0]["headers"] and sent[1]["body"] == b"hello"
    assert (b"content-length", b"5") in sent[2]["headers"] and sent[3]["body"] == b""


@pytest.mark.parametrize(
    ("chunks", "limit", "body"),
    [
        ([b"abc"], 10, b"abc"),
        ([b"ab", b"cd", b"e"], 10, b"abcde"),
        ([b"ab", b"cd", b"e"], 4, None),  # too large: refused, not truncated
        ([b"abcde"], 4, None),
    ],
)
async def test_a_body_is_read_whole_up_to_the_limit(
    chunks: list[bytes], limit: int, body: bytes | None
) -> None:
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    assert await read_body(receive, limit) == body


def test_the_three_headers_are_read_in_one_pass() -> None:
    scope = {
        "headers": [(b"host", b"emu:8"), (b"authorization", b"Bearer k"), (b"range", b"bytes=0-")]
    }
    assert request_headers(scope) == (b"Bearer k", b"emu:8", b"bytes=0-")
    assert request_headers({"headers": []}) == (None, None, None)


@pytest.mark.parametrize(
    ("scope", "host", "base"),
    [
        ({"scheme": "https"}, b"videos.example:8443", "https://videos.example:8443"),
        ({"server": ("127.0.0.1", 8080)}, None, "http://127.0.0.1:8080"),
        ({"server": ("::1", 8080)}, None, "http://[::1]:8080"),
        ({}, None, "http://localhost"),
    ],
)
def test_the_base_url_is_the_one_the_client_used(
    scope: dict[str, Any], host: bytes | None, base: str
) -> None:
    assert public_base(scope, host) == base


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (b"Bearer sk-1", "sk-1"),
        (b"bearer  sk-1 ", "sk-1"),
        (b"Basic c2s=", None),
        (b"Bearer ", None),
        (b"sk-1", None),
        (None, None),
    ],
)
def test_the_bearer_token(header: bytes | None, token: str | None) -> None:
    assert bearer_token(header) == token
