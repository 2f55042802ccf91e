"""What a video costs: exact money, the published price table, estimates and the price cap.

Money is exact everywhere: integer *ticks* (xAI's unit, 1 USD = 10**10 ticks) for sums and
storage, :class:`decimal.Decimal` dollars for reading and writing.  A float never carries money:
a sum of thousands of float costs drifts, a sum of ticks does not.

Pure, like the dialects: no I/O and no Airflow import.  The hook reads the connection's price
overrides and calls :func:`estimate_cost`; the generate operator calls :func:`check_cost_cap`
before it submits anything.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from airflow_provider_grokvideo.exceptions import GrokVideoError

#: The key of a price that holds for every resolution.
_ANY_RESOLUTION = "*"
#: xAI's unit of money in ``usage.cost_in_usd_ticks``.
TICKS_PER_USD = 10**10
_TICK = Decimal(1).scaleb(-10)


# -- exact money -----------------------------------------------------------------------------


def ticks_to_usd(ticks: int) -> Decimal:
    """Dollars from ticks, exactly (``3_500_000_000`` -> ``Decimal("0.35")``)."""
    if isinstance(ticks, bool) or not isinstance(ticks, int):
        raise TypeError(f"ticks must be an int, not {type(ticks).__name__}")
    return _trim(Decimal(ticks).scaleb(-10))


def usd_to_ticks(usd: Decimal | int | str | float) -> int:
    """Ticks from dollars, rounded to the nearest tick (a float is read as its shortest text:
    ``0.07`` is seven cents, not the binary fraction nearest to it)."""
    amount = as_usd(usd, "amount")
    return int((amount * TICKS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def as_usd(value: Any, what: str = "amount") -> Decimal:
    """A non-negative dollar amount from user input (number, numeric text or ``Decimal``)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number of US dollars, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what} must be a finite number of US dollars, got {value!r}")
        value = repr(value)
    try:
        amount = Decimal(str(value).strip().lstrip("$").strip())
    except InvalidOperation:
        raise ValueError(f"{what} must be a number of US dollars, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{what} must be a non-negative number of US dollars, got {value!r}")
    return amount


def usd_text(amount: Decimal) -> str:
    """Exact decimal text, never in exponent form: ``"0.42"``, ``"0.0000000001"``, ``"10"``."""
    return f"{_trim(amount):f}"


def format_usd(amount: Decimal) -> str:
    """``$0.35``, ``$1.2345``: at least cents, and every digit the amount has."""
    amount = _trim(amount)
    exponent = amount.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"${amount:.{places}f}"


