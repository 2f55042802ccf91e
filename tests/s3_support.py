"""A real S3 API server for the tests of direct delivery: moto's standalone server (its HTTP
server, presigned PUTs included), started once per session, and an Airflow ``aws``
connection to it (``moto_s3``) that the Amazon provider's ``S3Hook`` reads."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

CONN_ID = "moto_s3"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The server's endpoint URL (``http://127.0.0.1:<port>``).  Skipped where moto or the
    Amazon provider is not installed (``make test-floor``'s environment has neither)."""
    pytest.importorskip("moto.server")
    pytest.importorskip("airflow.providers.amazon")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


def connection_json(endpoint: str) -> str:
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "testing-key",
            "password": "testing-secret",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )


@pytest.fixture
def s3_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh bucket on the server: ``(name, boto3 client)``; connection ``moto_s3``."""
    import boto3

    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_json(s3_server))
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="testing-key",
        aws_secret_access_key="testing-secret",
        region_name="us-east-1",
    )
    name = f"videos-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield name, client
