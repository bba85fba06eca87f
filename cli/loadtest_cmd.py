"""`twostage loadtest`: run the Locust scenarios headless and judge them against the budget."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import loadtests
from cli.common import add_common, layout_of, stderr
from engine.ann import backend_class
from engine.config import CONFIG_ENV, EVENTS_ENV
from engine.errors import InvalidRequestError
from engine.layout import ENV_VAR
from loadtests.plan import BACKEND_ENV, PACE_ENV, SHAPE_ENV, shape


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "loadtest", help="Locust load test (in-process or --http URL); fails when the budget is missed"
    )
    add_common(p, json_output=False)
    p.add_argument("--http", default=None, metavar="URL", help="test a running `twostage serve` instead")
    p.add_argument("--users", type=int, default=4, help="simulated users (default 4)")
    p.add_argument("--spawn-rate", type=float, default=2.0, help="users started per second")
    p.add_argument("--duration", default="30s", help="run time, e.g. 30s or 5m (ignored with --shape)")
    p.add_argument("--shape", default=None, help="a load shape from loadtests/shapes.toml: step, spike, soak")
    p.add_argument("--backend", default=None, help="ANN backend of every request (default: configured)")
    p.add_argument("--processes", type=int, default=1, help="Locust processes (engine calls block gevent)")
    p.add_argument(
        "--pace",
        default=None,
        help="'none' (no think time: saturation) or requests per second per user (default: think time)",
    )
    p.add_argument(
        "--out", type=Path, default=Path("loadtest-report"), help="folder for the CSV and HTML reports"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.shape:
        shape(args.shape)  # an unknown name fails here, with the known names, before Locust starts
    folder = Path(loadtests.__file__).parent
    locustfile = folder / ("locustfile_http.py" if args.http else "locustfile.py")
    args.out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        args.duration,
        "--csv",
        str(args.out / "stats"),
        "--html",
        str(args.out / "report.html"),
        "--only-summary",
    ]
    if args.http:
        command += ["--host", args.http]
    if args.processes > 1:
        command += ["--processes", str(args.processes)]
    environment = {**os.environ, ENV_VAR: str(layout_of(args).root)}
    if args.config is not None:
        environment[CONFIG_ENV] = str(args.config.resolve())
    if not args.http:
        # The simulated shoppers click and buy: keep those events in the load test's engines,
        # out of the data directory's journal (a server under test keeps them where it says).
        environment.setdefault(EVENTS_ENV, "memory")
    if args.shape:
        environment[SHAPE_ENV] = args.shape
    if args.backend:
        backend_class(args.backend)  # unknown or unavailable: a clear error before Locust starts
        environment[BACKEND_ENV] = args.backend
    if args.pace:
        if args.pace != "none":
            try:
                float(args.pace)
            except ValueError:
                raise InvalidRequestError(
                    f"--pace takes 'none' or a number of requests per second, got {args.pace!r}"
                ) from None
        environment[PACE_ENV] = args.pace
    stderr.print(f"locust: {locustfile.name}, reports in {args.out}/")
    return subprocess.run(command, env=environment, check=False).returncode
