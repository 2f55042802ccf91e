"""Command line: ``python -m airflow_provider_grokvideo.emulator`` (console script
``grokvideo-emulator``).  ``--help`` lists every option."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from collections.abc import Sequence

from airflow_provider_grokvideo.emulator.defaults import (
    DEFAULT_API_KEY,
    DEFAULT_JOB_SECONDS,
    DEFAULT_MAX_JOBS,
    UPSTREAMS,
)

_DESCRIPTION = """\
Emulate the three Grok video upstreams on one port: xcompute under /xcompute, Mountsea under
/mountsea and xAI under /xai, with a video CDN under /cdn and a control plane under /_emulator
(GET /_emulator/stats, POST /_emulator/reset, POST /_emulator/faults).
"""

_EPILOG = f"""\
Point a client at http://HOST:PORT/xcompute (or /mountsea, /xai) and use the API key
(default {DEFAULT_API_KEY!r}).  Per-job scenarios go in the prompt, e.g. "[emulator:fail]";
global faults are injected with, e.g.,
  curl -X POST http://HOST:PORT/_emulator/faults -d '{{"fault": "429", "count": 2}}'
See docs/emulator.md for the full list of markers and faults.
"""

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _positive_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be zero or more")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _rate_limit(text: str) -> tuple[str, float]:
    upstream, sep, rate = text.partition("=")
    if not sep or upstream not in UPSTREAMS:
        raise argparse.ArgumentTypeError(
            f"write UPSTREAM=REQUESTS_PER_SECOND with UPSTREAM one of {', '.join(UPSTREAMS)}"
        )
    try:
        value = float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{rate!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("requests per second must be above 0")
    return upstream, value


def _upstream_port(text: str) -> tuple[str, int]:
    upstream, sep, port = text.partition("=")
    if upstream not in UPSTREAMS:
        raise argparse.ArgumentTypeError(
            f"write UPSTREAM or UPSTREAM=PORT with UPSTREAM one of {', '.join(UPSTREAMS)}"
        )
    if not sep:
        return upstream, 0
    try:
        value = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{port!r} is not a port number") from None
    if not 0 <= value < 65536:
        raise argparse.ArgumentTypeError("a port is 0 (a free one) to 65535")
    return upstream, value


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``grokvideo-emulator`` command."""
    parser = argparse.ArgumentParser(
        prog="grokvideo-emulator",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="TCP port to listen on; 0 picks a free port (default: %(default)s)",
    )
    parser.add_argument(
        "--job-seconds",
        type=_positive_float,
        default=DEFAULT_JOB_SECONDS,
        help="seconds from submission to a job's final state; [emulator:seconds=N] in a prompt"
        " overrides it per job (default: %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accepted API key; repeat to accept several (default: $GROKVIDEO_EMULATOR_API_KEY"
        f" or {DEFAULT_API_KEY!r})",
    )
    parser.add_argument(
        "--max-jobs",
        type=_positive_int,
        default=DEFAULT_MAX_JOBS,
        help="jobs remembered at once; when full, the oldest finished jobs are forgotten first"
        " (default: %(default)s)",
    )
    parser.add_argument(
        "--rate-limit",
        action="append",
        type=_rate_limit,
        dest="rate_limits",
        default=[],
        metavar="UPSTREAM=RPS",
        help="refuse with 429 (and Retry-After) the requests of one key beyond RPS per second on"
        " that upstream, e.g. xai=1; repeat for several upstreams (default: no limit)",
    )
    parser.add_argument(
        "--xai-pending-202",
        choices=("empty", "body", "off"),
        default="off",
        help="xAI polls of running jobs answer HTTP 202, with no body (empty) or with"
        ' {"status":"pending","progress":N} (body), as xAI\'s schema allows (default: %(default)s)',
    )
    parser.add_argument(
        "--xai-batch-url-seconds",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long an xAI batch result's video URL lives after the result is ready"
        " (default: xAI's one hour); shorter, to see that no video is lost to it",
    )
    parser.add_argument(
        "--upstream-port",
        action="append",
        type=_upstream_port,
        dest="upstream_ports",
        default=[],
        metavar="UPSTREAM[=PORT]",
        help="serve one upstream on a port of its own too (0 or none: a free port), so that"
        ' PUT /_emulator/outages {"UPSTREAM": "refuse"} can refuse its connections; repeat'
        " for several upstreams (default: every upstream on --port only)",
    )
    parser.add_argument(
        "--ssl-certfile", metavar="PATH", help="serve HTTPS with this PEM certificate (chain)"
    )
    parser.add_argument("--ssl-keyfile", metavar="PATH", help="private key of --ssl-certfile (PEM)")
    parser.add_argument(
        "--log-level",
        choices=_LOG_LEVELS,
        default="info",
        help="uvicorn log level (default: %(default)s)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: it costs throughput)",
    )
    parser.add_argument(
        "--keep-alive",
        type=_positive_int,
        default=75,
        metavar="SECONDS",
        help="seconds an idle keep-alive connection stays open (default: %(default)s)",
    )
    parser.add_argument(
        "--backlog",
        type=_positive_int,
        default=8192,
        help="listen backlog, for many clients connecting at once (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator in the foreground until interrupted (Ctrl-C or SIGTERM)."""
    args = build_parser().parse_args(argv)
    if args.ssl_keyfile and not args.ssl_certfile:
        build_parser().error("--ssl-keyfile needs --ssl-certfile")
    keys = args.api_keys or [os.environ.get("GROKVIDEO_EMULATOR_API_KEY") or DEFAULT_API_KEY]

    from airflow_provider_grokvideo.emulator.app import EmulatorApp
    from airflow_provider_grokvideo.emulator.server import (
        EmulatorServer,
        bind_socket,
        make_config,
        url_of,
    )

    app = EmulatorApp(
        api_key=keys,
        job_seconds=args.job_seconds,
        max_jobs=args.max_jobs,
        rate_limits=dict(args.rate_limits),
        xai_pending_202=args.xai_pending_202,
    )
    if args.xai_batch_url_seconds is not None:
        app.batches.start_url_seconds = app.batches.set_url_seconds(args.xai_batch_url_seconds)
    config = make_config(
        app,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        log_level=args.log_level,
        access_log=args.access_log,
        keep_alive=args.keep_alive,
        backlog=args.backlog,
    )
    sock = bind_socket(args.host, args.port, args.backlog)
    url = url_of(sock, args.host, tls=bool(args.ssl_certfile))
    own: dict[str, socket.socket] = {}
    for upstream, port in dict(args.upstream_ports).items():
        own[upstream] = bind_socket(args.host, port, args.backlog)
        app.serve_on_own_port(upstream, own[upstream])
    origins = {name: url_of(s, args.host, tls=bool(args.ssl_certfile)) for name, s in own.items()}
    key_note = (
        f"api key {DEFAULT_API_KEY!r} (the default)"
        if keys == [DEFAULT_API_KEY]
        else f"{len(keys)} configured api key(s)"
    )
    lines = [f"grokvideo emulator listening on {url} ({key_note}, job {args.job_seconds:g}s)"]
    limits = dict(args.rate_limits)
    lines += [
        f"  {name:<9} {origins.get(name, url)}/{name}"
        + (f"  (at most {limits[name]:g} requests/s per key)" if name in limits else "")
        for name in UPSTREAMS
    ]
    lines.append(f"  control   {url}/_emulator/stats")
    print("\n".join(lines), flush=True)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # previous handler: make that one a clean exit (status 0) instead of a kill.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        EmulatorServer(config, app, tuple(own)).run(sockets=[sock, *own.values()])
    except KeyboardInterrupt:
        pass
    finally:
        for listening in (sock, *own.values()):
            listening.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
