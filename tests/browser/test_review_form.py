"""The reviewer's form in Airflow's own UI, in a real browser, against a real API server.

``example_grokvideo_review`` runs with ``dag.test()`` in a subprocess (on the emulator) until its
review task waits for a person; ``airflow api-server`` serves the same SQLite database; headless
Chromium logs in, opens the review task's "Required Actions" form (each candidate's prompt,
length, cost and the link that plays it on the "Grok videos" page), picks the second variant and
answers.  The run then extends and stores only that one.  Screenshots: ``browser-screenshots/``
(``10-review-form.png``, ``11-review-player.png``, ``12-reviewed-page.png``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from browser.test_grok_videos_page import (
    AIRFLOW,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    REPO,
    SHOTS,
    _free_port,
)

pytestmark = pytest.mark.deploy
DAG_ID = "example_grokvideo_review"
RUN_DAG = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dag.test()
states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in run.get_task_instances()}
print("RESULT " + json.dumps({"state": str(run.state), "run_id": run.run_id, "states": states}))
"""


def test_the_reviewer_approves_one_variant_in_airflows_form(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from airflow_provider_grokvideo.emulator import Emulator

    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    (home / "passwords.json").write_text(json.dumps({"admin": PASSWORD}))
    SHOTS.mkdir(exist_ok=True)
    with Emulator(job_seconds=1) as emulator:
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
            "AIRFLOW_CONN_GROKVIDEO_XAI_DEFAULT": emulator.airflow_connection("xai"),
            "GROKVIDEO_DESTINATION": (home / "videos").as_uri(),
            "AIRFLOW__GROKVIDEO__PAGE_STORAGE_ROOTS": (home / "videos").as_uri() + "/",
            "GROKVIDEO_POLL_INTERVAL": "0.5",
            "GROKVIDEO_MIN_POLL_INTERVAL": "0.2",
            "GROKVIDEO_MAX_POLL_INTERVAL": "1",
        }
        subprocess.run(
            [AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
        )
        server_log = (home / "api-server.log").open("wb")
        server = subprocess.Popen(
            [AIRFLOW, "api-server", "--port", str(port), "--host", "127.0.0.1"],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        run_log = (home / "dag-test.log").open("w")
        runner = subprocess.Popen(
            [sys.executable, "-c", RUN_DAG, str(REPO / "example_dags" / f"{DAG_ID}.py")],
            env=env,
            stdout=run_log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_healthy(base, server, home)
            api = _rest_api(base)
            detail = _wait_for_form(api, runner, home)
            run_id = detail["task_instance"]["dag_run_id"]
            options = detail["options"]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.set_default_timeout(30_000)
                page = context.new_page()
                page.goto(f"{base}/auth/login")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(lambda url: "/auth/login" not in url)
                page.goto(f"{base}/dags/{DAG_ID}/runs/{run_id}/tasks/review/required_actions")
                page.get_by_text(options[1], exact=False).first.wait_for()
                player = page.get_by_role("link", name="Play it on the Grok videos page")
                player.first.wait_for()
                assert player.count() == 4
                href = player.nth(1).get_attribute("href") or ""
                assert href.startswith(f"{base}/grokvideo/?dag_id={DAG_ID}")
                assert "generation_id=" in href
                page.screenshot(path=str(SHOTS / "10-review-form.png"), full_page=True)
                # The reviewer picks the second variant (the form's select shows the default,
                # "None of them") and answers.
                page.get_by_role("combobox").last.click()
                page.get_by_role("option", name=options[1]).click()
                page.screenshot(path=str(SHOTS / "10-review-form-chosen.png"), full_page=True)
                page.get_by_role("button", name="Respond").first.click()
                runner.wait(timeout=240)
                # The link plays the candidate on the page, which now says who approved it.
                page.goto(href)
                page.locator("article.card.focus").wait_for()
                focus = page.locator("article.card.focus").inner_text()
                assert "approved by admin" in focus
                page.screenshot(path=str(SHOTS / "11-review-player.png"), full_page=True)
                page.goto(f"{base}/grokvideo/?{urlencode({'run_id': run_id})}")
                page.locator("article.card").first.wait_for()
                page.screenshot(path=str(SHOTS / "12-reviewed-page.png"), full_page=True)
                assert page.locator(".review-rejected").count() == 3
                context.close()
                browser.close()
        finally:
            for process in (runner, server):
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()
            server_log.close()
            run_log.close()
        output = (home / "dag-test.log").read_text()
        [result] = [
            json.loads(line[7:]) for line in output.splitlines() if line.startswith("RESULT ")
        ]
        assert result["state"] == "success", result
        assert len(list((home / "videos" / "approved").glob("*.mp4"))) == 1
        assert len(list((home / "videos" / "candidates").glob("*.mp4"))) == 4


def _wait_healthy(base: str, server: subprocess.Popen[bytes], home: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise AssertionError((home / "api-server.log").read_text()[-4000:])
        time.sleep(0.5)


def _rest_api(base: str) -> httpx.Client:
    token = httpx.post(
        f"{base}/auth/token", json={"username": "admin", "password": PASSWORD}, timeout=30
    )
    token.raise_for_status()
    return httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=60,
    )


def _wait_for_form(api: httpx.Client, runner: subprocess.Popen[str], home: Path) -> dict:
    """The review's HITL detail, once the run has reached it (four variants made first)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        listed = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/~/hitlDetails").json()
        waiting = [d for d in listed.get("hitl_details", []) if not d.get("response_received")]
        if waiting:
            return waiting[0]
        if runner.poll() is not None:
            break
        time.sleep(1)
    raise AssertionError((home / "dag-test.log").read_text()[-4000:])
