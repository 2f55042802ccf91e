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

from airflow_provider_grokvideo.compat import AirflowFailException, deferral_blocked
from airflow_provider_grokvideo.tasks.links import GrokVideoLink
from airflow_provider_grokvideo.tasks.wait import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_MIN_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    GenerationWaitMixin,
    seconds,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from airflow.sdk import Context

    from airflow_provider_grokvideo.budget.spend import Reservation
    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.tasks.submit_record import SubmitLedger, SubmitRecord
    from airflow_provider_grokvideo.tasks.upstream_call import Candidate, UpstreamCall


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
    :param end_from_trigger: with ``wait_for_completion`` and ``deferrable``, end the task in
        the triggerer when the generation ends, as the sensor's (see
        :class:`~airflow_provider_grokvideo.sensors.video.GrokVideoSensor`).
    :param poll_interval: as the sensor's (with ``wait_for_completion``).
    :param min_poll_interval: as the sensor's.
    :param max_poll_interval: as the sensor's.
    :param timeout: as the sensor's: seconds to wait before ``AirflowSensorTimeout``.
    :param fallback_conn_ids: connections to submit to, in order, when ``conn_id`` surely made
        no job: it never opened, refused the key, is out of balance or credits, rate-limited
        past its retries, or refuses the request by its limits (see docs/operators.md,
        "Failover").  Never after a 5xx, a timeout or a lost answer: the job may exist.  Each
        gets the request in its own dialect; ``model`` applies to the connections of
        ``conn_id``'s upstream, the others use their own default (templated).
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

    xAI's newer fields, under its names (refused by name on xcompute and Mountsea, before any
    request; see docs/guide.md):

    :param reference_audios: ``grok-imagine-video-1.5`` only, at most 3: xAI voice ids
        (``"ara"``, or ``{"voice_id": "ara"}``) or clip URLs (``{"url": ...}``); templated.
    :param generate_audio: ``False`` for a silent video; sent only when set (templated).
    :param storage_options: keep the output in xAI's Files: ``{"filename", "expires_after",
        "public_url"}``; the result's ``file_output`` (file id, public URL, expiries) reaches
        the record, the page and the Asset event (templated).
    :param keyframes: ``[{"image": {"url": ...}, "timestamp_s": 2.0}]``, at most 4, each
        within the duration (templated).
    :param deliver_to: direct delivery (xAI): ``"s3://conn_id@bucket/key.mp4"`` or
        ``"gs://..."``; a PUT URL for that object is presigned with the storage's provider
        (extras ``[s3]``, ``[gcs]``) and sent as ``output.upload_url``.  Implies
        ``wait_for_completion``: when the job ends the object is checked (there, an MP4, the
        video asked for); a failed upload falls back to downloading the upstream's URL into
        the object, and says so.  The result's ``delivery`` holds ``uri``, ``size``, ``via``,
        ``fallback`` and ``delivered`` (see ``on_mismatch``); templated.
    :param on_mismatch: a delivered video whose duration, size, aspect ratio, codec or sound
        differs from the request: ``"warn"`` (default: logged, recorded) or ``"fail"``.
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
        "fallback_conn_ids",
        "reference_audios",
        "generate_audio",
        "storage_options",
        "keyframes",
        "deliver_to",
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
        timeout: float | timedelta = DEFAULT_WAIT_TIMEOUT,
        resubmit_unknown: bool | str = False,
        max_cost_usd: float | str | Decimal | None = None,
        reference_image_urls: Sequence[str] | str | None = None,
        fallback_conn_ids: Sequence[str] | str | None = None,
        end_from_trigger: bool | None = None,
        reference_audios: Any = None,
        generate_audio: bool | str | None = None,
        storage_options: dict[str, Any] | str | None = None,
        keyframes: Any = None,
        deliver_to: str | None = None,
        on_mismatch: str = "warn",
        **kwargs: Any,
    ) -> None:
        from airflow_provider_grokvideo.media.check import check_on_mismatch

        super().__init__(**kwargs)
        self.reference_audios = reference_audios
        self.generate_audio = generate_audio
        self.storage_options = storage_options
        self.keyframes = keyframes
        self.deliver_to = deliver_to
        self.on_mismatch = check_on_mismatch(on_mismatch)
        if deliver_to:
            wait_for_completion = True  # the object is checked when the job ends
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
        self.fallback_conn_ids = fallback_conn_ids
        self.end_from_trigger = end_from_trigger
        self._primary_upstream: str | None = None
        self._resubmitting = False

    def execute(self, context: Context) -> Any:
        # Its XCom record (the id, the request, the estimate) is pushed in there, at once:
        # whatever happens next, the id is visible.
        generation_id = self._submit_or_reattach(context)
        self._grokvideo_generation_id = generation_id  # for the task's link, without a read
        if not self.wait_for_completion:
            return generation_id
        if self.deferrable and not deferral_blocked(self.log):
            return self._wait_in_triggerer(generation_id, context)
        return self._poll_on_worker(generation_id, context)

    # -- the durable submit ---------------------------------------------------------------
    def _submit_or_reattach(self, context: Context) -> str:
        from airflow_provider_grokvideo.hooks import get_video_hook
        from airflow_provider_grokvideo.tasks.submit_record import decide, unknown_submit_message

        ledger = self._ledger(context)
        # A first try has no earlier try whose record it could carry on (a retry, or a user's
        # clear, runs as the next try): one Execution API call per video saved.
        record = ledger.read() if ledger is not None and _try_number(context) > 1 else None
        if record is not None and record.generation_id:
            return self._reattach(context, get_video_hook(record.conn_id), record, ledger)

        # Every candidate validated (and priced under max_cost_usd) before anything is
        # recorded or sent: bad input costs no request, on any of them.
        candidates = self._candidates(context)
        # An earlier try's marker belongs to the connection it was sent to.
        mine = next((c for c in candidates if record and c.conn_id == record.conn_id), None)
        decision = decide(
            record,
            resubmit_unknown=_as_bool(self.resubmit_unknown),
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
        self._resubmitting = decision == "resubmit"
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
            return self._submit_to([mine], context, ledger, replay_key=record.idempotency_key)
        return self._submit_to(candidates, context, ledger)

    def _reattach(
        self,
        context: Context,
        hook: GrokVideoHook,
        record: SubmitRecord,
        ledger: SubmitLedger | None,
    ) -> str:
        """Carry on with the generation an earlier try submitted (its id is recorded)."""
        from airflow_provider_grokvideo.tasks.catalog import record_submission
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
        self._polled_conn_id = record.conn_id  # the connection that made it: the wait polls it
        try:
            upstream = self._upstream_call(hook)
        except Exception:
            upstream = None  # the request no longer validates: the video exists all the same
        record_submission(context, self, hook, record.generation_id, reattached=True)
        if upstream is None or record.fingerprint != request_fingerprint(
            upstream.call.method, upstream.call.path, upstream.call.json
        ):
            self.log.warning(
                "The request has changed since generation %s was submitted; it is reused "
                "all the same (never pay twice). To generate the new request, delete the "
                "task's state store record first.",
                record.generation_id,
            )
        return record.generation_id

    def _candidates(self, context: Context) -> list[Candidate]:
        """``conn_id`` then each of ``fallback_conn_ids``, each with its request in its own
        upstream's dialect, validated and checked against ``max_cost_usd``.  Those that refuse
        it are left out (logged); when none accepts it, the task fails naming each reason."""
        from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
        from airflow_provider_grokvideo.hooks import get_video_hook
        from airflow_provider_grokvideo.tasks.costs import estimate_before_submit
        from airflow_provider_grokvideo.tasks.upstream_call import Candidate

        conn_ids = [self.conn_id, *_as_conn_ids(self.fallback_conn_ids)]
        accepted: list[Candidate] = []
        refusals: list[str] = []
        for conn_id in dict.fromkeys(conn_ids):  # each once, in order
            hook = get_video_hook(conn_id)
            if self._primary_upstream is None:
                self._primary_upstream = hook.dialect.name
            try:
                upstream = self._upstream_call(hook)
                estimate = estimate_before_submit(self.max_cost_usd, hook, upstream, self.log)
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
        context: Context,
        ledger: SubmitLedger | None,
        *,
        replay_key: str | None = None,
    ) -> str:
        """Submit to the first candidate; go to the next only after an outcome that surely
        created no job (``tasks.failover.no_job_reason``), never after one that may have."""
        from airflow_provider_grokvideo.budget.spend import BudgetExceeded
        from airflow_provider_grokvideo.tasks.catalog import record_submission
        from airflow_provider_grokvideo.tasks.failover import no_job_reason
        from airflow_provider_grokvideo.tasks.submit_record import (
            LedgerJournal,
            MemoryStore,
            SubmitLedger,
            SubmitRecord,
            idempotency_key,
        )

        ti = context.get("ti")
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
                prompt=self.prompt,
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
                    raise AirflowFailException(f"{exc}{_after(passed)}") from exc
                passed.append(f"{candidate.conn_id} ({hook.dialect.name}): over its budget")
                self.log.warning("%s; failing over to %s", exc, candidates[number].conn_id)
                continue
            if candidate.estimate is not None:
                self.cost_estimate = candidate.estimate.to_dict()  # the one-task wait's result
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
                raise self._submit_error(exc, passed) from exc
            self._polled_conn_id = candidate.conn_id  # the connection that made it: waited on
            if held is not None:
                held.created(generation_id, self.log)
            self.log.info(
                "Submitted generation %s through connection %s%s",
                generation_id,
                candidate.conn_id,
                f" (after {'; '.join(passed)})" if passed else "",
            )
            record_submission(context, self, hook, generation_id)  # for the "Grok videos" page
            return generation_id
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
            if self._resubmitting:
                ident += f":try{getattr(ti, 'try_number', 0)}"
        estimate = candidate.estimate
        what = f"the video {prompt_start(str(self.prompt))!r}"
        ticks = estimate.cost_ticks if estimate is not None else None
        return reserve_submit(candidate.hook, ticks, ident, what, self.log)

    def _submit_error(self, error: BaseException, passed: list[str]) -> BaseException:
        """What the task raises for a submit that failed on its last candidate: the error
        itself where Airflow's retries are safe (it surely never reached the upstream), else
        an ``AirflowFailException`` saying why it is not retried."""
        from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
        from airflow_provider_grokvideo.hooks.outcomes import is_safe_submit_retry

        before = f" (failed over before: {'; '.join(passed)})" if passed else ""
        if isinstance(error, InvalidVideoRequest):
            return AirflowFailException(f"{error}{before}")
        if is_safe_submit_retry(error):
            if passed:
                self.log.warning("Every connection failed%s", before)
            return error
        return AirflowFailException(f"{error} (not retried: {_why_not_retried(error)}){before}")

    def _upstream_call(self, hook: GrokVideoHook) -> UpstreamCall:
        """What this task submits, validated (``InvalidVideoRequest`` for bad input): the one
        method the edit and extension operators override."""
        from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall

        request = {
            "duration": _blank_to_none(self.duration),
            "aspect_ratio": _blank_to_none(self.aspect_ratio),
            "resolution": _blank_to_none(self.resolution),
            "image_urls": self._uploaded(hook, _as_urls(self.image_urls), "image_urls"),
            "model": self._model_for(hook),
        }
        references = self._uploaded(
            hook, _as_urls(self.reference_image_urls), "reference_image_urls"
        )
        if references:  # only then: a hook without the argument still submits generations
            request["reference_image_urls"] = references
        options = {
            "reference_audios": _blank_to_none(self.reference_audios),
            "generate_audio": _blank_to_none(self.generate_audio),
            "storage_options": _blank_to_none(self.storage_options),
            "keyframes": self._keyframes(hook),
            "upload_url": self._upload_url(hook),
        }
        options = {name: value for name, value in options.items() if value is not None}
        return UpstreamCall(
            call=hook.build_request(self.prompt, **request, **options),
            estimate=lambda: hook.estimate_cost(self.prompt, **request),
            model=request["model"],
        )

    def _uploaded(self, hook: GrokVideoHook, values: list[str] | None, field: str) -> Any:
        """``values`` with each local file (a path, an ``ObjectStoragePath``) uploaded to the
        upstream and replaced by its reference (``hooks.uploads``); once per task."""
        from airflow_provider_grokvideo.hooks.uploads import is_local_input, upload_input

        if not values or not any(is_local_input(value) for value in values):
            return values
        cache: dict[tuple[str, str], str] = self.__dict__.setdefault("_uploads", {})
        out = []
        for value in values:
            if is_local_input(value):
                key = (str(hook.conn_id), str(value))
                if key not in cache:
                    kind = "video" if field == "video_url" else "image"
                    cache[key] = upload_input(hook, value, field=field, kind=kind)
                value = cache[key]
            out.append(value)
        return out

    def _keyframes(self, hook: GrokVideoHook) -> Any:
        """``keyframes`` as ``(image, timestamp_s)`` pairs, local images uploaded."""
        from airflow_provider_grokvideo.dialects.options import keyframe_pairs

        pairs = keyframe_pairs(_blank_to_none(self.keyframes))
        if not pairs:
            return None
        images = self._uploaded(hook, [image for image, _ in pairs], "keyframes[].image")
        return [(image, moment) for image, (_, moment) in zip(images, pairs, strict=True)]

    def _upload_url(self, hook: GrokVideoHook) -> str | None:
        """With ``deliver_to``: a PUT URL presigned for that object (once per task), refused
        by name, before presigning, by an upstream that delivers nowhere."""
        from airflow_provider_grokvideo.tasks.deliver import presigned_upload_url

        if not _blank_to_none(self.deliver_to):
            return None
        if not hook.dialect.offers_option("upload_url"):
            hook.dialect.refuse_option("upload_url", self.deliver_to)
        if getattr(self, "_presigned", None) is None:
            self._presigned = presigned_upload_url(self.deliver_to, self.timeout)
        return self._presigned

    def _after_success(self, result: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """With ``deliver_to``: check the delivered object (or fall back), then record it;
        xAI's Files copy (``storage_options``) goes into the outlets' Asset events."""
        if context is None:
            return result
        from airflow_provider_grokvideo.tasks.deliver import annotate_assets, finish_delivery

        if _blank_to_none(self.deliver_to):
            return finish_delivery(self, result, context)
        if result.get("file_output"):
            annotate_assets(self, context, result, None)
        return result

    def _model_for(self, hook: GrokVideoHook) -> str | None:
        """``model`` where ``hook`` is of the same upstream as ``conn_id``; a fallback of
        another upstream uses its own (its connection's ``model`` extra, else its default):
        model names differ between upstreams."""
        model = _blank_to_none(self.model)
        if self._primary_upstream in (None, hook.dialect.name):
            return model
        return None

    def _ledger(self, context: Context) -> SubmitLedger | None:
        from airflow_provider_grokvideo.compat import task_state_store
        from airflow_provider_grokvideo.tasks.submit_record import SubmitLedger

        store = task_state_store(context, self.log)
        if store is None:
            return None
        return SubmitLedger(store)


def _after(passed: list[str]) -> str:
    return f" (failed over before: {'; '.join(passed)})" if passed else ""


def _try_number(context: Context) -> int:
    """The running try's number; ``2`` where the context does not say (a bare ``execute``),
    so that the durable record is read whenever it is not sure to be absent."""
    try:
        return int(getattr(context.get("ti"), "try_number", None) or 2)
    except (TypeError, ValueError):
        return 2


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


def _as_conn_ids(value: Sequence[str] | str | None) -> list[str]:
    """``fallback_conn_ids`` as a list: one id, a list, or a comma-separated template."""
    value = _blank_to_none(value)
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(conn_id) for conn_id in value]


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
