"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

This is also the one registry of connection types: ``hooks.hook_class_for`` reads the hook
class of a connection type from here.
"""

from __future__ import annotations

from typing import Any

INTEGRATION = "Grok Video"

#: The oldest Airflow this provider supports (also in pyproject.toml's dependencies, checked
#: by tests/test_compat.py; ``make test-floor`` runs the example DAGs on it).
MIN_AIRFLOW_VERSION = "3.1.0"

_UPSTREAMS = (
    # (connection type suffix, hook class, display name, default base URL)
    ("xcompute", "XComputeVideoHook", "Grok Video (xcompute)", "https://xcompute.us"),
    ("mountsea", "MountseaVideoHook", "Grok Video (Mountsea)", "https://api.mountsea.ai"),
    ("xai", "XAIVideoHook", "Grok Video (xAI)", "https://api.x.ai"),
)

_CONN_FIELDS: dict[str, Any] = {
    "model": {
        "label": "Default model",
        "description": "Model used when a task does not name one (the upstream's own default "
        "when empty).",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": "Timeout of each HTTP request to the API (default 30).",
        "schema": {"type": ["number", "null"], "minimum": 1},
    },
    "relax_limits": {
        "label": "Relax documented limits",
        "description": "Check only types, not the documented durations, ratios, resolutions "
        "and counts: for when the upstream widens its limits before this provider does.",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    # Read by pricing.read_price_overrides (PRICES_EXTRA); overrides pricing.PRICES.
    "prices": {
        "label": "Prices (US dollars per second of video)",
        "description": "Per model, for cost estimates and max_cost_usd, overriding the published "
        'prices: {"grok-imagine-video-1.5": {"480p": 0.05, "720p": 0.07}}, or one price for '
        'every resolution: {"grok-imagine-video-1.5": 0.07}.',
        "schema": {"type": ["object", "string", "null"]},
    },
    "requests_per_second": {
        "label": "Requests per second (this key)",
        "description": "The key's request budget (xAI publishes 1 per second per video model):"
        " for all processes with a shared store, else in each triggerer and worker process."
        " Empty: learned from the upstream's 429s.",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
    },
    "redis_conn_id": {
        "label": "Shared budget: Redis connection id",
        "description": "A connection of type redis where every triggerer and worker shares"
        " this key's request budget (pip install 'airflow-provider-grokvideo[redis]'). Empty:"
        " each process paces the key alone.",
        "schema": {"type": ["string", "null"]},
    },
    # Read by budget/periods.py (BudgetLimits.from_extra).
    "budget_usd_per_day": {
        "label": "Spend budget per day (US dollars)",
        "description": "At most this much is spent through this connection per calendar day:"
        " each paid request's estimate is reserved before it is sent, and one that does not fit"
        " is refused unsent. Shared by every process through the Redis connection above, else"
        " per process. Empty: no daily budget.",
        "schema": {"type": ["number", "string", "null"]},
    },
    "budget_usd_per_month": {
        "label": "Spend budget per month (US dollars)",
        "description": "As the daily budget, per calendar month. Empty: no monthly budget.",
        "schema": {"type": ["number", "string", "null"]},
    },
    "budget_timezone": {
        "label": "Spend budget time zone",
        "description": "Where the budget's days and months start (an IANA name such as"
        " Europe/Paris). Empty: UTC.",
        "schema": {"type": ["string", "null"]},
    },
}

# Only APIMart documents an Idempotency-Key (hooks/base.py GrokVideoHook.idempotent).
_IDEMPOTENT_SUBMITS: dict[str, Any] = {
    "label": "Host honors Idempotency-Key",
    "description": "Whether this host honors APIMart's Idempotency-Key, so that a submit whose"
    " answer was lost is sent again with the same key (the upstream answers the original job)"
    " instead of failing for a human. Empty: yes for https://api.apimart.ai, where APIMart"
    " documents it; no elsewhere (the xcompute white-label documents nothing about it).",
    "schema": {"type": ["boolean", "null"]},
}


# The connection form of each upstream: its default model (the dialect's, repeated here so that
# the UI's form needs no dialect import; tests/test_get_provider_info.py checks they agree) and
# where its key comes from.
_FORMS: dict[str, dict[str, str]] = {
    "xcompute": {
        "upstream": "xcompute",
        "model": "grok-imagine-1.0-video-apimart",
        "key": "an API key of your xcompute.us account (an APIMart key works with "
        "https://api.apimart.ai as the base URL)",
        "key_placeholder": "xcompute API key",
    },
    "mountsea": {
        "upstream": "Mountsea",
        "model": "grok-imagine-video",
        "key": "an API key of your api.mountsea.ai account",
        "key_placeholder": "Mountsea API key",
    },
    "xai": {
        "upstream": "xAI",
        "model": "grok-imagine-video",
        "key": "an xAI API key, made in the xAI console (console.x.ai, API Keys)",
        "key_placeholder": "xai-... (console.x.ai, API Keys)",
    },
}


def _conn_fields(suffix: str, base_url: str) -> dict[str, Any]:
    form = _FORMS[suffix]
    fields = {key: dict(value) for key, value in _CONN_FIELDS.items()}
    # Only extras carry a help text in Airflow 3's form, so the model's also says what the
    # Base URL and API key fields (title and placeholder only) cannot.
    fields["model"]["description"] = (
        f"Model used when a task does not name one; empty: {form['model']}, "
        f"{form['upstream']}'s default. "
        f"Base URL: empty means {base_url}; a URL there replaces it and keeps its path prefix "
        f"(a proxy, the bundled emulator). API key: {form['key']}."
    )
    if suffix == "xcompute":
        fields["idempotent_submits"] = dict(_IDEMPOTENT_SUBMITS)
    return fields


def _connection_type(suffix: str, hook: str, name: str, base_url: str) -> dict[str, Any]:
    form = _FORMS[suffix]
    return {
        "connection-type": f"grokvideo_{suffix}",
        "hook-class-name": f"airflow_provider_grokvideo.hooks.{suffix}.{hook}",
        "hook-name": name,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "login", "port", "extra"],
            "relabeling": {"host": "Base URL", "password": "API key"},
            "placeholders": {
                "host": f"{base_url} when empty; a URL here replaces it, path prefix kept",
                "password": form["key_placeholder"],
                "model": form["model"],
            },
        },
        "conn-fields": _conn_fields(suffix, base_url),
    }


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-grokvideo",
        "name": "Grok Video",
        "description": "Generate videos with Grok through xcompute, Mountsea or the xAI API: "
        "submit, wait without holding a worker, and store the files.",
        "versions": ["0.1.0"],
        # As Airflow's own providers wrote it into their provider info. Airflow itself reads
        # the range from the package's metadata (pip's Requires-Dist) and nothing from here;
        # an older Airflow is refused at import by airflow_provider_grokvideo.compat.
        "dependencies": [f"apache-airflow>={MIN_AIRFLOW_VERSION}"],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.x.ai/docs/guides/video-generations",
                "tags": ["ai", "video"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_grokvideo.hooks.base",
                    # What a failed request means (retries, failover, the durable submit).
                    "airflow_provider_grokvideo.hooks.outcomes",
                    # What a hook reads from its connection.
                    "airflow_provider_grokvideo.hooks.settings",
                    # Its HTTP clients: the key to the API host only, the pooled async client.
                    "airflow_provider_grokvideo.hooks.clients",
                    *(f"airflow_provider_grokvideo.hooks.{s}" for s, *_ in _UPSTREAMS),
                    # Edits and extensions (a mixin of the base hook).
                    "airflow_provider_grokvideo.hooks.video_edits",
                    "airflow_provider_grokvideo.hooks.uploads",
                    # xAI's Batch API (a mixin of the xAI hook).
                    "airflow_provider_grokvideo.hooks.xai_batch",
                    # The hooks' request budget (one pacer per key), used by no one else,
                    # and its store shared by every process (redis_conn_id).
                    "airflow_provider_grokvideo.hooks.pacer",
                    "airflow_provider_grokvideo.hooks.shared_budget",
                    "airflow_provider_grokvideo.hooks.budget_rules",
                    # One runtime per connection key: its clients, pacers and job durations.
                    "airflow_provider_grokvideo.hooks.runtime",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_grokvideo.operators.generate",
                    "airflow_provider_grokvideo.operators.edit",
                    "airflow_provider_grokvideo.operators.extend",
                    "airflow_provider_grokvideo.operators.download",
                    "airflow_provider_grokvideo.operators.batch",
                    "airflow_provider_grokvideo.operators.review",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_grokvideo.sensors.video"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_grokvideo.triggers.video",
                    "airflow_provider_grokvideo.triggers.progress",
                    "airflow_provider_grokvideo.triggers.polling",
                    "airflow_provider_grokvideo.triggers.wait_state",
                    "airflow_provider_grokvideo.triggers.batch",
                ],
            }
        ],
        # The videos' way into object storage (fsspec, Airflow's ObjectStoragePath: "Common IO"):
        # the download operator is the transfer operator.  Its module stays in operators/, the
        # path DAG files import it by.
        "transfers": [
            {
                "source-integration-name": INTEGRATION,
                "target-integration-name": "Common IO",
                "python-module": "airflow_provider_grokvideo.operators.download",
            }
        ],
        "extra-links": [
            "airflow_provider_grokvideo.tasks.links.GrokVideoLink",
            "airflow_provider_grokvideo.tasks.links.GrokVideoUpstreamLink",
        ],
        "plugins": [
            {
                "name": "grokvideo",
                "plugin-class": "airflow_provider_grokvideo.plugins.grok_videos.GrokVideosPlugin",
            }
        ],
        "connection-types": [_connection_type(*upstream) for upstream in _UPSTREAMS],
        # Read by the API server only (plugins/storage_roots.py): where the page may read.
        "config": {
            "grokvideo": {
                "description": "Settings of the Grok video provider.",
                "options": {
                    "page_storage_roots": {
                        "description": 'Where the "Grok videos" page may read the stored '
                        "videos and thumbnails it serves: URI prefixes of object storage "
                        "(ObjectStoragePath: file://, s3://, gs://, abfs://...), separated by "
                        "commas or whitespace, e.g. the destinations of your download tasks. "
                        "Read by the API server. A stored copy is served only when its URI, "
                        "normalized (no '..', symlinks resolved for local roots), lies under "
                        "one of them with the same scheme, connection id and bucket, and its "
                        "name and first bytes are those of a video or an image. Empty: the "
                        "page lists generations but serves no file. Never http(s)://, ftp://, "
                        "data: or a URI with credentials.\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://aws_default@my-bucket/videos/, file:///data/videos/",
                        "default": "",
                    }
                },
            }
        },
    }
