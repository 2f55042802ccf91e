"""The "Grok videos" page and the connection forms in a real browser, against a real API server.

A throw-away ``AIRFLOW_HOME`` (SQLite), the example DAG run on the emulator with ``dag.test()``
in a subprocess, ``airflow api-server`` with this provider installed, and Debian's headless
Chromium driven by Playwright.  Each step saves a screenshot under ``browser-screenshots/``.

The API server's storage roots (``[grokvideo] page_storage_roots``) are the download task's
folder only; records forged through the REST API (as anyone with XCom write access can) that
point anywhere else are refused, and the figures of that scenario are printed and kept in
``browser-screenshots/forged-records.txt``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "browser-screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAG_ID = "example_grokvideo_text_to_video"
LEAK_KEY = "sk-grokvideo-BROWSER-0d15ea5e"
PASSWORD = "browser-test-password"

RUN_DAG = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dag.test(run_conf={"prompt": "A red fox trotting through fresh snow, browser test"})
print("RESULT " + json.dumps({"state": str(run.state), "run_id": run.run_id}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from airflow_provider_grokvideo.emulator import Emulator

    home = tmp_path_factory.mktemp("browser-airflow-home")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    (home / "passwords.json").write_text(json.dumps({"admin": PASSWORD}))
    with Emulator(api_key=LEAK_KEY, job_seconds=2) as emulator:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_GROKVIDEO_XCOMPUTE_DEFAULT": emulator.airflow_connection("xcompute"),
            "GROKVIDEO_DESTINATION": (home / "videos").as_uri(),
            # The page's only storage root: where the download task stores (not AIRFLOW_HOME).
            "AIRFLOW__GROKVIDEO__PAGE_STORAGE_ROOTS": (home / "videos").as_uri() + "/",
            "GROKVIDEO_POLL_INTERVAL": "0.5",
            "GROKVIDEO_MIN_POLL_INTERVAL": "0.2",
            "GROKVIDEO_MAX_POLL_INTERVAL": "1",
        }
        subprocess.run(
            [AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
        )
        ran = subprocess.run(
            [sys.executable, "-c", RUN_DAG, str(REPO / "example_dags" / f"{DAG_ID}.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        [result] = [
            json.loads(line[7:]) for line in ran.stdout.splitlines() if line.startswith("RESULT ")
        ]
        assert result["state"] == "success", ran.stdout[-3000:] + ran.stderr[-3000:]
        log = (home / "api-server.log").open("wb")
        server = subprocess.Popen(
            [AIRFLOW, "api-server", "--port", str(port), "--host", "127.0.0.1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((home / "api-server.log").read_text()[-4000:])
                time.sleep(0.5)
            yield {"base": base, "run_id": result["run_id"], "emulator": emulator.url, "home": home}
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


@pytest.fixture(scope="module")
def browser_page(deployment: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(30_000)
        page = context.new_page()
        # Log in through Airflow's own login form.
        page.goto(f"{deployment['base']}/grokvideo/")
        page.wait_for_url("**/auth/login**")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.screenshot(path=str(SHOTS / "01-login.png"))
        page.click("button[type=submit]")
        page.wait_for_url("**/grokvideo/**")
        yield page
        context.close()
        browser.close()


def test_the_page_shows_the_new_video_with_its_thumbnail_and_a_player(
    deployment: dict[str, Any], browser_page: Any
) -> None:
    page = browser_page
    page.goto(f"{deployment['base']}/grokvideo/")
    card = page.locator("article.card").first
    card.wait_for()
    assert card.get_attribute("data-status") == "succeeded"
    assert "A red fox trotting through fresh snow" in card.inner_text()
    page.wait_for_function(
        "() => { const i = document.querySelector('article.card img.thumb');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    # HAVE_METADATA (1) or more: the browser fetched the stored copy through the page.
    page.wait_for_function("() => document.querySelector('article.card video').readyState >= 1")
    duration = page.evaluate("() => document.querySelector('article.card video').duration")
    assert duration > 0
    page.screenshot(path=str(SHOTS / "02-grok-videos-page.png"), full_page=True)
    html = page.content()
    assert LEAK_KEY not in html
    assert deployment["emulator"] not in html  # no upstream (possibly signed) URL either
    # The same page inside Airflow's UI, from its navigation entry.
    page.goto(f"{deployment['base']}/")
    page.get_by_role("link", name="Grok videos").first.click()
    page.wait_for_url("**/plugin/grok-videos")
    frame = page.frame_locator("iframe").first
    frame.locator("article.card").first.wait_for()
    page.screenshot(path=str(SHOTS / "03-page-in-airflow-ui.png"))


def test_the_download_tasks_link_opens_the_video_on_the_page(
    deployment: dict[str, Any], browser_page: Any
) -> None:
    page = browser_page
    run_id = deployment["run_id"]
    page.goto(f"{deployment['base']}/dags/{DAG_ID}/runs/{run_id}/tasks/download/details")
    link = page.get_by_role("link", name="Grok video", exact=True).first
    link.wait_for()
    href = link.get_attribute("href")
    assert href and href.startswith(f"{deployment['base']}/grokvideo/?dag_id={DAG_ID}")
    page.screenshot(path=str(SHOTS / "04-download-task-link.png"))
    # The UI opens a same-site link in its own tab (target _self), another site's in a new one.
    if link.get_attribute("target") == "_blank":
        with page.context.expect_page() as opened:
            link.click()
        target = opened.value
    else:
        link.click()
        target = page
    target.wait_for_url("**/grokvideo/?**")
    target.locator("article.card.focus").wait_for()
    assert target.locator("article.card").count() == 1
    target.wait_for_function("() => document.querySelector('article.card video').readyState >= 1")
    target.screenshot(path=str(SHOTS / "05-link-target.png"), full_page=True)
    assert LEAK_KEY not in target.content()
    if target is not page:
        target.close()


@pytest.mark.parametrize(
    ("conn_type", "base_url", "model"),
    [
        ("grokvideo_xcompute", "https://xcompute.us", "grok-imagine-1.0-video-apimart"),
        ("grokvideo_mountsea", "https://api.mountsea.ai", "grok-imagine-video"),
        ("grokvideo_xai", "https://api.x.ai", "grok-imagine-video"),
    ],
)
def test_each_connection_form_shows_its_upstreams_labels(
    deployment: dict[str, Any], browser_page: Any, conn_type: str, base_url: str, model: str
) -> None:
    page = browser_page
    page.goto(f"{deployment['base']}/connections")
    page.get_by_role("button", name="Add Connection").first.click()
    page.get_by_text("Connection Type").first.wait_for()
    page.locator("[role=combobox], input[id*=conn_type], input[id*=connection_type]").first.click()
    page.keyboard.type(conn_type)
    page.get_by_role("option").filter(has_text=conn_type.split("_")[1]).first.click()
    page.get_by_text("Base URL").first.wait_for()
    # The UI keeps a connection type's extras in a collapsed "Extra Fields" section.
    page.get_by_text("Extra Fields").first.click()
    page.get_by_text("Default model").first.wait_for()
    text = page.inner_text("body")
    assert "API key" in text and "Default model" in text
    assert base_url in page.content()
    assert model in page.content()
    page.screenshot(path=str(SHOTS / f"06-connection-form-{conn_type}.png"), full_page=True)


def _say(request: pytest.FixtureRequest, text: str) -> None:
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(text, flush=True)


def _rest_api(base: str) -> httpx.Client:
    """The REST API as a user who may write XComs: a real login (``POST /auth/token``)."""
    token = httpx.post(
        f"{base}/auth/token", json={"username": "admin", "password": PASSWORD}, timeout=30
    )
    token.raise_for_status()
    return httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=60,
    )


def test_records_forged_through_the_rest_api_are_refused_and_the_real_video_still_plays(
    deployment: dict[str, Any], browser_page: Any, request: pytest.FixtureRequest
) -> None:
    base, run_id, home = deployment["base"], deployment["run_id"], deployment["home"]
    api = _rest_api(base)
    xcom = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/download/xcomEntries/grokvideo"
    got = api.get(xcom)
    assert got.status_code == 200, got.text
    original = got.json()["value"]
    original = json.loads(original) if isinstance(original, str) else original
    [video_uri] = original["videos"]
    cfg = home / "airflow.cfg"
    assert cfg.is_file()
    secret_bits = [line for line in cfg.read_text().splitlines() if "=" in line][:40]
    link = home / "videos" / "config.mp4"  # under the root, leading out of it
    link.symlink_to(cfg)
    renamed = home / "videos" / "renamed.mp4"  # under the root, but no video
    renamed.write_bytes(cfg.read_bytes())
    attacks = {
        "airflow.cfg": cfg.as_uri(),
        "another file": "file:///etc/passwd",
        "a path without scheme": str(cfg),
        "an internal URL (the API server)": f"{base}/api/v2/monitor/health",
        "an internal URL (the emulator)": f"{deployment['emulator']}/_emulator/health",
        "'..' out of the root": f"{(home / 'videos').as_uri()}/../airflow.cfg",
        "'%2e%2e%2f' out of the root": f"{(home / 'videos').as_uri()}/%2e%2e%2fairflow.cfg",
        "a symlink .mp4 to airflow.cfg": link.as_uri(),
        "airflow.cfg copied in as .mp4": renamed.as_uri(),
    }
    files = f"{base}/grokvideo/file"
    params = {"dag_id": DAG_ID, "run_id": run_id, "task_id": "download"}
    results = []
    try:
        for name, uri in attacks.items():
            patched = api.patch(
                xcom, json={"value": {**original, "videos": [uri], "thumbnail": uri}}
            )
            assert patched.status_code == 200, patched.text
            for kind in ("video", "thumbnail"):
                answer = api.get(
                    files, params={**params, "kind": kind}, headers={"Range": "bytes=0-"}
                )
                assert answer.status_code == 403, (
                    name,
                    kind,
                    answer.status_code,
                    answer.text[:200],
                )
                assert answer.text.startswith("not served: "), (name, answer.text[:200])
                assert not any(bit in answer.text for bit in secret_bits), name
                assert "[core]" not in answer.text and "root:" not in answer.text
                if kind == "video":
                    results.append((name, answer.status_code, len(answer.content), answer.text))
        # One warning per refusal in the API server's log, naming the DAG, run and task, and
        # nothing of the files.
        log = (home / "api-server.log").read_text(errors="replace")
        warnings = [line for line in log.splitlines() if "not serving the stored" in line]
        assert len(warnings) >= 2 * len(attacks), warnings[-3:]
        assert all(DAG_ID in w and run_id in w and "'download'" in w for w in warnings)
        assert not any(bit in w for w in warnings for bit in secret_bits if len(bit) > 12)
        # Markup in a forged record stays text in the browser: no script of it runs.
        prompt = '<script>window.__forged = 1</script><img src=x onerror="window.__forged = 2">'
        generate = xcom.replace("/download/", "/generate/")
        real_generate = api.get(generate).json()["value"]
        real_generate = (
            json.loads(real_generate) if isinstance(real_generate, str) else real_generate
        )
        assert api.patch(generate, json={"value": {**real_generate, "prompt": prompt}}).is_success
        try:
            page = browser_page
            page.goto(f"{base}/grokvideo/")
            page.locator("article.card").first.wait_for()
            assert prompt in page.locator("article.card .prompt").first.inner_text()
            page.wait_for_timeout(500)
            assert page.evaluate("() => window.__forged === undefined")
            page.screenshot(path=str(SHOTS / "07-forged-prompt-stays-text.png"), full_page=True)
        finally:
            api.patch(generate, json={"value": real_generate})
    finally:
        restored = api.patch(xcom, json={"value": original})
        link.unlink()
        renamed.unlink()
    assert restored.status_code == 200
    # The real stored video: served whole, and in slices (a player's seeks).
    data = Path(video_uri.removeprefix("file://")).read_bytes()
    whole = api.get(files, params=params)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "video/mp4"
    part = api.get(files, params=params, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    page = browser_page
    page.goto(f"{base}/grokvideo/")
    page.wait_for_function("() => document.querySelector('article.card video').readyState >= 1")
    assert page.evaluate("() => document.querySelector('article.card video').duration") > 0
    lines = [f"forged records through PATCH {xcom.replace(run_id, '<run>')}:"]
    lines += [
        f"  {name:<34} HTTP {status}, {size} bytes: {text}" for name, status, size, text in results
    ]
    lines.append(
        f"  the real stored video                HTTP {whole.status_code} ({len(data)} bytes), "
        f"Range bytes=1000-1999: HTTP {part.status_code} {part.headers['content-range']}; "
        "it plays in Chromium"
    )
    lines.append(f"  api-server warnings: {len(warnings)}, e.g. {warnings[0].strip()[-220:]}")
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / "forged-records.txt").write_text("\n".join(lines) + "\n")
    _say(request, "\n" + "\n".join(lines))
