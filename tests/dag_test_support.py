"""``dag.test()`` that ends a task the way a deployment does when its trigger ends it.

``dag.test()`` (Airflow 3.1 to 3.3) runs a trigger inline and resumes the task with the event's
payload whatever the event: a task that its trigger ends (``TaskSuccessEvent``...) is run again
with ``event="success"`` (the operators cope, see ``tasks.wait._resume_after_task_end``, but then
a test would not see what a deployment does).  Here the event goes to the scheduler's own
``handle_event_submit``, as the triggerer sends it in a deployment: Airflow's code decides the
state, pushes the event's XComs, routes a failure to a retry and sends the callbacks.

Used by the test suite (an autouse fixture) and ``benchmarks/metadata_writes.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class _EndedByTrigger(BaseException):
    """A task-end event was handled: out of ``dag.test()``'s ``_run_task`` (which catches
    ``Exception`` only), without resuming the task."""


@contextlib.contextmanager
def ending_tasks_from_triggers() -> Iterator[list[Any]]:
    """Within the block, ``dag.test()`` ends a task whose trigger ends it; yields the end events
    handled, in order.  The originals stay reachable as ``__wrapped__``."""
    import pytest

    from airflow_provider_grokvideo.compat import TRIGGER_CAN_END_TASKS

    handled: list[Any] = []
    try:
        from airflow.sdk.definitions import dag as dag_module
    except ImportError:  # pragma: no cover  (an Airflow without the SDK's dag.test)
        yield handled
        return
    if not TRIGGER_CAN_END_TASKS:  # no wait ends in its trigger: dag.test() as it is
        yield handled
        return
    if not hasattr(dag_module, "_run_task") or not hasattr(dag_module, "_run_inline_trigger"):
        yield handled  # pragma: no cover
        return
    running: list[Any] = []
    original_run_task = dag_module._run_task
    original_run_inline_trigger = dag_module._run_inline_trigger

    def run_task(*args: Any, **kwargs: Any) -> Any:  # whatever this Airflow's signature is
        running.append(kwargs["ti"] if "ti" in kwargs else args[0])
        try:
            return original_run_task(*args, **kwargs)
        except _EndedByTrigger:
            return None
        finally:
            running.pop()

    def run_inline_trigger(trigger: Any, task_sdk_ti: Any) -> Any:
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import BaseTaskEndEvent
        from airflow.utils.session import create_session
        from sqlalchemy import select

        event = original_run_inline_trigger(trigger, task_sdk_ti)
        if not isinstance(event, BaseTaskEndEvent):
            return event
        with create_session() as session:
            ti = session.scalar(select(TaskInstance).where(TaskInstance.id == running[-1].id))
            handle_event_submit(event, task_instance=ti, session=session)
        handled.append(event)
        raise _EndedByTrigger

    run_task.__wrapped__ = original_run_task  # type: ignore[attr-defined]
    run_inline_trigger.__wrapped__ = original_run_inline_trigger  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dag_module, "_run_task", run_task)
        patch.setattr(dag_module, "_run_inline_trigger", run_inline_trigger)
        yield handled
