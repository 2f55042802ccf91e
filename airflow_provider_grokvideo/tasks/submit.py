"""The durable submit of one video, with failover: what a submitting task does before it has an
id to wait for.

One try of a generate, edit or extension task (:class:`SubmittingTask`) calls
:func:`submit_or_reattach`, which

1. reads the task instance's submit record (:mod:`.submit_record`) on a later try: a recorded
   id is carried on with, nothing is sent;
2. builds the request for ``conn_id`` and each of ``fallback_conn_ids`` in its own upstream's
   dialect, validated and priced under ``max_cost_usd``, before anything is recorded or sent;
3. decides, from an earlier try's marker without an id, whether to refuse, resubmit on purpose
   or replay the identical request with its idempotency key (``submit_record.decide``);
4. submits to the first candidate that takes it: its estimate reserved on the connection's
   spend budget, the marker written as the request leaves, the next candidate tried only after
   an outcome that surely made no job (``failover.no_job_reason``).

It returns :class:`Submitted` (the id, the connection that made it, its estimate); the operator
records it for the page and waits on it.  The words of a failure that is not retried are here
(:func:`submit_error`); whether a failed request may have made a job is
:mod:`airflow_provider_grokvideo.hooks.outcomes`' to say.

The operators import this when their task runs, never at a DAG parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_grokvideo.compat import AirflowFailException
from airflow_provider_grokvideo.tasks.rendered import as_bool, as_conn_ids

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_grokvideo.budget.spend import Reservation
    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.tasks.submit_record import SubmitLedger, SubmitRecord
    from airflow_provider_grokvideo.tasks.upstream_call import Candidate, UpstreamCall


class SubmittingTask(Protocol):
    """What the submit reads of its task (the generate operator and its subclasses), as
    rendered."""

    conn_id: str
    fallback_conn_ids: Any
    prompt: Any
    max_cost_usd: Any
    resubmit_unknown: Any
    #: The upstream of ``conn_id``, set here once its hook is known: ``model`` applies to the
    #: connections of that upstream only (the task's ``_model_for``).
    _primary_upstream: str | None

    @property
    def log(self) -> Any: ...

    def _upstream_call(self, hook: GrokVideoHook) -> UpstreamCall:
        """The validated request for ``hook``'s upstream (``InvalidVideoRequest`` if bad)."""
        ...


@dataclass(frozen=True)
class Submitted:
    """A generation this try submitted, or (``reattached``) an earlier try's.

    ``conn_id`` and ``hook`` are the connection that made it (after a failover, not the task's
    first): the wait polls it.  ``cost_estimate`` is the estimate of the last candidate that had
    one (``CostEstimate.to_dict()``), ``None`` when none had one or nothing was estimated."""

    generation_id: str
    conn_id: str
    hook: GrokVideoHook
    cost_estimate: dict[str, Any] | None = None
    reattached: bool = False


def submit_or_reattach(task: SubmittingTask, context: Context) -> Submitted:
    """Submit ``task``'s video once per task instance (see the module's docstring)."""
    return _DurableSubmit(task, context).run()


