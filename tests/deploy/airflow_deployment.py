"""Airflow 3 as it is deployed: ``api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` as separate processes on PostgreSQL with the LocalExecutor, the emulator in a
process of its own, the connections in ``AIRFLOW_CONN_*`` variables, and the REST API (with a
JWT from the simple auth manager) as the only way in.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY, UPSTREAMS
from airflow_provider_grokvideo.emulator.server import airflow_connection
from deploy.postgres import PostgresServer
from deploy.processes import Service, free_port

DAGS = Path(__file__).resolve().parent / "dags"
USER, PASSWORD = "deploy", secrets.token_urlsafe(12)
#: The connection whose emulator serves only the killed-submit scenario, so that its
#: late-answer fault and its counts meet no request of the batch.
KILLED_SUBMIT_CONN_ID = "grokvideo_killed_submit"
HEARTBEAT_TIMEOUT = 20


def airflow_settings(api_port: int) -> dict[str, str]:
    """The non-default Airflow settings of the deployment, each with its reason."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The test's DAGs run when triggered, without an unpause call first.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # Worker processes of the LocalExecutor. A task spends most of its life waiting for
        # the API server or the upstream, so more processes than the 2 cores keep both busy;
        # many more only add memory and context switches.
        "AIRFLOW__CORE__PARALLELISM": "12",
        # The batch's 300 waits are deferred at once: the per-DAG cap (16) counts running and
        # deferred task instances alike and would serialize them.
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "1024",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        # One process: the 2 cores are better spent on the scheduler and the tasks.
        "AIRFLOW__API__WORKERS": "1",
        # The test reads all task instances of a run in one page.
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "2000",
        # Every process signs and checks the same tokens (execution API, log server).
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        # A real login (POST /auth/token) with a user of the test's own.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        # Ports of their own: other deployments may run on this machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        # A killed worker's task is noticed after 20 s instead of 300 s (the supervisor
        # heartbeats every 5 s, so a live task never comes near it), checked every 2 s.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        # Queue up to 64 task instances per scheduling loop instead of 16: 300 mapped tasks
        # become ready together.
        "AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY": "64",
        # The triggerer heartbeats every 2 s and one silent for 10 s is dead, so that the
        # replacement takes over the killed triggerer's triggers after 10 s, not 30 s.
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
        # Take up to 500 new triggers per loop, not 50: the batch defers hundreds at once.
        "AIRFLOW__TRIGGERER__MAX_TRIGGER_TO_SELECT_PER_LOOP": "500",
        # The DAG files never change during the test: parse each once (one parsing process),
        # not every 30 s, and look for new files every 5 s at start-up.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    }


