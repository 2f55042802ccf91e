"""Durable submits and the one-task wait, for real: ``dag.test()`` runs with retries, Airflow's
own task state store (the metadata DB behind the execution API) and the emulator.

A try is ended mid-submit or mid-wait by the task's ``execution_timeout``, as a killed worker
ends it: the task's retry then meets what that try recorded.  The emulator's stats count the
jobs created.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import pytest
import structlog
from dag_bundles import dag_module

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.hooks.pacer import SyncPacer
from airflow_provider_grokvideo.tasks.submit_record import (
    RECORD_KEY,
    LedgerJournal,
    MemoryStore,
    SubmitLedger,
    SubmitRecord,
)
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def dags() -> Iterator[ModuleType]:
    """The test DAG file, imported, and registered as a DAG bundle beside the DAGs folder."""
    with dag_module("grokvideo_durable_submits", "grokvideo-durable-submit-tests") as module:
        yield module


@pytest.fixture
def triggers_run(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The events of every trigger run in this test, each with the ``generation_id`` XCom its
    task had pushed when the trigger started."""
    events: list[dict[str, Any]] = []
    original = GrokVideoTrigger.wait

    async def wait(self: GrokVideoTrigger) -> dict[str, Any]:
        pushed = pushed_generation_ids()
        payload = await original(self)
        events.append({**payload, "pushed_before": pushed})
        return payload

    monkeypatch.setattr(GrokVideoTrigger, "wait", wait)
    return events


def jobs(emulator: Emulator, upstream: str = "xai") -> int:
    return int(emulator.stats()["upstreams"][upstream]["submissions"])


def requests(emulator: Emulator, upstream: str = "xai") -> int:
    """Every request that reached the upstream's prefix (a submit that never answered too)."""
    return int(emulator.stats()["upstreams"][upstream]["requests"])


def task_instances(run: Any) -> list[Any]:
    return sorted(run.get_task_instances(), key=lambda ti: ti.map_index)


def pushed_generation_ids() -> list[Any]:
    """The id of every generate task's ``grokvideo`` XCom record of every run so far."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(XComModel).where(XComModel.key == "grokvideo")).all()
        return [XComModel.deserialize_value(row)["generation_id"] for row in rows]


def generation_ids(run: Any) -> list[str]:
    """The generate tasks' ids, by map index, from their one XCom record."""
    return [record["generation_id"] for record in xcom_values(run, key="grokvideo")]


def xcom_values(run: Any, key: str = "return_value") -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run.run_id, dag_ids=run.dag_id, task_ids="generate", key=key
        )
        rows = sorted(session.scalars(query).all(), key=lambda r: (r.run_id, r.map_index))
        return [XComModel.deserialize_value(row) for row in rows]


def xcom_keys(run: Any) -> list[str]:
    """The XCom keys the generate task left (one row each per map index)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids="generate")
        return sorted({row.key for row in session.scalars(query).all()})


def records(run: Any) -> dict[int, dict[str, Any]]:
    """The submit records in Airflow's task state store, by map index."""
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(TaskStateStoreModel).where(
                TaskStateStoreModel.dag_id == run.dag_id,
                TaskStateStoreModel.run_id == run.run_id,
                TaskStateStoreModel.key == RECORD_KEY,
            )
        ).all()
        return {row.map_index: _json(row.value) for row in rows}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def conf(emulator: Emulator, prompt: str, **extra: Any) -> dict[str, Any]:
    return {"conn_id": "grokvideo_xai_default", "prompt": prompt, **extra}


# -- nothing recorded: submit, and record ------------------------------------------------------


def test_first_try_submits_once_and_records_marker_then_id(
    dags: ModuleType, emulator: Emulator
) -> None:
    run = dags.submit_dag.test(run_conf=conf(emulator, "a kite over the dunes"))
    assert str(run.state) == "success"
    [generation_id] = xcom_values(run)
    assert generation_ids(run) == [generation_id]
    # Each fact once: the id as the return value and in the record, nothing else beside (the
    # page link is the API server's).
    assert xcom_keys(run) == ["grokvideo", "return_value"]
    assert jobs(emulator) == 1
    record = records(run)[-1]
    assert record["generation_id"] == generation_id
    assert (record["conn_id"], record["upstream"], record["try_number"]) == (
        "grokvideo_xai_default",
        "xai",
        1,
    )
    assert record["sent_at"] <= record["answered_at"]
    assert record["fingerprint"].startswith("sha256:")
    assert "emulator-key" not in json.dumps(record)


# -- marker without id: the try died mid-submit ------------------------------------------------


