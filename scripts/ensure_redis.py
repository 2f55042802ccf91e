"""``make test``: Debian's ``redis-server`` for the shared request budget's tests, installed if
missing.

The tests of ``hooks/shared_budget.py`` start a real ``redis-server`` on a free port of
127.0.0.1.  When it is missing this installs Debian's ``redis-server`` package with apt-get
(as ``ensure_chromium.py`` does for the browser), and fails loudly if it cannot.  Importable:
``redis_server()`` returns the binary's path, installing it first when needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PACKAGE = "redis-server"


def find() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


def install() -> str:
    """Install Debian's redis-server; the binary's path, or RuntimeError saying why not."""
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError("redis-server is missing and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    for command in (
        [*sudo, apt, "update", "-qq"],
        # Only the binary: no service is enabled or started by the tests' machine.
        [*sudo, apt, "install", "-y", "-qq", "--no-install-recommends", PACKAGE],
    ):
        if subprocess.run(command, env=env, check=False).returncode != 0:
            raise RuntimeError(f"could not install redis-server: {' '.join(command)} failed")
    found = find()
    if found is None:
        raise RuntimeError("the redis-server package installed no redis-server binary")
    return found


def redis_server() -> str:
    """The redis-server binary, installed first when missing."""
    return find() or install()


def main() -> int:
    try:
        print(redis_server())
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