class _DurableSubmit:
    """One try's submit: its state lives as long as the try."""

    def __init__(self, task: SubmittingTask, context: Context) -> None:
        self.task = task
        self.context = context
        self.log = task.log
        self.resubmitting = False
        self.estimate: dict[str, Any] | None = None

    def run(self) -> Submitted:
        from airflow_provider_grokvideo.hooks import get_video_hook
        from airflow_provider_grokvideo.tasks.submit_record import decide, unknown_submit_message

        context = self.context
        ledger = _ledger(context, self.log)
        # A first try has no earlier try whose record it could carry on (a retry, or a user's
        # clear, runs as the next try): one Execution API call per video saved.
        record = ledger.read() if ledger is not None and try_number(context) > 1 else None
        if record is not None and record.generation_id:
            return self._reattach(get_video_hook(record.conn_id), record, ledger)

        # Every candidate validated (and priced under max_cost_usd) before anything is
        # recorded or sent: bad input costs no request, on any of them.
        candidates = self._candidates()
        # An earlier try's marker belongs to the connection it was sent to.
        mine = next((c for c in candidates if record and c.conn_id == record.conn_id), None)
        decision = decide(
            record,
            resubmit_unknown=as_bool(self.task.resubmit_unknown),
            fingerprint=mine.fingerprint if mine else None,
            replayable=mine is not None and mine.hook.idempotent,
        )
        if decision == "refuse" and record is not None:
            ti = context.get("ti")
            raise AirflowFailException(
                unknown_submit_message(
                    record,
                    fingerprint=(mine or candidates[0]).fingerprint,
                    dag_id=getattr(ti, "dag_id", None),
                    run_id=getattr(ti, "run_id", None),
                    task_id=getattr(ti, "task_id", None),
                    map_index=getattr(ti, "map_index", None),
                )
            )
        self.resubmitting = decision == "resubmit"
        if decision == "resubmit" and record is not None:
            self.log.warning(
                "resubmit_unknown is set: submitting again although try %s's submit of %s may "
                "have created (and billed) a job",
                record.try_number,
                record.sent_at,
            )
        if decision == "replay" and record is not None and mine is not None:
            self.log.info(
                "Try %s's submit to %s (sent at %s) ended before its answer was read; sending "
                "the identical request again with its Idempotency-Key %s: %s answers the "
                "original job rather than making a second",
                record.try_number,
                record.upstream,
                record.sent_at,
                record.idempotency_key,
                record.upstream,
            )
            # The earlier request may have made the job: only that connection, with its key.
            return self._submit_to([mine], ledger, replay_key=record.idempotency_key)
        return self._submit_to(candidates, ledger)

    def _reattach(
        self, hook: GrokVideoHook, record: SubmitRecord, ledger: SubmitLedger | None
    ) -> Submitted:
        """Carry on with the generation an earlier try submitted (its id is recorded)."""
        from airflow_provider_grokvideo.tasks.submit_record import request_fingerprint

        assert record.generation_id
        self.log.info(
            "Submitting nothing: try %s already submitted generation %s through %s at %s "
            "(task state store key %r); carrying on with it",
            record.try_number,
            record.generation_id,
            record.conn_id,
            record.sent_at,
            ledger.key if ledger is not None else "",
        )
        try:
            upstream = self.task._upstream_call(hook)
        except Exception:
            upstream = None  # the request no longer validates: the video exists all the same
        if upstream is None or record.fingerprint != request_fingerprint(
            upstream.call.method, upstream.call.path, upstream.call.json
        ):
            self.log.warning(
                "The request has changed since generation %s was submitted; it is reused "
                "all the same (never pay twice). To generate the new request, delete the "
                "task's state store record first.",
                record.generation_id,
            )
        return Submitted(record.generation_id, record.conn_id, hook, reattached=True)

    def _candidates(self) -> list[Candidate]:
        """``conn_id`` then each of ``fallback_conn_ids``, each with its request in its own
        upstream's dialect, validated and checked against ``max_cost_usd``.  Those that refuse
        it are left out (logged); when none accepts it, the task fails naming each reason."""
        from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
        from airflow_provider_grokvideo.hooks import get_video_hook
        from airflow_provider_grokvideo.tasks.costs import estimate_before_submit
        from airflow_provider_grokvideo.tasks.upstream_call import Candidate

        task = self.task
        conn_ids = [task.conn_id, *as_conn_ids(task.fallback_conn_ids)]
        accepted: list[Candidate] = []
        refusals: list[str] = []
        for conn_id in dict.fromkeys(conn_ids):  # each once, in order
            hook = get_video_hook(conn_id)
            if task._primary_upstream is None:
                task._primary_upstream = hook.dialect.name
            try:
                upstream = task._upstream_call(hook)
                estimate = estimate_before_submit(task.max_cost_usd, hook, upstream, self.log)
            except (InvalidVideoRequest, AirflowFailException) as exc:
                if len(conn_ids) == 1 and isinstance(exc, AirflowFailException):
                    raise
                if len(conn_ids) == 1:
                    raise AirflowFailException(str(exc)) from exc
                refusals.append(f"{conn_id}: {exc}")
                self.log.warning("Connection %s cannot take this request: %s", conn_id, exc)
                continue
            accepted.append(Candidate(conn_id, hook, upstream, estimate))
        if not accepted:
            raise AirflowFailException(
                "No connection accepts this request, so nothing was sent: " + "; ".join(refusals)
            )
        return accepted

    def _submit_to(
        self,
        candidates: list[Candidate],
        ledger: SubmitLedger | None,
        *,
        replay_key: str | None = None,
    ) -> Submitted:
        """Submit to the first candidate; go to the next only after an outcome that surely
        created no job (``tasks.failover.no_job_reason``), never after one that may have."""
        from airflow_provider_grokvideo.budget.spend import BudgetExceeded
        from airflow_provider_grokvideo.tasks.failover import no_job_reason
        from airflow_provider_grokvideo.tasks.submit_record import (
            LedgerJournal,
            MemoryStore,
            SubmitLedger,
            SubmitRecord,
            idempotency_key,
        )

        ti = self.context.get("ti")
        passed: list[str] = []
        for number, candidate in enumerate(candidates, 1):
            hook = candidate.hook
            key = replay_key
            if key is None and hook.dialect.idempotency_keys and ti is not None:
                key = idempotency_key(
                    ti.dag_id, ti.run_id, ti.task_id, ti.map_index, candidate.fingerprint
                )
            marker = SubmitRecord.before_send(
                conn_id=candidate.conn_id,
                upstream=hook.dialect.name,
                fingerprint=candidate.fingerprint,
                try_number=getattr(ti, "try_number", None),
                idempotency_key=key if hook.dialect.idempotency_keys else None,
                model=candidate.model,
                prompt=self.task.prompt,
            )
            # The marker is written once the request budget grants the POST its turn, right
            # before it leaves, and removed after an answer that surely made no job; the hook
            # writes the id before anything else.  A crash while a request may be in flight is
            # known to later tries.  Without a state store the journal still knows it, for
            # failover.
            journal = LedgerJournal(
                ledger or SubmitLedger(MemoryStore()),
                marker,
                job_may_exist=replay_key is not None,
            )
            try:  # the money first (see budget/spend.py): refused here, nothing is sent
                held = self._reserve(candidate, ti)
            except BudgetExceeded as exc:
                if number == len(candidates):
                    raise AirflowFailException(f"{exc}{failed_over_before(passed)}") from exc
                passed.append(f"{candidate.conn_id} ({hook.dialect.name}): over its budget")
                self.log.warning("%s; failing over to %s", exc, candidates[number].conn_id)
                continue
            if candidate.estimate is not None:
                self.estimate = candidate.estimate.to_dict()  # the one-task wait's result
            try:
                generation_id = hook.submit_call(
                    candidate.upstream.call, idempotency_key=key, journal=journal
                )
            except Exception as exc:
                if held is not None and not journal.job_may_exist:
                    held.release(self.log)
                reason = None if journal.job_may_exist else no_job_reason(exc, hook.dialect)
                if reason is not None and number < len(candidates):
                    passed.append(f"{candidate.conn_id} ({hook.dialect.name}): {reason}")
                    self.log.warning(
                        "Connection %s (%s) made no job: %s; failing over to connection %s",
                        candidate.conn_id,
                        hook.dialect.name,
                        reason,
                        candidates[number].conn_id,
                    )
                    continue
                raise submit_error(exc, passed, self.log) from exc
            if held is not None:
                held.created(generation_id, self.log)
            self.log.info(
                "Submitted generation %s through connection %s%s",
                generation_id,
                candidate.conn_id,
                f" (after {'; '.join(passed)})" if passed else "",
            )
            return Submitted(generation_id, candidate.conn_id, hook, self.estimate)
        raise AssertionError("unreachable: the last candidate returns or raises")

    def _reserve(self, candidate: Candidate, ti: Any) -> Reservation | None:
        """Reserve the candidate's estimate on its connection's spend budget, named by this
        task instance's request (a retry finds its own reservation; a deliberate resubmit
        is a second job, so a second reservation)."""
        import uuid

        from airflow_provider_grokvideo.budget.spend import reserve_submit
        from airflow_provider_grokvideo.tasks.submit_record import idempotency_key, prompt_start

        names = [getattr(ti, name, None) for name in ("dag_id", "run_id", "task_id")]
        if not all(names):  # no task instance to name it by (a test's bare execute)
            ident = f"submit:{uuid.uuid4().hex}"
        else:
            dag_id, run_id, task_id = (str(name) for name in names)
            map_index = getattr(ti, "map_index", None)
            ident = "submit:" + idempotency_key(
                dag_id, run_id, task_id, map_index, candidate.fingerprint
            )
            if self.resubmitting:
                ident += f":try{getattr(ti, 'try_number', 0)}"
        estimate = candidate.estimate
        what = f"the video {prompt_start(str(self.task.prompt))!r}"
        ticks = estimate.cost_ticks if estimate is not None else None
        return reserve_submit(candidate.hook, ticks, ident, what, self.log)


