"""The three upstream hooks, and the lookup from a connection's type to its hook.

Operators, the sensor and the trigger know no upstream: they ask this module for the hook of
a connection, so one DAG switches upstream by changing only ``conn_id``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_grokvideo.get_provider_info import get_provider_info

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy


def hook_class_for(conn_type: str | None, conn_id: str = "?") -> type[GrokVideoHook]:
    """The hook class registered (in ``get_provider_info``) for a connection type."""
    from airflow.sdk.module_loading import import_string

    classes = {
        entry["connection-type"]: entry["hook-class-name"]
        for entry in get_provider_info()["connection-types"]
    }
    if conn_type not in classes:
        raise ValueError(
            f"connection {conn_id!r} has type {conn_type!r}; a Grok video connection has one "
            f"of the types {', '.join(sorted(classes))}"
        )
    return import_string(classes[conn_type])


def hook_for_connection(conn: Connection, retry: RetryPolicy | None = None) -> GrokVideoHook:
    return hook_class_for(conn.conn_type, conn.conn_id)(conn.conn_id, connection=conn, retry=retry)


def get_video_hook(conn_id: str, retry: RetryPolicy | None = None) -> GrokVideoHook:
    """The hook for ``conn_id``, chosen by the connection's type (blocking lookup)."""
    from airflow.sdk.bases.hook import BaseHook

    return hook_for_connection(BaseHook.get_connection(conn_id), retry)


async def aget_video_hook(conn_id: str, retry: RetryPolicy | None = None) -> GrokVideoHook:
    """The hook for ``conn_id``, with the connection read by Airflow's async lookup."""
    from airflow.sdk.bases.hook import BaseHook

    return hook_for_connection(await BaseHook.aget_connection(conn_id), retry)


async def shared_video_hook(conn_id: str) -> GrokVideoHook:
    """The hook for ``conn_id`` that the triggers of the running event loop share: read with
    Airflow's async lookup, at most once per ``runtime.HOOK_REUSE_SECONDS``, however many
    triggers start at once."""
    from airflow_provider_grokvideo.hooks.runtime import reused_hook

    async def read() -> GrokVideoHook:
        hook = await aget_video_hook(conn_id)
        hook.settings  # noqa: B018  # reads the key and base URL: fail now, not mid-wait
        await hook.aload_budget_store()  # the redis connection of a shared budget, if named
        return hook

    return await reused_hook(conn_id, read)