def test_retry_after_a_try_died_mid_submit_fails_without_submitting(
    dags: ModuleType, emulator: Emulator
) -> None:
    # The submit's answer takes longer than the try lives: the try ends mid-submit.
    emulator.inject("slow", count=1, upstream="xai", endpoint="submit", delay=6)
    run = dags.submit_dag.test(run_conf=conf(emulator, "a lighthouse at night"))
    assert str(run.state) == "failed"
    [ti] = task_instances(run)
    assert str(ti.state) == "failed"
    assert ti.try_number == 2  # the retry ran, and did not retry again (AirflowFailException)
    record = records(run)[-1]
    assert record["generation_id"] is None and record["try_number"] == 1
    assert xcom_values(run) == []
    # One request, the dead try's (whose job may or may not exist); the retry sent none.
    assert requests(emulator) == 1
    assert jobs(emulator) <= 1


def test_the_refusal_says_when_and_how_to_submit_anyway(
    dags: ModuleType, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    emulator.inject("slow", count=1, upstream="xai", endpoint="submit", delay=6)
    prompt = "a lighthouse at dawn with gulls circling over the rocks and a storm coming in"
    run = dags.submit_dag.test(run_conf=conf(emulator, prompt))
    assert str(run.state) == "failed"
    record = records(run)[-1]
    sent_at = record["sent_at"]
    # What a person looks for on the upstream's dashboard: the model, the prompt's start.
    assert record["model"] == "grok-imagine-video"
    assert record["prompt"] == "a lighthouse at dawn with gulls circling over..."
    logged = capfd.readouterr()
    text = logged.out + logged.err
    assert (
        "Not submitting: try 1 of this task sent a submit to xai (connection "
        "'grokvideo_xai_default', model 'grok-imagine-video', prompt 'a lighthouse at dawn with "
        f"gulls circling over...') at {sent_at}"
    ) in text
    assert "may exist upstream and be billed" in text
    assert "resubmit_unknown=True" in text
    assert f"/taskInstances/generate/state-store/{RECORD_KEY}" in text


@pytest.fixture
def budget_held(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldBudget]:
    """An xAI connection whose key's request budget is spent in this process (on an injected
    clock): its next request waits for the budget until the test lets it through."""
    from airflow_provider_grokvideo.hooks import get_video_hook

    conn = json.loads(emulator.airflow_connection("xai"))
    conn["extra"] = {"requests_per_second": HeldBudget.RATE}
    monkeypatch.setenv("AIRFLOW_CONN_GROKVIDEO_XAI_PACED", json.dumps(conn))
    held = HeldBudget(get_video_hook("grokvideo_xai_paced").sync_pacer)
    yield held
    held.grant()  # never leave a thread waiting


class HeldBudget:
    """The sync pacer of a key on a clock the test moves: one turn is spent at time 0, so the
    next request waits ``1 / RATE`` (a thousand seconds) of that clock, until :meth:`grant`."""

    RATE = 0.001
    conn_id = "grokvideo_xai_paced"

    def __init__(self, pacer: SyncPacer) -> None:
        self.pacer = pacer
        self.now = 0.0
        pacer.clock = lambda: self.now
        pacer.turn()  # another request of the key has just spent the budget

    def waiting(self) -> int:
        """Requests queued for the budget now."""
        with self.pacer._condition:
            return sum(1 for *_, ticket in self.pacer.turns._heap if not ticket)

    def grant(self) -> None:
        """The budget's time comes: every waiting request is let through, in order."""
        with self.pacer._condition:
            self.now = 10 / self.RATE
            self.pacer._condition.notify_all()


def test_a_try_killed_while_its_submit_waits_for_the_budget_leaves_no_marker(
    dags: ModuleType, emulator: Emulator, budget_held: HeldBudget
) -> None:
    # Try 1 waits for the key's budget (spent on the test's clock) and is ended there, as a
    # killed worker ends it; the budget frees up once the try is over, for the retry.
    waited: list[int] = []

    def try_ended(context: Any) -> None:
        waited.append(budget_held.waiting())
        budget_held.grant()

    dags.ON_RETRY.append(try_ended)
    try:
        run = dags.submit_dag.test(
            run_conf=conf(emulator, "a heron at the budget's gate", conn_id=budget_held.conn_id)
        )
    finally:
        dags.ON_RETRY.remove(try_ended)
    assert waited == [0]  # try 1 died waiting, and its place left the queue with it
    assert str(run.state) == "success"
    [ti] = task_instances(run)
    assert ti.try_number == 2  # the retry found no marker, so it submitted
    [generation_id] = xcom_values(run)
    record = records(run)[-1]
    assert (record["generation_id"], record["try_number"]) == (generation_id, 2)
    # Try 1 sent nothing: one request, one job for the one video.
    assert (requests(emulator), jobs(emulator)) == (1, 1)


class WritesSeen(MemoryStore):
    """A task state store that keeps each record written, with the log lines emitted before."""

    def __init__(self, logs: list[dict[str, Any]]) -> None:
        super().__init__()
        self.logs = logs
        self.writes: list[tuple[dict[str, Any], list[str]]] = []

    def set(self, key: str, value: Any) -> None:
        self.writes.append((dict(value), [str(line["event"]) for line in self.logs]))
        super().set(key, value)


def test_the_marker_is_written_when_the_budget_grants_the_turn_and_the_id_before_anything(
    emulator: Emulator, budget_held: HeldBudget
) -> None:
    from airflow_provider_grokvideo.hooks import get_video_hook

    hook = get_video_hook(budget_held.conn_id)
    call = hook.build_request("a heron, timed")
    epoch = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def clock() -> datetime:  # the records' times on the budget's clock
        return epoch + timedelta(seconds=budget_held.now)

    answer: list[str] = []
    with structlog.testing.capture_logs() as logs:
        store = WritesSeen(logs)
        marker = SubmitRecord.before_send(
            conn_id=budget_held.conn_id, upstream="xai", fingerprint="sha256:0", try_number=1
        )
        journal = LedgerJournal(SubmitLedger(store), marker, now=clock)
        submit = threading.Thread(
            target=lambda: answer.append(hook.submit_call(call, journal=journal))
        )
        submit.start()
        until(lambda: budget_held.waiting() == 1)
        # Waiting for the budget: nothing sent, so nothing may be in flight.
        assert (store.writes, requests(emulator)) == ([], 0)
        budget_held.grant()
        submit.join(30)
    [generation_id] = answer
    [(sent, _), (answered, logged_before)] = store.writes
    # Sent when the budget let it through (its clock: 10 / RATE seconds), not when it asked.
    assert sent["sent_at"] == (epoch + timedelta(seconds=10 / HeldBudget.RATE)).isoformat()
    assert sent["generation_id"] is None
    # The id reached the store before any line was logged about it.
    assert answered["generation_id"] == generation_id
    assert not [line for line in logged_before if "accepted the generation" in line]
    assert [line for line in map(str, (e["event"] for e in logs)) if "accepted" in line]
    assert jobs(emulator) == 1


def until(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Wait for ``condition`` (another thread makes it true), failing after ``limit`` s."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition was never reached"
        time.sleep(0.01)


def test_resubmit_unknown_submits_again_on_purpose(dags: ModuleType, emulator: Emulator) -> None:
    emulator.inject("slow", count=1, upstream="xai", endpoint="submit", delay=6)
    run = dags.submit_dag.test(
        run_conf=conf(emulator, "a lighthouse at noon", resubmit_unknown=True)
    )
    assert str(run.state) == "success"
    [ti] = task_instances(run)
    assert ti.try_number == 2
    [generation_id] = xcom_values(run)
    record = records(run)[-1]
    assert (record["generation_id"], record["try_number"]) == (generation_id, 2)
    assert requests(emulator) == 2  # asked for: the unknown submit, and the new one
    assert emulator.job(generation_id) is not None


# -- APIMart, whose host honors Idempotency-Key: a lost answer needs no human ---------------------


@pytest.fixture
def apimart(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """An xcompute connection whose host is said to honor idempotency keys."""
    conn = json.loads(emulator.airflow_connection("xcompute"))
    conn["extra"] = {"idempotent_submits": True}
    monkeypatch.setenv("AIRFLOW_CONN_GROKVIDEO_APIMART", json.dumps(conn))
    return "grokvideo_apimart"


def test_a_lost_answer_on_apimart_is_replayed_in_the_same_try(
    dags: ModuleType, emulator: Emulator, apimart: str
) -> None:
    emulator.inject("lost-answer", upstream="xcompute", endpoint="submit")
    run = dags.submit_dag.test(
        run_conf={"conn_id": apimart, "prompt": "a kite, lost once", "resubmit_unknown": False}
    )
    assert str(run.state) == "success"
    [ti] = task_instances(run)
    assert ti.try_number == 1
    [generation_id] = xcom_values(run)
    counts = emulator.stats()["upstreams"]["xcompute"]
    assert (counts["submissions"], counts["idempotent_replays"]) == (1, 1)  # paid once
    record = records(run)[-1]
    assert record["generation_id"] == generation_id
    assert record["idempotency_key"].startswith("grokvideo-")


def test_a_try_that_died_mid_submit_on_apimart_is_replayed_by_the_next(
    dags: ModuleType, emulator: Emulator, apimart: str
) -> None:
    # The job is made at once, its answer comes after the try has ended (a killed worker).
    emulator.inject("late-answer", upstream="xcompute", endpoint="submit", delay=6)
    run = dags.submit_dag.test(
        run_conf={"conn_id": apimart, "prompt": "a kite, try 1 died", "resubmit_unknown": False}
    )
    assert str(run.state) == "success"
    [ti] = task_instances(run)
    assert ti.try_number == 2
    [generation_id] = xcom_values(run)
    counts = emulator.stats()["upstreams"]["xcompute"]
    assert (counts["submissions"], counts["idempotent_replays"]) == (1, 1)
    assert emulator.job(generation_id) is not None
    record = records(run)[-1]
    assert (record["generation_id"], record["try_number"]) == (generation_id, 2)


def test_the_same_death_on_the_xcompute_white_label_is_refused_as_before(
    dags: ModuleType, emulator: Emulator
) -> None:
    # The white-label documents nothing about the header: keys are sent, never relied on.
    emulator.inject("late-answer", upstream="xcompute", endpoint="submit", delay=6)
    run = dags.submit_dag.test(
        run_conf={
            "conn_id": "grokvideo_xcompute_default",
            "prompt": "a kite, white-label",
            "resubmit_unknown": False,  # dag.test() keeps an earlier run's conf in the params
        }
    )
    assert str(run.state) == "failed"
    assert emulator.stats()["upstreams"]["xcompute"]["submit_requests"] == 1


# -- id recorded: carry on with it -------------------------------------------------------------


def test_retry_after_a_try_died_mid_wait_reattaches_without_submitting(
    dags: ModuleType, emulator: Emulator
) -> None:
    # The job outlasts the first try (ended after TRY_SECONDS), not the second.
    seconds = dags.TRY_SECONDS + 2
    run = dags.poll_dag.test(run_conf=conf(emulator, f"a glacier [emulator:seconds={seconds}]"))
    assert str(run.state) == "success"
    [ti] = task_instances(run)
    assert ti.try_number == 2
    [video] = xcom_values(run)
    assert video["status"] == "succeeded" and video["video_urls"]
    [generation_id] = generation_ids(run)
    assert video["generation_id"] == generation_id
    record = records(run)[-1]
    assert (record["generation_id"], record["try_number"]) == (generation_id, 1)
    assert jobs(emulator) == 1


# -- one-task wait in the triggerer --------------------------------------------------------------


def test_generate_and_wait_defers_and_returns_the_generation(
    dags: ModuleType, emulator: Emulator, triggers_run: list[dict[str, Any]]
) -> None:
    run = dags.wait_dag.test(run_conf=conf(emulator, "a hot-air balloon [emulator:seconds=2]"))
    assert str(run.state) == "success"
    [video] = xcom_values(run)
    [generation_id] = generation_ids(run)
    assert video["status"] == "succeeded" and video["generation_id"] == generation_id
    assert video["video_urls"][0].startswith(emulator.url)
    assert xcom_keys(run) == ["grokvideo", "return_value"]
    # The trigger ran once; the id was in XCom before it started.
    [event] = triggers_run
    assert event["status"] == "succeeded"
    assert generation_id in event["pushed_before"]
    assert jobs(emulator) == 1


def test_generate_and_wait_finishes_on_the_worker_when_the_job_has_already_ended(
    dags: ModuleType, emulator: Emulator, triggers_run: list[dict[str, Any]]
) -> None:
    run = dags.wait_dag.test(run_conf=conf(emulator, "a snowflake [emulator:seconds=0]"))
    assert str(run.state) == "success"
    [video] = xcom_values(run)
    assert video["status"] == "succeeded"
    assert triggers_run == []  # never deferred
    assert jobs(emulator) == 1


def test_generate_and_wait_fails_a_failed_generation_without_retrying(
    dags: ModuleType, emulator: Emulator
) -> None:
    from airflow_provider_grokvideo import compat

    run = dags.wait_dag.test(run_conf=conf(emulator, "a storm [emulator:fail]"))
    assert str(run.state) == "failed"
    [ti] = task_instances(run)
    # retries=2, not all used: the upstream's answer will not change.  A failure that the
    # trigger ends goes through Airflow's retry rule once (3.3.1+): the retry reads the same
    # job's answer on the worker and fails for good, submitting nothing.
    assert ti.try_number == (2 if compat.TRIGGER_CAN_END_TASKS else 1)
    assert jobs(emulator) == 1


def test_mapped_generate_and_wait_keeps_one_record_per_map_index(
    dags: ModuleType, emulator: Emulator
) -> None:
    run = dags.mapped_dag.test(run_conf=conf(emulator, "unused"))
    assert str(run.state) == "success"
    videos = xcom_values(run)
    ids = generation_ids(run)
    assert [video["generation_id"] for video in videos] == ids
    assert len(set(ids)) == 3
    by_index = records(run)
    assert sorted(by_index) == [0, 1, 2]
    assert [by_index[i]["generation_id"] for i in range(3)] == ids
    assert len({record["fingerprint"] for record in by_index.values()}) == 3  # three prompts
    assert jobs(emulator) == 3