def submit_error(error: BaseException, passed: list[str], log: Any) -> BaseException:
    """What the task raises for a submit that failed on its last candidate: the error itself
    where Airflow's retries are safe (it surely never reached the upstream, as
    ``hooks.outcomes.is_safe_submit_retry`` says), else an ``AirflowFailException`` saying why
    it is not retried.  ``passed``: the candidates failed over before, with why."""
    from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
    from airflow_provider_grokvideo.hooks.outcomes import is_safe_submit_retry

    before = failed_over_before(passed)
    if isinstance(error, InvalidVideoRequest):
        return AirflowFailException(f"{error}{before}")
    if is_safe_submit_retry(error):
        if passed:
            log.warning("Every connection failed%s", before)
        return error
    return AirflowFailException(f"{error} (not retried: {why_not_retried(error)}){before}")


def why_not_retried(error: BaseException) -> str:
    """The words for a submit failure the hook's rule does not retry (the rule itself is
    ``hooks.outcomes.is_safe_submit_retry``)."""
    from airflow_provider_grokvideo.exceptions import SubmitOutcomeUnknown, UpstreamHTTPError

    if isinstance(error, SubmitOutcomeUnknown) or (
        isinstance(error, UpstreamHTTPError) and error.status_code >= 500
    ):
        return "the job may exist upstream; submitting again could bill it twice"
    if isinstance(error, UpstreamHTTPError):
        return "the upstream refused the request; fix it, then clear the task"
    return "fix the connection or the request, then clear the task"


def failed_over_before(passed: list[str]) -> str:
    """`` (failed over before: ...)`` after a failure's message, when candidates were passed."""
    return f" (failed over before: {'; '.join(passed)})" if passed else ""


def try_number(context: Context) -> int:
    """The running try's number; ``2`` where the context does not say (a bare ``execute``),
    so that the durable record is read whenever it is not sure to be absent."""
    try:
        return int(getattr(context.get("ti"), "try_number", None) or 2)
    except (TypeError, ValueError):
        return 2


def _ledger(context: Context, log: Any) -> SubmitLedger | None:
    """The task instance's submit record in its task state store (None before Airflow 3.3)."""
    from airflow_provider_grokvideo.compat import task_state_store
    from airflow_provider_grokvideo.tasks.submit_record import SubmitLedger

    store = task_state_store(context, log)
    if store is None:
        return None
    return SubmitLedger(store)
