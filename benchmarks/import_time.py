"""What a DAG parse and a task start pay for us, beside the HTTP provider's operator.

A DAG parse: each measurement is a fresh interpreter running::

    python -X importtime -c "import airflow.sdk; import <our operator>; import <our sensor>"

and adds up the self time of every module imported after ``airflow.sdk`` (our modules and all
they newly pulled in).  The same is done for ``HttpOperator``.

A task start: Airflow's task runner integrates every installed plugin at each task start
(``get_template_context`` -> ``integrate_macros_plugins``), so every task of every DAG imports
our plugin module.  Two figures: the import of ``plugins/grok_videos.py`` after
``import airflow.sdk`` (measured as above), and the wall time of ``integrate_macros_plugins()``
after ``import airflow.sdk`` and ``from airflow.sdk.execution_time import task_runner`` (a fresh
interpreter each, in a throw-away ``AIRFLOW_HOME`` with ``load_examples`` off, as deployments
run: Airflow's own example plugins cost more than 100 ms by themselves).

Prints medians; asserts nothing.

    python benchmarks/import_time.py [--runs 9]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

OURS = (
    "import airflow_provider_grokvideo.operators.generate; "
    "import airflow_provider_grokvideo.sensors.video"
)
HTTP = "from airflow.providers.http.operators.http import HttpOperator"
PLUGIN = "import airflow_provider_grokvideo.plugins.grok_videos"
BASELINE = "import airflow.sdk"
INTEGRATE = """
import time
import airflow.sdk
from airflow.sdk.execution_time import task_runner
from airflow.sdk.plugins_manager import integrate_macros_plugins
started = time.perf_counter()
integrate_macros_plugins()
took = time.perf_counter() - started
import sys
web = sorted(m for m in ("fastapi", "starlette") if m in sys.modules)
print(f"INTEGRATE {took * 1e6:.0f} {','.join(web) or '-'}")
"""
#: A throw-away AIRFLOW_HOME for the task-start figures, as a deployment runs them.
ENV = {
    **os.environ,
    "AIRFLOW_HOME": tempfile.mkdtemp(prefix="grokvideo-import-bench-"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
}


def measure(statement: str) -> tuple[float, dict[str, float]]:
    """Microseconds imported after ``airflow.sdk`` by ``statement``, and per module."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{BASELINE}; {statement}"],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
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


def integrate_macros_plugins(runs: int) -> tuple[float, str]:
    """Median ms of ``integrate_macros_plugins()`` at a task start, and the web modules it
    left imported (``-`` for none)."""
    took: list[float] = []
    web = "-"
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", INTEGRATE], capture_output=True, text=True, check=True, env=ENV
        )
        line = next(x for x in result.stdout.splitlines() if x.startswith("INTEGRATE "))
        _, micros, web = line.split()
        took.append(float(micros) / 1000)
    return statistics.median(took), web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="interpreters per figure (median)")
    args = parser.parse_args()

    # An installed wheel has its byte code (pip compiles it), as Airflow and the HTTP provider
    # here do; a checkout run with PYTHONDONTWRITEBYTECODE would time compiling our sources.
    import airflow_provider_grokvideo

    compileall.compile_dir(os.path.dirname(airflow_provider_grokvideo.__file__), quiet=1)

    ours, ours_top = run(OURS, args.runs)
    try:
        http, http_top = run(HTTP, args.runs)
    except subprocess.CalledProcessError:
        http, http_top = float("nan"), []

    plugin, plugin_top = run(PLUGIN, args.runs)
    integrate, web = integrate_macros_plugins(args.runs)

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
    print()
    print("What a task start pays for our plugin (every task of every DAG)")
    print(f"  import of plugins/grok_videos.py after `{BASELINE}`: {plugin:7.1f} ms")
    print(f"  integrate_macros_plugins() after the task runner    : {integrate:7.1f} ms")
    print(f"  web modules it imported (FastAPI, Starlette)        : {web}")
    print("  largest modules of the plugin import:")
    for name, ms in plugin_top:
        print(f"    {ms:6.2f} ms  {name}")


if __name__ == "__main__":
    main()
