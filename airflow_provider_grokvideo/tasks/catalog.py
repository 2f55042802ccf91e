"""What the "Grok videos" page knows about each generation: one small XCom record per task.

Every task that learns something about a generation pushes a record under the XCom key
:data:`XCOM_KEY` (``"grokvideo"``): the generate task the request (prompt, upstream, model,
duration...) and its cost estimate, a wait that did not succeed the upstream's answer
(status, expiry, error...), the download task the stored copies; a wait that succeeded, its
return value.

The generate task says each fact once: this record (its id, what was asked, the estimate) and
its return value (the id, what a sensor is mapped over; the finished generation with
``wait_for_completion``); no XCom of the id or of the estimate beside them.  Every XCom row is
a call to the API server and a row in the metadata database (docs/outputs.md lists the keys).

The page (``plugins/``) merges the records of one generation in one DAG run
(same ``generation_id``), the furthest stage winning, so each task writes only what it knows.
A wait's success writes no record: its return value says all of it, and the page reads it as
the finished record (:func:`result_record`); one XCom less per video, written by the
triggerer when the trigger ends the task (``tasks.ending.success_needs_record``).

Why XCom and not a table of our own: Airflow 3 workers have no metadata database (tasks talk to
the API server), so a table could only be filled by copying what tasks push through XCom anyway;
XCom already follows clears, reruns and ``airflow db clean``, and is authorized per DAG.  Each
record carries a small integer ``rank`` so that the page filters and pages in SQL (see
``plugins/generations.py``), without decoding every record.

A record holds no secret: no API key (never known here), no upstream URL (they may be signed);
only the upstream's host, stored URIs and times, both as unix seconds and readable UTC.

Pure: no Airflow import at module level (operators import this when their task runs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_grokvideo.models import utc_text

log = logging.getLogger(__name__)

#: The XCom key of every record.
XCOM_KEY = "grokvideo"

#: The order of what can be known about a generation: a later stage's status wins.  Terminal
#: statuses share the top tier (a generation has only one of them).
STATUS_RANKS: dict[str, int] = {
    "submitted": 0,
    "queued": 10,
    "running": 20,
    "timeout": 25,  # the wait gave up; the upstream may still finish it
    "succeeded": 31,
    "failed": 32,
    "cancelled": 33,
    "expired": 34,
}
RANK_STATUSES: dict[int, str] = {rank: status for status, rank in STATUS_RANKS.items()}

#: What a record may hold (anything else is dropped before the push).
FIELDS = (
    "generation_id",
    "stage",
    "status",
    "rank",
    "upstream",
    "conn_id",
    "prompt",
    "model",
    "duration",
    "aspect_ratio",
    "resolution",
    "cost_usd",
    "cost_estimate",
    "reattached",
    "progress",
    "submitted_at",
    "created_at",
    "finished_at",
    "expires_at",
    "video_host",
    "has_thumbnail",
    "error",
    "videos",
    "thumbnail",
    "sizes",
    # Direct delivery (deliver_to) and the check of a stored video against its request, and
    # xAI's Files copy of the output (storage_options): file id, public URL, expiries.
    "delivery",
    "delivered",
    "file_output",
    "batch",  # an xAI batch's card: {"videos": n, "failed": k}
)
#: Unix-seconds fields that get a readable ``<name>_utc`` twin.
TIME_FIELDS = ("submitted_at", "created_at", "finished_at", "expires_at")
#: Longest prompt kept in a record (the page shows it; XCom rows stay small).
PROMPT_LIMIT = 2000


def make_record(stage: str, generation_id: str, status: str, **fields: Any) -> dict[str, Any]:
    """A record of ``stage`` (``submitted``, ``finished``, ``stored``) for one generation.

    ``None`` values are left out, so that merging never erases what an earlier stage knew.
    Every unix time gets its readable twin.
    """
    if status not in STATUS_RANKS:
        raise ValueError(f"status must be one of {', '.join(STATUS_RANKS)}, not {status!r}")
    record: dict[str, Any] = {
        "generation_id": str(generation_id),
        "stage": stage,
        "status": status,
        "rank": STATUS_RANKS[status],
    }
    for name, value in fields.items():
        if name not in FIELDS:
            raise ValueError(f"unknown record field {name!r}")
        if value is not None:
            record[name] = value
    if isinstance(record.get("prompt"), str) and len(record["prompt"]) > PROMPT_LIMIT:
        record["prompt"] = record["prompt"][: PROMPT_LIMIT - 1] + "…"
    for name in TIME_FIELDS:
        if name in record:
            record[f"{name}_utc"] = utc_text(record[name])
    return record


def submitted_record(
    generation_id: str,
    *,
    upstream: str,
    conn_id: str,
    prompt: str,
    model: str | None,
    duration: Any = None,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    cost_usd: float | None = None,
    cost_estimate: Mapping[str, Any] | None = None,
    reattached: bool | None = None,
) -> dict[str, Any]:
    """What the generate task knows once the upstream accepted the job (``reattached``: a
    retry that carried on with an earlier try's job; ``cost_estimate``: the estimate's
    ``CostEstimate.to_dict()``, which the sensor's ``cost_estimate`` reads)."""
    return make_record(
        "submitted",
        generation_id,
        "submitted",
        upstream=upstream,
        conn_id=conn_id,
        prompt=prompt,
        model=model,
        duration=_number(duration),
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        cost_usd=cost_usd,
        cost_estimate=dict(cost_estimate) if cost_estimate else None,
        reattached=reattached or None,
        submitted_at=time.time(),
    )


def generation_record(
    generation: Mapping[str, Any],
    *,
    status: str | None = None,
    error: str | None = None,
    cost_estimate: Mapping[str, Any] | None = None,
    prompt: str | None = None,
) -> dict[str, Any]:
    """What the sensor (or a waiting generate task) learned: a ``VideoGeneration.to_dict()``.
    ``prompt``: the start of a one-task wait's own prompt (its record replaces the submit's).

    ``status`` overrides the generation's own (``"timeout"`` when the wait gave up).  The
    upstream's URLs are not kept (they may be signed): only the video's host, and whether
    there is a thumbnail.
    """
    urls = [url for url in generation.get("video_urls") or [] if isinstance(url, str)]
    status = str(status or generation.get("status") or "running")
    terminal = status in ("succeeded", "failed", "cancelled", "expired")
    error = error or generation.get("error_message") or generation.get("error_code")
    return make_record(
        "finished" if terminal else "waiting",
        str(generation.get("generation_id")),
        status if status in STATUS_RANKS else "running",
        progress=generation.get("progress"),
        created_at=_number(generation.get("created_at")),
        expires_at=_number(generation.get("expires_at")),
        finished_at=time.time() if terminal else None,
        video_host=urlsplit(urls[0]).hostname if urls else None,
        has_thumbnail=bool(generation.get("thumbnail_url")) or None,
        cost_usd=_number(generation.get("cost_usd")),
        error=str(error) if error else None,
        # The one-task wait's record replaces its submit record (one XCom key per task): it
        # keeps the estimate made before submitting.
        cost_estimate=dict(cost_estimate) if cost_estimate else None,
        prompt=prompt,
        file_output=_file_output(generation.get("file_output")),
    )


def result_record(result: Mapping[str, Any], finished_at: float | None) -> dict[str, Any] | None:
    """A succeeded wait's finished record, read from its return value (``WaitResult``): a wait
    pushes no record of its own success, since everything the record says is in that value
    (see :func:`is_wait_result`).  ``finished_at``: when the value was pushed (its XCom row's
    time).  ``None`` for a value that is not a succeeded wait's result."""
    if not is_wait_result(result):
        return None
    try:
        record = generation_record(result, status="succeeded")
    except Exception as exc:  # data another task wrote: never let it break a page
        log.warning("unreadable wait result %s: %s", result.get("generation_id"), exc)
        return None
    record.pop("finished_at", None)
    record.pop("finished_at_utc", None)
    if finished_at is not None:
        record["finished_at"] = finished_at
        record["finished_at_utc"] = utc_text(finished_at)
    return record


def is_wait_result(value: Any) -> bool:
    """Whether an XCom value is a succeeded wait's return value (``WaitResult.to_xcom()``): the
    generation's id, ``status`` ``succeeded`` and the connection polled.  The page's SQL reads
    the same three (``plugins/generations.py``)."""
    return (
        isinstance(value, Mapping)
        and bool(value.get("generation_id"))
        and value.get("status") == "succeeded"
        and isinstance(value.get("conn_id"), str)
    )


def _file_output(value: Any) -> dict[str, Any] | None:
    """xAI's Files copy, with readable expiries (its public URL is public by request)."""
    if not isinstance(value, Mapping) or not value.get("file_id"):
        return None
    output = dict(value)
    for name in ("expires_at", "public_url_expires_at"):
        if isinstance(output.get(name), (int, float)):
            output[f"{name}_utc"] = utc_text(output[name])
    return output


def stored_record(
    generation_id: str, *, videos: list[str], thumbnail: str | None, sizes: dict[str, int]
) -> dict[str, Any]:
    """What the download task stored (URIs of ``ObjectStoragePath``: no credential in them)."""
    return make_record(
        "stored",
        generation_id,
        "succeeded",
        videos=list(videos),
        thumbnail=thumbnail,
        sizes=dict(sizes),
    )


def push_record(context: Mapping[str, Any], record: Mapping[str, Any]) -> None:
    """Push ``record`` under :data:`XCOM_KEY` from the running task (a task pushes one).

    Never raises: the record only feeds the page, and a task that has just paid for a video
    must not fail because of it.
    """
    try:
        context["ti"].xcom_push(key=XCOM_KEY, value=dict(record))
    except Exception as exc:
        log.warning(
            "could not record generation %s for the Grok videos page: %s",
            record.get("generation_id"),
            exc,
        )


def record_submission(
    context: Mapping[str, Any],
    operator: Any,
    hook: Any,
    generation_id: str,
    *,
    reattached: bool = False,
) -> None:
    """The generate task's one record: its id, what it asked ``hook``'s upstream for, and the
    operator's ``cost_estimate`` (``CostEstimate.to_dict()``) when there is one.

    ``conn_id`` is the hook's, the connection that made the video (after a failover, not the
    operator's first): a sensor fed by this task polls the connection the record names."""
    try:
        estimate = getattr(operator, "cost_estimate", None)
        estimate = estimate if isinstance(estimate, Mapping) else None
        # The model asked of this hook's upstream (a fallback of another upstream uses its own).
        model_for = getattr(operator, "_model_for", None)
        asked = model_for(hook) if model_for is not None else operator.model
        model = _text(asked) or hook.settings.model or hook.dialect.default_model
        record = submitted_record(
            generation_id,
            upstream=hook.dialect.name,
            conn_id=str(getattr(hook, "conn_id", None) or operator.conn_id),
            prompt=str(operator.prompt),
            model=model,
            duration=_text(operator.duration),
            aspect_ratio=_text(operator.aspect_ratio),
            resolution=_text(operator.resolution),
            cost_usd=_number(estimate.get("cost_usd")) if estimate else None,
            cost_estimate=estimate,
            reattached=reattached,
        )
    except Exception as exc:
        log.warning("could not record generation %s: %s", generation_id, exc)
        return
    push_record(context, record)


def record_generation(
    context: Mapping[str, Any],
    generation: Mapping[str, Any] | None,
    *,
    status: str | None = None,
    error: str | None = None,
    cost_estimate: Mapping[str, Any] | None = None,
    prompt: str | None = None,
) -> None:
    """The waiting task's record: the upstream's last answer (``VideoGeneration.to_dict()``);
    ``cost_estimate``: the generate task's own estimate, when that task waits itself."""
    if not isinstance(generation, Mapping) or not generation.get("generation_id"):
        return
    try:
        record = generation_record(
            generation, status=status, error=error, cost_estimate=cost_estimate, prompt=prompt
        )
    except Exception as exc:
        log.warning("could not record generation %s: %s", generation.get("generation_id"), exc)
        return
    push_record(context, record)


def record_stored(
    context: Mapping[str, Any],
    generation: Any,
    stored: list[Any],
    delivered: Mapping[str, Any] | None = None,
) -> None:
    """The download task's record: the stored copies (``StoredFile``s) of ``generation``."""
    try:
        record = stored_record(
            generation.generation_id,
            videos=[item.uri for item in stored if item.kind == "video"],
            thumbnail=next((item.uri for item in stored if item.kind == "thumbnail"), None),
            sizes={item.uri: item.size for item in stored},
        )
        # The sensor's answer too, for a download fed without a sensor in the same DAG run.
        answer = generation_record(generation.to_dict())
        record.update({k: v for k, v in answer.items() if k not in record and k != "stage"})
        if delivered is not None:
            record["delivered"] = dict(delivered)
    except Exception as exc:
        log.warning("could not record the stored copies of %s: %s", generation, exc)
        return
    push_record(context, record)


def record_delivery(
    context: Mapping[str, Any],
    generation: Mapping[str, Any],
    delivery: Mapping[str, Any],
    asked: Mapping[str, Any] | None = None,
) -> None:
    """The delivering generate task's record: the generation's answer, the object it is in
    (``videos``, ``sizes``), how it got there (``delivery``) and its check (``delivered``)."""
    try:
        uri = str(delivery["uri"])
        record = stored_record(
            str(generation.get("generation_id")),
            videos=[uri],
            thumbnail=delivery.get("thumbnail"),
            sizes={uri: int(delivery["size"])},
        )
        answer = generation_record(generation)
        record.update({k: v for k, v in answer.items() if k not in record and k != "stage"})
        for name, value in (asked or {}).items():  # what was asked (prompt, model, ...)
            if name in FIELDS and value is not None and name not in record:
                record[name] = value
        record["delivered"] = dict(delivery["delivered"])
        record["delivery"] = {
            key: delivery[key] for key in ("via", "fallback") if delivery.get(key) is not None
        }
    except Exception as exc:
        log.warning("could not record the delivery of %s: %s", generation.get("generation_id"), exc)
        return
    push_record(context, record)


def merge_records(records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One generation's view from its records: later fields win, the highest rank's status."""
    merged: dict[str, Any] = {}
    for record in sorted(records, key=_order):
        merged.update({key: value for key, value in record.items() if value is not None})
    return merged


_STAGES = {"submitted": 0, "waiting": 1, "finished": 2, "stored": 3}


def _order(record: Mapping[str, Any]) -> tuple[int, int]:
    return int(record.get("rank") or 0), _STAGES.get(str(record.get("stage")), 0)


def _text(value: Any) -> str | None:
    """A template rendering to ``""`` or ``"None"`` means "not given"."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    return str(value)


def _number(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else number
