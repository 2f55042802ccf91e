"""Hook for the xAI video API (connection type ``grokvideo_xai``)."""

from __future__ import annotations

from airflow_provider_grokvideo.dialects.xai import DIALECT
from airflow_provider_grokvideo.hooks.base import GrokVideoHook
from airflow_provider_grokvideo.hooks.xai_batch import XAIBatchMixin


class XAIVideoHook(XAIBatchMixin, GrokVideoHook):
    """Grok video generation through xAI (https://api.x.ai).

    Connection: password = API key; host (optional) = base URL replacing https://api.x.ai.
    """

    conn_type = "grokvideo_xai"
    default_conn_name = "grokvideo_xai_default"
    hook_name = "Grok Video (xAI)"
    default_base_url = "https://api.x.ai"
    dialect = DIALECT
