"""The one base hook: the hook's API over its connection (its settings in ``settings.py``, its
HTTP clients in ``clients.py``, what a failed request means in ``outcomes.py``).

Each upstream's hook is a few lines naming its connection type, default base URL and dialect;
everything that does I/O lives here, once, for the three of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import tenacity
from airflow.sdk.bases.hook import BaseHook

from airflow_provider_grokvideo.dialects.base import Dialect, HttpCall, error_details
from airflow_provider_grokvideo.dialects.options import media_options
from airflow_provider_grokvideo.exceptions import (
    GrokVideoError,
    SubmitOutcomeUnknown,
    UnexpectedResponse,
    UpstreamHTTPError,
    UpstreamUnreachable,
)
from airflow_provider_grokvideo.hooks import clients
from airflow_provider_grokvideo.hooks.clients import Lease, SharedClient, parse_retry_after
from airflow_provider_grokvideo.hooks.outcomes import (
    RetryPolicy,
    SubmitJournal,
    is_safe_keyed_submit_retry,
    is_safe_submit_retry,
    is_transient_read_error,
    may_have_created_a_job,
)
from airflow_provider_grokvideo.hooks.runtime import (
    Runtime,
    RuntimeKey,
    loop_runtime,
    process_runtime,
    runtime_key,
)
from airflow_provider_grokvideo.hooks.settings import USER_AGENT, ConnectionSettings
from airflow_provider_grokvideo.hooks.video_edits import SourceVideoMixin
from airflow_provider_grokvideo.models import GenerationRequest, VideoGeneration
from airflow_provider_grokvideo.pricing import (
    CostEstimate,
    Price,
    estimate_cost,
    read_price_overrides,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_grokvideo.hooks.pacer import AsyncPacer, SyncPacer
    from airflow_provider_grokvideo.hooks.shared_budget import StoreSettings

log = logging.getLogger(__name__)


class GrokVideoHook(SourceVideoMixin, BaseHook):
    """Base hook of the three upstream video APIs; subclasses set the class attributes below.

    :param conn_id: the Airflow connection; its password is the API key, its host (optional)
        replaces the upstream's base URL, path prefix included.
    :param retry: the retry policy for transient failures.
    :param connection: an already loaded connection (the trigger loads it asynchronously).
    """

    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    default_base_url: ClassVar[str]
    dialect: ClassVar[Dialect]

    _unknown_statuses_logged: ClassVar[set[tuple[str, str]]] = set()
    _unknown_models_logged: ClassVar[set[tuple[str, str]]] = set()

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        connection: Connection | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        self.retry = retry or RetryPolicy()
        self._connection = connection
        # The running loop's runtime of the key and its pacer (once asked for), kept for the
        # next poll: triggers share a hook, and skip the registry on every poll.  The loop is
        # referenced weakly, so that a finished loop's runtimes can go.
        self._in_loop: (
            tuple[weakref.ref[asyncio.AbstractEventLoop], Runtime, AsyncPacer | None] | None
        ) = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    # -- connection -----------------------------------------------------------------------
    @cached_property
    def settings(self) -> ConnectionSettings:
        conn = self._connection or self.get_connection(self.conn_id)
        self._connection = conn  # read once: the spend budget reads its extras too
        settings = ConnectionSettings.from_connection(conn, self.default_base_url)
        if not settings.api_key:
            raise GrokVideoError(
                f"connection {self.conn_id!r} has no API key: put the key in its password field"
            )
        return settings

    def get_conn(self) -> httpx.Client:
        """The pooled sync client, authenticated for the API host only."""
        return self._sync_client

    @cached_property
    def _sync_client(self) -> httpx.Client:
        return clients.new_sync_client(self.settings)

    def async_session(self) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        """Lease this event loop's shared async client for this connection.

        Every lease of the same connection in one loop gets the same pooled client; it is
        closed when the last lease ends.  A trigger holds a lease for its whole life, so a
        triggerer full of them polls over a few kept-alive connections.
        """
        return Lease(self)

    def acquire_client(self) -> SharedClient:
        return self.runtime().acquire_client(self._client_variant, self._new_shared_client)

    async def release_client(self, shared: SharedClient) -> None:
        await self.runtime().release_client(self._client_variant, shared)

    # -- the key's runtime: its clients, pacers and job durations (``runtime.py``) ------------
    @cached_property
    def _runtime_key(self) -> RuntimeKey:
        return runtime_key(self.settings.base_url, self.settings.api_key)

    def runtime(self) -> Runtime:
        """The running event loop's runtime of this connection's key: its pooled clients,
        its pacer and how long its finished jobs took, shared by every hook of the key."""
        loop = asyncio.get_running_loop()
        cached = self._in_loop
        if cached is not None and cached[0]() is loop:
            return cached[1]
        runtime = loop_runtime(self._runtime_key, self._label)
        self._in_loop = (weakref.ref(loop), runtime, None)
        return runtime

    def pacer(self) -> AsyncPacer:
        """The running loop's pacer of this connection's key (see ``pacer.py``): every async
        request of the key in this loop passes through it."""
        runtime = self.runtime()
        ref, _, pacer = self._in_loop  # type: ignore[misc]  # set by runtime()
        if pacer is None:
            pacer = runtime.async_pacer(self.settings.requests_per_second, self.budget_store)
            self._in_loop = (ref, runtime, pacer)
        return pacer

    @property
    def sync_pacer(self) -> SyncPacer:
        """This process's pacer of the key for sync requests (submits, pokes)."""
        runtime = process_runtime(self._runtime_key, self._label)
        return runtime.sync_pacer(self.settings.requests_per_second, self.budget_store)

    @cached_property
    def budget_store(self) -> StoreSettings | None:
        """Where the key's budget is shared (the ``redis_conn_id`` extra), read once."""
        from airflow_provider_grokvideo.hooks.shared_budget import read_store, store_or_alone

        return store_or_alone(self.settings.redis_conn_id, read_store, self._label)

    async def aload_budget_store(self) -> None:
        """Read :attr:`budget_store` with Airflow's async lookup (in the triggerer's loop)."""
        from airflow_provider_grokvideo.hooks.shared_budget import aread_store, astore_or_alone

        if "budget_store" not in self.__dict__:
            store = await astore_or_alone(self.settings.redis_conn_id, aread_store, self._label)
            self.__dict__["budget_store"] = store

    @cached_property
    def idempotent(self) -> bool:
        """Whether this connection's host honors ``Idempotency-Key``, so that a submit whose
        answer was lost is sent again with its key instead of failing for a human.

        The ``idempotent_submits`` extra says so; without it, only a host where the upstream
        documents keys (APIMart's own ``api.apimart.ai``, not the xcompute white-label,
        which documents nothing about the header).
        """
        said = self.settings.idempotent_submits
        if not self.dialect.idempotency_keys:
            if said:
                raise GrokVideoError(
                    f"connection {self.conn_id!r}: idempotent_submits is set, but "
                    f"{self.dialect.name} documents no idempotency key; remove the extra"
                )
            return False
        if said is not None:
            return said
        return httpx.URL(self.settings.base_url).host in self.dialect.idempotent_hosts

    @property
    def _label(self) -> str:
        return f"{self.dialect.name} at {self.settings.base_url}"

    @cached_property
    def _client_variant(self) -> str:
        return str(self.settings.timeout)

    def _new_shared_client(self) -> SharedClient:
        return clients.new_shared_client(self.settings)

    @cached_property
    def _timeout(self) -> httpx.Timeout:
        return clients.request_timeout(self.settings.timeout)

    @cached_property
    def _status_headers(self) -> httpx.Headers:
        return httpx.Headers(
            {
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Authorization": f"Bearer {self.settings.api_key}",
            }
        )

    # -- the API ----------------------------------------------------------------------------
    def build_request(self, prompt: str, **fields: Any) -> HttpCall:
        """Validate a request against this upstream's limits and return the submit call.

        ``fields``: those of :class:`~airflow_provider_grokvideo.models.GenerationRequest`
        (``duration``, ``aspect_ratio``, ``resolution``, ``image_urls``, ``model``,
        ``reference_image_urls``), and xAI's newer fields under its names
        (``reference_audios``, ``generate_audio``, ``storage_options``, ``keyframes``,
        ``upload_url``; see :func:`~airflow_provider_grokvideo.dialects.options.media_options`),
        refused by name where the upstream documents them not.

        Raises :class:`~airflow_provider_grokvideo.exceptions.InvalidVideoRequest` (a
        ``ValueError``) naming the field, the value, the model and what it allows.  A model the
        dialect does not know is checked for types only and sent, with a warning (once per
        model): the upstream's own refusal of it, if any, is raised with its message.
        """
        return self.build_call(GenerationRequest.of(prompt, **fields))

    def build_call(self, request: GenerationRequest) -> HttpCall:
        """:meth:`build_request` of a request object."""
        neutral = dataclasses.replace(
            request.neutral(self.settings.model), options=media_options(**request.options)
        )
        call = self.dialect.submit_call(neutral, relaxed=self.settings.relax_limits)
        self._warn_if_unknown_model(neutral.model)
        return call

    def estimate_cost(self, prompt: str = "(cost estimate)", **fields: Any) -> CostEstimate | None:
        """What this video should cost, from the price table or the connection's ``prices``
        extra (which overrides it); None where no price is known.  Sends nothing.

        ``fields``: those of :class:`~airflow_provider_grokvideo.models.GenerationRequest`.
        The request is validated first, as :meth:`submit_video` would: bad input raises
        :class:`~airflow_provider_grokvideo.exceptions.InvalidVideoRequest`.
        """
        return self.estimate(GenerationRequest(prompt, **fields))

    def estimate(self, request: GenerationRequest) -> CostEstimate | None:
        """:meth:`estimate_cost` of a request object (its options change no price)."""
        neutral = self.dialect.validate(
            request.neutral(self.settings.model), relaxed=self.settings.relax_limits
        )
        assert neutral.model is not None  # validate() fills the default model
        known = self.dialect.model_limits(neutral.model)
        return estimate_cost(
            self.dialect.name,
            neutral.model,
            neutral.duration,
            neutral.resolution,
            default_duration=(known or self.dialect.limits).default_duration,
            default_resolution=known.default_resolution if known else None,
            overrides=self._price_overrides,
        )

    @cached_property
    def _price_overrides(self) -> dict[str, Price]:
        return read_price_overrides(
            self.settings.prices, self.dialect.format_resolution, self.conn_id
        )

    def _warn_if_unknown_model(self, model: str | None) -> None:
        model = model or self.dialect.default_model
        key = (self.dialect.name, model)
        if self.dialect.model_limits(model) is None and key not in self._unknown_models_logged:
            self._unknown_models_logged.add(key)
            self.log.warning(
                "%s: model %r is not one this provider knows (%s); its limits were not checked, "
                "the request is sent as it is and %s decides",
                self.dialect.name,
                model,
                ", ".join(self.dialect.models),
                self.dialect.name,
            )

    def submit_video(
        self, prompt: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> str:
        """Validate, then submit one generation; return the upstream's generation id.

        ``fields`` as :meth:`build_request` takes them; see :meth:`submit_call` for retries and
        ``idempotency_key``.
        """
        call = self.build_call(GenerationRequest.of(prompt, **fields))
        return self.submit_call(call, idempotency_key=idempotency_key)

    def submit_call(
        self,
        call: HttpCall,
        *,
        idempotency_key: str | None = None,
        journal: SubmitJournal | None = None,
    ) -> str:
        """Send a validated submit call (from :meth:`build_request` or
        :meth:`build_source_request`); return the generation id.

        Retried only when the request surely never reached the upstream (429, never
        connected), unless this host honors idempotency keys (:attr:`idempotent`): then a
        lost answer, a timeout or a 5xx is retried too, with the same key, and the upstream
        answers the original job.  Where the upstream takes keys (APIMart), every submit
        carries one: ``idempotency_key`` (the same for the same request of the same task on
        every try, see ``tasks/submit_record.idempotency_key``) or a random one.  ``journal``
        is told when a request may be in flight (once the budget has granted its turn, not
        while waiting for it) and, first of all, the id once it is read.
        """
        headers: dict[str, str] | None = None
        if self.dialect.idempotency_keys:
            key = idempotency_key or f"grokvideo-{uuid.uuid4().hex}"
            headers = self.dialect.submit_headers(key)  # checks the key, before any request
        weather = is_safe_keyed_submit_retry if self.idempotent else is_safe_submit_retry

        def should_retry(error: BaseException) -> bool:
            # An account out of credits (xAI says so with a 429) stays so for minutes to days:
            # fail at once, so that failover, if any, moves on without the back-off.
            if isinstance(error, UpstreamHTTPError) and self.dialect.out_of_credits(
                error.status_code, error.message
            ):
                return False
            return weather(error)

        def attempt() -> tuple[httpx.Response, Any]:
            try:
                response = self._exchange(
                    call,
                    submit=True,
                    headers=headers,
                    on_sending=journal.sending if journal is not None else None,
                )
                return response, self._read(response, submit=True)
            except Exception as exc:
                if journal is not None and not may_have_created_a_job(exc):
                    journal.not_sent()
                raise

        try:
            response, body = self._with_retries(attempt, should_retry)
            generation_id = self.dialect.parse_submit(body)
        except UnexpectedResponse as exc:
            raise SubmitOutcomeUnknown(
                f"{exc}; the job may have been created upstream, so it is not submitted again"
            ) from None
        if journal is not None:
            # The id first, before any log line: a try killed from here on loses nothing.
            try:
                journal.answered(generation_id)
            except Exception:
                # The job exists: carry on with its id.  The marker alone stays, so a later
                # try refuses to submit again rather than pay twice.
                self.log.exception("could not record generation %s", generation_id)
        request_id = self.dialect.submit_request_id(body)
        if response.headers.get("Idempotency-Replayed", "").lower() == "true":
            self.log.info(
                "%s replayed generation %s for the same Idempotency-Key: the request had "
                "reached it before, and no second job was made",
                self.dialect.name,
                generation_id,
            )
        self.log.info(
            "%s accepted the generation %s%s",
            self.dialect.name,
            generation_id,
            f" (request {request_id})" if request_id else "",
        )
        return generation_id

    def get_video(self, generation_id: str) -> VideoGeneration:
        """Read the generation's current state (retrying transient failures)."""
        call = self.dialect.status_call(generation_id)
        body = self._with_retries(lambda: self._send(call, submit=False), is_transient_read_error)
        return self._parse_status(body, generation_id)

    async def aget_video(
        self, generation_id: str, *, retry: bool = True, after: float = 0.0
    ) -> VideoGeneration:
        """Async twin of :meth:`get_video`, over the loop's shared pooled client.

        ``retry=False`` makes a single attempt; the trigger uses that and handles weather
        itself, so that its waits stay within its own deadline.  ``after``: read the status
        that many seconds from now, or as soon after as the key's budget allows: the wait is
        queued in the connection's pacer from now, by when it falls due (oldest first).
        """
        pacer = self.pacer()
        # ``None``: slept while the connection was unlimited; a 429 may have come meanwhile.
        if (after > 0 or not pacer.open()) and await pacer.turn(after) is None and not pacer.open():
            await pacer.turn()
        call = self.dialect.status_call(generation_id)
        shared = self.acquire_client()
        try:
            if not retry:
                body = await self._apaced_read(pacer, shared.transport, call)
            else:
                async for attempt in self._async_retrying(is_transient_read_error):
                    with attempt:
                        if attempt.retry_state.attempt_number > 1 and not pacer.open():
                            await pacer.turn()
                        body = await self._apaced_read(pacer, shared.transport, call)
        finally:
            await self.release_client(shared)
        return self._parse_status(body, generation_id)

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with one status read of a made-up id: free, and never a paid request."""
        upstream = self.dialect.name
        try:
            call = self.dialect.status_call("airflow-connection-test")
            self._send(call, submit=False)
        except UpstreamHTTPError as exc:
            if self.dialect.rejects_key(exc.status_code, exc.message):
                return False, f"{upstream} rejected the API key: {exc}"
            if exc.status_code == 402:
                return False, f"{upstream} accepted the key but refuses to work: {exc}"
            if exc.is_transient:
                return False, f"{upstream} is not answering normally: {exc}"
            return True, f"Connected to {upstream} at {self.settings.base_url}; API key accepted"
        except GrokVideoError as exc:
            return False, str(exc)
        return True, f"Connected to {upstream} at {self.settings.base_url}; API key accepted"

    # -- plumbing --------------------------------------------------------------------------
    def _parse_status(self, body: Any, generation_id: str) -> VideoGeneration:
        if type(body) is StillRunning:
            return self.dialect.parse_still_running(body.body, generation_id).generation
        parsed = self.dialect.parse_status(body, generation_id)
        word = parsed.unknown_status
        if word is not None and (self.dialect.name, word) not in self._unknown_statuses_logged:
            self._unknown_statuses_logged.add((self.dialect.name, word))
            self.log.warning(
                "%s answered an undocumented status %r; treating it as still running",
                self.dialect.name,
                word,
            )
        return parsed.generation

    def _send(self, call: HttpCall, *, submit: bool) -> Any:
        return self._read(self._exchange(call, submit=submit), submit=submit)

    def _exchange(
        self,
        call: HttpCall,
        *,
        submit: bool,
        headers: dict[str, str] | None = None,
        on_sending: Callable[[], None] | None = None,
    ) -> httpx.Response:
        """One paced request over the sync client; the answer as it came (not yet read).

        ``on_sending`` is called once the key's budget has granted the turn, right before the
        request is written (see ``SyncPacer.turn``): the wait for the turn (seconds to minutes
        on a busy key) sends nothing, and must not count as a request that may be in flight.
        """
        pacer = self.sync_pacer
        sent_at = pacer.turn(on_sending)
        try:
            response = self._sync_client.request(
                call.method, call.path, params=call.params, json=call.json, headers=headers
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc, submit=submit) from None
        if response.status_code == 429:
            pacer.refused(sent_at, parse_retry_after(response.headers.get("Retry-After")))
        else:
            pacer.answered()
        return response

    async def _apaced_read(
        self, pacer: AsyncPacer, transport: httpx.AsyncBaseTransport, call: HttpCall
    ) -> Any:
        """:meth:`_aread`, telling the pacer how the upstream took it (429 or not)."""
        sent_at = pacer.now()
        try:
            body = await self._aread(transport, call)
        except UpstreamHTTPError as exc:
            if exc.status_code == 429:
                pacer.refused(sent_at, exc.retry_after)
            else:
                pacer.answered(pacer.now())
            raise
        pacer.answered(pacer.now())
        return body

    async def _aread(self, transport: httpx.AsyncBaseTransport, call: HttpCall) -> Any:
        """A status read, sent straight to the shared client's transport.

        The client's per-request machinery (base-URL merging, cookie jar, auth flow, redirect
        handling) does nothing a status GET needs, yet costs most of httpx's CPU per request: a
        status read over a kept-alive connection went from ~290 to ~185 µs of CPU without it.
        The URL is the connection's base URL plus the dialect's path, so the key in these
        headers goes to the API's own origin only, as with ``clients.BearerAuth``; redirects are
        not followed.
        """
        request = httpx.Request(
            call.method,
            self.settings.base_url + call.path,
            params=call.params,
            headers=self._status_headers,
            # A GET has no body: an empty stream skips httpx's body encoding and automatic
            # headers (aiohttp sets Host itself), half of what building the request costs.
            stream=httpx.ByteStream(b""),
            extensions={"timeout": self._timeout.as_dict()},
        )
        request.read()  # content b"": the transport then sends no body (not an empty stream)
        try:
            response = await transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise self._unreachable(exc, submit=False) from None
        return self._read(response, submit=False)

    def _read(self, response: httpx.Response, *, submit: bool) -> Any:
        upstream = self.dialect.name
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = None
            code, message = error_details(body, response.text)
            raise UpstreamHTTPError(
                upstream,
                response.status_code,
                code and self._scrub(code),
                self._scrub(message),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code == 202 and not submit:
            # "Still in progress" (xAI's schema gives it no body; clients have seen
            # {"status":"pending","progress":24} too): documented, so neither weather nor odd.
            try:
                return StillRunning(response.json() if response.content.strip() else None)
            except ValueError:
                return StillRunning(None)
        try:
            return response.json()
        except ValueError:
            snippet = self._scrub(response.text[:200])
            raise UnexpectedResponse(
                f"{upstream} answered HTTP {response.status_code} with a body that is not "
                f"JSON: {snippet!r}"
            ) from None

    def _unreachable(self, exc: httpx.TransportError, *, submit: bool) -> UpstreamUnreachable:
        where = f"{self.dialect.name} at {self.settings.base_url}"
        reason = self._scrub(str(exc) or type(exc).__name__)
        # Only these mean the request never left this machine; anything later (a reset, a
        # read timeout, a cut-off answer) may have created the job upstream.
        never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        if submit and not never_sent:
            again = (
                "it is sent again only as the identical request with the same Idempotency-Key"
                if self.idempotent
                else "so it is not submitted again"
            )
            return SubmitOutcomeUnknown(
                f"the submit to {where} got no answer ({type(exc).__name__}: {reason}); the "
                f"job may have been created upstream, {again}"
            )
        return UpstreamUnreachable(f"no answer from {where} ({type(exc).__name__}: {reason})")

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key
        return text.replace(key, "***") if key and len(key) >= 4 else text

    def _with_retries(
        self, func: Callable[[], Any], should_retry: Callable[[BaseException], bool]
    ) -> Any:
        for attempt in tenacity.Retrying(**self._retry_arguments(should_retry)):
            with attempt:
                return func()
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _async_retrying(self, should_retry: Callable[[BaseException], bool]) -> Any:
        return tenacity.AsyncRetrying(**self._retry_arguments(should_retry))

    def _retry_arguments(self, should_retry: Callable[[BaseException], bool]) -> dict[str, Any]:
        policy = self.retry

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return policy.wait_for(state.attempt_number, error)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.log.warning(
                "%s: %s; retrying in %.1fs (attempt %d of %d)",
                self.dialect.name,
                error,
                state.upcoming_sleep,
                state.attempt_number,
                policy.attempts,
            )

        return {
            "retry": tenacity.retry_if_exception(should_retry),
            "stop": tenacity.stop_after_attempt(policy.attempts),
            "wait": wait,
            "before_sleep": before_sleep,
            "reraise": True,
        }


@dataclass(frozen=True)
class StillRunning:
    """A status read answered HTTP 202: the job is still in progress (``body``: its JSON, or
    None when it had none); read by the dialect's ``parse_still_running``."""

    body: Any = None
