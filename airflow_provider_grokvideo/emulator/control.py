"""The control plane: the ``/_emulator/…`` routes that tests and users drive the emulator with.

Stats, reset, faults, rate limits, outages, xAI's 202 polls and batch URLs, hold and release,
one job's inspection, and the index at ``/``: each route a thin HTTP face of the application's
public state API (``EmulatorApp.stats()``, ``.inject()``, ``.hold()``…), documented in
``docs/emulator.md``.  A small Starlette router, off the hot path: ``app.py`` imports this
module on the first request that is neither an upstream's nor the CDN's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from airflow_provider_grokvideo.emulator.defaults import UPSTREAMS
from airflow_provider_grokvideo.emulator.faults import FAULTS, MARKERS, FaultQueue
from airflow_provider_grokvideo.emulator.ratelimits import RateLimits
from airflow_provider_grokvideo.emulator.wire import (
    CT_JSON,
    Receive,
    Reply,
    Scope,
    Send,
    send_reply,
)
from airflow_provider_grokvideo.emulator.xai_batch import XaiBatches


class ControlledApp(Protocol):
    """What the control plane drives: ``EmulatorApp``'s state API (a protocol, so that this
    module needs nothing of ``app.py``, which imports it)."""

    faults: FaultQueue
    rate_limits: RateLimits
    batches: XaiBatches
    outages: dict[str, str]

    @property
    def xai_pending_202(self) -> str | None: ...

    def stats(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...

    def inject(
        self,
        fault: str | int,
        *,
        count: int = 1,
        upstream: str | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
    ) -> dict[str, Any]: ...

    def clear_faults(self) -> None: ...

    def hold(self) -> None: ...

    def release(self) -> int: ...

    def set_rate_limits(self, limits: Mapping[str, float | None]) -> dict[str, float]: ...

    def set_outages(self, outages: Mapping[str, str | None]) -> dict[str, str]: ...

    def set_xai_pending_202(self, value: str | None) -> str | None: ...

    def job(self, job_id: str) -> dict[str, Any] | None: ...


def control_router(app: ControlledApp) -> Router:
    """The ``/_emulator`` router over ``app``'s state (``/`` answers the same index)."""

    async def index(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "emulator": "grokvideo",
                "upstreams": {name: f"{base}/{name}" for name in UPSTREAMS},
                "control": {
                    "stats": "GET /_emulator/stats",
                    "reset": "POST /_emulator/reset",
                    "faults": "GET|POST|DELETE /_emulator/faults",
                    "rate_limits": "GET|PUT /_emulator/rate-limits",
                    "outages": "GET|PUT /_emulator/outages",
                    "xai_pending_202": "GET|PUT /_emulator/xai-pending-202",
                    "hold": "POST /_emulator/hold",
                    "release": "POST /_emulator/release",
                    "job": "GET /_emulator/jobs/{id}",
                    "health": "GET /_emulator/health",
                },
                "faults": list(FAULTS),
                "markers": sorted(MARKERS),
            }
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def stats(request: Request) -> Response:
        return JSONResponse(app.stats())

    async def reset(request: Request) -> Response:
        app.reset()
        return JSONResponse({"reset": True})

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": app.faults.pending()})
        if request.method == "DELETE":
            app.clear_faults()
            return JSONResponse({"faults": []})
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        if not isinstance(body, dict) or "fault" not in body:
            return JSONResponse({"error": "body must be an object with a 'fault'"}, 400)
        unknown = set(body) - {"fault", "count", "upstream", "endpoint", "retry_after", "delay"}
        if unknown:
            return JSONResponse({"error": f"unknown fields: {', '.join(sorted(unknown))}"}, 400)
        try:
            added = app.inject(
                body["fault"],
                count=body.get("count", 1),
                upstream=body.get("upstream"),
                endpoint=body.get("endpoint"),
                retry_after=body.get("retry_after"),
                delay=body.get("delay"),
            )
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"added": added, "faults": app.faults.pending()}, status_code=201)

    async def put_json(request: Request, apply: Callable[[Any], object]) -> Response | None:
        """A PUT's JSON body given to ``apply``; the 400 to answer when it is refused."""
        if request.method != "PUT":
            return None
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        try:
            apply(body)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return None

    async def rate_limits(request: Request) -> Response:
        refused = await put_json(request, app.set_rate_limits)
        return refused or JSONResponse({"rate_limits": dict(app.rate_limits.limits)})

    async def xai_batch(request: Request) -> Response:
        # {"url_seconds": N} shortens how long a batch result's URL lives (null: one hour).
        def apply(body: Any) -> None:
            if not isinstance(body, dict) or set(body) - {"url_seconds"}:
                raise ValueError('body must be {"url_seconds": <seconds or null>}')
            app.batches.set_url_seconds(body.get("url_seconds"))

        refused = await put_json(request, apply)
        return refused or JSONResponse(app.batches.describe())

    async def outages(request: Request) -> Response:
        refused = await put_json(request, app.set_outages)
        return refused or JSONResponse({"outages": dict(app.outages)})

    async def pending_202(request: Request) -> Response:
        if request.method == "PUT":
            try:
                body = await request.json()
                app.set_xai_pending_202(body.get("xai_pending_202"))
            except (ValueError, AttributeError) as exc:
                return JSONResponse(
                    {"error": f'body must be {{"xai_pending_202": "empty"|"body"|null}}: {exc}'},
                    status_code=400,
                )
        return JSONResponse({"xai_pending_202": app.xai_pending_202})

    async def hold(request: Request) -> Response:
        app.hold()
        return JSONResponse({"held": True})

    async def release(request: Request) -> Response:
        return JSONResponse({"held": False, "jobs_released": app.release()})

    async def job(request: Request) -> Response:
        info = app.job(request.path_params["job_id"])
        if info is None:
            return JSONResponse({"error": "unknown job id"}, status_code=404)
        return JSONResponse(info)

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        await send_reply(send, Reply(404, b'{"error":"not found"}', [CT_JSON]))

    return Router(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/_emulator", index, methods=["GET"]),
            Route("/_emulator/health", health, methods=["GET"]),
            Route("/_emulator/stats", stats, methods=["GET"]),
            Route("/_emulator/reset", reset, methods=["POST"]),
            Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/_emulator/rate-limits", rate_limits, methods=["GET", "PUT"]),
            Route("/_emulator/outages", outages, methods=["GET", "PUT"]),
            Route("/_emulator/xai-pending-202", pending_202, methods=["GET", "PUT"]),
            Route("/_emulator/xai-batch", xai_batch, methods=["GET", "PUT"]),
            Route("/_emulator/hold", hold, methods=["POST"]),
            Route("/_emulator/release", release, methods=["POST"]),
            Route("/_emulator/jobs/{job_id}", job, methods=["GET"]),
        ],
        default=not_found,
    )
