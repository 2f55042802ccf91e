"""What a hook reads from its Airflow connection, once: the base URL, the key, the model, the
timeout, the price overrides, the request budget and where it is shared, whether the host
honors idempotency keys.  Each setting is checked here, with the connection's name in the
error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from airflow_provider_grokvideo.exceptions import GrokVideoError
from airflow_provider_grokvideo.pricing import PRICES_EXTRA

if TYPE_CHECKING:
    from airflow.sdk import Connection

#: Seconds each HTTP request to an upstream may take (the connection extra `timeout`).
DEFAULT_REQUEST_TIMEOUT = 30.0
USER_AGENT = "airflow-provider-grokvideo"


@dataclass(frozen=True)
class ConnectionSettings:
    """What a hook needs from its Airflow connection, read once."""

    base_url: str
    api_key: str = field(repr=False)
    model: str | None = None
    timeout: float = DEFAULT_REQUEST_TIMEOUT
    relax_limits: bool = False
    #: The extra ``prices`` as given (read by ``pricing.read_price_overrides``).
    prices: Any = None
    #: The key's request budget (``None``: learned from the upstream's 429s).
    requests_per_second: float | None = None
    #: The Airflow connection (type ``redis``) where every process shares the key's budget
    #: (``None``: each process paces the key alone).
    redis_conn_id: str | None = None
    #: Whether the host honors ``Idempotency-Key`` (the ``idempotent_submits`` extra; ``None``:
    #: not said, so only where the upstream documents it, see ``GrokVideoHook.idempotent``).
    idempotent_submits: bool | None = None

    @classmethod
    def from_connection(cls, conn: Connection, default_base_url: str) -> ConnectionSettings:
        extra = conn.extra_dejson or {}
        return cls(
            base_url=_base_url(conn, default_base_url),
            api_key=conn.password or "",
            model=extra.get("model") or None,
            timeout=float(extra.get("timeout") or DEFAULT_REQUEST_TIMEOUT),
            relax_limits=_as_bool(extra.get("relax_limits", False)),
            prices=extra.get(PRICES_EXTRA),
            requests_per_second=_requests_per_second(conn, extra.get("requests_per_second")),
            redis_conn_id=str(extra.get("redis_conn_id") or "").strip() or None,
            idempotent_submits=(
                None
                if extra.get("idempotent_submits") in (None, "")
                else _as_bool(extra["idempotent_submits"])
            ),
        )

    @property
    def origin(self) -> tuple[str, str, int | None]:
        url = httpx.URL(self.base_url)  # the same normalization (default ports) as requests
        return url.scheme, url.host, url.port


def _base_url(conn: Connection, default: str) -> str:
    host = (conn.host or "").strip()
    if not host:
        return default.rstrip("/")
    if "://" not in host:
        scheme = "https"
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GrokVideoError(
            f"connection {conn.conn_id!r}: host {conn.host!r} is not an http(s) base URL"
        )
    if conn.port and parts.port is None:
        host = parts._replace(netloc=f"{parts.netloc}:{conn.port}").geturl()
    return host.rstrip("/")


def _requests_per_second(conn: Connection, value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = float("nan")
    if not rate > 0 or rate == float("inf"):
        raise GrokVideoError(
            f"connection {conn.conn_id!r}: requests_per_second={value!r} is not a number above 0"
            " (leave it out to let the provider learn the budget from the upstream's 429s)"
        )
    return rate


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
