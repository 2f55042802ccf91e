"""The "Grok videos" page's data: recent generations, read from the records in XCom.

Each task pushes a small record per generation under the XCom key ``grokvideo``
(``tasks/catalog.py``), except a wait's success: its return value (``WaitResult``, recognized
by its ``generation_id``, ``status`` ``succeeded`` and ``conn_id``) is that record, one XCom
less per video (``tasks.ending.success_needs_record``).  A page is two queries on the metadata
database, whatever the number of generations:

1. group the records and the wait results by (DAG run, ``generation_id``), with each group's
   highest ``rank`` (its status; a wait result ranks ``succeeded``) and first timestamp (when
   it was submitted), filter by DAG / run / status in SQL, order newest first, and take one
   page; a window count gives the total in the same pass;
2. read the records and wait results of that page's generations only, and merge them.

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
    result_record,
)
from airflow_provider_grokvideo.tasks.ending import RETURN_VALUE_KEY

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
    #: One task instance's generations (its "Grok video" link): those it has a row of.
    task_id: str | None = None
    map_index: int = -1
    page: int = 1
    page_size: int = PAGE_SIZE

    def __post_init__(self) -> None:
        if self.task_id is not None and not (self.dag_id and self.run_id):
            raise ValueError("task_id needs dag_id and run_id")
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


def _identity() -> tuple[Any, ...]:
    """The columns that say which task instance's XCom a row is, and when it was pushed."""
    from airflow.models.xcom import XComModel

    return (
        XComModel.dag_run_id,
        XComModel.dag_id,
        XComModel.run_id,
        XComModel.task_id,
        XComModel.map_index,
        XComModel.key,
        XComModel.timestamp,
    )


def _rows() -> Any:
    """The page's rows, a subquery: every ``grokvideo`` record, and every XCom return value
    that is a succeeded wait's result (``catalog.is_wait_result``, in SQL), each with its
    ``generation_id``, ``rank`` and row identity (not its value: the page reads the values of
    its own runs only, :func:`list_generations`)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import Integer, and_, literal_column, select, union_all

    identity = _identity()
    generation_id = XComModel.value["generation_id"].as_string()
    records = select(
        *identity,
        generation_id.label("generation_id"),
        XComModel.value["rank"].as_integer().label("rank"),
    ).where(XComModel.key == XCOM_KEY)
    results = select(
        *identity,
        generation_id.label("generation_id"),
        literal_column(str(STATUS_RANKS["succeeded"]), Integer).label("rank"),
    ).where(
        and_(
            XComModel.key == RETURN_VALUE_KEY,
            # Only in runs with a record: other DAGs' return values are never decoded.
            XComModel.dag_run_id.in_(select(XComModel.dag_run_id).where(XComModel.key == XCOM_KEY)),
            XComModel.value["status"].as_string() == "succeeded",
            generation_id.is_not(None),
            XComModel.value["conn_id"].as_string().is_not(None),
        )
    )
    return union_all(records, results).subquery("grokvideo_rows")


def list_generations(
    session: Session, filters: Filters, *, readable_dags: Collection[str] | None = None
) -> Page:
    """One page of generations, newest first; ``readable_dags`` limits them (None: all)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import and_, case, func, select

    if readable_dags is not None and not readable_dags:
        return Page([], 0, filters)
    xcoms = _rows()
    groups = select(
        xcoms.c.dag_run_id,
        xcoms.c.generation_id,
        func.max(xcoms.c.rank).label("rank"),
        func.min(xcoms.c.timestamp).label("submitted"),
    )
    if filters.dag_id:
        groups = groups.where(xcoms.c.dag_id == filters.dag_id)
    if readable_dags is not None:
        groups = groups.where(xcoms.c.dag_id.in_(sorted(readable_dags)))
    if filters.run_id:
        groups = groups.where(xcoms.c.run_id == filters.run_id)
    if filters.generation_id:
        groups = groups.where(xcoms.c.generation_id == filters.generation_id)
    groups = groups.group_by(xcoms.c.dag_run_id, xcoms.c.generation_id)
    if filters.task_id:
        of_task = and_(xcoms.c.task_id == filters.task_id, xcoms.c.map_index == filters.map_index)
        groups = groups.having(func.max(case((of_task, 1), else_=0)) == 1)
    if filters.status:
        groups = groups.having(func.max(xcoms.c.rank) == STATUS_RANKS[filters.status])
    offset = (filters.page - 1) * filters.page_size
    rows = session.execute(
        groups.add_columns(func.count().over().label("total"))
        .order_by(
            func.min(xcoms.c.timestamp).desc(), xcoms.c.dag_run_id.desc(), xcoms.c.generation_id
        )
        .limit(filters.page_size)
        .offset(offset)
    ).all()
    if not rows:
        total = 0
        if offset:
            total = session.scalar(select(func.count()).select_from(groups.subquery()))
        return Page([], int(total or 0), filters)

    wanted = {(row.dag_run_id, row.generation_id): row for row in rows}
    # The page's runs only, by the xcom table's primary key (its first column): a filter on
    # the union above would decode every run's rows again.
    parts_found = session.execute(
        select(*_identity(), XComModel.value).where(
            XComModel.dag_run_id.in_({row.dag_run_id for row in rows}),
            XComModel.key.in_((XCOM_KEY, RETURN_VALUE_KEY)),
        )
    ).all()
    found: dict[tuple[int, str], list[tuple[Any, dict[str, Any]]]] = defaultdict(list)
    for part in parts_found:
        record = _as_record(part)
        if record is not None and (part.dag_run_id, record["generation_id"]) in wanted:
            found[(part.dag_run_id, record["generation_id"])].append((part, record))

    generations = []
    for key, row in wanted.items():
        parts = found.get(key) or []
        if not parts:
            continue
        generation = Generation(
            dag_id=parts[0][0].dag_id,
            run_id=parts[0][0].run_id,
            generation_id=row.generation_id,
            submitted=row.submitted,
            record=merge_records([record for _, record in parts]),
        )
        generation.record["status"] = RANK_STATUSES.get(row.rank, generation.status)
        for part, record in parts:
            generation.tasks[str(record.get("stage"))] = TaskRef(
                part.dag_id, part.run_id, part.task_id, part.map_index
            )
        generations.append(generation)
    return Page(generations, int(rows[0].total), filters)


def _as_record(row: Any) -> dict[str, Any] | None:
    """A row of the page as a record: a ``grokvideo`` record as pushed, a wait result as the
    finished record it stands for (finished when it was pushed)."""
    value = row.value
    if not isinstance(value, dict) or not value.get("generation_id"):
        return None
    if row.key == XCOM_KEY:
        return value
    finished = row.timestamp.timestamp() if row.timestamp is not None else None
    return result_record(value, finished)


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