class Deployment:
    """Everything the test starts, in one temporary ``AIRFLOW_HOME``."""

    def __init__(self, venv: Path, postgres: PostgresServer, home: Path) -> None:
        self.venv = venv
        self.postgres = postgres
        self.home = home
        self.logs = home / "process-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.services: dict[str, Service] = {}
        self.stopped: list[Service] = []
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.emulator_url = ""
        self.killed_submit_emulator_url = ""
        self._client: httpx.Client | None = None
        self.env = self._environment()

    # -- set-up --------------------------------------------------------------------------
    def _environment(self) -> dict[str, str]:
        # The test's own interpreter runs with a throw-away SQLite AIRFLOW_HOME (tests/conftest.py)
        # and the checkout's venv: none of it may reach the deployment.
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW", "GROKVIDEO_", "PYTHON", "VIRTUAL_ENV"))
        }
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({USER: PASSWORD}))
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url(),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                **airflow_settings(self.api_port),
            }
        )
        return env

    def start_emulators(self, job_seconds: float) -> None:
        self.emulator_url = self._start_emulator("emulator", job_seconds)
        self.killed_submit_emulator_url = self._start_emulator("emulator-killed-submit", 60)
        for upstream in UPSTREAMS:
            self.env[f"AIRFLOW_CONN_GROKVIDEO_{upstream.upper()}_DEFAULT"] = airflow_connection(
                self.emulator_url, upstream, DEFAULT_API_KEY
            )
        self.env[f"AIRFLOW_CONN_{KILLED_SUBMIT_CONN_ID.upper()}"] = airflow_connection(
            self.killed_submit_emulator_url, "xai", DEFAULT_API_KEY
        )

    def _start_emulator(self, name: str, job_seconds: float) -> str:
        port = free_port()
        self.start(
            name,
            "grokvideo-emulator",
            "--port",
            str(port),
            "--job-seconds",
            str(job_seconds),
            "--log-level",
            "warning",
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ok(f"{url}/_emulator/health"), 30, f"{name} to answer", self)
        return url

    def migrate(self) -> None:
        shutil.copytree(DAGS, self.home / "dags", ignore=shutil.ignore_patterns("__pycache__"))
        result = subprocess.run(
            ["airflow", "db", "migrate"],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        (self.logs / "db-migrate.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{result.stdout}\n{result.stderr}")

    def start_airflow(self) -> None:
        self.start("api-server", "airflow", "api-server")
        self.start("scheduler", "airflow", "scheduler")
        self.start("dag-processor", "airflow", "dag-processor")
        self.start("triggerer", "airflow", "triggerer")
        wait_for(self._healthy, 180, "the Airflow components to report healthy", self)

    def start(self, name: str, *argv: str, log_name: str | None = None) -> Service:
        # cwd is the temporary home, never the checkout: the installed wheel is imported.
        log_file = self.logs / f"{log_name or name}.log"
        service = Service(name, argv, env=self.env, cwd=self.home, log_file=log_file)
        self.services[name] = service
        return service

    def replace_triggerer(self) -> list[int]:
        """SIGKILL the (only) triggerer with its trigger runner, start a new one; return the
        pids killed, all confirmed gone."""
        old = self.services.pop("triggerer")
        old.name = "triggerer (killed)"
        self.stopped.append(old)
        pids = old.kill()
        self.start("triggerer", "airflow", "triggerer", log_name="triggerer-replacement")
        return pids

    def _healthy(self) -> bool:
        try:
            health = httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(part) or {}).get("status") == "healthy" for part in parts)

    # -- the REST API --------------------------------------------------------------------
    @property
    def api(self) -> httpx.Client:
        if self._client is None:
            token = httpx.post(
                f"{self.api_url}/auth/token",
                json={"username": USER, "password": PASSWORD},
                timeout=30,
            )
            token.raise_for_status()
            self._client = httpx.Client(
                base_url=f"{self.api_url}/api/v2",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                timeout=60,
            )
        return self._client

    def wait_for_dags(self, *dag_ids: str) -> None:
        for dag_id in dag_ids:
            wait_for(
                lambda dag_id=dag_id: self.api.get(f"/dags/{dag_id}").status_code == 200,
                180,
                f"DAG {dag_id} to be parsed",
                self,
            )

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        response = self.api.post(
            f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        response = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}")
        response.raise_for_status()
        return str(response.json()["state"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        wait_for(
            lambda: self.run_state(dag_id, run_id) in ("success", "failed"),
            timeout,
            f"run {run_id} of {dag_id} to end",
            self,
            interval=2,
        )
        return self.run_state(dag_id, run_id)

    def task_instances(
        self, dag_id: str, run_id: str, state: str | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 2000}
        if state is not None:
            params["state"] = state
        response = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params=params)
        response.raise_for_status()
        return list(response.json()["task_instances"])

    def count(self, dag_id: str, run_id: str, state: str) -> int:
        response = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"state": state, "limit": 1}
        )
        response.raise_for_status()
        return int(response.json()["total_entries"])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        response = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        response.raise_for_status()
        content = response.json().get("content")
        if isinstance(content, list):
            return "\n".join(
                json.dumps(item) if isinstance(item, dict) else str(item) for item in content
            )
        return str(content)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        response = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"deserialize": "true"},
        )
        response.raise_for_status()
        return response.json()["value"]

    # -- emulators -----------------------------------------------------------------------
    @staticmethod
    def emulator_stats(url: str) -> dict[str, Any]:
        return dict(httpx.get(f"{url}/_emulator/stats", timeout=30).json())

    @staticmethod
    def inject(url: str, **fault: Any) -> None:
        httpx.post(f"{url}/_emulator/faults", json=fault, timeout=30).raise_for_status()

    # -- tear-down and diagnosis ---------------------------------------------------------
    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        # Airflow first, then the emulators it talks to.
        for name in reversed(list(self.services)):
            if not name.startswith("emulator"):
                self.services[name].stop()
        for service in self.services.values():
            service.stop()

    def all_services(self) -> Iterator[Service]:
        yield from self.stopped
        yield from self.services.values()

    def diagnosis(self, lines: int = 60) -> str:
        """The tail of every process's log (printed when a test fails)."""
        parts = []
        for service in self.all_services():
            state = "running" if service.alive() else f"exited {service.process.returncode}"
            parts.append(f"===== {service.name} ({state}): {service.log_file}")
            parts.append(service.log_tail(lines))
        return "\n".join(parts)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    deployment: Deployment | None = None,
    interval: float = 0.5,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if deployment is not None:
            dead = [s.name for s in deployment.services.values() if not s.alive()]
            if dead:
                raise AssertionError(f"waiting for {what}: {', '.join(dead)} exited")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
