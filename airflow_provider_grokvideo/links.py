"""Operator extra links: a "Grok video" button on the task that points at the video.

One link class serves both tasks that know where a video is, read from the task's own XCom
return value:

- the download task (``GrokVideoDownloadOperator``) returns the list of stored URIs: the link
  is the first one (``file:///...``, ``s3://...``);
- the sensor (``GrokVideoSensor``) and the generate operator with ``wait_for_completion=True``
  return a ``VideoGeneration.to_dict()`` dict: the link is the first of its ``video_urls``
  (the upstream's CDN URL, valid about 24 hours); the generate operator without it returns a
  bare id, which points at no video (an empty link).

In Airflow 3 the worker computes the link when the task finishes and stores it in XCom
(``_link_GrokVideoLink``), which the UI reads; a task without a video gets an empty link.
This module imports nothing heavy: DAG files import it through the operators on every parse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

RETURN_VALUE_KEY = "return_value"


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


class GrokVideoLink(BaseOperatorLink):
    """Link to the video of a download task (stored URI) or a sensor (the upstream's URL)."""

    name = "Grok video"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        # Imported here: resolving the XCom backend reads configuration, which a DAG parse
        # importing this module must not pay for.
        from airflow.sdk.execution_time import xcom
        from airflow.utils.state import TaskInstanceState

        # When the worker computes the link as the task stops (``ti_key`` is then the running
        # task instance), a deferred or failed task has no return value yet: asking for it
        # would only log "XCom not found".
        state = getattr(ti_key, "state", None)
        if state is not None and state != TaskInstanceState.SUCCESS:
            return ""
        value = xcom.XCom.get_value(ti_key=ti_key, key=RETURN_VALUE_KEY)
        return video_link_from_xcom(value)
