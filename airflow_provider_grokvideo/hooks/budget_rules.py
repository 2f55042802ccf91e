"""The rules of a request budget, as numbers: the learned rate's AIMD, the spacing of requests,
the pauses after a 429.

One place for both implementations of the budget: the pacer of a process
(:mod:`~airflow_provider_grokvideo.hooks.pacer`) and the Lua script of the budget shared in
Redis (:mod:`~airflow_provider_grokvideo.hooks.shared_budget`), which receives them as
arguments.  Pure: no import.
"""

from __future__ import annotations

#: Multiplicative decrease of the learned rate on a 429 (TCP CUBIC's 0.7: gentler than halving,
#: so that a learned budget spends ~85 % of the real one on average).
DECREASE = 0.7
#: Additive increase: per second during which the budget held requests back, the learned rate
#: grows by this share of the rate it had when the last 429 came (about 30 s from 0.7x back to
#: where it was refused, whatever the scale of the key).
INCREASE_SHARE = 0.01
#: The learned rate never drops below this (one request every 20 s).
MIN_RATE = 0.05
#: Requests leave this share more than ``1 / rate`` apart: clocks and networks jitter by
#: milliseconds, and at exactly the budget about half the requests would reach a strict
#: upstream a hair early.
SPACING_MARGIN = 0.02
#: Pause after a 429 without ``Retry-After`` when no rate is known yet.
DEFAULT_PAUSE = 1.0
#: The longest pause a ``Retry-After`` may impose (a broken header must not stall a triggerer).
MAX_PAUSE = 300.0
#: Seconds over which answered requests are counted: on the first 429, the learned rate starts
#: from what the upstream accepted in about this long.
WINDOW = 1.0
