"""Airflow 3 as it is deployed: ``api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` as separate processes on PostgreSQL with the LocalExecutor, the emulator in a
process of its own, the connections in ``AIRFLOW_CONN_*`` variables, and the REST API (with a
JWT from the simple auth manager) as the only way in.

A scenario picks its shape: :func:`celery_settings` for the CeleryExecutor on Redis (then
``start_airflow(triggerers=2, celery_workers=2)``), a SQLite ``database_url`` for what
``airflow standalone`` gives newcomers; :meth:`Deployment.kill` and :meth:`Deployment.restart`
for what an OOM kill and a supervisor do to one process.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import tenacity

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
#: The failover scenario's connections, in the order a generate task tries them: xAI (served on
#: a port of its own, so that its outage refuses connections), then APIMart (an xcompute
#: connection whose host honors Idempotency-Key), then Mountsea; one emulator of their own.
FAILOVER_CONN_IDS = (
    "grokvideo_failover_xai",
    "grokvideo_failover_apimart",
    "grokvideo_failover_mountsea",
)


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


#: Threads of the API server's Execution API (FastAPI runs its sync routes on AnyIO's default
#: thread limiter): no more of its calls hold a database connection at once.
API_SERVER_THREADS = 40


def api_server_pool_settings(parallelism: int) -> dict[str, str]:
    """The API server's database pool, sized for the task processes that call its Execution
    API at once (docs/production.md "Running in production").

    Every running task process makes its Execution API calls one at a time, so up to
    ``parallelism`` calls (and the triggerers' and the UI's) want a connection together.
    SQLAlchemy's default pool (5, plus 10 overflow) made the rest wait 30 s and answer 500
    (``QueuePool limit of size 5 overflow 10 reached``): 25 calls in the 400-video Celery
    scenario at ``parallelism`` 32. The pool covers the parallelism, and its overflow the
    AnyIO threads beyond it, so that no call waits for a connection."""
    size = max(5, parallelism)
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": str(size),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": str(max(10, API_SERVER_THREADS - size)),
    }


#: Slots of each Celery worker (``[celery] worker_concurrency``).
CELERY_WORKER_CONCURRENCY = 16


def celery_settings(
    broker_url: str, result_backend: str, *, workers: int = 2, parallelism: int = 32
) -> dict[str, str]:
    """The CeleryExecutor on Redis, as a team with more cores runs it, with each reason.

    What users should copy is in docs/production.md "Running in production"."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CELERY_WORKER_CONCURRENCY),
        # What a user with more cores would choose; never more than the workers' slots, so
        # that a queued task is one a worker is about to take.
        "AIRFLOW__CORE__PARALLELISM": str(min(parallelism, workers * CELERY_WORKER_CONCURRENCY)),
        # A task's message is acknowledged when the worker starts it, not when it ends (the
        # default): a worker killed while a task runs is then Airflow's business (the
        # heartbeat timeout, the task's retries), not Redis's. With late acknowledgement Redis
        # hands the killed worker's message to another worker after the visibility timeout:
        # a stale copy of a try that had deferred and resumed since, whose failure ("Invalid
        # auth token") the scheduler takes for the resumed try's and fails the wait (seen in
        # this test: "reported that the task instance ... finished with state failed, but the
        # task instance's state attribute is scheduled").
        "AIRFLOW__CELERY__TASK_ACKS_LATE": "False",
        # A message a killed worker had reserved but not started goes back to the queue after
        # this many seconds instead of Redis's 24 h.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "120",
        # A task left queued (its message lost with a worker) is queued again after 2 minutes
        # instead of 10, looked for every 15 s.
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
        # Two triggerers share the waits: each takes at most 25 new triggers per loop, so that
        # both hold some (with 500 the first to look takes them all).
        "AIRFLOW__TRIGGERER__MAX_TRIGGER_TO_SELECT_PER_LOOP": "25",
        # The Task SDK's calls to one API server on 2 cores, with 32 task processes beside it:
        # 30 s per call instead of 5 before a retry (5 attempts, 1 to 90 s apart).
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
    }


class BusyApiServer(Exception):
    """The API server answered a read with a 5xx."""

    def __init__(self, request: httpx.Request, status: int) -> None:
        super().__init__(f"{request.method} {request.url} answered {status}")


