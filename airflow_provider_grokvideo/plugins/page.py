"""The HTML of the "Grok videos" page: server-rendered, a little JavaScript for local times.

Everything shown is escaped (Jinja2 autoescape): a record is written by task code or through
the REST API, so a prompt or an error may carry markup, which stays text.  The page holds no API
key (none is ever known here) and no upstream URL (they may be signed, and they expire): videos
and thumbnails are the stored copies, served through this page's own authenticated ``/file``
route, and only when they lie under the API server's storage roots (``storage_roots.py``): a
card whose copy lies elsewhere says so instead of showing a player, and with no roots
configured the page says how to configure them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow_provider_grokvideo.models import utc_text
from airflow_provider_grokvideo.plugins.storage_roots import (
    ENV_VAR,
    OPTION,
    SECTION,
    Place,
    Refused,
    locate,
)
from airflow_provider_grokvideo.tasks.catalog import STATUS_RANKS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_provider_grokvideo.plugins.generations import Generation, Page, TaskRef
    from airflow_provider_grokvideo.plugins.reviews import Review
    from airflow_provider_grokvideo.plugins.spending import ConnectionSpend

#: The page's Jinja2 template, beside this module.
TEMPLATE = Path(__file__).with_name("templates") / "grok_videos.html"


_template: Any = None


def _jinja_template() -> Any:
    global _template
    if _template is None:
        from jinja2 import Environment

        _template = Environment(autoescape=True).from_string(TEMPLATE.read_text())
    return _template


def render_page(
    page: Page,
    *,
    base: str,
    dag_ids: list[str],
    ui_base: str = "",
    now: float | None = None,
    roots: Sequence[Place] = (),
    reviews: Mapping[tuple[str, str, str], Review] | None = None,
    spends: Sequence[ConnectionSpend] = (),
) -> str:
    """The page's HTML; stored copies are shown only from ``roots`` (the API server's).
    ``reviews``: each generation's review state; ``spends``: each budget's figures."""
    reviews = reviews or {}
    now = time.time() if now is None else now
    filters = page.filters
    query = {
        key: value
        for key, value in (
            ("dag_id", filters.dag_id),
            ("status", filters.status),
            ("run_id", filters.run_id),
            ("generation_id", filters.generation_id),
            ("task_id", filters.task_id),
        )
        if value
    }
    if filters.task_id and filters.map_index >= 0:
        query["map_index"] = str(filters.map_index)

    # The card asked for: by its id, or the one generation of a task (its "Grok video" link).
    focus = filters.generation_id
    if focus is None and filters.task_id and len(page.generations) == 1:
        focus = page.generations[0].generation_id

    def page_url(number: int) -> str:
        return f"{base}/?{urlencode({**query, 'page': number})}"

    return _jinja_template().render(
        base=base,
        page=page,
        filters=filters,
        dag_ids=dag_ids,
        statuses=list(STATUS_RANKS),
        cards=[
            {
                **_card(g, base=base, ui_base=ui_base, now=now, focus=focus, roots=roots),
                "review": reviews.get((g.dag_id, g.run_id, g.generation_id)),
            }
            for g in page.generations
        ],
        spends=spends,
        serving=bool(roots),
        setting=f"[{SECTION}] {OPTION}",
        env_var=ENV_VAR,
        prev_url=page_url(filters.page - 1) if filters.page > 1 else None,
        next_url=page_url(filters.page + 1) if filters.page < page.pages else None,
    )


def file_url(base: str, ref: TaskRef, kind: str, n: int = 0) -> str:
    """The page's own URL of a stored file (the record of ``ref`` says where it is)."""
    return f"{base}/file?" + urlencode(
        {
            "dag_id": ref.dag_id,
            "run_id": ref.run_id,
            "task_id": ref.task_id,
            "map_index": ref.map_index,
            "kind": kind,
            "n": n,
        }
    )


def task_url(ui_base: str, ref: TaskRef) -> str:
    mapped = f"/mapped/{ref.map_index}" if ref.map_index >= 0 else ""
    return (
        f"{ui_base}/dags/{quote(ref.dag_id, safe='')}/runs/{quote(ref.run_id, safe='')}"
        f"/tasks/{quote(ref.task_id, safe='')}{mapped}"
    )


