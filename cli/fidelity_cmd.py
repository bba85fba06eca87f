"""`twostage fidelity`: the same requests through the engine alone (as `bench` runs it), through
the app (driven headless by Textual's pilot) and through the server (HTTP, one worker), with
each stage's p50 side by side, so that no client shows its own overhead as the engine's."""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
from rich.table import Table

from cli.common import add_common, config_of, emit_json, layout_of, progress_bars, stdout
from engine.engine import Engine
from engine.errors import TwostageError
from engine.requests import RecommendRequest
from engine.wire import encode, request_body
from serving.local_redis import free_port

SHOWN = ("retrieval", "features", "model", "total")
START_TIMEOUT_S = 120.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fidelity", help="stage timings of the engine alone, the app and the server, side by side"
    )
    add_common(p)
    p.add_argument("--users", type=int, default=200, help="requests, one per random known user (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)


@dataclass(frozen=True)
class Fidelity:
    users: int
    p50_ms: dict[str, dict[str, float]]  # client -> stage -> p50
    server_round_trip_p50_ms: float
    server_queue_p50_ms: float


def run(args: argparse.Namespace) -> int:
    from tui.drive import drive  # imported here so other commands start without Textual

    if args.users < 1:
        raise TwostageError(f"--users must be at least 1, got {args.users}")
    config = config_of(args)
    engine = Engine.open(layout_of(args).root, config)
    engine.warm_up()
    rng = np.random.default_rng(args.seed)
    n_users = engine.users.n_users
    users = rng.choice(n_users, size=min(args.users, n_users), replace=False).tolist()
    n = len(users)
    with progress_bars() as progress:
        driven = asyncio.run(drive(engine, users, lambda done: progress("app (headless)", done, n)))
        requests, app = driven.requests, driven.shown
        alone, paced = [], []
        for done, request in enumerate(requests, start=1):
            alone.append(engine.recommend(request).timings_ms)
            progress("engine, back to back", done, n)
        for done, (request, idle_s) in enumerate(zip(requests, driven.idle_s, strict=True), start=1):
            # As the app's engine: idle as long (colder caches, lower clocks), then the answer
            # and the explanation of its top item.
            time.sleep(idle_s)
            response = engine.recommend(request)
            paced.append(response.timings_ms)
            if response.items and response.model_scored:
                engine.explain_in_list(response, response.items[0].item_id)
            progress("engine, paced as the app", done, n)
        report = lambda done: progress("server (HTTP)", done, n)  # noqa: E731
        served, round_trips, queued = _through_server(args, requests, report)
    by_client = {"engine": alone, "engine_paced": paced, "app": app, "server": served}
    result = Fidelity(
        users=n,
        p50_ms={name: _p50s(timings) for name, timings in by_client.items()},
        server_round_trip_p50_ms=float(np.percentile(round_trips, 50)),
        server_queue_p50_ms=float(np.percentile(queued, 50)),
    )
    if args.json:
        emit_json(asdict(result))
    else:
        show(result)
    return 0


def _through_server(
    args: argparse.Namespace, requests: list[RecommendRequest], progress: Callable[[int], None]
) -> tuple[list[dict], list[float], list[float]]:
    """Start `twostage serve` (one worker) on a free port and send the requests one by one."""
    # Without the app's recall measurement: the server would run that exact search before it
    # answers (the client asked for the figure), and the round trip would count it as overhead.
    bodies = [
        encode(request_body(replace(request, measure_recall=False), ["timings"])) for request in requests
    ]
    port = free_port()
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--events", "memory"]
    command += ["--data-dir", str(layout_of(args).root)]
    if args.config is not None:
        command += ["--config", str(args.config)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise TwostageError("the server did not start; run `twostage serve` to see why")
            time.sleep(0.25)
        # The stdlib client, kept alive: a heavier client library (httpx) would add its own
        # time to what is meant to be the server's.
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for body in bodies[:5]:  # the server's own warm-up (first requests load the model)
            _post(client, body)
        served, round_trips, queued = [], [], []
        for done, encoded in enumerate(bodies, start=1):
            started = time.perf_counter_ns()
            body = _post(client, encoded)
            round_trips.append((time.perf_counter_ns() - started) / 1e6)
            served.append(body["timings_ms"])
            queued.append(body["queue_ms"])
            progress(done)
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return served, round_trips, queued


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _post(client: http.client.HTTPConnection, body: bytes) -> dict:
    client.request("POST", "/recommend", body, {"Content-Type": "application/json"})
    answer = client.getresponse()
    data = answer.read()
    if answer.status != 200:
        raise TwostageError(f"the server answered {answer.status}: {data[:200]!r}")
    return json.loads(data)


def _p50s(timings: list[dict[str, float]]) -> dict[str, float]:
    return {stage: float(np.percentile([t[stage] for t in timings], 50)) for stage in SHOWN}


def show(result: Fidelity) -> None:
    p50 = result.p50_ms
    title = f"{result.users} requests, one at a time: p50 ms (x the engine alone, run the same way)"
    columns = ("stage", "engine, back to back", "server", "engine, paced as the app", "app")
    table = Table(*columns, title=title)
    for stage in SHOWN:
        hot, paced = p50["engine"][stage], p50["engine_paced"][stage]
        server, app = p50["server"][stage], p50["app"][stage]
        table.add_row(
            stage,
            f"{hot:.2f}",
            f"{server:.2f} ({server / hot:.2f}x)",
            f"{paced:.2f}",
            f"{app:.2f} ({app / paced:.2f}x)",
        )
    stdout.print(table)
    stdout.print(
        "The server is sent requests back to back. The app's engine idles while the screen draws each "
        "answer; the paced engine idles exactly as long before each request (a request after an idle "
        "spell meets colder caches and a sleeping CPU: `twostage bench --idle-ms` measures it)."
    )
    stdout.print(
        f"server: round trip p50 {result.server_round_trip_p50_ms:.2f} ms "
        f"(engine total + {result.server_round_trip_p50_ms - p50['server']['total']:.2f} ms), "
        f"queue p50 {result.server_queue_p50_ms:.3f} ms"
    )
