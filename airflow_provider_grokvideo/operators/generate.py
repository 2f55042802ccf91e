"""The operator that submits one Grok video generation: returns its id, or waits for it.

It knows no upstream: the connection's type (``grokvideo_xcompute``, ``grokvideo_mountsea``,
``grokvideo_xai``) picks the hook, so a DAG switches upstream by changing only ``conn_id``.

Every submit is recorded in Airflow 3.3's task state store before it is sent, and its id as
soon as the answer is read (:mod:`airflow_provider_grokvideo.tasks.submit_record`): a retry never
pays for the same video twice.

This module is imported by DAG files on every parse: the hooks (and httpx) load only when the
task runs, and nothing here reads a connection or opens a socket at import or construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_grokvideo.compat import AirflowFailException
from airflow_provider_grokvideo.tasks.links import GrokVideoLink
from airflow_provider_grokvideo.tasks.wait import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_MIN_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    GenerationWaitMixin,
    seconds,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from airflow.sdk import Context

    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.tasks.submit_record import LedgerJournal, SubmitLedger
    from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall


class GrokVideoGenerateOperator(GenerationWaitMixin, BaseOperator):
    """Submit one video generation; return its id, or (``wait_for_completion=True``) the
    finished generation.

    :param conn_id: the connection of the upstream (templated); its type picks the hook.
    :param prompt: what the video shows (templated).
    :param duration: seconds of video, within what the upstream allows (templated).
    :param aspect_ratio: for example ``"16:9"`` (templated).
    :param resolution: ``"480p"`` or ``"720p"`` (``"1080p"`` on xAI's ``grok-imagine-video-1.5``;
        templated; spelled the upstream's way for you).
    :param image_urls: public http(s) URLs of the images to animate, or one URL (templated).
    :param reference_image_urls: reference-to-video (xAI only): up to 7 http(s) URLs or data
        URIs of images whose look the video keeps; needs a duration of at most 10 s and no
        ``image_urls`` (templated).
    :param model: the upstream's model; the connection's, then the upstream's, default when
        omitted (templated).
    :param max_cost_usd: refuse, before any request, a video whose estimated cost (see
        ``GrokVideoHook.estimate_cost``) is above this many US dollars, or that has no estimate
        (no published price and none in the connection's ``prices`` extra); templated.  The
        estimate is logged either way and kept in the task's ``grokvideo`` XCom record
        (``cost_estimate``).
    :param wait_for_completion: also wait until the generation ends and return it
        (``VideoGeneration.to_dict()``) instead of its id; failures map as in
        :class:`~airflow_provider_grokvideo.sensors.video.GrokVideoSensor`.
    :param deferrable: with ``wait_for_completion``, wait in the triggerer (default) rather
        than polling from the worker.
    :param poll_interval: as the sensor's (with ``wait_for_completion``).
    :param min_poll_interval: as the sensor's.
    :param max_poll_interval: as the sensor's.
    :param timeout: as the sensor's: seconds to wait before ``AirflowSensorTimeout``.
    :param resubmit_unknown: submit even though an earlier try of this task instance died
        mid-submit (its job may exist upstream and be billed).  Off by default: such a try
        fails without retrying and says when the unknown submit was sent (templated; set it
        for one run, e.g. ``"{{ params.resubmit_unknown }}"``).

    As soon as the id is known, one XCom record (key ``grokvideo``, see
    :mod:`airflow_provider_grokvideo.tasks.catalog`) says what was asked, of which upstream,
    its id and its cost estimate; the return value is the id (the finished generation with
    ``wait_for_completion``).  See docs/outputs.md for every XCom key.

    The request is validated against the upstream's documented limits before anything is
    sent: bad input fails the task (without retries) naming the field, the value and what the
    upstream allows.  A submit whose answer was lost, or that the upstream refused, also fails
    without retries: submitting again could generate, and bill, the video twice.  Only what
    surely never reached the upstream (429, connection refused) is retried, by the hook and by
    the task's own ``retries``.

    On Airflow 3.3+ the submit is durable: a marker (when, which upstream and connection, a
    fingerprint of the request) is written to the task state store before sending and the id
    as soon as it is read.  A later try of the same task instance (map index) reuses a
    recorded id instead of submitting; after a marker without an id it fails without retrying
    unless ``resubmit_unknown`` is set.  So ``retries`` are safe on this task.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "prompt",
        "image_urls",
        "reference_image_urls",
        "duration",
        "aspect_ratio",
        "resolution",
        "model",
        "resubmit_unknown",
        "max_cost_usd",
    )
    operator_extra_links = (GrokVideoLink(),)
    ui_color = "#f4e6d7"
    _estimate_is_own = True

    def __init__(
        self,
        *,
        conn_id: str,
        prompt: str,
        duration: int | float | str | None = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        image_urls: Sequence[str] | str | None = None,
        model: str | None = None,
        wait_for_completion: bool = False,
        deferrable: bool = True,
        poll_interval: float | timedelta = DEFAULT_POLL_INTERVAL,
        min_poll_interval: float | timedelta = DEFAULT_MIN_POLL_INTERVAL,
        max_poll_interval: float | timedelta = DEFAULT_MAX_POLL_INTERVAL,
        timeout: float | timedelta = DEFAULT_TIMEOUT,
        resubmit_unknown: bool | str = False,
        max_cost_usd: float | str | Decimal | None = None,
        reference_image_urls: Sequence[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.prompt = prompt
        self.duration = duration
        self.aspect_ratio = aspect_ratio
        self.resolution = resolution
        self.image_urls = image_urls
        self.reference_image_urls = reference_image_urls
        self.model = model
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self._set_poll_settings(poll_interval, min_poll_interval, max_poll_interval)
        self.timeout = seconds(timeout, "timeout")
        self.resubmit_unknown = resubmit_unknown
        self._grokvideo_hook = None
        self.max_cost_usd = max_cost_usd

    def execute(self, context: Context) -> Any:
        # Its XCom record (the id, the request, the estimate) is pushed in there, at once:
        # whatever happens next, the id is visible.
        generation_id = self._submit_or_reattach(context)
        self._grokvideo_generation_id = generation_id  # for the task's link, without a read
        if not self.wait_for_completion:
            return generation_id
        if self.deferrable:
            return self._wait_in_triggerer(generation_id, context)
        return self._poll_on_worker(generation_id, context)

    # -- the durable submit ---------------------------------------------------------------
    def _submit_or_reattach(self, context: Context) -> str:
        from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
        from airflow_provider_grokvideo.hooks import get_video_hook
        from airflow_provider_grokvideo.tasks.costs import estimate_before_submit
        from airflow_provider_grokvideo.tasks.submit_record import (
            LedgerJournal,
            SubmitRecord,
            decide,
            idempotency_key,
            request_fingerprint,
            unknown_submit_message,
        )

        hook = get_video_hook(self.conn_id)
        try:
            # Validated before anything is recorded or sent: bad input costs no request.
            upstream = self._upstream_call(hook)
        except InvalidVideoRequest as exc:
            raise AirflowFailException(str(exc)) from exc
        call = upstream.call
        fingerprint = request_fingerprint(call.method, call.path, call.json)

        ti = context.get("ti")
        key = None
        if hook.dialect.idempotency_keys and ti is not None:
            key = idempotency_key(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, fingerprint)

        ledger = self._ledger(context)
        record = ledger.read() if ledger is not None else None
        decision = decide(
            record,
            resubmit_unknown=_as_bool(self.resubmit_unknown),
            fingerprint=fingerprint,
            replayable=hook.idempotent,
        )
        if decision == "reattach" and record is not None and record.generation_id:
            self.log.info(
                "Submitting nothing: try %s already submitted generation %s through %s at %s "
                "(task state store key %r); carrying on with it",
                record.try_number,
                record.generation_id,
                record.conn_id,
                record.sent_at,
                ledger.key if ledger is not None else "",
            )
            from airflow_provider_grokvideo.tasks.catalog import record_submission

            record_submission(context, self, hook, record.generation_id, reattached=True)
            if record.fingerprint != fingerprint:
                self.log.warning(
                    "The request has changed since generation %s was submitted; it is reused "
                    "all the same (never pay twice). To generate the new request, delete the "
                    "task's state store record first.",
                    record.generation_id,
                )
            return record.generation_id
        if decision == "refuse" and record is not None:
            raise AirflowFailException(
                unknown_submit_message(
                    record,
                    fingerprint=fingerprint,
                    dag_id=getattr(ti, "dag_id", None),
                    run_id=getattr(ti, "run_id", None),
                    task_id=getattr(ti, "task_id", None),
                    map_index=getattr(ti, "map_index", None),
                )
            )
        if decision == "resubmit" and record is not None:
            self.log.warning(
                "resubmit_unknown is set: submitting again although try %s's submit of %s may "
                "have created (and billed) a job",
                record.try_number,
                record.sent_at,
            )
        if decision == "replay" and record is not None:
            key = record.idempotency_key
            self.log.info(
                "Try %s's submit to %s (sent at %s) ended before its answer was read; sending "
                "the identical request again with its Idempotency-Key %s: %s answers the "
                "original job rather than making a second",
                record.try_number,
                record.upstream,
                record.sent_at,
                key,
                record.upstream,
            )

        # Logs the estimate; over max_cost_usd (or unknown under a cap) fails before any request.
        estimate = estimate_before_submit(self, hook, context, upstream)
        if estimate is not None:
            self.cost_estimate = estimate.to_dict()  # the one-task wait's result carries it
        marker = SubmitRecord.before_send(
            conn_id=self.conn_id,
            upstream=hook.dialect.name,
            fingerprint=fingerprint,
            try_number=getattr(ti, "try_number", None),
            idempotency_key=key,
        )
        # The marker is written just before each POST leaves and removed after an answer that
        # surely made no job: a crash while a request may be in flight is known to later tries.
        journal = (
            LedgerJournal(ledger, marker, job_may_exist=decision == "replay")
            if ledger is not None
            else None
        )
        generation_id = self._submit(hook, upstream, key, journal)
        if journal is not None:
            try:
                journal.answered(generation_id)
            except Exception:
                # The job exists: carry on with its id.  The marker alone stays, so a later
                # try refuses to submit again rather than pay twice.
                self.log.exception("could not record generation %s", generation_id)
        self.log.info("Submitted generation %s through connection %s", generation_id, self.conn_id)
        from airflow_provider_grokvideo.tasks.catalog import record_submission

        record_submission(context, self, hook, generation_id)  # for the "Grok videos" page
        return generation_id

    def _upstream_call(self, hook: GrokVideoHook) -> UpstreamCall:
        """What this task submits, validated (``InvalidVideoRequest`` for bad input): the one
        method the edit and extension operators override."""
        from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall

        request = {
            "duration": _blank_to_none(self.duration),
            "aspect_ratio": _blank_to_none(self.aspect_ratio),
            "resolution": _blank_to_none(self.resolution),
            "image_urls": _as_urls(self.image_urls),
            "model": _blank_to_none(self.model),
        }
        references = _as_urls(self.reference_image_urls)
        if references:  # only then: a hook without the argument still submits generations
            request["reference_image_urls"] = references
        return UpstreamCall(
            call=hook.build_request(self.prompt, **request),
            estimate=lambda: hook.estimate_cost(self.prompt, **request),
            model=request["model"],
        )

    def _submit(
        self,
        hook: GrokVideoHook,
        upstream: UpstreamCall,
        key: str | None,
        journal: LedgerJournal | None,
    ) -> str:
        from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
        from airflow_provider_grokvideo.hooks.base import is_safe_submit_retry

        try:
            return hook.submit_call(upstream.call, idempotency_key=key, journal=journal)
        except Exception as exc:
            if isinstance(exc, InvalidVideoRequest):
                raise AirflowFailException(str(exc)) from exc
            # The hook's own rule: only what surely never reached the upstream may be retried.
            if is_safe_submit_retry(exc):
                raise
            raise AirflowFailException(f"{exc} (not retried: {_why_not_retried(exc)})") from exc

    def _ledger(self, context: Context) -> SubmitLedger | None:
        from airflow_provider_grokvideo.compat import task_state_store
        from airflow_provider_grokvideo.tasks.submit_record import SubmitLedger

        store = task_state_store(context, self.log)
        if store is None:
            return None
        return SubmitLedger(store)


def _blank_to_none(value: Any) -> Any:
    """A template rendering to ``""`` or ``"None"`` means "not given"."""
    if isinstance(value, str) and value.strip() in ("", "None"):
        return None
    return value


def _as_urls(value: Sequence[str] | str | None) -> list[str] | None:
    value = _blank_to_none(value)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(url) for url in value]


def _why_not_retried(error: BaseException) -> str:
    """The words for a submit failure the hook's rule does not retry (the rule itself is
    ``is_safe_submit_retry``)."""
    from airflow_provider_grokvideo.exceptions import SubmitOutcomeUnknown, UpstreamHTTPError

    if isinstance(error, SubmitOutcomeUnknown) or (
        isinstance(error, UpstreamHTTPError) and error.status_code >= 500
    ):
        return "the job may exist upstream; submitting again could bill it twice"
    if isinstance(error, UpstreamHTTPError):
        return "the upstream refused the request; fix it, then clear the task"
    return "fix the connection or the request, then clear the task"


def _as_bool(value: Any) -> bool:
    """``True``, or a template that rendered to true/yes/1/on."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)
