"""Operator extra links: buttons on a task that open its video.

- :class:`GrokVideoLink` ("Grok video"), on the download task and the sensor: the video on the
  provider's "Grok videos" page (``{[api] base_url}/grokvideo/?...``), which plays the stored
  copy and says when the upstream's URL expires.  Airflow 3.3's UI draws only http(s), mailto
  and same-site links, so a stored URI itself (``file://``, ``s3://``) would never show.
- :class:`GrokVideoUpstreamLink` ("Upstream video URL (expires ~24 h)"), on the sensor: the
  upstream's own CDN URL, which stops working about a day after the video was made (HTTP 410);
  the page shows the exact time.

- the download task (``GrokVideoDownloadOperator``) returns the list of stored URIs: the link
  is the first one (``file:///...``, ``s3://...``);
- the sensor (``GrokVideoSensor``) and the generate operator with ``wait_for_completion=True``
  return a ``VideoGeneration.to_dict()`` dict: the link is the first of its ``video_urls``
  (the upstream's CDN URL, valid about 24 hours); the generate operator without it returns a
  bare id, which points at no video (an empty link).

In Airflow 3 the worker computes the link when the task finishes and stores it in XCom
(``_link_<class name>``), which the UI reads; a task without a video gets an empty link.
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


def page_link(dag_id: str, run_id: str, generation_id: str | None, base_url: str) -> str:
    """The "Grok videos" page showing one generation (or one DAG run's)."""
    query = {"dag_id": dag_id, "run_id": run_id}
    if generation_id:
        query["generation_id"] = generation_id
    return f"{base_url.rstrip('/')}{PAGE_PATH}?{urlencode(query)}"


def configured_page_link(dag_id: str, run_id: str, generation_id: str | None) -> str:
    """:func:`page_link` under this process's ``[api] base_url``: a worker's (at the task's
    end, or at its deferral for a task that the triggerer ends)."""
    from airflow_provider_grokvideo.compat import conf

    base_url = conf.get("api", "base_url", fallback=DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    return page_link(dag_id, run_id, generation_id, base_url)


def upstream_video_link(value: Any) -> str:
    """The upstream's http(s) video URL in a task's return value, else ``""`` (the UI draws
    only http(s) links)."""
    link = video_link_from_xcom(value)
    return link if urlsplit(link).scheme in ("http", "https") else ""


def _generation_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and value.get("generation_id"):
        return str(value["generation_id"])
    return None


def _finished(ti_key: TaskInstanceKey) -> bool:
    """False while the worker computes links for a task stopping without success.

    As the task stops, ``ti_key`` is the running task instance: a deferred or failed task has
    no return value yet, and asking for it would only log "XCom not found".
    """
    from airflow.utils.state import TaskInstanceState

    state = getattr(ti_key, "state", None)
    return state is None or state == TaskInstanceState.SUCCESS


def _deferred(ti_key: TaskInstanceKey) -> bool:
    from airflow.utils.state import TaskInstanceState

    return getattr(ti_key, "state", None) == TaskInstanceState.DEFERRED


class GrokVideoLink(BaseOperatorLink):
    """The task's video on the "Grok videos" page (an http(s) link the UI draws)."""

    name = "Grok video"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        # Imported here: resolving the XCom backend and the configuration, which a DAG parse
        # importing this module must not pay for.
        from airflow.sdk.execution_time import xcom

        from airflow_provider_grokvideo.tasks.catalog import XCOM_KEY

        # The task that has just run knows its id: no call to the API server to read it back.
        generation_id = getattr(operator, "_grokvideo_generation_id", None)
        if _deferred(ti_key) and generation_id is not None:
            # Waiting: the page already shows the generation (running, then its end), and the
            # trigger that ends the task has one XCom less to write.
            return configured_page_link(ti_key.dag_id, ti_key.run_id, generation_id)
        if not _finished(ti_key):
            return ""
        if generation_id is None:
            generation_id = _generation_id(xcom.XCom.get_value(ti_key=ti_key, key=XCOM_KEY))
        if generation_id is None:
            # A task of an older provider version: its return value may still name it.
            value = xcom.XCom.get_value(ti_key=ti_key, key=RETURN_VALUE_KEY)
            generation_id = _generation_id(value)
            if generation_id is None and not video_link_from_xcom(value):
                return ""
        return configured_page_link(ti_key.dag_id, ti_key.run_id, generation_id)


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
