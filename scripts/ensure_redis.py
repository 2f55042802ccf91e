"""``make test-deploy``: Debian's ``redis-server`` for the distributed deployment test (the
Celery broker), installed with apt-get when it is missing; fails loudly if it cannot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def main() -> int:
    if shutil.which("redis-server"):
        return 0
    apt = shutil.which("apt-get")
    if apt is None:
        print("redis-server is missing and there is no apt-get to install it", file=sys.stderr)
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    for command in (
        [*sudo, apt, "update", "-qq"],
        [*sudo, apt, "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
    ):
        if subprocess.run(command, env=env, check=False).returncode != 0:
            print(f"could not install redis-server: {' '.join(command)} failed", file=sys.stderr)
            return 1
    if not shutil.which("redis-server"):
        print("the redis-server package installed no redis-server", file=sys.stderr)
        return 1
    # Debian's package starts a system service on 6379: the test runs its own on a free port.
    if shutil.which("service"):
        subprocess.run([*sudo, "service", "redis-server", "stop"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
