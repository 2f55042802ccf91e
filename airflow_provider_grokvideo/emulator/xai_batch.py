"""xAI's Batch API in the emulator, as UPSTREAMS.md ("xAI's Batch API") documents it.

* ``POST /v1/batches`` ``{"name"}`` -> a Batch; ``GET /v1/batches`` lists them;
  ``GET /v1/batches/{id}`` -> a Batch with its counters; ``POST /v1/batches/{id}:cancel``;
* ``POST /v1/batches/{id}/requests`` ``{"batch_requests": [...]}`` -> ``{}``;
* ``GET /v1/batches/{id}/requests`` and ``/results``, paginated (``limit``,
  ``pagination_token``; the last page has none).

Each request is one job of the emulator's job store (its life, markers, hold and CDN video as
an interactive job's).  What the emulator chooses where xAI documents nothing:

* results are listed in the order they finished, and jobs of one batch last different times
  (a request's job lasts between 0.5 and 1.5 times ``job_seconds``, by its id): results come
  out of the order of the requests.  The pagination token is an offset into that order, which
  only grows at its end, so paging while results arrive misses none;
* a result's video URL expires ``url_seconds`` (3600, xAI's "after 1 hour") after the result
  is ready: the CDN then answers 410.  ``url_seconds`` is a setting so that a test can prove
  that no video is lost to it;
* a request the emulator refuses (a bad body, a model unknown) fails with the string error
  of xAI's SDK tests (``"error": "Model is not supported for batch processing"``); a job that
  fails (the ``[emulator:fail]`` marker) with ``{"code", "message"}``: both shapes are seen;
* batch jobs are billed :data:`DISCOUNT` of the interactive price (xAI's guide: 50 % off);
* a duplicate ``batch_request_id`` refuses the whole add call (400), so that a client adding
  a request twice sees it; batch calls count toward no rate limit (the guide says so).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_grokvideo.emulator.jobs import SUCCEEDED, Job, JobStore, uuid4_hex
from airflow_provider_grokvideo.emulator.upstream import Links, SubmitSpec
from airflow_provider_grokvideo.emulator.wire import Reply, json_reply
from airflow_provider_grokvideo.emulator.xai import (
    EDIT,
    EXTEND,
    INVALID_ARGUMENT,
    MODEL,
    NOT_FOUND,
    XaiAPI,
)

PREFIX = "/v1/batches"
#: How long a result's video URL lives once the result is ready (xAI: "expire after 1 hour").
URL_SECONDS = 3600.0
#: How long a batch lives (xAI: results "typically within 24 hours").
BATCH_SECONDS = 24 * 3600.0
#: What a batch job is billed, as a fraction of the interactive price (xAI's guide: 50 % off).
DISCOUNT = Fraction(1, 2)
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
#: xAI's limit on one add-requests call.
MAX_ADD_BYTES = 25 * 1024 * 1024
UNSUPPORTED = "Model is not supported for batch processing"


@dataclass(slots=True)
class BatchRequest:
    request_id: str
    endpoint: str  # video_generation | video_extension
    model: str
    created: float
    job: Job | None = None  # None: refused when added
    error: str | None = None  # why it was refused (the string error shape)


@dataclass(slots=True)
class Batch:
    batch_id: str
    name: str
    created: float
    cancelled: float | None = None
    requests: dict[str, BatchRequest] = field(default_factory=dict)

    @property
    def expires(self) -> float:
        return self.created + BATCH_SECONDS


@dataclass
class BatchStats:
    creates: int = 0
    adds: int = 0
    requests_added: int = 0
    gets: int = 0
    lists: int = 0
    cancels: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class XaiBatches:
    """Every batch of the emulator, over its job store; ``clock`` is the app's."""

    def __init__(
        self,
        api: XaiAPI,
        jobs: JobStore,
        clock: Callable[[], float],
        job_seconds: Callable[[], float],
    ) -> None:
        self.api = api
        self.jobs = jobs
        self.clock = clock
        self.job_seconds = job_seconds
        self.url_seconds = URL_SECONDS
        #: What a reset restores (``--xai-batch-url-seconds`` at start, else xAI's hour).
        self.start_url_seconds = URL_SECONDS
        self.batches: dict[str, Batch] = {}
        #: job id -> its batch, for the CDN's expiry check.
        self._job_batches: dict[str, Batch] = {}
        self.stats = BatchStats()

    def reset(self) -> None:
        self.batches.clear()
        self._job_batches.clear()
        self.url_seconds = self.start_url_seconds
        self.stats = BatchStats()

    def set_url_seconds(self, seconds: float | None) -> float:
        """Shorten (or restore, with None) how long a result's URL lives."""
        value = URL_SECONDS if seconds is None else float(seconds)
        if not value > 0:
            raise ValueError(f"url_seconds must be above 0, got {seconds!r}")
        self.url_seconds = value
        return value

    # -- the CDN ----------------------------------------------------------------------------

    def url_expired(self, job: Job, now: float) -> bool:
        """Whether ``job`` is a batch job whose video URL has expired."""
        if job.id not in self._job_batches:
            return False
        return now >= job.ends + self.url_seconds

    # -- routing ----------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: bytes, raw: bytes | None, links: Links
    ) -> Reply:
        """Answer one request under ``/v1/batches`` (authorized already)."""
        now = self.clock()
        rest = path[len(PREFIX) :].strip("/")
        if not rest:
            if method == "POST":
                return self._create(_json(raw), now)
            if method == "GET":
                self.stats.lists += 1
                batches = [self._batch_body(b, now) for b in self.batches.values()]
                return _page(batches, "batches", _query(query))
            return _method(method, path)
        head, _, tail = rest.partition("/")
        if tail == "" and head.endswith(":cancel"):
            batch = self.batches.get(head[: -len(":cancel")])
            if batch is None:
                return _not_found(head)
            if method != "POST":
                return _method(method, path)
            self.stats.cancels += 1
            if batch.cancelled is None:
                batch.cancelled = now
            return json_reply(200, self._batch_body(batch, now))
        batch = self.batches.get(head)
        if batch is None:
            return _not_found(head)
        if tail == "":
            if method != "GET":
                return _method(method, path)
            self.stats.gets += 1
            return json_reply(200, self._batch_body(batch, now))
        if tail == "requests":
            if method == "POST":
                return self._add(batch, raw, now)
            if method == "GET":
                self.stats.lists += 1
                metadata = [self._metadata(r, batch, now) for r in batch.requests.values()]
                return _page(metadata, "batch_request_metadata", _query(query))
            return _method(method, path)
        if tail == "results":
            if method != "GET":
                return _method(method, path)
            self.stats.lists += 1
            return _page(self._results(batch, now, links), "results", _query(query))
        return json_reply(404, {"code": NOT_FOUND, "error": f"No handler found for {path}"})

    # -- calls ------------------------------------------------------------------------------

    def _create(self, body: Any, now: float) -> Reply:
        if not isinstance(body, dict):
            return _bad("request body must be a JSON object")
        name = body.get("name", "")
        if not isinstance(name, str):
            return _bad("name must be a string")
        self.stats.creates += 1
        batch = Batch(f"batch_{uuid4_hex()}", name, now)
        self.batches[batch.batch_id] = batch
        return json_reply(200, self._batch_body(batch, now))

    def _add(self, batch: Batch, raw: bytes | None, now: float) -> Reply:
        if raw is None or len(raw) > MAX_ADD_BYTES:
            return json_reply(413, {"code": INVALID_ARGUMENT, "error": "Request body is too large"})
        body = _json(raw)
        items = body.get("batch_requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return _bad("batch_requests must be a non-empty array")
        if batch.cancelled is not None or now >= batch.expires:
            return json_reply(
                400,
                {"code": "Failed precondition", "error": "batch is no longer accepting requests"},
            )
        added: list[BatchRequest] = []
        ids: set[str] = set()
        for position, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("batch_request"), dict):
                return _bad(
                    f"batch_requests[{position}] must be {{batch_request_id, batch_request}}"
                )
            request_id = item.get("batch_request_id") or uuid4_hex()
            if not isinstance(request_id, str):
                return _bad(f"batch_requests[{position}].batch_request_id must be a string")
            if request_id in batch.requests or request_id in ids:
                return _bad(f"batch_request_id {request_id!r} already exists in this batch")
            ids.add(request_id)
            added.append(self._request(batch, request_id, item["batch_request"], now))
        for request in added:
            batch.requests[request.request_id] = request
            if request.job is not None:
                self.jobs.add(request.job, now)
                self._job_batches[request.job.id] = batch
        self.stats.adds += 1
        self.stats.requests_added += len(added)
        return json_reply(200, {})

    def _request(
        self, batch: Batch, request_id: str, wrapped: dict[str, Any], now: float
    ) -> BatchRequest:
        endpoint, body = next(iter(wrapped.items()), ("", None))
        model = body.get("model") if isinstance(body, dict) else None
        model = model if isinstance(model, str) else MODEL
        spec: SubmitSpec | list[str]
        if endpoint == "video_generation" and isinstance(body, dict) and "video" in body:
            spec = self.api.parse_operation(body, EDIT)
        elif endpoint == "video_generation":
            spec = self.api.parse_submit(body)
        elif endpoint == "video_extension":
            spec = self.api.parse_operation(body, EXTEND)
        else:
            spec = [UNSUPPORTED]
        request = BatchRequest(request_id, endpoint or "unknown", model, now)
        if isinstance(spec, list):
            request.error = "; ".join(spec)
            return request
        seconds = spec.scenario.seconds
        if seconds is None:
            # Jobs of one batch last different times, so that results come out of order.
            spread = int(hashlib.sha256(f"{batch.batch_id}/{request_id}".encode()).hexdigest(), 16)
            seconds = self.job_seconds() * (0.5 + (spread % 1000) / 1000)
        ticks = None if spec.cost_ticks is None else int(spec.cost_ticks * DISCOUNT)
        request.job = Job(
            uuid4_hex(),
            self.api.name,
            now,
            seconds,
            spec.scenario,
            spec.video_duration,
            spec.model,
            ticks,
            spec.shape,
        )
        return request

    # -- answers ----------------------------------------------------------------------------

    def _state(self, request: BatchRequest, batch: Batch, now: float) -> str:
        """``pending``, ``succeeded``, ``failed`` or ``cancelled`` at ``now``."""
        job = request.job
        if job is None:
            return "failed"
        ended = job.finished(now)
        stopped = batch.cancelled if batch.cancelled is not None else batch.expires
        if not ended or job.ends > stopped:
            return "cancelled" if now >= stopped else "pending"
        return "succeeded" if job.scenario.outcome == SUCCEEDED else "failed"

    def _finish_time(self, request: BatchRequest, batch: Batch) -> float:
        if request.job is None:
            return request.created
        stopped = batch.cancelled if batch.cancelled is not None else batch.expires
        return min(request.job.ends, stopped)

    def _batch_body(self, batch: Batch, now: float) -> dict[str, Any]:
        counts = {"pending": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
        for request in batch.requests.values():
            counts[self._state(request, batch, now)] += 1
        return {
            "batch_id": batch.batch_id,
            "name": batch.name,
            "create_time": _iso(batch.created),
            "expire_time": _iso(batch.expires),
            "cancel_time": _iso(batch.cancelled) if batch.cancelled is not None else None,
            "state": {
                "num_requests": len(batch.requests),
                "num_pending": counts["pending"],
                "num_success": counts["succeeded"],
                "num_error": counts["failed"],
                "num_cancelled": counts["cancelled"],
            },
        }

    def _metadata(self, request: BatchRequest, batch: Batch, now: float) -> dict[str, Any]:
        state = self._state(request, batch, now)
        return {
            "batch_request_id": request.request_id,
            "endpoint": request.endpoint,
            "model": request.model,
            "state": state,
            "create_time": _iso(request.created),
            "finish_time": None if state == "pending" else _iso(self._finish_time(request, batch)),
        }

    def _results(self, batch: Batch, now: float, links: Links) -> list[dict[str, Any]]:
        finished = [
            (self._finish_time(r, batch), r)
            for r in batch.requests.values()
            if self._state(r, batch, now) in ("succeeded", "failed")
        ]
        # In the order they finished: a page boundary never moves under a client paging.
        finished.sort(key=lambda pair: pair[0])
        return [self._result(r, links) for _, r in finished]

    def _result(self, request: BatchRequest, links: Links) -> dict[str, Any]:
        job = request.job
        if job is None:
            return {
                "batch_request_id": request.request_id,
                "batch_result": {"error": request.error},
            }
        if job.scenario.outcome != SUCCEEDED:
            error = {
                "code": "invalid_argument",
                "message": "Generated video rejected by content moderation.",
            }
            return {
                "batch_request_id": request.request_id,
                "batch_result": {"error": error},
            }
        duration = job.video_duration
        return {
            "batch_request_id": request.request_id,
            "batch_result": {
                "response": {
                    request.endpoint: {
                        "model": job.model or MODEL,
                        "video": {
                            "url": links.video(job.id),
                            "duration": int(duration) if duration == int(duration) else duration,
                            "respect_moderation": True,
                        },
                        "usage": {"cost_in_usd_ticks": job.cost_ticks},
                        "error": None,
                    }
                }
            },
        }

    def describe(self) -> dict[str, Any]:
        """For the control plane's stats."""
        return {
            "batches": len(self.batches),
            "url_seconds": self.url_seconds,
            **self.stats.to_dict(),
        }


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json(raw: bytes | None) -> Any:
    try:
        return json.loads(raw) if raw and raw.strip() else None
    except ValueError:
        return None


def _query(query: bytes) -> tuple[int, int]:
    """(limit, offset) from ``limit`` and ``pagination_token`` (an offset, as text)."""
    values = parse_qs(query.decode("latin-1"))
    try:
        limit = int(values.get("limit", [DEFAULT_LIMIT])[0])
    except ValueError:
        limit = DEFAULT_LIMIT
    token = values.get("pagination_token", [""])[0]
    offset = int(token) if token.isdigit() else 0
    return max(1, min(limit, MAX_LIMIT)), offset


def _page(items: list[dict[str, Any]], key: str, window: tuple[int, int]) -> Reply:
    limit, offset = window
    page = items[offset : offset + limit]
    token = str(offset + limit) if offset + limit < len(items) else None
    return json_reply(200, {key: page, "pagination_token": token})


def _bad(message: str) -> Reply:
    return json_reply(400, {"code": INVALID_ARGUMENT, "error": message})


def _not_found(batch_id: str) -> Reply:
    return json_reply(404, {"code": NOT_FOUND, "error": f"No batch found with id {batch_id}"})


def _method(method: str, path: str) -> Reply:
    return json_reply(
        405, {"code": INVALID_ARGUMENT, "error": f"Method {method} is not allowed on {path}"}
    )


__all__ = ["DISCOUNT", "URL_SECONDS", "XaiBatches"]
