"""Outages: a whole upstream down until told otherwise, as failover across connections meets it.

Unlike a fault (``faults.py``: the next ``count`` requests), an outage lasts until it is ended
(``set_outage(upstream, None)``, ``PUT /_emulator/outages``, or a reset).  The kinds are the
failures after which a client may safely move to another upstream, because nothing was created:

* ``"refuse"``: TCP connections are refused (the upstream's own port stops listening; see
  ``listeners.py``): a client sees a failed connect, never a reset;
* ``"401"``: the key is refused, in the upstream's own answer to a bad key (xAI's is a 400
  "Incorrect API key provided");
* ``"402"``: the account is out of balance: APIMart's documented 402 ``payment_required``, and
  Mountsea's 402 in its NestJS shape.  xAI never answers 402 (UPSTREAMS.md): refused for it;
* ``"credits"``: the credits are used up.  On xAI a 429 whose message says so (no
  ``Retry-After``: waiting does not help), the 429 that is not a rate limit; xcompute and
  Mountsea document no such answer besides their 402, so there it is their 402.

Every request under the upstream's prefix gets the outage's answer, status reads too: an
account that is refused is refused whole.  An outage ends with nothing lost: jobs submitted
before it are still there after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_grokvideo.emulator import xai, xcompute
from airflow_provider_grokvideo.emulator.defaults import UPSTREAMS
from airflow_provider_grokvideo.emulator.upstream import UpstreamAPI
from airflow_provider_grokvideo.emulator.wire import Reply, json_reply

REFUSE = "refuse"
#: Every kind of outage (see the module's docstring).
OUTAGES: tuple[str, ...] = (REFUSE, "401", "402", "credits")

# What each upstream answers when its account cannot pay.  Kept here rather than beside each
# upstream's other errors so that the outages read as one table.
_XCOMPUTE_BALANCE = "Insufficient balance, please top up your account"
_MOUNTSEA_BALANCE = "Insufficient credits, please recharge your account"
XAI_NO_CREDITS = (
    "Your team has either used all available credits or reached its monthly spending limit. "
    "To continue making API requests, please purchase more credits or raise your spending limit."
)


def check_outages(outages: Any) -> dict[str, str | None]:
    """``{upstream: kind or None}``, checked (raises ``ValueError`` naming what is wrong)."""
    if not isinstance(outages, Mapping):
        raise ValueError('outages must be an object of upstream: kind or null, e.g. {"xai": "401"}')
    out: dict[str, str | None] = {}
    for upstream, kind in outages.items():
        if upstream not in UPSTREAMS:
            raise ValueError(
                f"outage for an unknown upstream {upstream!r}; one of {', '.join(UPSTREAMS)}"
            )
        if kind is not None and kind not in OUTAGES:
            raise ValueError(
                f"outage of {upstream} must be one of {', '.join(OUTAGES)} or null; got {kind!r}"
            )
        if kind == "402" and upstream == "xai":
            raise ValueError(
                'xai never answers 402 (out of credits is its 429 that says so): use "credits"'
            )
        out[upstream] = kind
    return out


def outage_reply(api: UpstreamAPI, kind: str) -> Reply:
    """The answer of ``api``'s upstream to every request while it is down with ``kind``
    (any kind but ``"refuse"``, which never gets as far as a request)."""
    if kind == "401":
        return api.unauthorized()
    if api.name == "xai":  # "credits": check_outages refuses "402"
        return json_reply(429, {"code": xai.EXHAUSTED, "error": XAI_NO_CREDITS})
    if api.name == "xcompute":
        return xcompute._error(402, _XCOMPUTE_BALANCE, "payment_required")
    return json_reply(
        402, {"statusCode": 402, "message": _MOUNTSEA_BALANCE, "error": "Payment Required"}
    )


__all__ = ["OUTAGES", "REFUSE", "XAI_NO_CREDITS", "check_outages", "outage_reply"]
