"""The xcompute hook (``hooks/xcompute.py``): chosen by its connection type, pointed at
xcompute.us unless the host says otherwise, speaking APIMart's dialect to the emulator's
xcompute API, with idempotency keys honored on APIMart's own host only."""

from __future__ import annotations

import json

from airflow.sdk import Connection
from hook_support import make_hook, submissions, wait_until_done

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.hooks import hook_class_for
from airflow_provider_grokvideo.hooks.xcompute import XComputeVideoHook


def test_the_connection_type_chooses_it_and_its_defaults() -> None:
    assert hook_class_for("grokvideo_xcompute") is XComputeVideoHook
    assert XComputeVideoHook.default_conn_name == "grokvideo_xcompute_default"
    conn = Connection(conn_id="c", conn_type="grokvideo_xcompute", password="k")
    assert XComputeVideoHook("c", connection=conn).settings.base_url == "https://xcompute.us"


def test_a_video_is_made_on_the_xcompute_api_alone(grokvideo_emulator: Emulator) -> None:
    hook = make_hook(grokvideo_emulator, "xcompute")
    assert isinstance(hook, XComputeVideoHook)
    done = wait_until_done(hook, hook.submit_video("a kite over dunes", duration=6))
    assert done.status == "succeeded" and done.video_urls
    assert submissions(grokvideo_emulator) == {"xcompute": 1, "mountsea": 0, "xai": 0}


def test_keys_are_honored_on_apimarts_host_only_unless_the_extra_says() -> None:
    def hook(host: str, **extra: str) -> XComputeVideoHook:
        conn = Connection(
            conn_id="c",
            conn_type="grokvideo_xcompute",
            host=host,
            password="k",
            extra=json.dumps(extra),
        )
        return XComputeVideoHook("c", connection=conn)

    assert hook("https://api.apimart.ai").idempotent
    assert not hook("https://xcompute.us").idempotent  # the white label documents no keys
    assert hook("https://xcompute.us", idempotent_submits="true").idempotent
    assert not hook("https://api.apimart.ai", idempotent_submits="false").idempotent
