"""The "Grok videos" page's data: recent generations, read from the records in XCom.

Each task pushes a small record per generation under the XCom key ``grokvideo``
(``tasks/catalog.py``).  A page is two queries on the metadata database, whatever the number of
generations:

1. group the records by (DAG run, ``generation_id``), with each group's highest ``rank`` (its
   status) and first timestamp (when it was submitted), filter by DAG / run / status in SQL,
   order newest first, and take one page; a window count gives the total in the same pass;
2. read the records of that page's generations only, and merge each generation's records.

The JSON fields are read with SQLAlchemy's JSON indexing, which each database compiles its own
way (SQLite ``JSON_EXTRACT``, PostgreSQL ``->>``, MySQL ``JSON_EXTRACT``); the ``xcom`` table's
index on ``key`` keeps other XComs out of the scan.  ``benchmarks/video_page.py`` times a page
of 10,000 generations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.tasks.catalog import (
    RANK_STATUSES,
    STATUS_RANKS,
    XCOM_KEY,
    merge_records,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Generations per page.
PAGE_SIZE = 24
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Filters:
    """What the page asks for; ``None`` means "any"."""

    dag_id: str | None = None
    run_id: str | None = None
    status: str | None = None
    generation_id: str | None = None
    page: int = 1
    page_size: int = PAGE_SIZE

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUS_RANKS:
            raise ValueError(
                f"status must be one of {', '.join(STATUS_RANKS)}, not {self.status!r}"
            )
        if self.page < 1:
            raise ValueError(f"page must be 1 or more, not {self.page}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}, not {self.page_size}")


@dataclass(frozen=True)
class TaskRef:
    """The task instance that pushed a record (the primary key of its XCom row)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int


@dataclass
class Generation:
    """One generation as the page shows it: merged records and where each came from."""

    dag_id: str
    run_id: str
    generation_id: str
    submitted: datetime
    record: dict[str, Any]
    #: The task of each stage (``submitted``, ``waiting``, ``finished``, ``stored``).
    tasks: dict[str, TaskRef] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.record.get("status") or "submitted")

    @property
    def stored_by(self) -> TaskRef | None:
        """The task whose record lists the stored copies, if any task stored them."""
        return self.tasks.get("stored")

    @property
    def last_task(self) -> TaskRef:
        for stage in ("stored", "finished", "waiting", "submitted"):
            if stage in self.tasks:
                return self.tasks[stage]
        return next(iter(self.tasks.values()))


@dataclass
class Page:
    generations: list[Generation]
    total: int
    filters: Filters

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.filters.page_size))


def _columns() -> tuple[Any, Any]:
    from airflow.models.xcom import XComModel

    return (
        XComModel.value["generation_id"].as_string(),
        XComModel.value["rank"].as_integer(),
    )


def list_generations(
    session: Session, filters: Filters, *, readable_dags: Collection[str] | None = None
) -> Page:
    """One page of generations, newest first; ``readable_dags`` limits them (None: all)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import func, select

    if readable_dags is not None and not readable_dags:
        return Page([], 0, filters)
    generation_id, rank = _columns()
    groups = select(
        XComModel.dag_run_id.label("dag_run_id"),
        generation_id.label("generation_id"),
        func.max(rank).label("rank"),
        func.min(XComModel.timestamp).label("submitted"),
    ).where(XComModel.key == XCOM_KEY)
    if filters.dag_id:
        groups = groups.where(XComModel.dag_id == filters.dag_id)
    if readable_dags is not None:
        groups = groups.where(XComModel.dag_id.in_(sorted(readable_dags)))
    if filters.run_id:
        groups = groups.where(XComModel.run_id == filters.run_id)
    if filters.generation_id:
        groups = groups.where(generation_id == filters.generation_id)
    groups = groups.group_by(XComModel.dag_run_id, generation_id)
    if filters.status:
        groups = groups.having(func.max(rank) == STATUS_RANKS[filters.status])
    offset = (filters.page - 1) * filters.page_size
    rows = session.execute(
        groups.add_columns(func.count().over().label("total"))
        .order_by(func.min(XComModel.timestamp).desc(), XComModel.dag_run_id.desc(), generation_id)
        .limit(filters.page_size)
        .offset(offset)
    ).all()
    if not rows:
        total = 0
        if offset:
            total = session.scalar(select(func.count()).select_from(groups.subquery()))
        return Page([], int(total or 0), filters)

    wanted = {(row.dag_run_id, row.generation_id): row for row in rows}
    records = session.execute(
        select(
            XComModel.dag_run_id,
            XComModel.dag_id,
            XComModel.run_id,
            XComModel.task_id,
            XComModel.map_index,
            XComModel.value,
        ).where(
            XComModel.key == XCOM_KEY,
            XComModel.dag_run_id.in_({row.dag_run_id for row in rows}),
            generation_id.in_({row.generation_id for row in rows}),
        )
    ).all()
    found: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for record in records:
        value = record.value
        if isinstance(value, dict) and (record.dag_run_id, value.get("generation_id")) in wanted:
            found[(record.dag_run_id, value["generation_id"])].append(record)

    generations = []
    for key, row in wanted.items():
        parts = found.get(key) or []
        if not parts:
            continue
        generation = Generation(
            dag_id=parts[0].dag_id,
            run_id=parts[0].run_id,
            generation_id=row.generation_id,
            submitted=row.submitted,
            record=merge_records([part.value for part in parts]),
        )
        generation.record["status"] = RANK_STATUSES.get(row.rank, generation.status)
        for part in parts:
            generation.tasks[str(part.value.get("stage"))] = TaskRef(
                part.dag_id, part.run_id, part.task_id, part.map_index
            )
        generations.append(generation)
    return Page(generations, int(rows[0].total), filters)


def dag_ids_with_generations(
    session: Session, *, readable_dags: Collection[str] | None = None
) -> list[str]:
    """The DAGs that have records, for the page's DAG filter."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    query = select(XComModel.dag_id).where(XComModel.key == XCOM_KEY).distinct()
    if readable_dags is not None:
        query = query.where(XComModel.dag_id.in_(sorted(readable_dags)))
    return sorted(session.scalars(query).all())


def read_record(session: Session, ref: TaskRef) -> dict[str, Any] | None:
    """The record one task instance pushed, or None."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    value = session.scalar(
        select(XComModel.value).where(
            XComModel.key == XCOM_KEY,
            XComModel.dag_id == ref.dag_id,
            XComModel.run_id == ref.run_id,
            XComModel.task_id == ref.task_id,
            XComModel.map_index == ref.map_index,
        )
    )
    return value if isinstance(value, dict) else None
