"""The Mountsea hook (``hooks/mountsea.py``): chosen by its connection type, pointed at
api.mountsea.ai unless the host says otherwise, speaking Mountsea's dialect to the emulator's
Mountsea API, and never claiming idempotent submits (Mountsea documents no key)."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection
from hook_support import make_hook, submissions, wait_until_done

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.exceptions import GrokVideoError
from airflow_provider_grokvideo.hooks import hook_class_for
from airflow_provider_grokvideo.hooks.mountsea import MountseaVideoHook


def test_the_connection_type_chooses_it_and_its_defaults() -> None:
    assert hook_class_for("grokvideo_mountsea") is MountseaVideoHook
    assert MountseaVideoHook.default_conn_name == "grokvideo_mountsea_default"
    conn = Connection(conn_id="c", conn_type="grokvideo_mountsea", password="k")
    assert MountseaVideoHook("c", connection=conn).settings.base_url == "https://api.mountsea.ai"


def test_a_video_is_made_on_the_mountsea_api_alone(grokvideo_emulator: Emulator) -> None:
    hook = make_hook(grokvideo_emulator, "mountsea")
    assert isinstance(hook, MountseaVideoHook)
    done = wait_until_done(hook, hook.submit_video("a cat eating fish", duration=6))
    assert done.status == "succeeded" and done.video_urls
    assert submissions(grokvideo_emulator) == {"xcompute": 0, "mountsea": 1, "xai": 0}


def test_idempotent_submits_cannot_be_claimed() -> None:
    plain = Connection(conn_id="c", conn_type="grokvideo_mountsea", password="k")
    assert not MountseaVideoHook("c", connection=plain).idempotent
    said = Connection(
        conn_id="c",
        conn_type="grokvideo_mountsea",
        password="k",
        extra=json.dumps({"idempotent_submits": True}),
    )
    with pytest.raises(GrokVideoError, match="documents no idempotency key; remove the extra"):
        _ = MountseaVideoHook("c", connection=said).idempotent