class PatientReads(httpx.HTTPTransport):
    """The test's own reads of the REST API (GETs) ride out a busy API server.

    The deployment is judged on what the product did, never on whether the test's monitoring
    read found a free database connection at that moment: a 5xx, a timeout or a refused
    connection on a GET is tried again for up to :attr:`PATIENCE` seconds. Writes (triggering
    a run, creating a pool) are sent once, as a user would."""

    PATIENCE = 300.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            return super().handle_request(request)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((httpx.TransportError, BusyApiServer)),
            wait=tenacity.wait_exponential(multiplier=0.5, max=15),
            stop=tenacity.stop_after_delay(self.PATIENCE),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                response = super().handle_request(request)
                if response.status_code >= 500:
                    response.read()
                    response.close()
                    raise BusyApiServer(request, response.status_code)
        return response


class Deployment:
    """Everything the test starts, in one temporary ``AIRFLOW_HOME``."""

    def __init__(
        self,
        venv: Path,
        postgres: PostgresServer | None,
        home: Path,
        *,
        database: str = "airflow",
        database_url: str | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """``postgres`` and its ``database``, or a ``database_url`` of its own (SQLite);
        ``settings`` override :func:`airflow_settings`."""
        self.venv = venv
        self.postgres = postgres
        self.database = database
        if database_url is None:
            assert postgres is not None, "a PostgreSQL server or a database_url"
            database_url = postgres.url(database)
        self.database_url = database_url
        self.settings = dict(settings or {})
        self.home = home
        self.logs = home / "process-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.services: dict[str, Service] = {}
        self.stopped: list[Service] = []
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.emulator_url = ""
        self.killed_submit_emulator_url = ""
        self.failover_emulator_url = ""
        self._client: httpx.Client | None = None
        self.triggerer_job_ids: dict[str, int] = {}
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
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                # Where the test DAGs' callbacks note that they ran (grokvideo_deploy_endings).
                "GROKVIDEO_TEST_CALLBACKS": str(self.home / "callbacks.jsonl"),
                **airflow_settings(self.api_port),
                **self.settings,
            }
        )
        return env

    def start_emulators(
        self, job_seconds: float, rate_limits: Mapping[str, float] | None = None
    ) -> None:
        """The batch's emulator (``rate_limits``: requests per second per key, by upstream),
        the killed-submit scenario's and the failover scenario's (xAI on a port of its own)."""
        self.emulator_url = self._start_emulator("emulator", job_seconds, rate_limits)
        self.killed_submit_emulator_url = self._start_emulator("emulator-killed-submit", 60)
        xai_port = free_port()
        self.failover_emulator_url = self._start_emulator(
            "emulator-failover", job_seconds, own_ports={"xai": xai_port}
        )
        xai, apimart, mountsea = FAILOVER_CONN_IDS
        self.env[f"AIRFLOW_CONN_{xai.upper()}"] = airflow_connection(
            f"http://127.0.0.1:{xai_port}", "xai", DEFAULT_API_KEY
        )
        keyed = json.loads(airflow_connection(self.failover_emulator_url, "xcompute"))
        keyed["extra"] = {"idempotent_submits": True}
        self.env[f"AIRFLOW_CONN_{apimart.upper()}"] = json.dumps(keyed)
        self.env[f"AIRFLOW_CONN_{mountsea.upper()}"] = airflow_connection(
            self.failover_emulator_url, "mountsea", DEFAULT_API_KEY
        )
        for upstream in UPSTREAMS:
            self.env[f"AIRFLOW_CONN_GROKVIDEO_{upstream.upper()}_DEFAULT"] = airflow_connection(
                self.emulator_url, upstream, DEFAULT_API_KEY
            )
        self.env[f"AIRFLOW_CONN_{KILLED_SUBMIT_CONN_ID.upper()}"] = airflow_connection(
            self.killed_submit_emulator_url, "xai", DEFAULT_API_KEY
        )

    def start_emulator(
        self, name: str, job_seconds: float, rate_limits: Mapping[str, float] | None = None
    ) -> str:
        """One more emulator, for a scenario that needs one of its own (its counts meet no
        other scenario's requests); its URL."""
        return self._start_emulator(name, job_seconds, rate_limits)

    def _start_emulator(
        self,
        name: str,
        job_seconds: float,
        rate_limits: Mapping[str, float] | None = None,
        own_ports: Mapping[str, int] | None = None,
    ) -> str:
        port = free_port()
        limits = [f"--rate-limit={up}={rate:g}" for up, rate in (rate_limits or {}).items()]
        limits += [f"--upstream-port={up}={own}" for up, own in (own_ports or {}).items()]
        self.start(
            name,
            "grokvideo-emulator",
            "--port",
            str(port),
            "--job-seconds",
            str(job_seconds),
            "--log-level",
            "warning",
            *limits,
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

    def set_connection_extra(self, upstream: str, **extra: Any) -> None:
        """Add extras to an upstream's default connection (before :meth:`start_airflow`)."""
        name = f"AIRFLOW_CONN_GROKVIDEO_{upstream.upper()}_DEFAULT"
        connection = json.loads(self.env[name])
        connection["extra"] = {**(connection.get("extra") or {}), **extra}
        self.env[name] = json.dumps(connection)

    def start_airflow(self, *, triggerers: int = 1, celery_workers: int = 0) -> None:
        """The API server, scheduler and DAG processor, ``triggerers`` triggerers (named
        ``triggerer``, ``triggerer-2``...) and ``celery_workers`` Celery workers
        (``celery-worker-1``...), each a process of its own."""
        parallelism = int(self.env.get("AIRFLOW__CORE__PARALLELISM", "32"))
        pool = api_server_pool_settings(parallelism)
        self.start("api-server", "airflow", "api-server", env=pool)
        self.start("scheduler", "airflow", "scheduler")
        self.start("dag-processor", "airflow", "dag-processor")
        wait_for(self._healthy_without_triggerer, 180, "the API server and scheduler", self)
        for number in range(1, triggerers + 1):
            self.start_triggerer("triggerer" if number == 1 else f"triggerer-{number}")
        for number in range(1, celery_workers + 1):
            self.start_celery_worker(f"celery-worker-{number}")
        wait_for(self._healthy, 180, "the Airflow components to report healthy", self)

    def start_triggerer(self, name: str, log_name: str | None = None) -> Service:
        """A triggerer, and (with more than one) its job id once it has one, so that a test
        knows which triggerer holds which triggers."""
        known = set(self.triggerer_job_ids.values())
        # Several on one host: only the first serves its logs on the configured port.
        extra = ("--skip-serve-logs",) if self.services.get("triggerer") else ()
        service = self.start(name, "airflow", "triggerer", *extra, log_name=log_name)

        def new_job() -> bool:
            ids = {int(row[0]) for row in self.sql(_RUNNING_TRIGGERERS)} - known
            if ids:
                self.triggerer_job_ids[name] = max(ids)
            return bool(ids)

        wait_for(new_job, 120, f"{name} to start its job", self)
        return service

    def start_celery_worker(self, name: str, log_name: str | None = None) -> Service:
        service = self.start(
            name,
            "airflow",
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--skip-serve-logs",
            log_name=log_name,
        )
        wait_for(lambda: " ready." in service.log_tail(400), 180, f"{name} to be ready", self)
        return service

    def kill(self, name: str) -> list[int]:
        """SIGKILL one component with everything it started (no replacement); return the
        pids killed, all confirmed gone."""
        old = self.services.pop(name)
        old.name = f"{name} (killed)"
        self.stopped.append(old)
        return old.kill()

    def restart(self, name: str) -> Service:
        """Start a killed component again, as its supervisor would (a new log file)."""
        log_name = f"{name}-restarted"
        if name.startswith("celery-worker"):
            return self.start_celery_worker(name, log_name=log_name)
        if name.startswith("triggerer"):
            return self.start_triggerer(name, log_name=log_name)
        if name == "api-server":
            parallelism = int(self.env.get("AIRFLOW__CORE__PARALLELISM", "32"))
            pool = api_server_pool_settings(parallelism)
            return self.start(name, "airflow", name, log_name=log_name, env=pool)
        return self.start(name, "airflow", name, log_name=log_name)

    def triggers_per_triggerer(self) -> dict[str, int]:
        """How many triggers each running triggerer holds now, by service name."""
        held = {int(job): int(n) for job, n in self.sql(_TRIGGERS_PER_TRIGGERER)}
        return {
            name: held.get(job_id, 0)
            for name, job_id in self.triggerer_job_ids.items()
            if name in self.services
        }

    def sql(self, query: str) -> list[list[Any]]:
        """Rows of a query on the metadata database (PostgreSQL through psql, or SQLite)."""
        if self.postgres is not None:
            return self.postgres.query(query, self.database)
        path = self.database_url.split(":///", 1)[1]
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            return [list(row) for row in db.execute(query)]

    def start(
        self,
        name: str,
        *argv: str,
        log_name: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Service:
        """Start ``argv`` as the service ``name``, with the deployment's environment and
        ``env`` (settings of this process alone)."""
        # cwd is the temporary home, never the checkout: the installed wheel is imported.
        log_file = self.logs / f"{log_name or name}.log"
        service = Service(
            name, argv, env={**self.env, **(env or {})}, cwd=self.home, log_file=log_file
        )
        self.services[name] = service
        return service

    def replace_triggerer(self) -> list[int]:
        """SIGKILL the (only) triggerer with its trigger runner, start a new one; return the
        pids killed, all confirmed gone."""
        pids = self.kill("triggerer")
        self.start_triggerer("triggerer", log_name="triggerer-replacement")
        return pids

    def _healthy(self, parts: tuple[str, ...] = ("triggerer",)) -> bool:
        try:
            health = httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "dag_processor", *parts)
        return all((health.get(part) or {}).get("status") == "healthy" for part in parts)

    def _healthy_without_triggerer(self) -> bool:
        return self._healthy(())

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
                transport=PatientReads(),
            )
        return self._client

    def create_connection(self, conn_id: str, conn_type: str, **fields: Any) -> None:
        """A connection in the metadata database, through the REST API: for a scenario that
        needs one once Airflow is up (the processes' ``AIRFLOW_CONN_*`` are fixed by then).
        ``fields``: ``host``, ``port``, ``password``, ``extra`` (a dict)..."""
        body = {"connection_id": conn_id, "conn_type": conn_type, **fields}
        if isinstance(body.get("extra"), dict):
            body["extra"] = json.dumps(body["extra"])
        response = self.api.post("/connections", json=body)
        assert response.status_code in (200, 201), response.text

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
        return self.task_log_of(dag_id, run_id, task_id, try_number)

    def task_log_of(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> str:
        """A try's log (of one map index of a mapped task)."""
        params = {"full_content": "true"}
        if map_index >= 0:
            params["map_index"] = str(map_index)
        response = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params=params,
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

    @staticmethod
    def set_outages(url: str, outages: Mapping[str, str | None]) -> None:
        """Put upstreams down (``"refuse"``: connections refused...) or back up (``None``)."""
        httpx.put(f"{url}/_emulator/outages", json=dict(outages), timeout=30).raise_for_status()

    @staticmethod
    def reset_emulator(url: str) -> None:
        """Forget every job and counter; the rate limits given at start stay."""
        httpx.post(f"{url}/_emulator/reset", timeout=30).raise_for_status()

    @staticmethod
    def hold_jobs(url: str) -> None:
        """Stop the emulated jobs' clocks: no job ends until :meth:`release_jobs`."""
        httpx.post(f"{url}/_emulator/hold", timeout=30).raise_for_status()

    @staticmethod
    def release_jobs(url: str) -> int:
        response = httpx.post(f"{url}/_emulator/release", timeout=30)
        response.raise_for_status()
        return int(response.json()["jobs_released"])

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


_homes = itertools.count(1)


@contextlib.contextmanager
def running_deployment(
    report: Callable[[str], None],
    venv: Path,
    deploy_root: Path,
    postgres: PostgresServer | None,
    *,
    job_seconds: float = 5,
    configure: Callable[[Deployment], None] | None = None,
    **options: Any,
) -> Iterator[Deployment]:
    """A deployment in a new ``AIRFLOW_HOME`` (and a new database of ``postgres``): the
    emulators started, ``configure`` called (connection extras...), migrated, Airflow started
    with ``options`` of :meth:`Deployment.start_airflow`; stopped afterwards. Keyword
    arguments of :class:`Deployment` (``settings``, ``database_url``) go in ``options`` too."""
    started = time.monotonic()
    number = next(_homes)
    home = deploy_root / f"airflow-home-{number}"
    home.mkdir()
    init = {key: options.pop(key) for key in ("settings", "database_url") if key in options}
    if postgres is not None and "database_url" not in init:
        init["database"] = f"airflow_{number}"
        postgres.create_database(init["database"])
    deployment = Deployment(venv, postgres, home, **init)
    try:
        deployment.start_emulators(
            job_seconds=job_seconds, rate_limits=options.pop("rate_limits", None)
        )
        if configure is not None:
            configure(deployment)
        deployment.migrate()
        deployment.start_airflow(**options)
        report(
            f"deploy: Airflow up on {deployment.database_url} in "
            f"{time.monotonic() - started:.0f} s ({home})"
        )
        yield deployment
    except BaseException:
        report(deployment.diagnosis())
        raise
    finally:
        deployment.stop()


_RUNNING_TRIGGERERS = "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running'"
_TRIGGERS_PER_TRIGGERER = (
    "SELECT triggerer_id, count(*) FROM trigger WHERE triggerer_id IS NOT NULL GROUP BY 1"
)


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
