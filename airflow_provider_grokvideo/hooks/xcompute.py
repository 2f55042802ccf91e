"""Hook for the xcompute video API (connection type ``grokvideo_xcompute``)."""

from __future__ import annotations

from airflow_provider_grokvideo.dialects.xcompute import DIALECT
from airflow_provider_grokvideo.hooks.base import GrokVideoHook


class XComputeVideoHook(GrokVideoHook):
    """Grok video generation through xcompute (https://xcompute.us).

    Connection: password = API key; host (optional) = base URL replacing https://xcompute.us.
    """

    conn_type = "grokvideo_xcompute"
    default_conn_name = "grokvideo_xcompute_default"
    hook_name = "Grok Video (xcompute)"
    default_base_url = "https://xcompute.us"
    dialect = DIALECT
