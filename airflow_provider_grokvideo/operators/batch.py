"""One task, one xAI batch of many videos, every video stored: :class:`GrokVideoBatchOperator`.

xAI's Batch API bills batch requests at reduced prices (the guide: 50 % off), outside the rate
limits, typically within 24 hours; **its result URLs expire after one hour**.  The operator:

1. validates every request as the interactive submit would (a refusal names ``requests[i]``
   and the field) and checks ``max_cost_usd`` on the estimate at batch prices: all before
   anything is sent;
2. creates the batch and records its id in the task state store *before* adding requests;
   each request's ``batch_request_id`` is derived from the task instance and its index, so a
   retry (or a worker killed mid-way) re-attaches, lists what the batch holds and adds only
   what it lacks: never a second batch, never a request twice;
3. waits in the triggerer (:class:`~airflow_provider_grokvideo.triggers.batch.
   GrokVideoBatchTrigger`: one counter read per poll), which fires as soon as new results are
   there; the task lists them, stores each video (checked: length and ``ftyp``) and defers
   again with the new count.  No result waits more than a poll interval plus a store round,
   however long the batch runs: its one-hour URL is never lost;
4. returns one entry per request, in order: ``VideoGeneration.to_dict()`` (billed cost from
   ``usage.cost_in_usd_ticks``) plus ``batch_request_id``, ``batch_id`` and the stored
   ``uris``.  ``fail_on_partial_error`` fails the task after every success is stored.

What each stored result is recorded in the state store as it is stored, so a retry never needs
a URL again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_grokvideo.compat import AirflowFailException, deferral_blocked

# The dialect is pure and light; the trigger (and Airflow's trigger base) is imported only
# when the task defers, never by a DAG parse.
from airflow_provider_grokvideo.dialects.xai_batch import DEFAULT_BATCH_POLL_INTERVAL, batch_event

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_grokvideo.budget.spend import Reservation
    from airflow_provider_grokvideo.dialects.xai_batch import Batch, BatchRequest, BatchResult
    from airflow_provider_grokvideo.hooks.xai import XAIVideoHook

#: The state store key of the batch record.  Never rename it: a retry of a deployed task would
#: miss its batch and make a second one.
RECORD_KEY = "grokvideo_batch"
#: A batch lives 24 hours at xAI ("typically within 24 hours"), plus a margin.
DEFAULT_BATCH_TIMEOUT = 26 * 3600.0
DEFAULT_BATCH_CONN_ID = "grokvideo_xai_default"
#: How many stored videos between two saves of the record (a retry re-downloads at most these,
#: and the download keeps a complete copy already in place).
SAVE_EVERY = 10


class GrokVideoBatchOperator(BaseOperator):
    """Generate many videos in one xAI batch (half price, no rate limit) and store them all.

    :param requests: a list of dicts of neutral parameters, as ``submit_video`` takes them
        (``prompt``, ``duration``, ``aspect_ratio``, ``resolution``, ``image_urls``,
        ``reference_image_urls``, ``model``); an edit adds ``video_url`` (and
        ``source_duration`` when known), an extension ``operation="extend"`` too.  Templated:
        an upstream task's XCom list works.
    :param destination: the folder (``ObjectStoragePath`` URI) where each video is stored as
        ``<batch_request_id>.mp4``.  Templated.
    :param conn_id: an xAI connection (``grokvideo_xai``).
    :param max_cost_usd: a cap on the whole batch's estimate at batch prices, checked before
        anything is sent (None: no cap).
    :param timeout: seconds from the first try after which the task stores what is there,
        cancels the batch and fails.
    :param deferrable: wait in the triggerer (default) or on the worker.
    :param poll_interval: seconds between two reads of the batch's counters (keep it well
        under an hour: a result's URL lives one hour).
    :param fail_on_partial_error: fail the task when some request failed, after every
        success is stored (default True); False returns the failed entries as they are.
    :param batch_name: the batch's name at xAI (default: dag, task, run).
    """

    template_fields: Sequence[str] = ("requests", "destination", "max_cost_usd", "batch_name")
    template_fields_renderers: ClassVar[dict[str, str]] = {"requests": "json"}
    ui_color = "#e8f1ff"

    def __init__(
        self,
        *,
        requests: Sequence[Mapping[str, Any]] | str,
        destination: str | Any,
        conn_id: str = DEFAULT_BATCH_CONN_ID,
        max_cost_usd: Decimal | float | str | None = None,
        timeout: float = DEFAULT_BATCH_TIMEOUT,
        deferrable: bool = True,
        poll_interval: float = DEFAULT_BATCH_POLL_INTERVAL,
        fail_on_partial_error: bool = True,
        batch_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.requests = requests
        self.destination = destination
        self.conn_id = conn_id
        self.max_cost_usd = max_cost_usd
        self.timeout = float(timeout)
        self.deferrable = deferrable
        self.poll_interval = float(poll_interval)
        self.fail_on_partial_error = fail_on_partial_error
        self.batch_name = batch_name
        self._batch_id: str | None = None
        self._store_of: tuple[Any, Any] | None = None
        self._defer_ok: bool | None = None
        #: Injected by tests: the wall clock and the worker's sleep.
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], Any] = time.sleep

    # -- the first try ------------------------------------------------------------------------
    def execute(self, context: Context) -> list[dict[str, Any]]:
        hook = self._hook()
        requests = _as_requests(self.requests)
        ids = request_ids(context, len(requests))
        built = hook.build_batch_requests(requests, ids)
        estimate_ticks = self._check_cost(hook, built)
        held = self._reserve(hook, context, estimate_ticks, len(built))  # refused: nothing sent
        store = self._store(context)
        record: dict[str, Any] | None = store.get(RECORD_KEY) if store is not None else None
        name = batch_name(self.batch_name, context)
        if record and record.get("conn_id") == self.conn_id and record.get("batch_id"):
            self.log.info(
                "re-attaching to batch %s (%d result(s) stored by an earlier try)",
                record["batch_id"],
                len(record.get("entries") or {}),
            )
        else:
            found = None
            if int(getattr(context["ti"], "try_number", 1) or 1) > 1:
                # A retry with nothing recorded (no store, or the worker died between the
                # create and the record): its batch is found by its name, unique to the task
                # instance, so that it is never made twice.
                found = hook.find_batch(name)
                if found is not None:
                    self.log.info("re-attaching to batch %s, found by its name", found.batch_id)
            batch = found or hook.create_batch(name)
            record = {
                "batch_id": batch.batch_id,
                "conn_id": self.conn_id,
                "deadline": self.clock() + self.timeout,
                "entries": {},
            }
            # Before any request is added: a retry finds this batch, never makes a second.
            if store is not None:
                store.set(RECORD_KEY, record)
        batch_id = record["batch_id"]
        self._batch_id = batch_id
        there = hook.batch_request_ids(batch_id)
        missing = [b for b in built if b.batch_request_id not in there]
        if missing:
            try:
                calls = hook.add_batch_requests(batch_id, missing)
            except Exception as exc:
                from airflow_provider_grokvideo.hooks.outcomes import may_have_created_a_job

                # Nothing of the batch is paid for yet: the money is free again.
                if held is not None and not there and not may_have_created_a_job(exc):
                    held.release(self.log)
                raise
            self.log.info(
                "added %d request(s) to batch %s in %d call(s)%s",
                len(missing),
                batch_id,
                calls,
                f" ({len(there)} already there)" if there else "",
            )
        return self._collect(context, hook, record)

    def execute_complete(
        self, context: Context, event: dict[str, Any], record: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The trigger fired: store the new results, then finish or defer again.

        The record comes from the task state store (the truth: it holds every result stored,
        also by a try that died after deferring), else from the deferral's kwargs (an Airflow
        without a store; ``dag.test()`` passes only the event)."""
        store = self._store(context)
        if store is not None:
            record = store.get(RECORD_KEY) or record
        if not record:
            raise AirflowFailException("the batch's record is lost: neither stored nor passed")
        self._batch_id = record["batch_id"]
        if event.get("status") == "error":
            raise AirflowFailException(f"batch {record['batch_id']}: {event.get('message')}")
        return self._collect(context, self._hook(), record)

    # -- a round: list, store, decide -----------------------------------------------------------
    def _collect(
        self, context: Context, hook: XAIVideoHook, record: dict[str, Any]
    ) -> list[dict[str, Any]]:
        requests = _as_requests(self.requests)
        ids = request_ids(context, len(requests))
        while True:
            # Counters first: every result finished by then is in the listing that follows.
            batch = hook.get_batch(record["batch_id"])
            known = batch.num_success + batch.num_error
            # Results are listed (N/100 requests) only when more have finished than were
            # listed: a poll that finds nothing new costs one request.
            if known > record.get("listed", -1):
                self._store_new_results(context, hook, record, set(ids))
                record["listed"] = known
            event = batch_event(batch, known, self.clock(), record["deadline"])
            if event is not None and event["status"] in ("done", "timeout"):
                return self._finish(context, hook, batch, record, ids, event["status"])
            if self._may_defer():
                from airflow_provider_grokvideo.triggers.batch import GrokVideoBatchTrigger

                self.defer(
                    trigger=GrokVideoBatchTrigger(
                        conn_id=self.conn_id,
                        batch_id=record["batch_id"],
                        known=known,
                        deadline=record["deadline"],
                        poll_interval=self.poll_interval,
                    ),
                    method_name="execute_complete",
                    # The store holds the record where there is one; only without it does the
                    # record (which grows with the stored videos) travel with the deferral.
                    kwargs={} if self._store(context) is not None else {"record": record},
                )
            self.sleep(self.poll_interval)

    def _store_new_results(
        self, context: Context, hook: XAIVideoHook, record: dict[str, Any], ours: set[str]
    ) -> None:
        from airflow.sdk import ObjectStoragePath

        from airflow_provider_grokvideo.delivery.download import make_download_client

        entries: dict[str, Any] = record.setdefault("entries", {})
        new = [
            r
            for r in hook.batch_results(record["batch_id"])
            if r.batch_request_id in ours and r.batch_request_id not in entries
        ]
        if not new:
            return
        destination = ObjectStoragePath(self.destination)
        store = self._store(context)
        with make_download_client() as client:
            for done, result in enumerate(new, 1):
                entries[result.batch_request_id] = self._store_one(
                    result, destination, client, record["batch_id"]
                )
                # Stored videos survive a dead worker: a retry never needs their URLs again.
                # Every SAVE_EVERY videos, not each: the record grows with the batch.
                if store is not None and (done % SAVE_EVERY == 0 or done == len(new)):
                    store.set(RECORD_KEY, record)
        self.log.info("stored %d new result(s) of batch %s", len(new), record["batch_id"])

    def _store_one(
        self, result: BatchResult, destination: Any, client: Any, batch_id: str
    ) -> dict[str, Any]:
        from airflow_provider_grokvideo.delivery.download import (
            VideoURLExpired,
            download_file,
            video_file_names,
        )

        generation = result.generation
        entry = {**generation.to_dict(), "batch_request_id": result.batch_request_id}
        entry["batch_id"] = batch_id
        stored = []
        if generation.status == "succeeded":
            names = video_file_names(
                "{generation_id}.mp4", generation.generation_id, len(generation.video_urls)
            )
            try:
                for url, name in zip(generation.video_urls, names, strict=True):
                    stored.append(download_file(url, destination / name, client=client))
            except VideoURLExpired as exc:
                # Lost to the one-hour rule (a task held up longer than the URL lives): this
                # video only; the others are still stored, and fail_on_partial_error decides.
                self.log.error("batch request %s: %s", result.batch_request_id, exc)
                entry.update(status="expired", error_code="url_expired", error_message=str(exc))
        entry["uris"] = [item.uri for item in stored]
        return entry

    def _finish(
        self,
        context: Context,
        hook: XAIVideoHook,
        batch: Batch,
        record: dict[str, Any],
        ids: list[str],
        how: str,
    ) -> list[dict[str, Any]]:
        from airflow_provider_grokvideo.models import VideoGeneration

        entries = record.get("entries") or {}
        if how == "timeout":
            self._cancel(hook, record["batch_id"], "the task's timeout passed")
        unfinished = "cancelled" if batch.cancel_time is not None or how == "timeout" else "expired"
        results: list[dict[str, Any]] = []
        for request_id in ids:
            entry = entries.get(request_id)
            if entry is None:
                entry = {
                    **VideoGeneration(request_id, unfinished).to_dict(),  # type: ignore[arg-type]
                    "batch_request_id": request_id,
                    "batch_id": record["batch_id"],
                    "uris": [],
                }
            results.append(entry)
        self._annotate_assets(context, record["batch_id"], results)
        failed = [(i, e) for i, e in enumerate(results) if e["status"] != "succeeded"]
        billed = sum(e["cost_ticks"] or 0 for e in results)
        from airflow_provider_grokvideo.pricing import format_usd, ticks_to_usd

        self._settle(context, hook, billed if any(e["cost_ticks"] for e in results) else None)
        self._record_for_the_page(context, record["batch_id"], results, len(failed), billed)

        self.log.info(
            "batch %s: %d of %d video(s) stored, billed %s",
            record["batch_id"],
            len(results) - len(failed),
            len(results),
            format_usd(ticks_to_usd(billed)),
        )
        if how == "timeout" or (failed and self.fail_on_partial_error):
            context["ti"].xcom_push(key="return_value", value=results)
            first = failed[0] if failed else None
            detail = ""
            if first is not None:
                index, entry = first
                why = entry.get("error_message") or ""
                detail = f"; requests[{index}]: {entry['status']} {why}".rstrip()
            raise AirflowFailException(
                f"batch {record['batch_id']}: {len(failed)} of {len(results)} request(s) did not "
                f"succeed{' (timed out)' if how == 'timeout' else ''}{detail}; every success is "
                "stored and listed in this task's XCom"
            )
        return results

    def _record_for_the_page(
        self,
        context: Context,
        batch_id: str,
        results: list[dict[str, Any]],
        failed: int,
        billed_ticks: int,
    ) -> None:
        """One record for the "Grok videos" page: the batch as one card (its id, its stored
        files, what it was billed).  A task pushes one record (one XCom key): a card per video
        would need the page to read several records of one task."""
        from airflow_provider_grokvideo.pricing import ticks_to_usd
        from airflow_provider_grokvideo.tasks.catalog import make_record, push_record

        videos = [uri for entry in results for uri in entry["uris"]]
        prompts = [str(p.get("prompt", "")) for p in _as_requests(self.requests)]
        try:
            page_record = make_record(
                "stored" if videos else "finished",
                batch_id,
                "failed" if failed else "succeeded",
                upstream="xai",
                conn_id=self.conn_id,
                prompt=f"xAI batch of {len(results)} video(s): " + " | ".join(prompts),
                cost_usd=float(ticks_to_usd(billed_ticks)) if billed_ticks else None,
                finished_at=self.clock(),
                videos=videos,
                batch={"videos": len(results), "failed": failed},
                error=f"{failed} of {len(results)} request(s) did not succeed" if failed else None,
            )
        except Exception as exc:  # the page only: never fail a paid batch over it
            self.log.warning("could not record batch %s for the page: %s", batch_id, exc)
            return
        push_record(context, page_record)

    # -- the rest -------------------------------------------------------------------------------
    def on_kill(self) -> None:
        """A user's kill of a task running on a worker cancels its batch (paid work)."""
        if self._batch_id is not None:
            self._cancel(self._hook(), self._batch_id, "the task was killed")

    def _cancel(self, hook: XAIVideoHook, batch_id: str, why: str) -> None:
        try:
            hook.cancel_batch(batch_id)
            self.log.warning("cancelled batch %s: %s", batch_id, why)
        except Exception as exc:
            self.log.error("could not cancel batch %s (%s): %s", batch_id, why, exc)

    def _reserve(
        self, hook: XAIVideoHook, context: Context, ticks: int | None, count: int
    ) -> Reservation | None:
        """Reserve the batch's estimate on the connection's spend budget, named by the task
        instance (a retry that re-attaches finds its reservation)."""
        from airflow_provider_grokvideo.budget.spend import BudgetExceeded, reserve_submit

        what = f"the xAI batch of {count} video(s)"
        try:
            return reserve_submit(hook, ticks, f"batch:{_instance_key(context)}", what, self.log)
        except BudgetExceeded as exc:
            raise AirflowFailException(str(exc)) from exc

    def _settle(self, context: Context, hook: XAIVideoHook, billed: int | None) -> None:
        """The batch is over: its count becomes what xAI billed (without a bill, its
        reservation is counted at the estimate)."""
        from airflow_provider_grokvideo.budget.spend import budget_for

        try:
            budget = budget_for(hook)
            if budget is None:
                return
            ident = f"batch:{_instance_key(context)}"
            if billed is None:
                requests = _as_requests(self.requests)
                built = hook.build_batch_requests(requests, request_ids(context, len(requests)))
                billed = sum(
                    e.cost_ticks for e in map(hook.estimate_batch_cost, built) if e is not None
                )
            budget.settle(ident, billed)
        except Exception as exc:  # the videos are stored: never fail the batch over the ledger
            self.log.warning("could not settle the batch on its spend budget: %s", exc)

    def _check_cost(self, hook: XAIVideoHook, built: list[BatchRequest]) -> int | None:
        """Log the batch's estimate and refuse it over ``max_cost_usd``; the estimate in ticks
        (``None`` when a request has no price)."""
        from airflow_provider_grokvideo.pricing import (
            CostCapError,
            check_cost_cap,
            format_usd,
            parse_cap,
            ticks_to_usd,
        )

        estimates = [hook.estimate_batch_cost(b) for b in built]
        total = sum(e.cost_ticks for e in estimates if e is not None)
        self.log.info(
            "estimated cost of %d video(s) at batch prices: %s",
            len(built),
            format_usd(ticks_to_usd(total)),
        )
        known = None if any(e is None for e in estimates) else total
        cap = parse_cap(self.max_cost_usd)
        if cap is None:
            return known
        for b, estimate in zip(built, estimates, strict=True):
            if estimate is None:  # refused with the reason and the fix
                check_cost_cap(None, cap, upstream="xai", model=str(b.request.model))
        if ticks_to_usd(total) > cap:
            raise CostCapError(
                f"the estimated cost of the batch, {format_usd(ticks_to_usd(total))} for "
                f"{len(built)} video(s) at batch prices, exceeds max_cost_usd="
                f"{format_usd(cap)}; nothing was submitted"
            )
        return known

    def _annotate_assets(self, context: Context, batch_id: str, results: list[dict]) -> None:
        from airflow.sdk import Asset

        assets = [outlet for outlet in (self.outlets or []) if isinstance(outlet, Asset)]
        uris = [uri for entry in results for uri in entry["uris"]]
        for asset in assets:
            context["outlet_events"][asset].extra.update({"batch_id": batch_id, "uris": uris})

    def _hook(self) -> XAIVideoHook:
        from airflow_provider_grokvideo.hooks import get_video_hook
        from airflow_provider_grokvideo.hooks.xai import XAIVideoHook

        hook = get_video_hook(self.conn_id)
        if not isinstance(hook, XAIVideoHook):
            raise AirflowFailException(
                f"connection {self.conn_id!r} is not an xAI connection (grokvideo_xai): only "
                "xAI has a Batch API"
            )
        return hook

    def _may_defer(self) -> bool:
        """Whether to wait in the triggerer; asked once per try (a blocked environment says
        why once, not at every poll)."""
        if self._defer_ok is None:
            self._defer_ok = self.deferrable and not deferral_blocked(self.log)
        return self._defer_ok

    def _store(self, context: Context) -> Any:
        """The task state store (None before Airflow 3.3), looked up once per try."""
        from airflow_provider_grokvideo.compat import task_state_store

        if self._store_of is None or self._store_of[0] is not context:
            self._store_of = (context, task_state_store(context, self.log))
        return self._store_of[1]


