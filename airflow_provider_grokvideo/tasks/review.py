"""What a reviewer is shown and what the review task returns: pure, no Airflow import.

The review task (``operators/review.py``) is given the finished generations of an upstream task:
a wait's output (``VideoGeneration.to_dict()`` dicts, one or a list of them, mapped or not) or a
download's (a list of stored URIs per generation, or a list of such lists when mapped).  Each
becomes a :class:`Candidate` with what the reviewer decides on: its prompt, duration and cost
(from the generation itself, else from the ``grokvideo`` records of the run's earlier tasks) and
a link that plays it on the "Grok videos" page.  The output keeps the input's shape: the approved
ones only, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: The option that approves none of the candidates (Airflow's HITL API needs one option chosen).
NONE_OPTION = "None of them"
#: How many characters of a prompt an option's label shows (the body shows it whole).
LABEL_PROMPT_CHARS = 70

Shape = Literal["one", "many"]


@dataclass(frozen=True)
class Candidate:
    number: int  # 1-based, in the input's order
    generation_id: str | None
    value: Any  # the input's element, returned as it is when approved
    prompt: str | None = None
    duration: float | None = None
    cost_usd: str | None = None
    cost_source: str | None = None
    link: str | None = None

    @property
    def label(self) -> str:
        """The option the reviewer picks: its number, the prompt's start, duration and cost."""
        prompt = " ".join((self.prompt or self.generation_id or "video").split())
        if len(prompt) > LABEL_PROMPT_CHARS:
            prompt = prompt[: LABEL_PROMPT_CHARS - 1].rstrip() + "…"
        facts = [f"{_number(self.duration)} s" if self.duration is not None else None]
        facts.append(_usd(self.cost_usd) if self.cost_usd is not None else None)
        shown = ", ".join(fact for fact in facts if fact)
        return f"{self.number}. {prompt}" + (f" ({shown})" if shown else "")

    def markdown(self) -> str:
        """The candidate in the reviewer's form (Markdown), with its player link."""
        lines = [f"**{self.label}**"]
        if self.prompt:
            lines.append(f"> {' '.join(self.prompt.split())}")
        facts = []
        if self.generation_id:
            facts.append(f"generation `{self.generation_id}`")
        if self.duration is not None:
            facts.append(f"{_number(self.duration)} s")
        if self.cost_usd is not None:
            facts.append(f"{_usd(self.cost_usd)} ({self.cost_source or 'cost'})")
        if facts:
            lines.append(" · ".join(facts))
        if self.link:
            lines.append(f"[▶ Play it on the Grok videos page]({self.link})")
        return "\n\n".join(lines)


def _usd(amount: str) -> str:
    """``$0.30``: at least cents (``pricing.format_usd``); the text as given if unreadable."""
    from airflow_provider_grokvideo.pricing import as_usd, format_usd

    try:
        return format_usd(as_usd(amount))
    except ValueError:
        return f"${amount}"


def _number(value: float) -> str:
    return f"{value:g}"


def shape_of(value: Any) -> tuple[Shape, list[Any]]:
    """Whether ``value`` is one generation or several, and its elements.

    One: a generation dict, or a download's list of URIs (strings).  Several: a list of either
    (a mapped task's outputs, or a list the task returned)."""
    if isinstance(value, Mapping):
        return "one", [value]
    items = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else None
    if items is None:
        raise ValueError(
            f"generations must be a wait's or a download's output (a generation dict, a list of "
            f"stored URIs, or a list of either), not {type(value).__name__}"
        )
    if items and all(isinstance(item, str) for item in items):
        return "one", [items]
    return "many", items


def candidates_from(
    value: Any,
    records: Sequence[Mapping[str, Any]],
    link_for: Callable[[str | None], str | None],
) -> tuple[Shape, list[Candidate]]:
    """The candidates of ``value``; ``records`` are the run's ``grokvideo`` records (they give
    a wait's output its prompt, and a download's URIs their generation)."""
    by_id: dict[str, dict[str, Any]] = {}
    by_uri: dict[str, str] = {}
    for record in records:
        if not isinstance(record, Mapping) or not record.get("generation_id"):
            continue
        generation_id = str(record["generation_id"])
        merged = by_id.setdefault(generation_id, {})
        merged.update({k: v for k, v in record.items() if v is not None})
        for uri in record.get("videos") or []:
            by_uri[str(uri)] = generation_id
    shape, items = shape_of(value)
    found = []
    for number, item in enumerate(items, 1):
        if isinstance(item, Mapping):
            generation_id = str(item.get("generation_id") or "") or None
            own: Mapping[str, Any] = item
        else:  # a download's stored URIs
            uris = [str(uri) for uri in (item or [])]
            generation_id = next((by_uri[u] for u in uris if u in by_uri), None)
            own = {}
        known = by_id.get(generation_id or "", {})
        estimate = (
            known.get("cost_estimate") if isinstance(known.get("cost_estimate"), Mapping) else {}
        )
        cost = own.get("cost_usd") or known.get("cost_usd") or (estimate or {}).get("cost_usd")
        source = own.get("cost_source") or ("billed" if known.get("cost_usd") else "estimated")
        duration = own.get("duration") or known.get("duration") or (estimate or {}).get("duration")
        found.append(
            Candidate(
                number=number,
                generation_id=generation_id,
                value=item,
                prompt=str(known["prompt"]) if known.get("prompt") else None,
                duration=float(duration) if duration is not None else None,
                cost_usd=str(cost) if cost is not None else None,
                cost_source=source if cost is not None else None,
                link=link_for(generation_id),
            )
        )
    return shape, found


def options_of(candidates: Sequence[Candidate]) -> list[str]:
    return [c.label for c in candidates] + [NONE_OPTION]


def approved_of(candidates: Sequence[Candidate], chosen: Sequence[str]) -> list[Candidate]:
    """The candidates the reviewer chose (none for :data:`NONE_OPTION` alone)."""
    picked = set(chosen)
    if NONE_OPTION in picked and len(picked) > 1:
        raise ValueError(
            f"{NONE_OPTION!r} was chosen together with candidates: choose one or the other"
        )
    return [c for c in candidates if c.label in picked]


def output_of(shape: Shape, approved: Sequence[Candidate]) -> Any:
    """The approved generations in the input's shape: a list for a list, else the one (None
    when it was not approved)."""
    if shape == "many":
        return [c.value for c in approved]
    return approved[0].value if approved else None
