"""The durable record of a paid submit, kept in Airflow 3.3's task state store.

A generate task writes down what it is about to pay for *before* sending the request, and the
upstream's generation id as soon as the answer is read.  The task state store
(``compat.task_state_store(context)``) keeps it across the tries of one task instance, one record
per map index, so a later try (a retry after the worker was killed, or a clear) reads it first:

- an id is recorded: the job exists; submit nothing and carry on with that id;
- a marker without an id: the last try died mid-submit, and the job may exist upstream and be
  billed: refuse to submit again (:func:`unknown_submit_message` says how to do so on purpose),
  unless the upstream honors the marker's idempotency key: then send the identical request
  again with that key, and the upstream answers the original job (APIMart);
- nothing recorded: submit.

The marker says "a request may be in flight" only from the moment the key's request budget has
granted the POST its turn (the request is then written to the socket at once) until an answer
that surely created no job (:class:`LedgerJournal`): a try killed while it waits for the budget,
or in the back-off sleep after a 429, leaves nothing unknown behind.  The marker keeps when the
request was sent, its model and its prompt's first words, so that a person checking the
upstream's dashboard after a refusal knows which job to look for.

Airflow's own ``ResumableJobMixin`` records only the id, after the submit returns, so a crash
between the two still submits twice; the marker closes that window.  This module holds the
record and the rule and nothing else: no I/O but the store it is given, no hook, no Airflow
import, so it is tested with any object that has the store's ``get``/``set``/``delete``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

#: The state store key of the record.  Renaming it would make in-flight retries of deployed
#: tasks miss their record and submit again: never rename it.
RECORD_KEY = "grokvideo_submit"
#: The operator parameter that submits anyway after an unknown submit.
RESUBMIT_PARAMETER = "resubmit_unknown"
#: The record keeps this many of the prompt's first words (enough to find the job on the
#: upstream's dashboard, without copying a long prompt into the metadata database).
PROMPT_WORDS = 8
PROMPT_CHARS = 80

Decision = Literal["submit", "reattach", "refuse", "resubmit", "replay"]


class TaskStateStore(Protocol):
    """What this module uses of Airflow's ``TaskStateStoreAccessor``."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class SubmitRecord:
    """One submit of one task instance: the marker, then (once answered) the id."""

    sent_at: str  # ISO 8601, UTC: when the request was sent (its budget turn granted)
    conn_id: str
    upstream: str
    fingerprint: str  # of the request sent (see request_fingerprint); never holds the key
    try_number: int | None = None
    generation_id: str | None = None
    answered_at: str | None = None
    #: The ``Idempotency-Key`` sent, where the upstream takes one (see :func:`idempotency_key`).
    idempotency_key: str | None = None
    #: The model sent (``None``: the request named none) and the prompt's first words
    #: (:func:`prompt_start`): what the upstream's dashboard shows of the job.
    model: str | None = None
    prompt: str | None = None

    @classmethod
    def before_send(
        cls,
        *,
        conn_id: str,
        upstream: str,
        fingerprint: str,
        try_number: int | None,
        idempotency_key: str | None = None,
        model: str | None = None,
        prompt: str | None = None,
        now: datetime | None = None,
    ) -> SubmitRecord:
        return cls(
            sent_at=_iso(now),
            conn_id=conn_id,
            upstream=upstream,
            fingerprint=fingerprint,
            try_number=try_number,
            idempotency_key=idempotency_key,
            model=model,
            prompt=None if prompt is None else prompt_start(prompt),
        )

    def sent_again(self, now: datetime | None = None) -> SubmitRecord:
        """The marker of the next attempt of the same request."""
        return replace(self, sent_at=_iso(now))

    def answered(self, generation_id: str, now: datetime | None = None) -> SubmitRecord:
        return replace(self, generation_id=generation_id, answered_at=_iso(now))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> SubmitRecord | None:
        """The record stored as ``value``, or ``None`` for anything that is not one."""
        if not isinstance(value, dict) or not value.get("sent_at"):
            return None
        known = {name: value.get(name) for name in cls.__dataclass_fields__}
        known["generation_id"] = str(known["generation_id"]) if known["generation_id"] else None
        return cls(**known)  # type: ignore[arg-type]


def prompt_start(prompt: str) -> str:
    """The prompt's first :data:`PROMPT_WORDS` words (at most :data:`PROMPT_CHARS` characters),
    with "..." when it goes on."""
    words = prompt.split()
    start = " ".join(words[:PROMPT_WORDS])
    if len(start) > PROMPT_CHARS:
        start = start[:PROMPT_CHARS].rstrip()
    return start + ("..." if start != " ".join(words) else "")


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """A short digest of the request as sent (method, path, JSON body): tells a retry whether
    it is about to send the same request as the recorded one.  The API key is not part of it,
    nor a direct delivery's presigned URL (``output.upload_url``: signed anew on each try, for
    the same object)."""
    if isinstance(body, dict) and isinstance(body.get("output"), dict):
        body = {**body, "output": {**body["output"], "upload_url": "<presigned>"}}
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def idempotency_key(
    dag_id: str, run_id: str, task_id: str, map_index: int | None, fingerprint: str
) -> str:
    """The ``Idempotency-Key`` of one logical request of one task instance: the same on every
    try of the same request, different for another task instance or another request.  68
    visible ASCII characters, within APIMart's 1 to 191; a digest, so it carries no prompt."""
    index = -1 if map_index is None else map_index
    identity = json.dumps([dag_id, run_id, task_id, index, fingerprint], separators=(",", ":"))
    return "grokvideo-" + hashlib.sha256(identity.encode()).hexdigest()[:58]


