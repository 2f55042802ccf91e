"""A throw-away PostgreSQL 15 server for the deployment test: ``initdb`` into a temporary
folder, ``pg_ctl`` on a free port, everything removed afterwards.

PostgreSQL refuses to run as root, so as root (CI, these machines) every server command runs
as the ``postgres`` user (``runuser -u postgres --``) and the folder belongs to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from deploy.processes import free_port

PG_BIN = Path(os.environ.get("GROKVIDEO_DEPLOY_PG_BIN", "/usr/lib/postgresql/15/bin"))
INSTALL_HINT = (
    "the deployment test needs PostgreSQL 15's server binaries in {bin}: install them with "
    "`apt-get update && apt-get install -y postgresql-15` (Debian), or point "
    "GROKVIDEO_DEPLOY_PG_BIN at another PostgreSQL's bin folder"
)
#: Settings of a test database that is thrown away after the run: durability buys nothing
#: here and costs the 2 cores fsync waits on every Airflow commit.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # The scheduler, API server, DAG processor and two triggerers each keep a pool of 5 + 10.
    "max_connections": "200",
}


class PostgresServer:
    """One PostgreSQL server in its own temporary folder (start with :meth:`start`)."""

    def __init__(self, bin_dir: Path = PG_BIN) -> None:
        self.bin_dir = bin_dir
        self.port = 0
        self.root: Path | None = None

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    def url(self, database: str = "airflow", driver: str = "psycopg2") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, *argv: str | os.PathLike[str]) -> list[str]:
        command = [os.fspath(arg) for arg in argv]
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _run(self, *argv: str | os.PathLike[str]) -> None:
        result = subprocess.run(
            self._as_owner(*argv), capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(
                f"{' '.join(map(str, argv))} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{log}"
            )

    def start(self) -> PostgresServer:
        missing = [name for name in ("initdb", "pg_ctl") if not (self.bin_dir / name).exists()]
        if missing:
            pytest.fail(INSTALL_HINT.format(bin=self.bin_dir), pytrace=False)
        self.root = Path(tempfile.mkdtemp(prefix="grokvideo-deploy-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail(
                    "no `postgres` user to run PostgreSQL as (root may not): "
                    + INSTALL_HINT.format(bin=self.bin_dir),
                    pytrace=False,
                )
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run(
            self.bin_dir / "initdb",
            "--pgdata",
            self.data_dir,
            "--username",
            "postgres",
            "--auth",
            "trust",  # local test server on 127.0.0.1 only
            "--encoding",
            "UTF8",
            "--no-sync",
        )
        self.port = free_port()
        options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
        options += f" -p {self.port} -k {self.root}"
        self._run(
            self.bin_dir / "pg_ctl",
            "--pgdata",
            self.data_dir,
            "--log",
            self.log_file,
            "--options",
            options,
            "--wait",
            "start",
        )
        self._run(
            self.bin_dir / "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "airflow",
        )
        return self

    def create_database(self, name: str) -> str:
        """A new, empty database on this server (one per deployment); its SQLAlchemy URL."""
        self._run(
            self.bin_dir / "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            name,
        )
        return self.url(name)

    def query(self, sql: str, database: str = "airflow") -> list[list[str]]:
        """Rows of one query through ``psql`` (the test reads what Airflow wrote: XCom rows,
        triggers per triggerer), every value as text."""
        result = subprocess.run(
            self._as_owner(
                self.bin_dir / "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-At",
                "-F",
                "\t",
                "-c",
                sql,
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            subprocess.run(
                self._as_owner(
                    self.bin_dir / "pg_ctl",
                    "--pgdata",
                    self.data_dir,
                    "--mode",
                    "immediate",
                    "stop",
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
