"""Operator extra links: buttons on a task that open its video.

- :class:`GrokVideoLink` ("Grok video"), on every generate, edit, extend, sensor and download
  task: the task's generations on the provider's "Grok videos" page
  (``{[api] base_url}/grokvideo/?dag_id=...&run_id=...&task_id=...``), which plays the stored
  copy, says when the upstream's URL expires, and shows a wait or a failure as it stands.
  Airflow 3.3's UI draws only http(s), mailto and same-site links, so a stored URI itself
  (``file://``, ``s3://``) would never show.
- :class:`GrokVideoUpstreamLink` ("Upstream video URL (expires ~24 h)"), on the sensor: the
  upstream's own CDN URL, which stops working about a day after the video was made (HTTP 410);
  the page shows the exact time.

Where each is computed:

- The page link needs nothing a task knows: the task instance's own key makes it.  The API
  server computes it when the UI asks (the plugin registers it for our operators, which
  ``plugins/grok_videos.py`` names), so no task pushes it: a link XCom less at each task's
  end and at each deferral, and the link is there from the task's first second.  A subclass of our
  operators (the plugin matches classes by name) lists ``GrokVideoLink()`` in its own
  ``operator_extra_links``: its worker then pushes the same link, as Airflow does for any link.
- The upstream's URL is in the sensor's return value: the worker computes it at the task's
  end and stores it in XCom (``_link_<class name>``), which the UI reads; a trigger ending
  the task carries it on its task-end event.

This module imports nothing heavy: DAG files import it through the operators on every parse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from airflow.sdk import BaseOperatorLink

from airflow_provider_grokvideo.plugins import URL_PREFIX

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

RETURN_VALUE_KEY = "return_value"
#: The page's place under the API server.
PAGE_PATH = f"{URL_PREFIX}/"
#: Airflow's own fallback for ``[api] base_url`` in the links it makes (``TaskInstance.log_url``).
DEFAULT_BASE_URL = "http://localhost:8080/"


def video_link_from_xcom(value: Any) -> str:
    """The video a task's return value points at, or ``""`` when it points at none.

    Accepts a list of URIs (the download operator's value), a generation dict (the sensor's:
    first of ``video_urls``), a single URI string, or either of them as a JSON string.
    """
    if isinstance(value, (bytes, bytearray)):
        value = value.decode(errors="replace")
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                return video_link_from_xcom(json.loads(text))
            except ValueError:
                return ""
        return text if "://" in text else ""
    if isinstance(value, Mapping):
        for key in ("video_urls", "videos", "uris"):
            link = video_link_from_xcom(value.get(key))
            if link:
                return link
        return ""
    if isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, str) and "://" in item:
                return item.strip()
        return ""
    return ""


def page_link(
    dag_id: str,
    run_id: str,
    generation_id: str | None,
    base_url: str,
    *,
    task_id: str | None = None,
    map_index: int = -1,
) -> str:
    """The "Grok videos" page showing one DAG run's generations: one generation's, or one
    task instance's (a mapped one's by its ``map_index``)."""
    query: dict[str, str | int] = {"dag_id": dag_id, "run_id": run_id}
    if generation_id:
        query["generation_id"] = generation_id
    if task_id:
        query["task_id"] = task_id
        if map_index >= 0:
            query["map_index"] = map_index
    return f"{base_url.rstrip('/')}{PAGE_PATH}?{urlencode(query)}"


def configured_page_link(
    dag_id: str,
    run_id: str,
    generation_id: str | None = None,
    *,
    task_id: str | None = None,
    map_index: int = -1,
) -> str:
    """:func:`page_link` under this process's ``[api] base_url``."""
    from airflow_provider_grokvideo.compat import conf

    base_url = conf.get("api", "base_url", fallback=DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    return page_link(dag_id, run_id, generation_id, base_url, task_id=task_id, map_index=map_index)


def upstream_video_link(value: Any) -> str:
    """The upstream's http(s) video URL in a task's return value, else ``""`` (the UI draws
    only http(s) links)."""
    link = video_link_from_xcom(value)
    return link if urlsplit(link).scheme in ("http", "https") else ""


def _finished(ti_key: TaskInstanceKey) -> bool:
    """False while the worker computes links for a task stopping without success.

    As the task stops, ``ti_key`` is the running task instance: a deferred or failed task has
    no return value yet, and asking for it would only log "XCom not found".
    """
    from airflow.utils.state import TaskInstanceState

    state = getattr(ti_key, "state", None)
    return state is None or state == TaskInstanceState.SUCCESS


class GrokVideoLink(BaseOperatorLink):
    """The task's generations on the "Grok videos" page (an http(s) link the UI draws),
    made from the task instance's key alone: nothing read, nothing pushed."""

    name = "Grok video"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return configured_page_link(
            ti_key.dag_id,
            ti_key.run_id,
            task_id=ti_key.task_id,
            map_index=getattr(ti_key, "map_index", -1),
        )


class GrokVideoUpstreamLink(BaseOperatorLink):
    """The upstream's own video URL (sensor), which expires about 24 hours after generation."""

    name = "Upstream video URL (expires ~24 h)"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time import xcom

        if not _finished(ti_key):
            return ""
        value = getattr(operator, "_grokvideo_result", None)  # the task that has just run
        if value is None:
            value = xcom.XCom.get_value(ti_key=ti_key, key=RETURN_VALUE_KEY)
        return upstream_video_link(value)