def decide(
    record: SubmitRecord | None,
    *,
    resubmit_unknown: bool = False,
    fingerprint: str | None = None,
    replayable: bool = False,
) -> Decision:
    """What a try does, given what earlier tries of its task instance recorded.

    ``replayable``: the connection's host honors idempotency keys.  A marker without an id is
    then sent again (``"replay"``) when it carries a key and the request is the identical one
    (its ``fingerprint``): the upstream answers the original job.  A changed request would need
    a new key, that is a new job, so it is refused as anywhere else.
    """
    if record is None:
        return "submit"
    if record.generation_id:
        return "reattach"
    if resubmit_unknown:
        return "resubmit"
    if replayable and record.idempotency_key and record.fingerprint == fingerprint:
        return "replay"
    return "refuse"


class SubmitLedger:
    """The record of one task instance in its task state store."""

    def __init__(self, store: TaskStateStore, key: str = RECORD_KEY) -> None:
        self.store = store
        self.key = key

    def read(self) -> SubmitRecord | None:
        return SubmitRecord.from_json(self.store.get(self.key))

    def write(self, record: SubmitRecord) -> None:
        # One key, overwritten whole: a reader sees the marker or the answered record, never
        # half of one.  The store's default retention ([state_store] default_retention_days).
        self.store.set(self.key, record.to_json())

    def forget(self) -> None:
        """Remove the marker of a submit that surely created no job (refused, never sent)."""
        self.store.delete(self.key)


class MemoryStore:
    """A task state store that lives as long as the try: where Airflow has none (before 3.3),
    the journal still tells whether a job may exist, for failover."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def delete(self, key: str) -> None:
        self._values.pop(key, None)


class LedgerJournal:
    """Keeps the ledger's marker true while a submit's attempts run (the hook's
    ``SubmitJournal``): written once the request budget has granted a POST its turn, just
    before the request leaves (the wait for the budget sends nothing), removed after an answer
    that surely created no job, so that it says "a job may exist" only when one may; replaced
    by the id as soon as the answer is read.

    Once an attempt has ended without such an answer (a lost answer retried with its key), or
    when the try began from an earlier try's marker, the marker stays until the id replaces it:
    a job may exist from then on, whatever the later attempts answer.  Writes only on a change:
    a submit answered at once costs two (the marker, the id), as before.

    :param now: the clock of the record's times (tests inject one).
    """

    def __init__(
        self,
        ledger: SubmitLedger,
        marker: SubmitRecord,
        *,
        job_may_exist: bool = False,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.ledger = ledger
        self.marker = marker
        self._written = False
        self._in_flight = False
        self._job_may_exist = job_may_exist
        self._now = now or _utcnow

    @property
    def job_may_exist(self) -> bool:
        """Whether an attempt so far may have made a job (then nothing may fail over)."""
        return self._job_may_exist or self._in_flight

    def sending(self) -> None:
        if self._in_flight:  # the previous attempt ended with no answer that rules a job out
            self._job_may_exist = True
        if not self._written:
            # When this attempt leaves.  A failed write raises here, before the request.
            self.marker = self.marker.sent_again(self._now())
            self.ledger.write(self.marker)
            self._written = True
        self._in_flight = True

    def not_sent(self) -> None:
        self._in_flight = False
        if self._written and not self._job_may_exist:
            self.ledger.forget()
            self._written = False

    def answered(self, generation_id: str) -> None:
        self._in_flight = False
        self.ledger.write(self.marker.answered(generation_id, self._now()))
        self._written = True


def state_store_url_path(dag_id: str, run_id: str, task_id: str, map_index: int | None) -> str:
    """The REST API path (``DELETE`` it) of this task instance's record."""
    from urllib.parse import quote

    path = (
        f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
        f"/taskInstances/{quote(task_id, safe='')}/state-store/{RECORD_KEY}"
    )
    if map_index is not None and map_index >= 0:
        path += f"?map_index={map_index}"
    return path


def unknown_submit_message(
    record: SubmitRecord,
    *,
    fingerprint: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: int | None = None,
) -> str:
    """Why a try refuses to submit after an earlier try died mid-submit, and how to submit
    anyway on purpose."""
    by = f"try {record.try_number}" if record.try_number else "an earlier try"
    what = "".join(
        (
            f"connection {record.conn_id!r}",
            f", model {record.model!r}" if record.model else "",
            f", prompt {record.prompt!r}" if record.prompt else "",
        )
    )
    message = (
        f"Not submitting: {by} of this task sent a submit to {record.upstream} ({what}) at "
        f"{record.sent_at} and ended before reading the answer. The job may exist upstream and "
        f"be billed; submitting again could pay for a second video. Check the upstream's "
        f"dashboard for a job of that model and prompt made at that time."
    )
    if fingerprint is not None and fingerprint != record.fingerprint:
        message += " (The request has changed since: its fingerprint differs.)"
    message += (
        f" To submit anyway on purpose, either run the task once with "
        f"{RESUBMIT_PARAMETER}=True, or delete its submit record, key {RECORD_KEY!r} of the "
        f"task's state store"
    )
    if dag_id and run_id and task_id:
        path = state_store_url_path(dag_id, run_id, task_id, map_index)
        message += f' (REST API: curl -X DELETE "$AIRFLOW_API_URL{path}" with your credentials)'
    message += ", then clear the task."
    return message


def _utcnow() -> datetime:
    return datetime.now(tz=timezone.utc)


def _iso(now: datetime | None) -> str:
    moment = now or _utcnow()
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")
