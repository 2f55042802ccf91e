"""The page's data (``plugins/generations.py``): generations read from the records two real
runs of the main example left in the metadata database (``runs``, tests/plugins/conftest.py),
filtered, paged, limited to the DAGs a user may read; and what a page may ask for."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_grokvideo.plugins.generations import (
    MAX_PAGE_SIZE,
    Filters,
    Page,
    dag_ids_with_generations,
    list_generations,
    read_record,
)

pytestmark = pytest.mark.usefixtures("airflow_db")


def page(**filters: Any) -> Page:
    from airflow.utils.session import create_session

    readable = filters.pop("readable_dags", None)
    with create_session() as session:
        return list_generations(session, Filters(**filters), readable_dags=readable)


def test_a_runs_generation_merges_its_tasks_records(runs: dict[str, Any]) -> None:
    good, bad = runs["good"], runs["bad"]
    [made] = page(dag_id=good.dag_id, run_id=good.run_id).generations
    assert made.status == "succeeded" and "paper" in made.record["prompt"]
    assert made.stored_by is not None and made.last_task == made.stored_by
    assert {ref.run_id for ref in made.tasks.values()} == {good.run_id}
    [failed] = page(dag_id=bad.dag_id, run_id=bad.run_id).generations
    assert failed.status == "failed" and failed.stored_by is None


def test_filters_newest_first_and_pages(runs: dict[str, Any]) -> None:
    good, bad = runs["good"], runs["bad"]
    # Other tests of this process may run the same DAG: one page holds them all.
    listed = page(dag_id=good.dag_id, page_size=MAX_PAGE_SIZE).generations
    assert {good.run_id, bad.run_id} <= {g.run_id for g in listed}
    submitted = [g.submitted for g in listed]
    assert submitted == sorted(submitted, reverse=True)  # newest first
    assert all(g.status == "failed" for g in page(dag_id=good.dag_id, status="failed").generations)
    first = page(dag_id=good.dag_id, page_size=1)
    assert len(first.generations) == 1 and first.pages == first.total >= 2
    assert page(dag_id=good.dag_id, page=first.total + 1).generations == []


def test_only_readable_dags_are_listed(runs: dict[str, Any]) -> None:
    from airflow.utils.session import create_session

    dag_id = runs["good"].dag_id
    assert page(dag_id=dag_id, readable_dags=[]).generations == []
    assert page(dag_id=dag_id, readable_dags=["another"]).total == 0
    with create_session() as session:
        assert dag_id in dag_ids_with_generations(session)
        assert dag_ids_with_generations(session, readable_dags=["another"]) == []


def test_a_tasks_record_is_read_back(runs: dict[str, Any]) -> None:
    from airflow.utils.session import create_session

    good = runs["good"]
    [made] = page(dag_id=good.dag_id, run_id=good.run_id).generations
    with create_session() as session:
        record = read_record(session, made.tasks["submitted"])
    assert record is not None and record["generation_id"] == made.generation_id


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"status": "lost"}, "status must be one of"),
        ({"page": 0}, "page must be 1 or more"),
        ({"page_size": MAX_PAGE_SIZE + 1}, f"page_size must be within 1..{MAX_PAGE_SIZE}"),
        ({"task_id": "wait", "dag_id": "d"}, "task_id needs dag_id and run_id"),
    ],
)
def test_what_a_page_may_ask_for(filters: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Filters(**filters)


def test_a_task_instances_generations_are_its_links_page(runs: dict[str, Any]) -> None:
    """The "Grok video" link of a task (``tasks.links.GrokVideoLink``) asks for its task
    instance: each task of a run lists the generation it has a row of (the submit record, the
    wait's result or failure record, the stored copy), and a task without one lists none."""
    good, bad = runs["good"], runs["bad"]
    [made] = page(dag_id=good.dag_id, run_id=good.run_id).generations
    for task_id in ("generate", "wait", "download"):
        found = page(dag_id=good.dag_id, run_id=good.run_id, task_id=task_id)
        assert [g.generation_id for g in found.generations] == [made.generation_id], task_id
        # The whole generation, not the task's row alone: the page shows where it stands.
        assert found.generations[0].record == made.record
    [failed] = page(dag_id=bad.dag_id, run_id=bad.run_id, task_id="wait").generations
    assert failed.status == "failed"
    assert page(dag_id=bad.dag_id, run_id=bad.run_id, task_id="download").total == 0
    assert page(dag_id=good.dag_id, run_id=good.run_id, task_id="wait", map_index=0).total == 0


def test_a_succeeded_waits_return_value_is_its_finished_record(runs: dict[str, Any]) -> None:
    good = runs["good"]
    [made] = page(dag_id=good.dag_id, run_id=good.run_id, status="succeeded").generations
    # The wait pushed no record of its success: its return value stands for it.
    finished = made.tasks["finished"]
    assert finished.task_id == "wait" and made.record["finished_at_utc"].endswith("Z")
    assert made.record["video_host"] and made.record["expires_at_utc"].endswith("Z")


def test_only_wait_results_of_runs_with_records_are_read(runs: dict[str, Any]) -> None:
    """Within one transaction, rolled back: the failed run's records removed, then return
    values of every shape pushed; only a wait's result in a run with a record is listed."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    bad = runs["bad"]
    result = {"generation_id": "gen-x", "status": "succeeded", "conn_id": "grokvideo_xai_default"}

    def push(task_id: str, value: Any, session: Any) -> None:
        XComModel.set(
            key="return_value",
            value=value,
            dag_id=bad.dag_id,
            task_id=task_id,
            run_id=bad.run_id,
            serialize=False,  # stored as the Execution API stores a worker's value
            session=session,
        )

    def listed(session: Any) -> set[str]:
        found = list_generations(session, Filters(run_id=bad.run_id, page_size=MAX_PAGE_SIZE))
        return {generation.generation_id for generation in found.generations}

    with create_session() as session:
        try:
            before = listed(session)
            push("download", "gen-text", session)  # not a dict
            push("generate", {**result, "generation_id": "gen-failed", "status": "failed"}, session)
            push("wait", {"generation_id": "gen-no-conn", "status": "succeeded"}, session)
            assert listed(session) == before
            push("wait", result, session)
            assert listed(session) == before | {"gen-x"}
            session.execute(
                delete(XComModel).where(
                    XComModel.run_id == bad.run_id, XComModel.key == "grokvideo"
                )
            )
            assert listed(session) == set()  # no record left in the run: nothing is read
        finally:
            session.rollback()