def _instance_key(context: Mapping[str, Any]) -> str:
    """16 hex digits naming the task instance (not the try): the same on every try."""
    ti = context["ti"]
    key = f"{ti.dag_id}/{ti.task_id}/{ti.run_id}/{getattr(ti, 'map_index', -1)}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def request_ids(context: Mapping[str, Any], count: int) -> list[str]:
    """Each request's ``batch_request_id``: the same on every try of the task instance."""
    prefix = _instance_key(context)
    return [f"{prefix}-{index:05d}" for index in range(count)]


def batch_name(given: str | None, context: Mapping[str, Any]) -> str:
    """The batch's name: the user's (default: dag.task.run) and the task instance's key, so
    that a retry can find it by name alone."""
    ti = context["ti"]
    base = given or f"{ti.dag_id}.{ti.task_id}.{ti.run_id}"
    return f"{base[:180]} [{_instance_key(context)}]"


def _as_requests(value: Any) -> list[Mapping[str, Any]]:
    """The templated ``requests``: a list of dicts (a JSON or Python literal text of one too)."""
    if isinstance(value, str):
        import ast
        import json

        try:
            value = json.loads(value)
        except ValueError:
            value = ast.literal_eval(value)
    if not isinstance(value, (list, tuple)) or not value:
        raise AirflowFailException(f"requests must be a non-empty list of dicts, got {value!r}")
    return list(value)
