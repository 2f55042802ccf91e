"""What a hook reads from its connection (``hooks/settings.py``): each extra read once, each bad
value refused with the connection's name, the base URL built from the host."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_provider_grokvideo.exceptions import GrokVideoError
from airflow_provider_grokvideo.hooks.settings import DEFAULT_REQUEST_TIMEOUT, ConnectionSettings

DEFAULT = "https://api.example/v1/"


def settings(host: str | None = None, port: int | None = None, **extra: Any) -> ConnectionSettings:
    conn = Connection(
        conn_id="videos",
        conn_type="grokvideo_xai",
        host=host,
        port=port,
        password="sk-test",
        extra=json.dumps(extra),
    )
    return ConnectionSettings.from_connection(conn, DEFAULT)


def test_a_bare_connection_takes_every_default() -> None:
    read = settings()
    assert read.base_url == "https://api.example/v1"  # no trailing slash to double up
    assert (read.api_key, read.model, read.timeout) == ("sk-test", None, DEFAULT_REQUEST_TIMEOUT)
    assert (read.relax_limits, read.prices, read.requests_per_second) == (False, None, None)
    assert (read.redis_conn_id, read.idempotent_submits) == (None, None)
    assert "sk-test" not in repr(read)  # the key never reaches a log line


@pytest.mark.parametrize(
    ("host", "port", "base_url"),
    [
        ("proxy.local", None, "https://proxy.local"),
        ("http://127.0.0.1:8080/xai/", None, "http://127.0.0.1:8080/xai"),
        ("proxy.local/prefix", 8443, "https://proxy.local:8443/prefix"),
        ("https://proxy.local:9000", 8443, "https://proxy.local:9000"),  # the URL's port wins
        ("  ", None, "https://api.example/v1"),
    ],
)
def test_the_host_replaces_the_base_url(host: str, port: int | None, base_url: str) -> None:
    assert settings(host, port).base_url == base_url


@pytest.mark.parametrize("host", ["ftp://files.example", "https://", "file:///etc/passwd"])
def test_a_host_that_is_no_http_url_is_refused_naming_the_connection(host: str) -> None:
    with pytest.raises(GrokVideoError, match=r"connection 'videos': host .* is not an http"):
        settings(host)


def test_the_origin_is_normalized_as_requests_are() -> None:
    assert settings("https://proxy.local:443/a").origin == ("https", "proxy.local", None)
    assert settings("http://proxy.local:8080").origin == ("http", "proxy.local", 8080)


def test_extras_are_read_and_typed() -> None:
    read = settings(
        model="grok-imagine-video",
        timeout="12.5",
        relax_limits="yes",
        prices={"grok-imagine-video": "0.05"},
        requests_per_second="2.5",
        redis_conn_id="  budget_redis ",
        idempotent_submits="false",
    )
    assert (read.model, read.timeout, read.relax_limits) == ("grok-imagine-video", 12.5, True)
    assert read.prices == {"grok-imagine-video": "0.05"}
    assert (read.requests_per_second, read.redis_conn_id) == (2.5, "budget_redis")
    assert read.idempotent_submits is False


@pytest.mark.parametrize(
    ("given", "read"),
    [(None, None), ("", None), (True, True), ("on", True), ("0", False), (False, False)],
)
def test_idempotent_submits_not_said_is_not_false(given: Any, read: bool | None) -> None:
    extra = {} if given is None else {"idempotent_submits": given}
    assert settings(**extra).idempotent_submits is read


@pytest.mark.parametrize("rate", ["0", -1, "fast", "inf", "nan"])
def test_a_request_budget_must_be_a_number_above_zero(rate: Any) -> None:
    with pytest.raises(GrokVideoError, match=r"'videos': requests_per_second=.* above 0"):
        settings(requests_per_second=rate)


def test_an_empty_request_budget_means_learn_it() -> None:
    assert settings(requests_per_second="").requests_per_second is None
