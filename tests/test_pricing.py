"""Exact money, the price table, estimates per model and resolution, and the cap's decisions."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from airflow_provider_grokvideo.dialects import mountsea, xai, xcompute
from airflow_provider_grokvideo.exceptions import GrokVideoError
from airflow_provider_grokvideo.pricing import (
    PRICES,
    TICKS_PER_USD,
    CostCapError,
    CostEstimate,
    as_usd,
    check_cost_cap,
    estimate_cost,
    format_usd,
    parse_cap,
    read_estimate,
    read_price_overrides,
    ticks_to_usd,
    usd_text,
    usd_to_ticks,
)

DIALECTS = {d.name: d for d in (xai.DIALECT, xcompute.DIALECT, mountsea.DIALECT)}


# -- exact money -----------------------------------------------------------------------------


def test_ticks_to_dollars_exactly() -> None:
    assert TICKS_PER_USD == 10_000_000_000
    assert ticks_to_usd(4_200_000_000) == Decimal("0.42")
    assert str(ticks_to_usd(4_200_000_000)) == "0.42"
    assert ticks_to_usd(1) == Decimal("0.0000000001")
    assert usd_text(ticks_to_usd(1)) == "0.0000000001"  # exact text, never "1E-10"
    assert str(ticks_to_usd(10 * TICKS_PER_USD)) == "10"  # never "1E+1"
    assert str(ticks_to_usd(0)) == "0"
    assert usd_to_ticks("0.07") == usd_to_ticks(0.07) == usd_to_ticks(Decimal("0.07"))
    assert usd_to_ticks(0.07) == 700_000_000
    for bad in (True, 0.42, "0.42"):
        with pytest.raises(TypeError):
            ticks_to_usd(bad)  # type: ignore[arg-type]


def test_sums_of_thousands_do_not_drift() -> None:
    # 10,000 videos of 6 s at 720p ($0.42 each, as xAI bills them): exactly $4,200.
    bills = [6 * 700_000_000] * 10_000
    assert ticks_to_usd(sum(bills)) == Decimal("4200")
    # What summing floats would have given: not $4,200 (why money is never a float here).
    assert sum([0.42] * 10_000) != 4200.0
    # And a mixed bag of odd prices still sums to the exact figure, tick for tick.
    odd = [usd_to_ticks("0.0333333333")] * 3_000
    assert ticks_to_usd(sum(odd)) == Decimal("99.9999999")


def test_format_usd_keeps_every_digit_and_at_least_cents() -> None:
    assert format_usd(Decimal("0.42")) == "$0.42"
    assert format_usd(Decimal("0.066")) == "$0.066"
    assert format_usd(Decimal("10")) == "$10.00"
    assert format_usd(Decimal("0.5")) == "$0.50"


@pytest.mark.parametrize("value", [-1, "-0.01", "abc", None, True, float("nan"), "inf"])
def test_amounts_must_be_non_negative_numbers(value: object) -> None:
    with pytest.raises(ValueError, match="US dollars"):
        as_usd(value)


# -- the table -------------------------------------------------------------------------------


def test_the_price_table_covers_exactly_the_models_the_dialects_know() -> None:
    assert set(PRICES) == set(DIALECTS)
    for name, dialect in DIALECTS.items():
        assert set(PRICES[name]) == set(dialect.models)
        for price in PRICES[name].values():
            if price is not None:
                assert set(price.usd_per_second) <= {
                    "*",
                    *dialect.models[dialect.default_model].resolutions,
                }
                assert price.as_of and price.as_of.startswith("2026-")  # each row dated
                assert price.as_of in price.described and price.source in price.described


def test_published_prices_only() -> None:
    assert PRICES["xai"]["grok-imagine-video"] is not None
    # Imagine 1.5: xAI's model list's base price, for every resolution.
    assert PRICES["xai"]["grok-imagine-video-1.5"].usd_per_second == {"*": Decimal("0.08")}  # type: ignore[union-attr]
    # Not published as far as UPSTREAMS.md gathered: no estimate rather than an invented one.
    assert all(price is None for price in PRICES["xcompute"].values())
    assert PRICES["mountsea"]["grok-imagine-video"] is None


# -- estimates -------------------------------------------------------------------------------


def estimate(upstream: str, model: str, duration: float | None, resolution: str | None, **kw):
    limits = DIALECTS[upstream].model_limits(model) or DIALECTS[upstream].limits
    return estimate_cost(
        upstream,
        model,
        duration,
        resolution,
        default_duration=limits.default_duration,
        default_resolution=limits.default_resolution,
        **kw,
    )


@pytest.mark.parametrize(
    ("duration", "resolution", "usd"),
    [(6, "480p", "0.3"), (6, "720p", "0.42"), (15, "720p", "1.05"), (1, "480p", "0.05")],
)
def test_xai_estimate_per_resolution(duration: int, resolution: str, usd: str) -> None:
    found = estimate("xai", "grok-imagine-video", duration, resolution)
    assert found is not None
    assert str(found.cost_usd) == usd
    assert found.cost_ticks == usd_to_ticks(usd)
    assert (found.model, found.resolution, found.duration) == (
        "grok-imagine-video",
        resolution,
        duration,
    )


def test_undocumented_defaults_are_priced_so_a_cap_is_never_too_lenient() -> None:
    # xAI documents its default duration (8 s) but not its default resolution: the dearest.
    found = estimate("xai", "grok-imagine-video", None, None)
    assert found is not None
    assert (found.duration, found.resolution, str(found.cost_usd)) == (8, "720p", "0.56")
    assert "default of 8 s" in found.source and "dearest" in found.source


def test_no_published_price_means_no_estimate() -> None:
    assert estimate("xcompute", "grok-imagine-1.5-video-apimart", 6, "720p") is None
    assert estimate("mountsea", "grok-imagine-video", 6, "720P") is None
    assert estimate("xai", "grok-imagine-video-9", 6, "720p") is None


def test_connection_prices_override_and_fill_the_table() -> None:
    ms = DIALECTS["mountsea"]
    overrides = read_price_overrides(
        {"grok-imagine-video": {"480p": 0.02, "720p": "0.03"}, "grok-imagine-video-9": 0.5},
        ms.format_resolution,
        "ms",
    )
    # Mountsea spells 720P upper-case: the override's keys are normalized the same way.
    found = estimate("mountsea", "grok-imagine-video", 10, "720P", overrides=overrides)
    assert found is not None and str(found.cost_usd) == "0.3"
    assert "connection 'ms' extra 'prices'" in found.source
    # Mountsea's documented default is 720P.
    assert (
        str(estimate("mountsea", "grok-imagine-video", 6, None, overrides=overrides).cost_usd)
        == "0.18"
    )
    # One price for every resolution, even a model this provider does not know.
    found = estimate("mountsea", "grok-imagine-video-9", 12, "1080P", overrides=overrides)
    assert found is not None and str(found.cost_usd) == "6"
    # The published price is overridden too.
    xai_override = read_price_overrides(json.dumps({"grok-imagine-video": 0.1}), str.lower, "x")
    assert (
        str(estimate("xai", "grok-imagine-video", 6, "480p", overrides=xai_override).cost_usd)
        == "0.6"
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("{not json", "is not JSON"),
        ([1, 2], "must be an object"),
        ({"m": "cheap"}, "US dollars"),
        ({"m": {"720p": -1}}, "non-negative"),
    ],
)
def test_bad_price_overrides_are_refused_naming_the_connection(value: object, words: str) -> None:
    with pytest.raises(GrokVideoError, match=words) as caught:
        read_price_overrides(value, str.lower, "my_conn")
    assert "my_conn" in str(caught.value) and "prices" in str(caught.value)


def test_estimate_round_trips_through_xcom_forms() -> None:
    found = estimate("xai", "grok-imagine-video", 6, "720p")
    assert found is not None
    data = found.to_dict()
    assert data["cost_usd"] == "0.42" and data["cost_source"] == "estimated"
    for form in (data, json.dumps(data), repr(data), found):
        back = read_estimate(form)
        assert isinstance(back, CostEstimate) and back.cost_ticks == found.cost_ticks
    for nothing in (None, "", "None"):
        assert read_estimate(nothing) is None
    with pytest.raises(ValueError, match="cost_estimate"):
        read_estimate("a lot")
    with pytest.raises(ValueError, match="cost_ticks"):
        read_estimate({"usd": 1})


# -- the cap ---------------------------------------------------------------------------------


def test_cap_parsing() -> None:
    assert parse_cap(None) is None and parse_cap("") is None and parse_cap("None") is None
    assert parse_cap("0.5") == Decimal("0.5") == parse_cap(0.5)
    assert parse_cap(2) == Decimal(2)
    for bad in ("-1", "lots", True):
        with pytest.raises(CostCapError, match="max_cost_usd"):
            parse_cap(bad)


def test_cap_refuses_over_and_allows_at_or_under() -> None:
    found = estimate("xai", "grok-imagine-video", 6, "720p")
    kw = {"upstream": "xai", "model": "grok-imagine-video"}
    check_cost_cap(found, None, **kw)
    check_cost_cap(found, Decimal("0.42"), **kw)  # exactly the cap: allowed
    with pytest.raises(CostCapError) as caught:
        check_cost_cap(found, Decimal("0.41"), **kw)
    text = str(caught.value)
    assert "$0.42" in text and "max_cost_usd=$0.41" in text and "nothing was submitted" in text


def test_a_cap_without_an_estimate_refuses_and_says_how_to_price_it() -> None:
    with pytest.raises(CostCapError) as caught:
        check_cost_cap(
            None,
            Decimal(1),
            upstream="xai",
            model="grok-imagine-video-1.5",
            known_models=DIALECTS["xai"].models,
        )
    text = str(caught.value)
    assert "no price is published for 'grok-imagine-video-1.5' on xai" in text
    assert '"prices"' in text and "nothing was submitted" in text
    with pytest.raises(CostCapError, match="not a model this provider knows"):
        check_cost_cap(None, Decimal(1), upstream="xai", model="grok-9")


def test_batch_prices_are_half_and_say_batch():
    from airflow_provider_grokvideo.pricing import BATCH_PRICE_SOURCE, batch_estimate

    full = estimate_cost(
        "xai", "grok-imagine-video", 7, "480p", default_duration=8, default_resolution=None
    )
    half = batch_estimate(full)
    assert full is not None and half is not None
    assert half.cost_usd * 2 == full.cost_usd and half.source.startswith(BATCH_PRICE_SOURCE)
    assert "batch" in half.describe()
    assert batch_estimate(None) is None


def test_imagine_1_5_is_priced_at_its_published_base_price() -> None:
    found = estimate("xai", "grok-imagine-video-1.5", 10, "720p")
    assert found is not None and found.cost_usd == Decimal("0.8")
    assert "as of 2026-12-07" in found.source and "base price" in found.source
