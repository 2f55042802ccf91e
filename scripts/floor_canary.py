"""``make test-floor-canary``'s report: what the newest libraries break on the floor's release line.

Run by the canary environment's Python (``.venv-floor-canary``: the newest Airflow 3.1.x with
none of ``.ci/floor-constraints.txt``'s pins, as a user's fresh ``pip install`` gets it).  It
runs ``scripts/test_floor.py``'s selection, keeps pytest's whole output in
``.venv-floor-canary/report.log``, and prints what differs from the pinned floor and which tests
broke, with the line each broke on.  It always exits 0: a new release breaking an old Airflow
is news for the next session, not a reason to hold back a submission.  Its lines never take
pytest's summary form, so that nobody reading CI's log mistakes the report for the suite's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PINS = REPO / ".ci" / "floor-constraints.txt"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)\s*([<>=!~].*)$")
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)")
_TOTALS = re.compile(r"(\d+) (passed|failed|errors?)")


def pins() -> list[tuple[str, str]]:
    """``(name, specifier)`` of every pin of the floor, Airflow's own version included."""
    found = []
    for line in PINS.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            found.append((match.group(1), match.group(2).strip()))
    return found


def main() -> int:
    python = sys.version.split()[0]
    print(f"floor canary: Python {python}, nothing pinned; beside the floor's pins:")
    for name, spec in pins():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        print(f"  {name:<22} {installed:<14} (the floor pins {spec})")
    log = Path(sys.prefix) / "report.log"
    with log.open("w") as out:
        status = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "test_floor.py"), "--tb=line", "-rfE"],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    text = log.read_text(errors="replace")
    broken = [m.group(1) for line in text.splitlines() if (m := _FAILED.match(line))]
    where = [line.strip() for line in text.splitlines() if re.match(r"^/\S+:\d+: ", line)]
    totals = {kind.rstrip("s"): int(n) for n, kind in _TOTALS.findall(text.splitlines()[-1])}
    ran = sum(totals.values())
    if status == 0:
        print(f"floor canary: all {ran} tests hold on the newest libraries")
        return 0
    print(f"floor canary: {len(broken)} of {ran} tests break (exit {status}; report only):")
    for test in broken:
        print(f"  {test}")
    for line in dict.fromkeys(where):  # each distinct place once
        print(f"    at {line[:200]}")
    for line in text.splitlines():
        if line.startswith("  example_grokvideo_"):
            print(f"  run: {line.strip()[:200]}")
    print(f"floor canary: pytest's whole output in {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
