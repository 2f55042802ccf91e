"""How a finished wait ends its task: the XComs it leaves, built in one place for the worker
(``execute_complete``) and the triggerer (a task-end event).

A wait that the triggerer sees finish can end its task there (Airflow's ``TaskSuccessEvent``,
``TaskFailedEvent``, ``TaskSkippedEvent``): no worker start just to return what the trigger
already holds.  Nothing downstream may tell the two endings apart, so both build their XComs
here:

- the return value: the finished generation with its cost and the connection polled
  (:func:`wait_result`);
- the ``grokvideo`` record read by the "Grok videos" page
  (:func:`~airflow_provider_grokvideo.tasks.catalog.generation_record`), for an ending other
  than success: a success's record is its return value (:func:`success_needs_record`);
- the task's extra links that a worker computes at the task's end (``_link_<class name>``):
  the upstream's video URL, from the result.  The page link is the API server's
  (``tasks.links.GrokVideoLink``): nobody pushes it.

The deferring task describes the ending in a small, secret-free mapping (the trigger's
``task_end`` kwarg, :func:`task_end_spec`); :func:`task_end` turns the trigger's final payload
into the task's state and XComs, or ``None`` for anything it cannot decide (an error, an
unexpected payload), which resumes the task on a worker as before.

Pure: no Airflow import at module level (operators import it when their task runs).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from airflow_provider_grokvideo.statuses import FAILED_STATUSES
from airflow_provider_grokvideo.tasks.catalog import XCOM_KEY, generation_record

#: The trigger's events a task-end event can stand for; ``error`` always resumes on a worker.
ENDED_STATUSES = ("succeeded", *FAILED_STATUSES, "timeout")
RETURN_VALUE_KEY = "return_value"


def wait_result(generation: Mapping[str, Any], cost_estimate: Any, conn_id: str) -> dict[str, Any]:
    """The return value of a wait whose generation succeeded: its cost (billed, else the
    estimate, see ``tasks.costs.with_estimate``) and the connection polled (after a failover,
    not always the task's ``conn_id``)."""
    from airflow_provider_grokvideo.models import WaitResult
    from airflow_provider_grokvideo.tasks.costs import with_estimate

    result = {**with_estimate(dict(generation), cost_estimate), "conn_id": conn_id}
    return WaitResult.from_xcom(result).to_xcom()


def success_needs_record(task: Any) -> bool:
    """Whether a succeeded wait pushes a finished ``grokvideo`` record beside its return value.

    Mostly not: the page reads a success from the return value itself
    (``catalog.result_record``), which says everything that record would.  One value less per
    video matters most where the triggerer ends the task: its supervisor writes a trigger's
    values one request per pass of its loop, and a thousand videos ending within a minute
    queue there.  The record stays where the value does not land in the ``xcom`` table as its
    JSON, for the page's SQL to read: ``do_xcom_push=False``, or a custom XCom backend (which
    may keep it elsewhere, an object store).  The record of the wait's start (the generate
    task's, pushed at its submit) stays in every case.
    """
    if not getattr(task, "do_xcom_push", True):
        return True
    from airflow.sdk.bases.xcom import BaseXCom
    from airflow.sdk.execution_time.xcom import XCom

    return XCom.serialize_value is not BaseXCom.serialize_value


def recorded_status(event_status: Any) -> str | None:
    """The page's status for a trigger event: its own, ``timeout``, or (error) none."""
    return event_status if event_status in ENDED_STATUSES else None


def wait_record(
    generation: Any,
    event_status: Any,
    message: str | None,
    own_estimate: Any,
    prompt: str | None = None,
) -> dict[str, Any] | None:
    """The ``grokvideo`` record of a wait's end (``None`` without a generation to record)."""
    if not isinstance(generation, Mapping) or not generation.get("generation_id"):
        return None
    return generation_record(
        generation,
        status=recorded_status(event_status),
        error=None if event_status == "succeeded" else message,
        cost_estimate=dict(own_estimate) if isinstance(own_estimate, Mapping) else None,
        prompt=prompt,
    )


def task_end_spec(
    *,
    cost_estimate: Any,
    record_estimate: Mapping[str, Any] | None,
    skip_on_failure: bool,
    video_links: list[str],
    task: Mapping[str, Any],
    record_prompt: str | None = None,
    record_success: bool = False,
) -> dict[str, Any]:
    """What the trigger needs to end the task as its worker would (its ``task_end`` kwarg).

    :param cost_estimate: the task's ``cost_estimate`` (an estimate, a ``grokvideo`` record
        holding one, or their rendered text): only the estimate is kept (a record's prompt
        would swell the kwargs), which gives the result the same cost.  Unreadable: none, as
        the worker's ``with_estimate`` ignores it.
    :param record_estimate: the task's own estimate, kept in its record (the one-task wait).
    :param skip_on_failure: a sensor's ``soft_fail`` / ``never_fail``: a failed generation or a
        timeout skips the task instead of failing it.
    :param video_links: XCom keys of the links to the upstream's video URL.
    :param record_prompt: the start of the task's own prompt, kept in its record (the
        one-task wait; at most ``tasks.wait.RECORD_PROMPT_CHARS``).
    :param task: the task instance the XComs are pushed for: ``dag_id``, ``task_id``,
        ``run_id``, ``map_index``.
    :param record_success: a success pushes its ``grokvideo`` record too
        (:func:`success_needs_record`).
    """
    from airflow_provider_grokvideo.pricing import read_estimate

    try:
        estimate = read_estimate(cost_estimate)
    except ValueError:
        estimate = None
    return {
        "cost_estimate": estimate.to_dict() if estimate is not None else None,
        "record_estimate": dict(record_estimate) if record_estimate else None,
        "record_prompt": record_prompt,
        "skip_on_failure": bool(skip_on_failure),
        "record_success": bool(record_success),
        "video_links": list(video_links),
        "task": {name: task[name] for name in ("dag_id", "task_id", "run_id", "map_index")},
    }


async def push_xcoms(task: Mapping[str, Any], xcoms: Mapping[str, Any]) -> None:
    """Push ``xcoms`` for ``task`` (``task_end_spec``'s) as its worker would: the values through
    the XCom backend, the links straight to the database (Airflow's task runner does the same),
    both through the triggerer's channel to its supervisor, which writes them.

    One ending at a time per triggerer (:func:`_channel_turn`): the channel carries one request
    at a time (the Task SDK's ``asend`` holds a lock for the round trip) and the supervisor
    serves one per pass of its loop, between its own chores (loading triggers, submitting
    events, heartbeats).  The triggerer's own report of fired events waits in the same line:
    behind a thousand endings queued at once (the 1,000-video deployment), it waited for all of
    them, and every task's success with it (p50 47.9 s from a job's end being seen); behind one
    ending, it waits for two requests.  Same throughput, first come first ended.  Awaited on
    the loop, with no thread each.  A custom XCom backend, whose serialization may do blocking
    I/O (an object store), is called in a thread.

    Not in the task-end event itself: Airflow's handler stores an event's XComs JSON-encoded a
    second time (a JSON string where a worker stores the object), which a mapped task's
    downstream and the page's SQL would not read as the same value.
    """
    import asyncio

    from airflow.sdk.bases.xcom import BaseXCom
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import SetXCom
    from airflow.sdk.execution_time.xcom import XCom

    where = {name: task[name] for name in ("dag_id", "task_id", "run_id", "map_index")}
    comms = task_runner.SUPERVISOR_COMMS
    if not hasattr(comms, "asend"):
        # dag.test()'s in-process channel: one blocking request at a time, off the loop.
        await asyncio.to_thread(_push_one_by_one, where, xcoms)
        return
    plain_backend = XCom.serialize_value is BaseXCom.serialize_value

    async def push(key: str, value: Any) -> None:
        if key.startswith("_link_"):
            await comms.asend(SetXCom(key=key, value=value, **where))
        elif plain_backend:
            serialized = XCom.serialize_value(value=value, key=key, **where)
            await comms.asend(SetXCom(key=key, value=serialized, **where))
        else:
            await asyncio.to_thread(XCom.set, key=key, value=value, **where)

    async with _channel_turn():
        await asyncio.gather(*(push(key, value) for key, value in xcoms.items()))


#: One turn per event loop (a triggerer runs its triggers on one): see :func:`push_xcoms`.
_TURNS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _channel_turn() -> Any:
    """The running loop's turn on the channel to the supervisor: an ``asyncio.Semaphore`` of
    one, whose waiters go first in, first out."""
    import asyncio

    loop = asyncio.get_running_loop()
    turn = _TURNS.get(loop)
    if turn is None:
        turn = _TURNS[loop] = asyncio.Semaphore(1)
    return turn


def carried_by_the_event(xcoms: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split an ending's XComs: those pushed before the event (:func:`push_xcoms`), and the
    links, carried by the task-end event itself.

    Airflow's handler of a task-end event writes the event's XComs in the same transaction as
    the task's state, JSON-encoded as text; its link reader (``XComOperatorLink.get_link``)
    decodes such text, so a link written there reads as the worker's.  A value would not (a
    downstream ``xcom_pull`` would get the text).  Each XCom pushed before the event costs a
    pass of the triggerer's supervisor loop, which serves one request of its triggers per pass
    between its own database chores: the link rides free.
    """
    pushed = {key: value for key, value in xcoms.items() if not key.startswith("_link_")}
    return pushed, {key: value for key, value in xcoms.items() if key.startswith("_link_")}


def _push_one_by_one(where: Mapping[str, Any], xcoms: Mapping[str, Any]) -> None:
    from airflow.sdk.execution_time.xcom import XCom

    for key, value in xcoms.items():
        if key.startswith("_link_"):
            XCom._set_xcom_in_db(key=key, value=value, **where)
        else:
            XCom.set(key=key, value=value, **where)


def task_end(
    payload: Mapping[str, Any], spec: Mapping[str, Any], conn_id: str
) -> tuple[str, dict[str, Any]] | None:
    """The task's end (``"success"``, ``"failed"`` or ``"skipped"``) and its XComs for the
    trigger's final ``payload``, or ``None`` when a worker must decide (resume as before)."""
    from airflow_provider_grokvideo.tasks.links import upstream_video_link

    status = payload.get("status")
    generation = payload.get("generation")
    if status not in ENDED_STATUSES:
        return None
    succeeded = isinstance(generation, Mapping) and generation.get("status") == "succeeded"
    if status == "succeeded" and not succeeded:
        return None  # the worker's execute_complete says what is wrong with it
    if status in FAILED_STATUSES and not isinstance(generation, Mapping):
        return None
    own = spec.get("record_estimate")
    message = str(payload.get("message") or "")
    xcoms: dict[str, Any] = {}
    record = wait_record(generation, status, message, own, spec.get("record_prompt"))
    if record is not None and (status != "succeeded" or spec.get("record_success")):
        xcoms[XCOM_KEY] = record
    # A worker computes the links of a task that did not succeed too: empty.  (A spec of the
    # provider before 2026-12-08 also names page links: they were pushed at the deferral.)
    links = dict.fromkeys(spec.get("video_links", []), "")
    if status != "succeeded":
        state = "skipped" if spec.get("skip_on_failure") else "failed"
        return state, {**xcoms, **links}
    assert isinstance(generation, Mapping)
    result = wait_result(generation, spec.get("cost_estimate"), conn_id)
    # The page link is the API server's (``tasks.links.GrokVideoLink``): the video links alone.
    links = dict.fromkeys(spec.get("video_links", []), upstream_video_link(result))
    return "success", {RETURN_VALUE_KEY: result, **xcoms, **links}
