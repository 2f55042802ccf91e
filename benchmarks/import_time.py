"""What a DAG parse pays to import our operator and sensor, beside the HTTP provider's operator.

Each measurement is a fresh interpreter running::

    python -X importtime -c "import airflow.sdk; import <our operator>; import <our sensor>"

and adds up the self time of every module imported after ``airflow.sdk`` (our modules and all
they newly pulled in).  The same is done for ``HttpOperator``.  Prints medians; asserts nothing.

    python benchmarks/import_time.py [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from collections import defaultdict

OURS = (
    "import airflow_provider_grokvideo.operators.generate; "
    "import airflow_provider_grokvideo.sensors.video"
)
HTTP = "from airflow.providers.http.operators.http import HttpOperator"
BASELINE = "import airflow.sdk"


def measure(statement: str) -> tuple[float, dict[str, float]]:
    """Microseconds imported after ``airflow.sdk`` by ``statement``, and per module."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{BASELINE}; {statement}"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    # The top-level line of airflow.sdk ends its block; everything below came after it.
    start = max(i for i, line in enumerate(lines) if line.split("|")[-1] == " airflow.sdk")
    per_module: dict[str, float] = {}
    for line in lines[start + 1 :]:
        self_us, _cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        per_module[name] = per_module.get(name, 0.0) + float(self_us)
    return sum(per_module.values()), per_module


def run(statement: str, runs: int) -> tuple[float, list[tuple[str, float]]]:
    totals: list[float] = []
    modules: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        total, per_module = measure(statement)
        totals.append(total)
        for name, value in per_module.items():
            modules[name].append(value)
    top = sorted(
        ((name, statistics.median(values)) for name, values in modules.items()),
        key=lambda item: item[1],
        reverse=True,
    )
    return statistics.median(totals) / 1000, [(name, us / 1000) for name, us in top[:6]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="interpreters per figure (median)")
    args = parser.parse_args()

    ours, ours_top = run(OURS, args.runs)
    try:
        http, http_top = run(HTTP, args.runs)
    except subprocess.CalledProcessError:
        http, http_top = float("nan"), []

    print(f"Import cost after `{BASELINE}` (median of {args.runs} fresh interpreters)")
    print(f"  GrokVideoGenerateOperator + GrokVideoSensor : {ours:7.1f} ms")
    print(f"  HttpOperator (apache-airflow-providers-http): {http:7.1f} ms")
    if http == http and ours > 0:
        print(f"  ratio ours / HttpOperator                   : {ours / http:7.3f}")
    print("  largest modules of ours:")
    for name, ms in ours_top:
        print(f"    {ms:6.2f} ms  {name}")
    if http_top:
        print("  largest modules of HttpOperator:")
        for name, ms in http_top:
            print(f"    {ms:6.2f} ms  {name}")


if __name__ == "__main__":
    main()
