"""The "Grok videos" page, served by Airflow's own API app with the plugin loaded.

Real parts only: the example DAG runs on the emulator with ``dag.test()`` (trigger executed),
its records land in the metadata database's XCom table, and Airflow's API app (the one
``airflow api-server`` serves, with its auth manager and JWT checks) answers the page.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from page_support import cards

from airflow_provider_grokvideo.plugins.storage_roots import ENV_VAR as ROOTS_VAR
from plugins.conftest import LEAK_KEY

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def client(runs: dict[str, Any]) -> Iterator[Any]:
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,nobody:")
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        # The API server's storage roots: the download task's destination, nothing else.
        patch.setenv(ROOTS_VAR, runs["videos"].as_uri() + "/")
        purge_cached_app()
        app = create_app()
        with TestClient(app, base_url="http://airflow.test") as test_client:
            yield test_client
        purge_cached_app()


def token(role: str | None = "admin", name: str = "admin") -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=name, role=role))


def as_admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {token()}"}


def record_of(run: Any, task_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        [row] = session.scalars(
            XComModel.get_many(
                run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key="grokvideo"
            )
        ).all()
        return XComModel.deserialize_value(row)


def test_nothing_is_served_without_airflows_authentication(client: Any, runs: dict) -> None:
    page = client.get("/grokvideo/", follow_redirects=False)
    # A person is sent to the auth manager's login page, and back here afterwards.
    assert page.status_code in (302, 307)
    login = urlsplit(page.headers["location"])
    assert login.path.startswith("/auth/")
    assert parse_qs(login.query)["next"] == ["http://airflow.test/grokvideo/"]
    files = client.get("/grokvideo/file", params={"dag_id": "x", "run_id": "r", "task_id": "t"})
    assert files.status_code == 401
    forged = client.get(
        "/grokvideo/", headers={"Authorization": "Bearer not-a-jwt"}, follow_redirects=False
    )
    assert forged.status_code == 403
    # A valid user without any role may read no DAG: no generation is listed, no file served.
    nobody = {"Authorization": f"Bearer {token(role=None, name='nobody')}"}
    assert "0 generations" in client.get("/grokvideo/", headers=nobody).text
    good = runs["good"]
    assert (
        client.get(
            "/grokvideo/file",
            params={"dag_id": good.dag_id, "run_id": good.run_id, "task_id": "download"},
            headers=nobody,
        ).status_code
        == 403
    )


def test_the_page_lists_the_runs_generations_newest_first_with_what_they_are(
    client: Any, runs: dict
) -> None:
    good, bad = runs["good"], runs["bad"]
    answer = client.get("/grokvideo/", headers=as_admin())
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    found = cards(page)
    good_id = record_of(good, "generate")["generation_id"]
    bad_id = record_of(bad, "generate")["generation_id"]
    assert list(found)[:2] == [bad_id, good_id]  # newest first
    card = found[good_id]
    # The prompt is escaped, not markup.
    assert "A &lt;b&gt;paper&lt;/b&gt; boat &amp; a duck" in card
    assert 'data-status="succeeded"' in page and ">succeeded<" in card
    assert "xcompute · grok-imagine-1.0-video-apimart" in card and "6 s · 16:9 · 480p" in card
    assert "expires 20" in card and "(in 2" in card  # "expires <UTC> (in 24 h)"
    assert f"example_grokvideo_text_to_video / {good.run_id}" in html.unescape(card)
    # The player and the thumbnail are the stored copies, served by the page itself.
    [video] = re.findall(r'<video controls preload="metadata" src="([^"]+)"', card)
    [thumb] = re.findall(r'<img class="thumb" alt="[^"]*" src="([^"]+)"', card)
    assert html.unescape(video).startswith("/grokvideo/file?") and "kind=video" in video
    assert "kind=thumbnail" in thumb
    failed = found[bad_id]
    assert ">failed<" in failed and "No video (yet)." in failed
    assert record_of(bad, "wait")["error"] in html.unescape(failed)
    # No key and no upstream URL (they may be signed) anywhere in the page.
    assert LEAK_KEY not in page
    assert runs["emulator_url"] not in page and "/cdn/" not in page


def test_the_page_filters_by_status_dag_and_generation(client: Any, runs: dict) -> None:
    good = runs["good"]
    good_id = record_of(good, "generate")["generation_id"]
    failed = cards(client.get("/grokvideo/?status=failed", headers=as_admin()).text)
    assert failed and all(">failed<" in body for body in failed.values())
    assert good_id not in failed
    succeeded = cards(client.get("/grokvideo/?status=succeeded", headers=as_admin()).text)
    assert good_id in succeeded and not set(failed) & set(succeeded)
    none = client.get("/grokvideo/?dag_id=no_such_dag", headers=as_admin()).text
    assert "0 generations" in none and not cards(none)
    one = client.get(
        "/grokvideo/",
        params={"dag_id": good.dag_id, "run_id": good.run_id, "generation_id": good_id},
        headers=as_admin(),
    ).text
    assert list(cards(one)) == [good_id] and 'class="card focus"' in one
    assert client.get("/grokvideo/?status=nonsense", headers=as_admin()).status_code == 400


def test_a_task_without_a_generation_says_so_and_bad_task_filters_are_refused(
    client: Any, runs: dict
) -> None:
    bad = runs["bad"]
    # The failed run's download never ran: its link opens a page that says why it is empty.
    params = {"dag_id": bad.dag_id, "run_id": bad.run_id, "task_id": "download"}
    empty = client.get("/grokvideo/", params=params, headers=as_admin())
    assert empty.status_code == 200 and not cards(empty.text)
    assert "No generation yet from task download" in empty.text
    # Its page keeps the task in the form, so that "Show" does not drop it.
    assert 'name="task_id" value="download"' in empty.text
    for refused in (
        {"task_id": "download"},  # no run: a task id alone names no task instance
        {"dag_id": bad.dag_id, "run_id": bad.run_id, "task_id": "t", "map_index": -2},
        {"dag_id": bad.dag_id, "run_id": bad.run_id, "task_id": "t", "map_index": "x"},
    ):
        answer = client.get("/grokvideo/", params=refused, headers=as_admin())
        assert answer.status_code in (400, 422), (refused, answer.status_code)


@pytest.mark.parametrize("task_id", ["generate", "wait", "download"])
def test_each_tasks_link_opens_its_generation_on_the_page(
    client: Any, runs: dict, task_id: str
) -> None:
    """The "Grok video" link as the UI reads it (Airflow's extra-links route): made by the API
    server from the plugin (no task pushed it), it opens the task's generation."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    good = runs["good"]
    route = (
        f"/api/v2/dags/{good.dag_id}/dagRuns/{quote(good.run_id, safe='')}"
        f"/taskInstances/{task_id}/links"
    )
    answer = client.get(route, headers=as_admin())
    assert answer.status_code == 200, answer.text
    link = answer.json()["extra_links"]["Grok video"]
    assert link.startswith("http://")
    target = urlsplit(link)
    page = client.get(f"{target.path}?{target.query}", headers=as_admin()).text
    assert list(cards(page)) == [record_of(good, "generate")["generation_id"]]
    with create_session() as session:
        pushed = session.scalars(
            XComModel.get_many(run_id=good.run_id, dag_ids=good.dag_id, task_ids=task_id)
        ).all()
    assert "_link_GrokVideoLink" not in {row.key for row in pushed}


def test_stored_files_are_streamed_with_ranges(client: Any, runs: dict) -> None:
    good = runs["good"]
    [video_path] = runs["videos"].glob(f"{record_of(good, 'generate')['generation_id']}.mp4")
    data = video_path.read_bytes()
    params = {"dag_id": good.dag_id, "run_id": good.run_id, "task_id": "download"}
    whole = client.get("/grokvideo/file", params=params, headers=as_admin())
    assert whole.status_code == 200 and whole.content == data
    assert (
        whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"
    )
    part = client.get(
        "/grokvideo/file", params=params, headers={**as_admin(), "Range": "bytes=100-199"}
    )
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = client.get(
        "/grokvideo/file", params=params, headers={**as_admin(), "Range": "bytes=-16"}
    )
    assert tail.status_code == 206 and tail.content == data[-16:]
    beyond = client.get(
        "/grokvideo/file", params=params, headers={**as_admin(), "Range": f"bytes={len(data)}-"}
    )
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
    thumb = client.get(
        "/grokvideo/file", params={**params, "kind": "thumbnail"}, headers=as_admin()
    )
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    # Files are named by a task's record, never by a path the browser sends.
    missing = client.get(
        "/grokvideo/file", params={**params, "task_id": "wait"}, headers=as_admin()
    )
    assert missing.status_code == 404
    assert (
        client.get("/grokvideo/file", params={**params, "n": 5}, headers=as_admin()).status_code
        == 404
    )


def test_records_carry_readable_times_and_no_upstream_url(runs: dict) -> None:
    from airflow.utils.session import create_session

    from airflow_provider_grokvideo.plugins.generations import Filters, list_generations

    good = runs["good"]
    submitted, stored = (record_of(good, t) for t in ("generate", "download"))
    assert submitted["stage"] == "submitted" and submitted["upstream"] == "xcompute"
    assert submitted["prompt"] == "A <b>paper</b> boat & a duck" and submitted["duration"] == 6
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", submitted["submitted_at_utc"])
    assert stored["videos"][0].startswith("file://")
    # A succeeded wait pushes no record: its return value is read as one.
    with pytest.raises(ValueError):
        record_of(good, "wait")
    with create_session() as session:
        page = list_generations(
            session, Filters(run_id=good.run_id, generation_id=submitted["generation_id"])
        )
    [generation] = page.generations
    assert generation.tasks["finished"].task_id == "wait"
    finished = generation.record
    assert finished["status"] == "succeeded" and finished["expires_at_utc"].endswith("Z")
    assert finished["finished_at_utc"].endswith("Z") and finished["video_host"]
    for record in (submitted, finished, stored):
        assert runs["emulator_url"] not in str(record) and LEAK_KEY not in str(record)


# -- forged records: what the page must never serve ---------------------------------------------


def forge(client: Any, run: Any, task_id: str, value: dict[str, Any]) -> None:
    """Overwrite a task's record as anyone with XCom write access can: the REST API's PATCH."""
    answer = client.patch(
        f"/api/v2/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances/{task_id}"
        "/xcomEntries/grokvideo",
        json={"value": value},
        headers=as_admin(),
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture
def forged(client: Any, runs: dict) -> Iterator[Any]:
    """``forged(task_id, **fields)``: that task's record with ``fields`` replaced, through the
    REST API; every record is put back afterwards, so other tests see the real ones."""
    good = runs["good"]
    originals: dict[str, dict[str, Any]] = {}

    def apply(task_id: str, **fields: Any) -> None:
        original = originals.setdefault(task_id, record_of(good, task_id))
        forge(client, good, task_id, {**original, **fields})

    yield apply
    for task_id, original in originals.items():
        forge(client, good, task_id, original)


def test_forged_records_are_refused_and_nothing_is_served(
    client: Any, runs: dict, forged: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import os

    good = runs["good"]
    home = Path(os.environ["AIRFLOW_HOME"])
    secret = "fernet_key = FORGED-RECORD-CANARY-7f3a"
    cfg = home / "airflow.cfg"
    if not cfg.exists():
        cfg.write_text(f"[core]\n{secret}\n")
    other = tmp_path / "other-secret.txt"
    other.write_text(secret)
    inside = runs["videos"] / "renamed-secret.mp4"  # under the root, but no video
    inside.write_text(secret)
    link = runs["videos"] / "link-out.mp4"  # under the root, leading out of it
    link.symlink_to(cfg)
    params = {"dag_id": good.dag_id, "run_id": good.run_id, "task_id": "download"}
    attacks = {
        "airflow.cfg": (cfg.as_uri(), "not a video file name"),
        "another file": (other.as_uri(), "not a video file name"),
        "a path without scheme": (str(cfg), "no scheme"),
        "an internal URL": (f"{runs['emulator_url']}/_emulator/health", "scheme 'http'"),
        "a '..' out of the root": (
            f"{runs['videos'].as_uri()}/../{cfg.name}",
            "'..' or an empty segment",
        ),
        "an encoded '..'": (f"{runs['videos'].as_uri()}/%2e%2e%2f{cfg.name}", "percent-encoded"),
        "a secret renamed .mp4": (inside.as_uri(), "first bytes are not an MP4 video"),
        "a symlink out": (link.as_uri(), "a symlink leads out of the storage root"),
        "credentials": ("s3://AKIA:pw@bucket/videos/x.mp4", "credentials in the URI"),
    }
    for name, (uri, reason) in attacks.items():
        forged("download", videos=[uri], thumbnail=uri)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="airflow_provider_grokvideo"):
            for kind in ("video", "thumbnail"):
                answer = client.get(
                    "/grokvideo/file",
                    params={**params, "kind": kind},
                    headers={**as_admin(), "Range": "bytes=0-"},
                )
                assert answer.status_code == 403, (name, kind, answer.status_code)
                assert answer.text.startswith("not served: "), (name, answer.text)
                assert "FORGED-RECORD-CANARY" not in answer.text and secret not in answer.text
                assert "[core]" not in answer.text
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 2, (name, [r.getMessage() for r in warnings])
        message = warnings[0].getMessage()
        assert good.dag_id in message and good.run_id in message and "'download'" in message
        assert "FORGED-RECORD-CANARY" not in caplog.text
        # The page shows no player for it either, and says why (the first bytes are read
        # only when the file is asked for: a page never opens 24 files).
        page = client.get("/grokvideo/", headers=as_admin()).text
        card = cards(page)[record_of(good, "generate")["generation_id"]]
        if "first bytes" not in reason:
            assert "<video" not in card and "Stored copy not served: " in html.unescape(card)
    # The real record again: the real video plays, with ranges.
    forged("download")
    part = client.get(
        "/grokvideo/file", params=params, headers={**as_admin(), "Range": "bytes=0-99"}
    )
    assert part.status_code == 206 and part.content[4:8] == b"ftyp"


def test_an_attack_reason_is_given_for_each_forgery(client: Any, runs: dict, forged: Any) -> None:
    good = runs["good"]
    params = {"dag_id": good.dag_id, "run_id": good.run_id, "task_id": "download"}
    for uri, reason in (
        ("file:///etc/passwd", "not a video file name"),
        ("/etc/passwd.mp4", "no scheme"),
        ("http://127.0.0.1:8080/api/v2/monitor/health.mp4", "scheme 'http' is not an object"),
        ("data:video/mp4;base64;AAAAGGZ0eXA", "scheme 'data' is not an object store"),
        ("file:///etc/x.mp4", "not under the page's storage roots"),
        (42, "no URI"),
    ):
        forged("download", videos=[uri])
        answer = client.get("/grokvideo/file", params=params, headers=as_admin())
        assert answer.status_code == 403 and answer.text.startswith(f"not served: {reason}")


def test_markup_in_a_forged_record_stays_text(client: Any, runs: dict, forged: Any) -> None:
    good = runs["good"]
    attack = '<script>alert("prompt")</script><img src=x onerror="alert(1)">'
    forged("generate", prompt=attack, model='"><svg onload=alert(2)>')
    forged("download", error="<iframe src=javascript:alert(3)>")
    page = client.get("/grokvideo/", headers=as_admin()).text
    card = cards(page)[record_of(good, "generate")["generation_id"]]
    assert "<script>alert" not in page and "<img src=x" not in page and "<svg" not in page
    assert "<iframe" not in page
    assert "&lt;script&gt;alert(&#34;prompt&#34;)&lt;/script&gt;" in card
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in card
    assert "&lt;iframe src=javascript:alert(3)&gt;" in card
    # The page's own script is the only one.
    assert page.count("<script>") == 1


def test_without_storage_roots_the_page_lists_but_serves_no_file(
    client: Any, runs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ROOTS_VAR)
    good = runs["good"]
    page = client.get("/grokvideo/", headers=as_admin()).text
    card = cards(page)[record_of(good, "generate")["generation_id"]]
    assert ">succeeded<" in card and "<video" not in card and 'class="thumb"' not in card
    assert "Stored copy not shown" in card
    notice = html.unescape(page.split('id="files-not-served">', 1)[1].split("</div>", 1)[0])
    assert "[grokvideo] page_storage_roots" in notice and ROOTS_VAR in notice
    params = {"dag_id": good.dag_id, "run_id": good.run_id, "task_id": "download"}
    answer = client.get("/grokvideo/file", params=params, headers=as_admin())
    assert answer.status_code == 403 and "no storage roots are configured" in answer.text
    monkeypatch.setenv(ROOTS_VAR, runs["videos"].as_uri())
    assert 'id="files-not-served"' not in client.get("/grokvideo/", headers=as_admin()).text
