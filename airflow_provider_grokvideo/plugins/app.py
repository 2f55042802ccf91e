"""The "Grok videos" page's FastAPI app, mounted by the API server under ``/grokvideo``.

- ``/``: the page of recent generations;
- ``/file``: a stored copy (video or thumbnail), with HTTP range requests, named by the record
  of one task instance and served only from the storage roots the API server allows
  (``[grokvideo] page_storage_roots``, checked by ``storage_roots.py``);
- ``/icon.svg``: the navigation entry's icon.

Every route but the icon requires Airflow's authentication: the JWT the UI keeps in its cookie
(or an ``Authorization: Bearer`` header), checked by the API server's own ``get_user``
dependency, through whichever auth manager is configured; a page asked without it redirects to
the login page.  Generations are listed, and files served, only from the DAGs the user may
read (``get_authorized_dag_ids`` / ``is_authorized_dag``).

Imported only where the API server builds its plugins' apps (``grok_videos.py``'s
``fastapi_apps``), never at a task start: it imports FastAPI.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from airflow_provider_grokvideo.plugins import URL_PREFIX

log = logging.getLogger(__name__)

_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#017cee" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><rect x="2" y="5" '
    'width="14" height="14" rx="2"/><path d="m16 10 6-4v12l-6-4z"/></svg>'
)


async def _user(request: Request) -> Any:
    """The API server's own authentication (cookie or bearer token), as its routes use it."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    return await get_user(request, None, credentials)


UserDep = Annotated[Any, Depends(_user)]


def _readable_dags(user: Any) -> set[str]:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")


def _may_read_dag(user: Any, dag_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return get_auth_manager().is_authorized_dag(
        method="GET", details=DagDetails(id=dag_id), user=user
    )


def _spends(user: Any) -> list[Any]:
    """Each budgeted connection's spend, for a user who may read connections (else none)."""
    from airflow.api_fastapi.app import get_auth_manager

    try:
        if not get_auth_manager().is_authorized_connection(method="GET", user=user):
            return []
        from airflow_provider_grokvideo.plugins.spending import connection_spends

        return connection_spends()
    except Exception as exc:  # the page of videos never fails over the budget's figures
        log.warning("the spend budgets could not be read: %s", exc)
        return []


def _ui_base(request: Request) -> str:
    """Airflow's UI root as seen by the browser (the app is mounted below it)."""
    root = request.scope.get("root_path", "")
    return root[: -len(URL_PREFIX)] if root.endswith(URL_PREFIX) else ""


def create_app() -> FastAPI:
    app = FastAPI(
        title="Grok videos",
        description="Recent Grok video generations, their stored copies and where they came from.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.exception_handler(HTTPException)
    async def _login_first(request: Request, exc: HTTPException) -> Response:
        # A person opening the page (not a script) is sent to the login page and back.
        if exc.status_code == 401 and request.url.path.rstrip("/").endswith(URL_PREFIX):
            from airflow.api_fastapi.app import get_auth_manager

            return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)))
        return Response(
            content=str(exc.detail), status_code=exc.status_code, media_type="text/plain"
        )

    @app.get("/", response_class=HTMLResponse)
    def page(
        request: Request,
        user: UserDep,
        dag_id: str | None = None,
        run_id: str | None = None,
        status: str | None = None,
        generation_id: str | None = None,
        task_id: str | None = None,
        map_index: Annotated[int, Query(ge=-1)] = -1,
        page: Annotated[int, Query(ge=1)] = 1,
    ) -> HTMLResponse:
        from airflow.utils.session import create_session

        from airflow_provider_grokvideo.plugins.generations import (
            Filters,
            dag_ids_with_generations,
            list_generations,
        )
        from airflow_provider_grokvideo.plugins.page import render_page
        from airflow_provider_grokvideo.plugins.storage_roots import configured_roots

        try:
            filters = Filters(
                dag_id=dag_id or None,
                run_id=run_id or None,
                status=status or None,
                generation_id=generation_id or None,
                task_id=task_id or None,
                map_index=map_index,
                page=page,
            )
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        from airflow_provider_grokvideo.plugins.reviews import review_states

        readable = _readable_dags(user)
        with create_session(scoped=False) as session:
            found = list_generations(session, filters, readable_dags=readable)
            dag_ids = dag_ids_with_generations(session, readable_dags=readable)
            reviews = review_states(session, {(g.dag_id, g.run_id) for g in found.generations})
        base = request.scope.get("root_path", "") or URL_PREFIX
        html = render_page(
            found,
            base=base,
            dag_ids=dag_ids,
            ui_base=_ui_base(request),
            roots=configured_roots(),
            reviews=reviews,
            spends=_spends(user),
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get("/file")
    def stored_file(
        request: Request,
        user: UserDep,
        dag_id: str,
        run_id: str,
        task_id: str,
        kind: Annotated[str, Query(pattern="^(video|thumbnail)$")] = "video",
        map_index: int = -1,
        n: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        """A stored copy named by the record of one task instance, never by a path."""
        from airflow.utils.session import create_session

        from airflow_provider_grokvideo.plugins.generations import TaskRef, read_record
        from airflow_provider_grokvideo.plugins.ranges import file_response
        from airflow_provider_grokvideo.plugins.storage_roots import (
            Refused,
            configured_roots,
            locate,
            open_stored,
        )

        if not _may_read_dag(user, dag_id):
            raise HTTPException(status_code=403, detail="not allowed to read this DAG")
        with create_session(scoped=False) as session:
            record = read_record(session, TaskRef(dag_id, run_id, task_id, map_index))
        uris = (record or {}).get("videos") or []
        uri = (record or {}).get("thumbnail") if kind == "thumbnail" else None
        if kind == "video":
            uri = uris[n] if isinstance(uris, list) and n < len(uris) else None
        if uri is None or uri == "":
            raise HTTPException(status_code=404, detail=f"no stored {kind} for this task")
        roots = configured_roots()
        try:
            place = locate(uri, roots, kind)
            stored = open_stored(place, roots, kind)
        except Refused as exc:
            log.warning(
                "Grok videos page: not serving the stored %s of DAG %r, run %r, task %r "
                "(map index %s): %s",
                kind,
                dag_id,
                run_id,
                task_id,
                map_index,
                exc.reason,
            )
            raise HTTPException(status_code=403, detail=f"not served: {exc.reason}") from None
        except FileNotFoundError as exc:
            raise HTTPException(status_code=404, detail=f"the stored {kind} is gone") from exc
        return file_response(stored, request.headers.get("range"))

    @app.get("/icon.svg", include_in_schema=False)
    def icon() -> Response:
        return Response(
            _ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
        )

    return app
