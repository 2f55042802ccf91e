"""The provider as users get it: a wheel built from this checkout, installed (not editable)
into a virtual environment of its own with the PostgreSQL drivers Airflow needs.

Installing Airflow takes about 40 s even from a warm pip cache, so the environment is kept
between runs under ``~/.cache/airflow-provider-grokvideo/`` (``GROKVIDEO_DEPLOY_CACHE``), keyed
on a hash of the wheel's contents (every file's name and bytes; zip timestamps differ on every
build), the Python version and the extra requirements: any change to the provider builds a new
environment, and an unchanged provider reuses the one installed from the same wheel contents.
``GROKVIDEO_DEPLOY_NO_CACHE=1`` always installs afresh (into a temporary folder).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

#: Airflow's PostgreSQL drivers (psycopg2 for the sync engine, asyncpg for the async one); the
#: CeleryExecutor of the distributed scenario (celery 5.7.0 breaks the Celery provider 3.26.0)
#: and Airflow's Redis provider (the ``redis`` connection type, the client).
EXTRA_REQUIREMENTS = (
    "psycopg2-binary",
    "asyncpg",
    "apache-airflow-providers-celery",
    "celery<5.7",
    "apache-airflow-providers-redis",
)
#: The provider's optional extras installed with the wheel when it declares them.
WHEEL_EXTRAS = ("redis",)
#: What is not part of the source a wheel is built from.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "demo-output"
)


def build_wheel(repo: Path, out_dir: Path) -> Path:
    """Build the provider's wheel from a clean copy of ``repo`` (setuptools' ``build/`` folder
    in the checkout could carry files deleted since into the wheel)."""
    with tempfile.TemporaryDirectory(prefix="grokvideo-wheel-src-") as tmp:
        source = Path(tmp) / "src"
        shutil.copytree(repo, source, ignore=_NOT_SOURCE)
        _run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out_dir, source],
            "building the provider's wheel",
        )
    wheels = sorted(out_dir.glob("airflow_provider_grokvideo-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def wheel_digest(wheel: Path) -> str:
    """SHA-256 of the wheel's members (names and bytes), stable across rebuilds."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name) + b"\0")
    return digest.hexdigest()


def cache_root() -> Path | None:
    if os.environ.get("GROKVIDEO_DEPLOY_NO_CACHE"):
        return None
    configured = os.environ.get("GROKVIDEO_DEPLOY_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "airflow-provider-grokvideo"


def provider_venv(wheel: Path, scratch: Path) -> tuple[Path, bool]:
    """A virtual environment with the wheel installed; ``(path, reused_from_cache)``."""
    key = hashlib.sha256(
        f"{wheel_digest(wheel)} {sys.version_info[:3]} {EXTRA_REQUIREMENTS}".encode()
    ).hexdigest()[:20]
    root = cache_root()
    if root is None:
        venv = scratch / "venv"
        _install(wheel, venv)
        return venv, False
    venv = root / f"deploy-venv-{key}"
    if (venv / ".complete").exists():
        return venv, True
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob("deploy-venv-*"):  # one provider version kept at a time
        shutil.rmtree(stale, ignore_errors=True)
    _install(wheel, venv)
    (venv / ".complete").write_text(wheel.name + "\n")
    return venv, False


def wheel_extras(wheel: Path) -> list[str]:
    """Those of :data:`WHEEL_EXTRAS` the wheel declares (``Provides-Extra``)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    declared = {
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Provides-Extra:")
    }
    return [extra for extra in WHEEL_EXTRAS if extra in declared]


def _install(wheel: Path, venv: Path) -> None:
    _run([sys.executable, "-m", "venv", venv], "creating the deployment's virtual environment")
    extras = wheel_extras(wheel)
    target = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    _run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", target, *EXTRA_REQUIREMENTS],
        "installing the wheel into the deployment's virtual environment",
    )


def _run(argv: list[str | os.PathLike[str]], what: str) -> None:
    result = subprocess.run(
        [os.fspath(arg) for arg in argv], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
