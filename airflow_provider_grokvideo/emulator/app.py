"""Routing: one ASGI application serving the three upstreams, the CDN and the control plane.

* ``/xcompute/…``, ``/mountsea/…``, ``/xai/…``: each upstream's API (wire formats in
  ``xcompute.py``, ``mountsea.py``, ``xai.py``; job life in ``jobs.py``);
* ``/cdn/videos/<id>.mp4`` and ``/cdn/thumbnails/<id>.jpg``: the finished media (``cdn.py``);
* ``/_emulator/…``: stats, reset, faults and job inspection (``control.py``, a small Starlette
  router).

The upstream and CDN paths are the hot path (thousands of status polls per second), so they are
plain ASGI: a dictionary lookup for the prefix, a dictionary lookup for the job, one JSON dump.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow_provider_grokvideo.emulator.cdn import JPEG_TYPE, VIDEO_TYPE, MediaFile, send_media
from airflow_provider_grokvideo.emulator.cdn import sample_bytes as _sample_bytes
from airflow_provider_grokvideo.emulator.connections import ConnectionTracker
from airflow_provider_grokvideo.emulator.defaults import (
    DEFAULT_API_KEY,
    DEFAULT_JOB_SECONDS,
    DEFAULT_MAX_JOBS,
    UPSTREAMS,
)
from airflow_provider_grokvideo.emulator.delivery import deliver_if_due
from airflow_provider_grokvideo.emulator.faults import (
    DELAYED_FAULTS,
    Fault,
    FaultQueue,
    make_fault,
)
from airflow_provider_grokvideo.emulator.files import APIMART_UPLOADS_PATH, FILES_PATH, XaiFiles
from airflow_provider_grokvideo.emulator.idempotency import (
    KEY_HEADER,
    REPLAYED_HEADER,
    VERSION_HEADER,
    IdempotencyKeys,
    key_problem,
)
from airflow_provider_grokvideo.emulator.jobs import NORMALIZED, Job, JobStore
from airflow_provider_grokvideo.emulator.listeners import UpstreamListeners
from airflow_provider_grokvideo.emulator.media import video_bytes
from airflow_provider_grokvideo.emulator.mountsea import MountseaAPI
from airflow_provider_grokvideo.emulator.outages import REFUSE, check_outages, outage_reply
from airflow_provider_grokvideo.emulator.ratelimits import RateLimits
from airflow_provider_grokvideo.emulator.stats import UpstreamStats
from airflow_provider_grokvideo.emulator.upstream import (
    SUBMIT,
    Links,
    UpstreamAPI,
    retry_after_header,
)
from airflow_provider_grokvideo.emulator.wire import (
    CT_JSON,
    Receive,
    Reply,
    Scope,
    Send,
    bearer_token,
    html_error,
    public_base,
    read_body,
    request_headers,
    send_reply,
    text_reply,
)
from airflow_provider_grokvideo.emulator.xai import XaiAPI, check_pending_202
from airflow_provider_grokvideo.emulator.xai_batch import MAX_ADD_BYTES as BATCH_MAX_ADD_BYTES
from airflow_provider_grokvideo.emulator.xai_batch import PREFIX as BATCH_PREFIX
from airflow_provider_grokvideo.emulator.xai_batch import XaiBatches
from airflow_provider_grokvideo.emulator.xcompute import XComputeAPI

_MEDIA_SUFFIX = {"videos": ".mp4", "thumbnails": ".jpg"}
_MALFORMED = Reply(200, b'{"code":200,"data":{"id":"task_01J', [CT_JSON])
_MALFORMED_MEDIA = Reply(200, b"<html><body>upstream error</body></html>", [VIDEO_TYPE])
#: Faults whose request is processed before the fault shows (the others replace the answer).
_FAULTS_AFTER_PROCESSING = frozenset({"lost-answer", "late-answer"})


def _keys(api_key: str | Iterable[str]) -> frozenset[str]:
    keys = frozenset([api_key] if isinstance(api_key, str) else api_key)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ValueError("api_key must be a non-empty string or a non-empty list of them")
    return keys


class EmulatorApp:
    """The emulator as an ASGI application (state included).

    Use it through :class:`~airflow_provider_grokvideo.emulator.server.Emulator` (a real server
    in a thread), ``python -m airflow_provider_grokvideo.emulator``, or mount it in any ASGI
    server yourself (``create_app()``); the ``drop`` and ``lost-answer`` faults and the
    ``cut-download`` marker need the emulator's own server to close connections.
    """

    def __init__(
        self,
        *,
        api_key: str | Iterable[str] = DEFAULT_API_KEY,
        job_seconds: float = DEFAULT_JOB_SECONDS,
        max_jobs: int = DEFAULT_MAX_JOBS,
        rate_limits: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.time,
        xai_pending_202: str | None = None,
    ) -> None:
        if job_seconds < 0:
            raise ValueError(f"job_seconds must be zero or more, got {job_seconds}")
        self.keys = _keys(api_key)
        self._accepted = frozenset(f"Bearer {k}".encode("latin-1") for k in self.keys)
        self.job_seconds = float(job_seconds)
        self.clock = clock
        self.jobs = JobStore(max_jobs)
        self.faults = FaultQueue()
        self.rate_limits = RateLimits(rate_limits)
        self.connections = ConnectionTracker()
        #: Upstreams served on a port of their own (see ``listeners.py``).
        self.listeners = UpstreamListeners()
        #: upstream -> the kind of outage it is down with (see ``outages.py``).
        self.outages: dict[str, str] = {}
        self.apis: dict[str, UpstreamAPI] = {
            api.name: api
            for api in (
                XComputeAPI(),
                MountseaAPI(),
                XaiAPI(pending_202=xai_pending_202, source_seconds=self._source_seconds),
            )
        }
        self._start_pending_202 = self.xai_pending_202
        xai = self.apis["xai"]
        assert isinstance(xai, XaiAPI)
        self.batches = XaiBatches(xai, self.jobs, lambda: self.clock(), lambda: self.job_seconds)
        self._links: dict[str, Links] = {}
        self.idempotency = IdempotencyKeys()
        #: xAI's Files (``POST /v1/files``): uploaded inputs by file id.
        self.files = XaiFiles(lambda: self.clock())
        self._control: Any = None
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.upstream_stats = {name: UpstreamStats() for name in UPSTREAMS}
        self.requests = 0
        self.cdn_requests = 0
        self.cdn_requests_with_authorization = 0
        self.cdn_bytes_sent = 0
        self.started = self.clock()

    # ------------------------------------------------------------------------ public state API

    def stats(self) -> dict[str, Any]:
        """Counters since start or the last reset (see ``docs/emulator.md``)."""
        now = self.clock()
        return {
            "upstreams": {name: s.to_dict() for name, s in self.upstream_stats.items()},
            "jobs": self.jobs.counts(now),
            "jobs_total": len(self.jobs),
            "jobs_evicted": self.jobs.evicted,
            "held": self.jobs.held,
            "requests": self.requests,
            "connections_opened": self.connections.opened,
            "connections_open": self.connections.open_now,
            "cdn_requests": self.cdn_requests,
            "cdn_requests_with_authorization": self.cdn_requests_with_authorization,
            "cdn_bytes_sent": self.cdn_bytes_sent,
            "faults_fired": dict(self.faults.fired),
            "faults_pending": self.faults.pending(),
            "rate_limits": dict(self.rate_limits.limits),
            "outages": dict(self.outages),
            "xai_pending_202": self.xai_pending_202,
            "job_seconds": self.job_seconds,
            "max_jobs": self.jobs.max_jobs,
            "seconds_since_reset": round(now - self.started, 3),
            "xai_batches": self.batches.describe(),
        }

    def reset(self) -> None:
        """Forget every job, pending fault and counter (open connections stay open); the rate
        limits and ``xai_pending_202`` go back to those given at start, every bucket full;
        a hold ends, and every outage."""
        self.set_outages({name: None for name in self.outages})
        self.set_xai_pending_202(self._start_pending_202)
        self.jobs.clear()
        self.batches.reset()
        self.idempotency.clear()
        self.files.clear()
        self.faults.reset()
        self.rate_limits.reset()
        self.connections.reset_counters()
        self._reset_counters()

    def inject(
        self,
        fault: str | int,
        *,
        count: int = 1,
        upstream: str | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
    ) -> dict[str, Any]:
        """Queue a global fault for the next ``count`` matching requests (see ``faults.py``)."""
        item = make_fault(
            fault,
            count=count,
            upstream=upstream,
            endpoint=endpoint,
            retry_after=retry_after,
            delay=delay,
        )
        self.faults.add(item)
        return item.to_dict()

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self.faults.clear()

    def hold(self) -> None:
        """Stop every unfinished job's clock, and that of every job submitted until
        :meth:`release`: each stays in its phase, with its progress (see ``jobs.py``)."""
        self.jobs.hold(self.clock())

    def release(self) -> int:
        """Restart the clocks :meth:`hold` stopped (each job lives the rest of its life from
        now); return how many jobs were held."""
        return self.jobs.release(self.clock())

    def set_rate_limits(self, limits: Mapping[str, float | None]) -> dict[str, float]:
        """Set (requests per second) or remove (``None``) upstreams' per-key rate limits;
        return all of them (see ``ratelimits.py``)."""
        return self.rate_limits.update(limits)

    def set_outages(self, outages: Mapping[str, str | None]) -> dict[str, str]:
        """Put upstreams down (``{"xai": "refuse"}``, see ``outages.py``) or up again
        (``None``); return every outage now on.  All checked before any is applied: raises
        ``ValueError`` for a bad one, and for ``"refuse"`` on an upstream without a port of its
        own (its connections cannot be refused without refusing the others')."""
        changes = check_outages(outages)
        for upstream, kind in changes.items():
            if kind == REFUSE and upstream not in self.listeners:
                raise ValueError(
                    f"{upstream} has no port of its own, so its connections cannot be refused: "
                    f'start the emulator with it on its own port (Emulator(upstream_ports=("'
                    f'{upstream}",)) or --upstream-port {upstream})'
                )
        for upstream, kind in changes.items():
            was = self.outages.pop(upstream, None)
            if kind is not None:
                self.outages[upstream] = kind
            if upstream not in self.listeners or (was == REFUSE) == (kind == REFUSE):
                continue
            if kind == REFUSE:
                self.listeners.close(upstream)
                closed = self.connections.close_port(self.listeners.port(upstream))
                self.upstream_stats[upstream].outage_connections_closed += closed
            else:
                self.listeners.reopen(upstream)
        return dict(self.outages)

    def serve_on_own_port(self, upstream: str, sock: Any) -> None:
        """Say that ``upstream`` is also served on ``sock`` (a bound socket of its own), which
        a ``"refuse"`` outage closes (the server hands over its listener when it starts)."""
        self.listeners.add(upstream, sock)
        if self.outages.get(upstream) == REFUSE:
            self.listeners.close(upstream)

    @property
    def xai_pending_202(self) -> str | None:
        """How xAI polls of running jobs answer: ``"empty"`` or ``"body"`` (HTTP 202), or
        None (HTTP 200, the default)."""
        return self.apis["xai"].pending_202  # type: ignore[attr-defined,no-any-return]

    def set_xai_pending_202(self, value: str | None) -> str | None:
        """Make xAI polls of running jobs answer HTTP 202 (``"empty"``: no body, ``"body"``:
        ``{"status":"pending","progress":N}``) or 200 again (None or ``"off"``)."""
        xai = self.apis["xai"]
        xai.pending_202 = check_pending_202(value)  # type: ignore[attr-defined]
        return self.xai_pending_202

    def _source_seconds(self, url: str) -> float | None:
        """The length of a video this emulator made, from its CDN URL (None for another)."""
        if url.startswith("file_"):  # an upload to xAI's Files (``video: {"file_id"}``)
            stored = self.files.get(url)
            return stored.seconds() if stored is not None else None
        marker = "/cdn/videos/"
        at = url.find(marker)
        if at < 0 or not url.endswith(".mp4"):
            return None
        job = self.jobs.get(url[at + len(marker) : -len(".mp4")])
        return job.video_duration if job is not None else None

    def job(self, job_id: str) -> dict[str, Any] | None:
        """What the emulator knows of one job (``None`` if unknown)."""
        job = self.jobs.get(job_id)
        if job is None:
            return None
        now = self.clock()
        phase = job.phase(now)
        return {
            "id": job.id,
            "upstream": job.upstream,
            "phase": phase,
            "state": NORMALIZED[phase],
            "progress": job.progress(now),
            "created": job.created,
            "ends": job.ends,
            "seen_ended": job.seen_ended,
            "seconds": job.seconds,
            "markers": job.scenario.markers,
            "model": job.model,
            "cost_ticks": job.cost_ticks,
            "video_duration": job.video_duration,
        }

    # ------------------------------------------------------------------------ ASGI entry point

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self._lifespan(receive, send)
            return
        self.requests += 1
        path: str = scope["path"]
        cut = path.find("/", 1)
        head = path[1:cut] if cut > 0 else path[1:]
        api = self.apis.get(head)
        if api is not None:
            await self._api(api, scope, receive, send, path[cut:] if cut > 0 else "")
        elif head == "cdn":
            await self._cdn(scope, send, path[cut:] if cut > 0 else "")
        else:
            await self._control_app()(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _authorized(self, header: bytes | None) -> bool:
        if header is None:
            return False
        return header in self._accepted or bearer_token(header) in self.keys

    def _links_for(self, scope: Scope, host: bytes | None) -> Links:
        base = public_base(scope, host)
        links = self._links.get(base)
        if links is None:
            if len(self._links) > 64:
                self._links.clear()
            links = self._links[base] = Links(base)
        return links

    # ------------------------------------------------------------------------ upstream APIs

    async def _api(
        self, api: UpstreamAPI, scope: Scope, receive: Receive, send: Send, path: str
    ) -> None:
        ustats = self.upstream_stats[api.name]
        ustats.requests += 1
        if self.outages:
            kind = self.outages.get(api.name)
            # "refuse" refuses the upstream's own port; its prefix on the shared port still
            # answers (that port cannot refuse one upstream's connections).
            if kind is not None and kind != REFUSE:
                ustats.outage_refused += 1
                await read_body(receive)  # a reply before the body is read could reset
                await send_reply(send, outage_reply(api, kind))
                return
        if api.name == "xai" and path == FILES_PATH:
            await self.files.handle(api, scope, receive, send, self._authorized)
            return
        if api.name == "xcompute" and path == APIMART_UPLOADS_PATH:
            base = self._links_for(scope, request_headers(scope)[1]).base
            await self.files.handle(api, scope, receive, send, self._authorized, base)
            return
        if api.name == "xai" and path.startswith(BATCH_PREFIX):
            # xAI's Batch API: outside every rate limit (xAI's guide); faults of "batch".
            await self._batch(api, ustats, scope, receive, send, path)
            return
        route = api.route(scope["method"], path, scope["query_string"])
        if type(route) is Reply:
            await send_reply(send, route)
            return
        endpoint, job_id = route  # type: ignore[misc]
        if self.rate_limits:
            auth = request_headers(scope)[0]
            wait = self.rate_limits.check(api.name, auth, self.clock())
            if wait is not None:
                if endpoint == SUBMIT:
                    ustats.rate_limited_submit += 1
                else:
                    ustats.rate_limited_status += 1
                await send_reply(send, api.rate_limited(RateLimits.retry_after(wait)))
                return
        fault = self.faults.take(api.name, endpoint) if self.faults else None
        if await self._fault_before(fault, ustats, scope, send, api, receive):
            return
        auth, host, _ = request_headers(scope)
        if endpoint == SUBMIT:
            reply = await self._submit(api, ustats, auth, receive, job_id, scope)
        else:
            links = self._links_for(scope, host)
            await deliver_if_due(self.jobs.get(job_id), self.clock(), links)
            reply = self._status(api, ustats, auth, job_id, links)
        await self._reply_after(fault, scope, send, reply)

    async def _batch(
        self,
        api: UpstreamAPI,
        ustats: UpstreamStats,
        scope: Scope,
        receive: Receive,
        send: Send,
        path: str,
    ) -> None:
        auth, host, _ = request_headers(scope)
        raw = await read_body(receive, BATCH_MAX_ADD_BYTES)
        if not self._authorized(auth):
            ustats.auth_failures += 1
            await send_reply(send, api.unauthorized())
            return
        # Faults as on the other endpoints ("batch"): a lost answer of an add has added.
        fault = self.faults.take(api.name, "batch") if self.faults else None
        if await self._fault_before(fault, ustats, scope, send, api):
            return
        links = self._links_for(scope, host)
        reply = self.batches.handle(scope["method"], path, scope["query_string"], raw, links)
        await self._reply_after(fault, scope, send, reply)

    async def _fault_before(
        self,
        fault: Fault | None,
        ustats: UpstreamStats,
        scope: Scope,
        send: Send,
        api: UpstreamAPI,
        receive: Receive | None = None,
    ) -> bool:
        """Play the part of ``fault`` that comes before the request is processed: a delay, or
        the fault's own answer instead of the real one (then ``True``: nothing else to do)."""
        if fault is None:
            return False
        ustats.faults += 1
        if fault.fault == "slow":
            await asyncio.sleep(fault.delay)
        elif fault.fault not in _FAULTS_AFTER_PROCESSING:
            await self._fault_reply(fault, scope, send, api, receive)
            return True
        return False

    async def _reply_after(
        self, fault: Fault | None, scope: Scope, send: Send, reply: Reply
    ) -> None:
        """Send ``reply``, unless ``fault`` loses it (the connection dropped) or delays it: the
        request was processed either way, so a job made (and billed) is there."""
        if fault is not None and fault.fault == "lost-answer":
            await self.connections.drop(scope)
            return
        if fault is not None and fault.fault == "late-answer":
            await asyncio.sleep(fault.delay)
        await send_reply(send, reply)

    async def _fault_reply(
        self,
        fault: Fault,
        scope: Scope,
        send: Send,
        api: UpstreamAPI | None,
        receive: Receive | None = None,
    ) -> None:
        name = fault.fault
        if name == "drop" or name == "lost-answer":
            # Read the request to its end first: closing a socket with unread bytes sends a
            # reset instead of a clean close, and which of the two a client sees would depend
            # on whether the body had arrived yet.
            if receive is not None:
                await read_body(receive)
            await self.connections.drop(scope)
            return
        if name == "429":
            if api is not None:
                reply = api.rate_limited(fault.retry_after)
            else:
                reply = text_reply(
                    429, "Too Many Requests", [retry_after_header(fault.retry_after)]
                )
        elif name == "malformed":
            reply = _MALFORMED if api is not None else _MALFORMED_MEDIA
        else:
            reply = html_error(int(name))
        await send_reply(send, reply)

    async def _submit(
        self,
        api: UpstreamAPI,
        ustats: UpstreamStats,
        auth: bytes | None,
        receive: Receive,
        operation: str = "",
        scope: Scope | None = None,
    ) -> Reply:
        ustats.submit_requests += 1
        if not self._authorized(auth):
            ustats.auth_failures += 1
            return api.unauthorized()
        raw = await read_body(receive)
        if raw is None:
            ustats.rejected += 1
            return api.too_large()
        body: Any = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                ustats.rejected += 1
                detail = (
                    f"{exc.msg} at position {exc.pos}"
                    if isinstance(exc, json.JSONDecodeError)
                    else "body is not UTF-8 JSON"
                )
                return api.invalid_json(detail)
        spec = api.parse_operation(body, operation) if operation else api.parse_submit(body)
        if isinstance(spec, list):
            ustats.rejected += 1
            return api.bad_request(spec)
        key, version = _submit_headers(scope) if api.idempotency_keys else (None, None)
        echo = [(VERSION_HEADER, version)] if version is not None else []
        if key is not None:
            problem = key_problem(key)
            if problem is not None:
                ustats.rejected += 1
                return api.key_conflict(problem)
            digest = self.idempotency.digest(raw)
            earlier, same = self.idempotency.lookup(api.name, auth, key, digest)
            job_before = self.jobs.get(earlier) if earlier is not None else None
            if job_before is not None and same:
                ustats.idempotent_replays += 1
                reply = api.submitted(job_before)
                return reply._replace(headers=[*reply.headers, REPLAYED_HEADER, *echo])
            if job_before is not None:
                ustats.rejected += 1
                return api.key_conflict(
                    "this Idempotency-Key was used with a different request; a changed "
                    "request takes a new key"
                )
        now = self.clock()
        seconds = spec.scenario.seconds
        job = Job(
            api.new_id(now),
            api.name,
            now,
            self.job_seconds if seconds is None else seconds,
            spec.scenario,
            spec.video_duration,
            spec.model,
            spec.cost_ticks,
            spec.shape,
            spec.storage_options,
            spec.upload_url,
        )
        self.jobs.add(job, now)
        ustats.submissions += 1
        if key is not None:
            self.idempotency.remember(api.name, auth, key, self.idempotency.digest(raw), job.id)
        reply = api.submitted(job)
        return reply._replace(headers=[*reply.headers, *echo]) if echo else reply

    def _status(
        self,
        api: UpstreamAPI,
        ustats: UpstreamStats,
        auth: bytes | None,
        job_id: str,
        links: Links,
    ) -> Reply:
        ustats.status_reads += 1
        if not self._authorized(auth):
            ustats.auth_failures += 1
            return api.unauthorized()
        job = self.jobs.get(job_id)
        if job is None or job.upstream != api.name:
            ustats.not_found += 1
            return api.not_found(job_id)
        now = self.clock()
        if job.seen_ended is None and job.finished(now):
            job.seen_ended = now  # how long a client took to notice the end (deployment figures)
        return api.status(job, now, links)

    # ------------------------------------------------------------------------ CDN

    async def _cdn(self, scope: Scope, send: Send, path: str) -> None:
        self.cdn_requests += 1
        auth, _, range_header = request_headers(scope)
        if auth is not None:
            self.cdn_requests_with_authorization += 1
        method = scope["method"]
        kind, _, name = path[1:].partition("/")
        job: Job | None = None
        suffix = _MEDIA_SUFFIX.get(kind)
        if suffix is not None and name.endswith(suffix):
            job = self.jobs.get(name[: -len(suffix)])
        else:
            kind = ""
        fault = self.faults.take(job.upstream if job else None, "cdn") if self.faults else None
        if fault is not None:
            if job is not None:
                self.upstream_stats[job.upstream].faults += 1
            if fault.fault in DELAYED_FAULTS:  # a download has nothing to process first
                await asyncio.sleep(fault.delay)
            else:
                await self._fault_reply(fault, scope, send, None)
                return
        if method not in ("GET", "HEAD"):
            reply = text_reply(405, "Method Not Allowed", [(b"allow", b"GET, HEAD")])
            await send_reply(send, reply)
            return
        now = self.clock()
        if not kind or job is None or not job.has_video(now):
            await send_reply(send, text_reply(404, "Not Found"), head=method == "HEAD")
            return
        if job.scenario.url_expired or self.batches.url_expired(job, now):
            await send_reply(send, text_reply(410, "This link has expired"), head=method == "HEAD")
            return
        if kind == "videos":
            made = video_bytes(job.shape) if job.shape and not job.scenario.video_mb else None
            media = MediaFile(made) if made else MediaFile.video(job.scenario.video_mb)
            content_type = VIDEO_TYPE
        else:
            media = MediaFile(_sample_bytes("sample.jpg"))
            content_type = JPEG_TYPE

        async def drop() -> None:
            await self.connections.drop(scope)

        self.cdn_bytes_sent += await send_media(
            send,
            media,
            content_type,
            range_header=range_header,
            head=method == "HEAD",
            cut=job.scenario.cut_download and kind == "videos",
            drop=drop,
        )

    # ------------------------------------------------------------------------ control plane

    def _control_app(self) -> Any:
        if self._control is None:
            # Starlette is imported by the first control request: the hot path never needs it.
            from airflow_provider_grokvideo.emulator.control import control_router

            self._control = control_router(self)
        return self._control


def create_app(
    *,
    api_key: str | Iterable[str] = DEFAULT_API_KEY,
    job_seconds: float = DEFAULT_JOB_SECONDS,
    max_jobs: int = DEFAULT_MAX_JOBS,
    rate_limits: Mapping[str, float] | None = None,
    xai_pending_202: str | None = None,
) -> EmulatorApp:
    """A new emulator application (for ``uvicorn --factory`` or ``httpx.ASGITransport``)."""
    return EmulatorApp(
        api_key=api_key,
        job_seconds=job_seconds,
        max_jobs=max_jobs,
        rate_limits=rate_limits,
        xai_pending_202=xai_pending_202,
    )


__all__ = ["EmulatorApp", "create_app"]


def _submit_headers(scope: Scope | None) -> tuple[bytes | None, bytes | None]:
    """The ``Idempotency-Key`` and ``X-APIMart-Response-Version`` headers of a submission."""
    key = version = None
    for name, value in scope["headers"] if scope is not None else ():
        if name == KEY_HEADER:
            key = value
        elif name == VERSION_HEADER:
            version = value
    return key, version
