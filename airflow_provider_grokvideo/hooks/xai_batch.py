"""xAI's Batch API on the xAI hook: a mixin of
:class:`~airflow_provider_grokvideo.hooks.xai.XAIVideoHook`.

Every call goes through the hook's own plumbing (the connection's pacer or shared budget, its
retry policy, the key scrubbed from errors): the dialect (``dialects/xai_batch.py``) builds
the calls and reads the answers.  Add-requests calls also take a turn of a budget of their
own (:attr:`XAIBatchMixin.batch_add_pacer`: xAI's 100 calls per 30 s, shared like the key's
budget when the connection has a ``redis_conn_id``), each within xAI's 25 MB.

Writes (create, add, cancel) are retried only when they surely never reached xAI; an add whose
outcome is unknown is settled by listing the batch's requests (:meth:`batch_request_ids`) and
adding only what it lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.dialects import xai_batch as xb
from airflow_provider_grokvideo.models import SourceVideoRequest
from airflow_provider_grokvideo.pricing import CostEstimate, batch_estimate

if TYPE_CHECKING:
    from airflow_provider_grokvideo.dialects.base import HttpCall
    from airflow_provider_grokvideo.hooks.pacer import SyncPacer


class XAIBatchMixin:
    """``create_batch``, ``add_batch_requests``, ``get_batch``/``aget_batch``,
    ``batch_request_ids``, ``batch_results_page``, ``cancel_batch``."""

    if TYPE_CHECKING:  # provided by GrokVideoHook
        settings: Any
        log: Any
        _runtime_key: tuple[str, str]
        _label: str
        budget_store: Any

        def _with_retries(self, func: Any, should_retry: Any) -> Any: ...
        def _send(self, call: HttpCall, *, submit: bool) -> Any: ...
        def _exchange(self, call: HttpCall, *, submit: bool) -> Any: ...
        def _read(self, response: Any, *, submit: bool) -> Any: ...
        def _warn_if_unknown_model(self, model: str | None) -> None: ...
        def pacer(self) -> Any: ...
        def acquire_client(self) -> Any: ...
        async def release_client(self, shared: Any) -> None: ...
        async def _apaced_read(self, pacer: Any, transport: Any, call: HttpCall) -> Any: ...
        def estimate_cost(self, prompt: str = ..., **kwargs: Any) -> CostEstimate | None: ...
        def estimate_source_cost(
            self, operation: str, prompt: str = ..., **kwargs: Any
        ) -> CostEstimate | None: ...

    # -- sending nothing ----------------------------------------------------------------------
    def build_batch_requests(
        self, requests: Sequence[Mapping[str, Any]], request_ids: Sequence[str]
    ) -> list[xb.BatchRequest]:
        """Validate every request (as the interactive submit would) and build them; the first
        refused raises :class:`InvalidVideoRequest` naming ``requests[i].field``."""
        if len(requests) != len(request_ids):
            raise ValueError("one batch_request_id per request")
        built = [
            xb.build_request(
                params,
                request_id,
                index=index,
                default_model=self.settings.model,
                relaxed=self.settings.relax_limits,
            )
            for index, (params, request_id) in enumerate(zip(requests, request_ids, strict=True))
        ]
        for model in {b.request.model for b in built}:
            self._warn_if_unknown_model(model)
        return built

    def estimate_batch_cost(self, request: xb.BatchRequest) -> CostEstimate | None:
        """What one validated batch request should cost at batch prices (None: no price)."""
        neutral = request.request
        if isinstance(neutral, SourceVideoRequest):
            estimate = self.estimate_source_cost(
                neutral.operation,
                neutral.prompt,
                video_url=neutral.video_url,
                duration=neutral.duration,
                model=neutral.model,
                source_duration=neutral.source_duration,
            )
        else:
            estimate = self.estimate_cost(
                neutral.prompt,
                duration=neutral.duration,
                aspect_ratio=neutral.aspect_ratio,
                resolution=neutral.resolution,
                image_urls=list(neutral.image_urls),
                model=neutral.model,
                reference_image_urls=list(neutral.reference_image_urls),
            )
        return batch_estimate(estimate)

    # -- the calls ----------------------------------------------------------------------------
    @property
    def batch_add_pacer(self) -> SyncPacer:
        """This process's budget of the key's add-requests calls (xAI's 100 per 30 s), apart
        from the key's request budget (each add takes a turn of both).  With a shared store
        (``redis_conn_id``) every process of the key draws from one budget of its own there.
        xAI counts the limit per team: keys of one team adding at once share xAI's limit but
        not this budget."""
        from airflow_provider_grokvideo.hooks.runtime import process_runtime

        runtime = process_runtime(self._runtime_key, self._label)
        return runtime.sync_pacer(xb.ADD_CALLS_PER_SECOND, self.budget_store, "batch adds")

    def create_batch(self, name: str) -> xb.Batch:
        from airflow_provider_grokvideo.hooks.outcomes import is_safe_submit_retry

        call = xb.create_call(name)
        body = self._with_retries(lambda: self._send(call, submit=True), is_safe_submit_retry)
        batch = xb.parse_batch(body)
        self.log.info("xai created batch %s (%s)", batch.batch_id, name)
        return batch

    def add_batch_requests(
        self, batch_id: str, requests: Sequence[xb.BatchRequest], *, max_bytes: int = 0
    ) -> int:
        """Add ``requests``, in calls within xAI's 25 MB, each after its turn of
        :attr:`batch_add_pacer`; return how many calls were made.  Each call is retried only
        where it surely never reached xAI."""
        from airflow_provider_grokvideo.hooks.outcomes import is_safe_submit_retry

        calls = xb.add_calls(batch_id, requests, max_bytes=max_bytes or xb.MAX_ADD_BYTES)
        adds = self.batch_add_pacer
        for call in calls:

            def send(call: HttpCall = call) -> None:
                adds.turn()  # a retried call is one more call for xAI's limit too
                response = self._exchange(call, submit=True)
                if response.status_code >= 400:
                    self._read(response, submit=True)  # raises the upstream's refusal
                # The answer is an empty body (or {}): nothing to read.

            self._with_retries(send, is_safe_submit_retry)
        return len(calls)

    def get_batch(self, batch_id: str) -> xb.Batch:
        from airflow_provider_grokvideo.hooks.outcomes import is_transient_read_error

        call = xb.get_call(batch_id)
        body = self._with_retries(lambda: self._send(call, submit=False), is_transient_read_error)
        return xb.parse_batch(body)

    async def aget_batch(self, batch_id: str) -> xb.Batch:
        """One read of the batch's counters over the loop's shared client, through the
        connection's pacer (the trigger's poll: one request however many videos)."""
        pacer = self.pacer()
        if not pacer.open():
            await pacer.turn()
        shared = self.acquire_client()
        try:
            body = await self._apaced_read(pacer, shared.transport, xb.get_call(batch_id))
        finally:
            await self.release_client(shared)
        return xb.parse_batch(body)

    def _read_pages(self, make: Any, parse: Any) -> Iterable[Any]:
        from airflow_provider_grokvideo.hooks.outcomes import is_transient_read_error

        token: str | None = None
        seen: set[str] = set()
        while True:
            call = make(token)
            body = self._with_retries(
                lambda call=call: self._send(call, submit=False), is_transient_read_error
            )
            page = parse(body)
            yield from page.items
            # A token seen before would loop for ever: stop there.
            if not page.next_token or page.next_token in seen:
                return
            seen.add(page.next_token)
            token = page.next_token

    def find_batch(self, name: str) -> xb.Batch | None:
        """The newest batch of the team named ``name`` (all pages), or None: how a retry
        finds its batch where no task state store recorded it."""
        found = [
            batch
            for batch in self._read_pages(xb.list_call, xb.parse_batches_page)
            if batch.name == name
        ]
        return max(found, key=lambda b: b.create_time or 0.0) if found else None

    def batch_request_ids(self, batch_id: str) -> dict[str, str]:
        """Every request the batch holds, ``batch_request_id -> state`` (all pages)."""
        items = self._read_pages(
            lambda token: xb.requests_call(batch_id, token), xb.parse_requests_page
        )
        return {item.batch_request_id: item.state for item in items}

    def batch_results(self, batch_id: str, *, limit: int = 100) -> Iterable[xb.BatchResult]:
        """Every result listed now (all pages), in xAI's order (none is guaranteed)."""
        return self._read_pages(
            lambda token: xb.results_call(batch_id, token, limit), xb.parse_results_page
        )

    def cancel_batch(self, batch_id: str) -> xb.Batch:
        from airflow_provider_grokvideo.hooks.outcomes import is_safe_submit_retry

        call = xb.cancel_call(batch_id)
        body = self._with_retries(lambda: self._send(call, submit=True), is_safe_submit_retry)
        return xb.parse_batch(body)