def describe_expiry(expires_at: float | None, now: float) -> str:
    """``expires 2026-12-02T22:49:10Z (in 23 h)``, ``expired ... (2 h ago)`` or unknown."""
    if expires_at is None:
        return "expiry not given by the upstream (xAI: about 24 h after generation; APIMart: 72 h)"
    left = float(expires_at) - now
    when = utc_text(expires_at)
    if left <= 0:
        return f"expired {when} ({_span(-left)} ago)"
    return f"expires {when} (in {_span(left)})"


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def _refusal(uri: Any, roots: Sequence[Place], kind: str) -> str | None:
    """Why the page would not serve ``uri`` (None: it would), without opening it."""
    try:
        locate(uri, roots, "video" if kind == "video" else "thumbnail")
    except Refused as exc:
        return exc.reason
    return None


def _card(
    generation: Generation,
    *,
    base: str,
    ui_base: str,
    now: float,
    focus: str | None,
    roots: Sequence[Place] = (),
) -> dict[str, Any]:
    record = generation.record
    stored = generation.stored_by
    videos = record.get("videos") or []
    videos = videos if isinstance(videos, list) else []
    thumbnail = record.get("thumbnail")
    last = generation.last_task
    made_at = record.get("created_at") or record.get("submitted_at")
    cost = record.get("cost_usd")
    show_video = show_thumbnail = False
    if stored is not None and videos and not roots:
        no_video = "Stored copy not shown: this API server serves no stored file (see above)."
    elif stored is not None and videos:
        refused = _refusal(videos[0], roots, "video")
        show_video = refused is None
        no_video = f"Stored copy not served: {refused}." if refused else ""
    elif generation.status == "succeeded":
        no_video = "No stored copy: add a GrokVideoDownloadOperator to keep this video."
    else:
        no_video = "No video (yet)."
    if stored is not None and thumbnail and roots:
        show_thumbnail = _refusal(thumbnail, roots, "thumbnail") is None
    task_label = last.task_id + (f" [{last.map_index}]" if last.map_index >= 0 else "")
    return {
        "anchor": generation.generation_id.replace("/", "_"),
        "generation_id": generation.generation_id,
        "focus": focus is not None and focus == generation.generation_id,
        "status": generation.status,
        "prompt": record.get("prompt"),
        "error": record.get("error"),
        "upstream": record.get("upstream"),
        "model": record.get("model"),
        "duration": record.get("duration"),
        "aspect_ratio": record.get("aspect_ratio"),
        "resolution": record.get("resolution"),
        "cost": f"${float(cost):.2f}" if isinstance(cost, (int, float)) else None,
        "batch": record.get("batch") if isinstance(record.get("batch"), dict) else None,
        "made_at": made_at,
        "made_utc": utc_text(made_at),
        "expires_at": record.get("expires_at"),
        "expiry": describe_expiry(record.get("expires_at"), now),
        "video": file_url(base, stored, "video") if stored is not None and show_video else None,
        "thumbnail": (
            file_url(base, stored, "thumbnail") if stored is not None and show_thumbnail else None
        ),
        "no_video": no_video,
        "dag_id": generation.dag_id,
        "run_id": generation.run_id,
        "run_url": (
            f"{ui_base}/dags/{quote(generation.dag_id, safe='')}"
            f"/runs/{quote(generation.run_id, safe='')}"
        ),
        "task_url": task_url(ui_base, last),
        "task_label": task_label,
        **_delivery_fields(record),
    }


def _delivery_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The delivered video's check (a badge; its mismatches), how it got to its bucket, and
    xAI's Files copy of the output (its file id and expiries)."""
    delivered = record.get("delivered")
    delivered = delivered if isinstance(delivered, dict) else None
    delivery = record.get("delivery")
    files = record.get("file_output")
    files = dict(files) if isinstance(files, dict) else None
    if files is not None and not str(files.get("public_url") or "").startswith(
        ("https://", "http://")
    ):
        files.pop("public_url", None)  # a record is task-written: only a web link is a link
    return {
        "delivered": delivered,
        "delivered_text": (
            f"{delivered.get('width')}x{delivered.get('height')} · {delivered.get('duration')} s"
            f" · {delivered.get('codec')} · {'sound' if delivered.get('audio') else 'silent'}"
            if delivered
            else None
        ),
        "delivery_via": delivery.get("via") if isinstance(delivery, dict) else None,
        "delivery_fallback": delivery.get("fallback") if isinstance(delivery, dict) else None,
        "file_output": files,
    }
