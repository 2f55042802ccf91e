"""Every Airflow name whose home depends on the Airflow version, from one place.

The provider supports Airflow 3.1 and newer (``MIN_AIRFLOW_VERSION`` in
:mod:`~airflow_provider_grokvideo.get_provider_info`).  Between 3.1 and 3.3 some names moved:
the task exceptions went from ``airflow.exceptions`` (core) into ``airflow.sdk.exceptions``
(3.2), and the task state store arrived (3.3).  Other modules import such names from here, never
from Airflow directly, so that a move costs one line in this file and not a broken DAG::

    from airflow_provider_grokvideo.compat import AirflowFailException

Names resolve lazily, on first use (PEP 562 module ``__getattr__``), trying the newest
Airflow's location first: a DAG file importing the operator pays only for what it asks for
(``NEVER_EXPIRE`` lives in the task runner's context module, which a DAG parse must not load).
Names that sit in the same place on every supported Airflow (``airflow.sdk.BaseOperator``,
``airflow.triggers.base.BaseTrigger``, ...) are imported where they are used, as usual.
``FALLBACK_ONLY`` makes every name resolve from its oldest location, for the test that imports
the whole provider as an older Airflow would see it.

A feature an older Airflow lacks degrades instead of failing to import: see
:func:`task_state_store`.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION

from airflow_provider_grokvideo.get_provider_info import MIN_AIRFLOW_VERSION

if TYPE_CHECKING:
    from datetime import timedelta

    from airflow.sdk import Context
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
    from airflow.sdk.execution_time.context import TaskStateStoreAccessor

    NEVER_EXPIRE: timedelta

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_3_PLUS",
    "NEVER_EXPIRE",
    "TRIGGER_CAN_END_TASKS",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "conf",
    "deferral_blocked",
    "task_state_store",
]

log = logging.getLogger(__name__)


def _version_tuple(version: str) -> tuple[int, int, int]:
    """``"3.1.8"`` -> ``(3, 1, 8)``; ``"3.2.0rc1"`` and ``"3.2.0.dev0"`` -> ``(3, 2, 0)``."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if match is None:
        raise RuntimeError(f"cannot read the Airflow version {version!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


AIRFLOW_VERSION_TUPLE = _version_tuple(AIRFLOW_VERSION)
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION_TUPLE >= (3, 3, 0)
#: Whether a trigger may end its task itself (``TaskSuccessEvent`` / ``TaskFailedEvent`` /
#: ``TaskSkippedEvent``) with every guarantee of a worker's ending: the event's XComs pushed,
#: the task's callbacks sent to the DAG processor, and a failure routed to ``up_for_retry``
#: while the task has retries left.  Every Airflow 3 pushes the XComs and sends success and
#: failure callbacks, but before 3.3.1 a failure event fails the task for good, its retries
#: ignored and ``on_failure_callback`` run instead of ``on_retry_callback``
#: (apache/airflow#69819, fixed in 3.3.1 by #71163; 3.1.8, 3.2.2 and 3.3.0 read).  Older
#: versions resume the task on a worker, as before: nothing is lost, only the worker start.
TRIGGER_CAN_END_TASKS = AIRFLOW_VERSION_TUPLE >= (3, 3, 1)

# The convention of Airflow's own providers: an unsupported Airflow gets one clear sentence at
# import, not an ImportError of some moved name deep inside a DAG file.
if _version_tuple(MIN_AIRFLOW_VERSION) > AIRFLOW_VERSION_TUPLE:
    raise RuntimeError(
        f"airflow-provider-grokvideo needs Apache Airflow {MIN_AIRFLOW_VERSION} or newer; "
        f"this is Airflow {AIRFLOW_VERSION}"
    )

#: Where each name lives, newest Airflow first: ``"module"`` (same name) or ``"module:attr"``.
#: The last entry is the oldest supported Airflow's location, or a stand-in defined here.
_LOCATIONS: dict[str, tuple[str, ...]] = {
    # Task exceptions: in the Task SDK since 3.2; core's ``airflow.exceptions`` in 3.1 (and a
    # deprecated alias of the SDK's class from 3.2 on, so ``except`` clauses match either way).
    "AirflowException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowFailException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowSensorTimeout": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowSkipException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    # Airflow's configuration: the Task SDK's own since 3.2; core's before (3.1).
    "conf": ("airflow.sdk.configuration", "airflow.configuration"),
    # Retention value that keeps a task state store key for good (3.3); ``None`` (the store's
    # default retention) for the stand-in, which no store will ever receive anyway.
    "NEVER_EXPIRE": (
        "airflow.sdk.execution_time.context",
        "airflow_provider_grokvideo.compat:_NO_STORE_RETENTION",
    ),
}

_NO_STORE_RETENTION = None

#: Resolve every name from the last (oldest) location of ``_LOCATIONS``: set by the test that
#: imports the provider with the fallbacks forced, before anything is resolved.
FALLBACK_ONLY = False


def _resolve(name: str) -> Any:
    locations = _LOCATIONS[name]
    tried: list[str] = []
    for location in locations[-1:] if FALLBACK_ONLY else locations:
        module_name, _, attr = location.partition(":")
        try:
            module = importlib.import_module(module_name)
            return getattr(module, attr or name)
        except (ImportError, AttributeError) as exc:
            tried.append(f"{location}: {exc}")
    raise ImportError(
        f"airflow-provider-grokvideo found {name!r} in none of its known places on Airflow "
        f"{AIRFLOW_VERSION} ({'; '.join(tried)})",
        name=name,
    )


def __getattr__(name: str) -> Any:
    if name not in _LOCATIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = _resolve(name)
    globals()[name] = value  # resolved once; later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LOCATIONS})


def task_state_store(context: Context, logger: Any = None) -> TaskStateStoreAccessor | None:
    """The task's state store (``context["task_state_store"]``, Airflow 3.3+), or ``None``.

    ``None`` on an Airflow without one, with one warning on ``logger`` (the task's own log, so
    the user reads it where the task ran; call it once per try): the task then runs without
    what the store gives it (crash recovery of a submit), instead of failing.
    """
    store = context.get("task_state_store")
    if store is None:
        (logger or log).warning(
            "Airflow %s has no task state store (crash recovery needs Airflow 3.3): a retry "
            "after a worker died mid-submit may submit, and bill, the video again. Upgrade "
            "Airflow to 3.3 or newer to close that gap.",
            AIRFLOW_VERSION,
        )
    return store


#: The first Airflow whose ``airflow/models/crypto.py`` wraps ``MultiFernet`` (``_RealFernet``)
#: instead of setting an attribute on it.
_FERNET_WRAPPED_SINCE = (3, 2, 0)


def deferral_blocker(
    airflow_version: tuple[int, int, int], cryptography_version: str, fernet_takes_attributes: bool
) -> str | None:
    """Why an Airflow of ``airflow_version`` beside this ``cryptography`` cannot defer a task, or
    ``None`` when it can.

    Airflow 3.1.x sets ``is_encrypted`` on the ``MultiFernet`` it encrypts trigger kwargs with;
    cryptography 51 made that class a Rust type that takes no new attribute, so every deferral
    fails inside the API server with an ``AttributeError`` the task's log never shows.
    """
    if airflow_version >= _FERNET_WRAPPED_SINCE or fernet_takes_attributes:
        return None
    return (
        f"Airflow {'.'.join(map(str, airflow_version))} cannot defer a task beside cryptography "
        f"{cryptography_version}: its API server fails every deferral (AttributeError: "
        f"'MultiFernet' object has no attribute 'is_encrypted'). Waiting on the worker instead, "
        f"which holds a worker slot until the video is done. Fix: install 'cryptography<51' "
        f"in every Airflow environment (the API server's first), or upgrade to Airflow 3.2+."
    )


@functools.cache
def _this_deferral_blocker() -> str | None:
    if AIRFLOW_VERSION_TUPLE >= _FERNET_WRAPPED_SINCE:
        return None  # cryptography is not even imported
    from importlib.metadata import version

    from cryptography.fernet import Fernet, MultiFernet

    # What Airflow 3.1's get_fernet() does, on a throw-away key.
    fernet: Any = MultiFernet([Fernet(Fernet.generate_key())])
    try:
        fernet.is_encrypted = True
    except AttributeError:
        return deferral_blocker(AIRFLOW_VERSION_TUPLE, version("cryptography"), False)
    return None


def deferral_blocked(logger: Any = None) -> bool:
    """Whether this environment's Airflow would fail to defer a task; if so, says why and what
    to do on ``logger`` (the task's own log), so that the wait runs on the worker instead."""
    reason = _this_deferral_blocker()
    if reason is not None:
        (logger or log).warning("%s", reason)
    return reason is not None
