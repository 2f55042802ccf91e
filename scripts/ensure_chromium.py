"""``make test-deploy``: Debian's Chromium for the browser tests, installed if missing.

The browser tests drive ``/usr/bin/chromium`` (never a browser build of Playwright's own). When
it is missing this installs Debian's ``chromium`` package with apt-get, and fails loudly if it
cannot: a browser test that silently skips would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    if os.access(CHROMIUM, os.X_OK):
        return 0
    apt = shutil.which("apt-get")
    if apt is None:
        print(f"{CHROMIUM} is missing and there is no apt-get to install it", file=sys.stderr)
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    for command in (
        [*sudo, apt, "update", "-qq"],
        [*sudo, apt, "install", "-y", "-qq", "chromium"],
    ):
        if subprocess.run(command, env=env, check=False).returncode != 0:
            print(f"could not install chromium: {' '.join(command)} failed", file=sys.stderr)
            return 1
    if not os.access(CHROMIUM, os.X_OK):
        print(f"the chromium package installed no {CHROMIUM}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