def _trim(amount: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (``Decimal("1E+1")`` -> ``10``)."""
    normal = amount.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


# -- the price table -------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """US dollars per second of video, by resolution (spelled the upstream's way; ``"*"``
    for every resolution), where the figure comes from and the day it was read there."""

    usd_per_second: Mapping[str, Decimal]
    source: str
    as_of: str | None = None

    @property
    def described(self) -> str:
        return f"{self.source} (as of {self.as_of})" if self.as_of else self.source


#: Published prices, per upstream and model, each row with its source and the day it was read
#: there; ``None`` where no price is published (as far as UPSTREAMS.md gathered).  Such a model
#: has no estimate unless the connection's ``prices`` extra gives one, and a ``max_cost_usd``
#: cap then refuses it before submitting.
PRICES: Mapping[str, Mapping[str, Price | None]] = {
    "xai": {
        "grok-imagine-video": Price(
            {"480p": Decimal("0.05"), "720p": Decimal("0.07")},
            "xAI's public price pages (about $0.05/s at 480p, $0.07/s at 720p)",
            "2026-12-01",
        ),
        # Imagine 1.5: xAI's own model list gives $0.08/s as its base price.  Per-resolution
        # figures ($0.14/s at 720p, $0.25/s at 1080p) come from resellers only: the billed
        # cost (usage.cost_in_usd_ticks) is what a run records; a connection's ``prices``
        # extra can set them.
        "grok-imagine-video-1.5": Price(
            {_ANY_RESOLUTION: Decimal("0.08")},
            "xAI's model list: $0.08/s base price of grok-imagine-video-1.5 (resellers quote "
            "more at 720p and 1080p)",
            "2026-12-07",
        ),
    },
    # APIMart (xcompute) and Mountsea publish no per-second price in the documentation gathered.
    "xcompute": {
        "grok-imagine-1.0-video-apimart": None,
        "grok-imagine-1.5-video-apimart": None,
    },
    "mountsea": {"grok-imagine-video": None},
}
#: The name of the connection extra that sets or overrides prices.
PRICES_EXTRA = "prices"


def read_price_overrides(
    value: Any, format_resolution: Callable[[str], str], conn_id: str = "?"
) -> dict[str, Price]:
    """The connection extra ``prices``: ``{model: usd_per_second}`` for every resolution, or
    ``{model: {resolution: usd_per_second}}``; a JSON string of either is accepted."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _bad_prices(conn_id, "is not JSON") from None
    if not isinstance(value, Mapping):
        raise _bad_prices(conn_id, f"must be an object of models, not {type(value).__name__}")
    source = f"connection {conn_id!r} extra {PRICES_EXTRA!r}"
    prices: dict[str, Price] = {}
    for model, per_model in value.items():
        try:
            if isinstance(per_model, Mapping):
                table = {
                    format_resolution(str(res).strip()): as_usd(usd, f"{model} {res}")
                    for res, usd in per_model.items()
                }
            else:
                table = {_ANY: as_usd(per_model, str(model))}
        except ValueError as exc:
            raise _bad_prices(conn_id, str(exc)) from None
        prices[str(model)] = Price(table, source, "the connection's")
    return prices


_ANY = _ANY_RESOLUTION  # a price for every resolution


def _bad_prices(conn_id: str, why: str) -> GrokVideoError:
    return GrokVideoError(
        f"connection {conn_id!r}: extra {PRICES_EXTRA!r} {why}; expected for example "
        '{"grok-imagine-video-1.5": {"480p": 0.05, "720p": 0.07}} (US dollars per second)'
    )


# -- estimates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostEstimate:
    """What a video should cost before it is submitted: seconds x the price per second."""

    upstream: str
    model: str
    duration: int | float
    resolution: str
    usd_per_second: Decimal
    cost_ticks: int
    #: Where the price comes from, and any assumption made (an undocumented default).
    source: str

    @property
    def cost_usd(self) -> Decimal:
        return ticks_to_usd(self.cost_ticks)

    def describe(self) -> str:
        return (
            f"{format_usd(self.cost_usd)} for {self.duration} s of {self.model} at "
            f"{self.resolution} on {self.upstream} ({format_usd(self.usd_per_second)}/s; "
            f"{self.source})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (the generate task's ``cost_estimate`` XCom); money as exact text."""
        return {
            "cost_ticks": self.cost_ticks,
            "cost_usd": usd_text(self.cost_usd),
            "cost_source": "estimated",
            "upstream": self.upstream,
            "model": self.model,
            "duration": self.duration,
            "resolution": self.resolution,
            "usd_per_second": usd_text(self.usd_per_second),
            "price_source": self.source,
        }


def estimate_cost(
    upstream: str,
    model: str,
    duration: int | float | None,
    resolution: str | None,
    *,
    default_duration: int | None,
    default_resolution: str | None,
    overrides: Mapping[str, Price] | None = None,
    notes: Sequence[str] = (),
) -> CostEstimate | None:
    """The estimate of one video, or None when no price (or no duration) is known.

    ``notes``: what the caller assumed (how an edit's seconds were counted), kept in the
    estimate's ``source``.

    A request without a resolution is priced at the upstream's documented default; where that
    default is not documented, at the dearest resolution, so that a cap is never too lenient.
    Cents are rounded up to the next tick.
    """
    price = (overrides or {}).get(model) or PRICES.get(upstream, {}).get(model)
    seconds = duration if duration is not None else default_duration
    if price is None or seconds is None:
        return None
    notes = list(notes)
    if duration is None:
        notes.append(f"duration not given: {upstream}'s default of {seconds} s")
    table = price.usd_per_second
    if resolution is None and default_resolution is not None:
        resolution = default_resolution
        notes.append(f"resolution not given: {upstream}'s default {resolution}")
    if resolution is None:
        resolution, _ = max(table.items(), key=lambda item: item[1])
        if resolution != _ANY:
            notes.append(
                f"resolution not given and {upstream}'s default not documented: "
                f"priced at the dearest, {resolution}"
            )
    per_second = table.get(resolution, table.get(_ANY))
    if per_second is None:
        return None
    exact = Decimal(str(seconds)) * per_second * TICKS_PER_USD
    ticks = int(exact.to_integral_value(rounding=ROUND_CEILING))
    source = "; ".join([price.described, *notes])
    return CostEstimate(
        upstream=upstream,
        model=model,
        duration=seconds,
        resolution=resolution if resolution != _ANY else "any resolution",
        usd_per_second=per_second,
        cost_ticks=ticks,
        source=source,
    )


def read_estimate(value: Any) -> CostEstimate | None:
    """A :meth:`CostEstimate.to_dict` value back, from a dict, its JSON or its Python repr
    (what ``{{ ti.xcom_pull(..., key='grokvideo') }}`` renders: the generate task's record,
    whose ``cost_estimate`` it is; or the estimate itself); None for nothing."""
    if isinstance(value, CostEstimate):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in ("", "None", "null"):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise ValueError(
                    f"cost_estimate must be the generate task's 'grokvideo' XCom record, got "
                    f"{text[:80]!r}"
                ) from None
    if isinstance(value, Mapping) and "cost_ticks" not in value and "generation_id" in value:
        return read_estimate(value.get("cost_estimate"))  # a record, with or without one
    if value is None:
        return None
    if not isinstance(value, Mapping) or "cost_ticks" not in value:
        raise ValueError(
            f"cost_estimate must be the generate task's 'grokvideo' XCom record or its "
            f"cost_estimate (a dict with cost_ticks), got {value!r:.80}"
        )
    return CostEstimate(
        upstream=str(value.get("upstream") or ""),
        model=str(value.get("model") or ""),
        duration=value.get("duration") or 0,
        resolution=str(value.get("resolution") or ""),
        usd_per_second=as_usd(value.get("usd_per_second") or 0, "usd_per_second"),
        cost_ticks=int(value["cost_ticks"]),
        source=str(value.get("price_source") or ""),
    )


# -- the cap ---------------------------------------------------------------------------------


class CostCapError(GrokVideoError, ValueError):
    """A video refused before submitting: its estimate exceeds ``max_cost_usd``, or it has none."""


def parse_cap(value: Any) -> Decimal | None:
    """``max_cost_usd`` as given (a number, or the text a template renders); None for no cap."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    try:
        return as_usd(value, "max_cost_usd")
    except ValueError as exc:
        raise CostCapError(str(exc)) from None


def check_cost_cap(
    estimate: CostEstimate | None,
    cap: Decimal | None,
    *,
    upstream: str,
    model: str,
    known_models: Collection[str] = (),
) -> None:
    """Refuse (raise :class:`CostCapError`) a video whose estimate is over ``cap``, or which
    has no estimate at all while a cap is set: a cap that cannot be checked does not pay."""
    if cap is None:
        return
    if estimate is None:
        why = (
            f"no price is published for {model!r} on {upstream}"
            if model in known_models or model in PRICES.get(upstream, {})
            else f"{model!r} is not a model this provider knows on {upstream}, so it has no price"
        )
        raise CostCapError(
            f"max_cost_usd={format_usd(cap)} cannot be checked: {why}. Set the price in the "
            f"connection's extra {PRICES_EXTRA!r}, for example "
            f'{{"{PRICES_EXTRA}": {{"{model}": {{"720p": 0.07}}}}}} (US dollars per second), '
            "or drop max_cost_usd; nothing was submitted"
        )
    if estimate.cost_usd > cap:
        raise CostCapError(
            f"the estimated cost {estimate.describe()} exceeds max_cost_usd="
            f"{format_usd(cap)}; nothing was submitted"
        )


# -- batch prices ----------------------------------------------------------------------------

#: xAI's Batch API: requests "billed at reduced prices", 50 % off standard pricing (xAI's Batch
#: API guide, read 2026-12-07, https://docs.x.ai/docs/guides/batch-api).  Whether video gets the
#: same discount is not confirmed: the billed ``usage.cost_in_usd_ticks`` of each result wins.
BATCH_DISCOUNT = Decimal("0.5")
BATCH_PRICE_SOURCE = "batch: 50 % off (xAI's Batch API guide, read 2026-12-07)"


def batch_estimate(estimate: CostEstimate | None) -> CostEstimate | None:
    """The estimate of the same video sent in an xAI batch (None stays None)."""
    if estimate is None:
        return None
    per_second = estimate.usd_per_second * BATCH_DISCOUNT
    exact = Decimal(str(estimate.duration)) * per_second * TICKS_PER_USD
    return CostEstimate(
        upstream=estimate.upstream,
        model=estimate.model,
        duration=estimate.duration,
        resolution=estimate.resolution,
        usd_per_second=per_second,
        cost_ticks=int(exact.to_integral_value(rounding=ROUND_CEILING)),
        source=f"{BATCH_PRICE_SOURCE}; {estimate.source}",
    )
