"""Hook for the Mountsea video API (connection type ``grokvideo_mountsea``)."""

from __future__ import annotations

from airflow_provider_grokvideo.dialects.mountsea import DIALECT
from airflow_provider_grokvideo.hooks.base import GrokVideoHook


class MountseaVideoHook(GrokVideoHook):
    """Grok video generation through Mountsea (https://api.mountsea.ai).

    Connection: password = API key; host (optional) = base URL replacing https://api.mountsea.ai.
    """

    conn_type = "grokvideo_mountsea"
    default_conn_name = "grokvideo_mountsea_default"
    hook_name = "Grok Video (Mountsea)"
    default_base_url = "https://api.mountsea.ai"
    dialect = DIALECT
