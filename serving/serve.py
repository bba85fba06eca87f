"""Run the API with uvicorn, in one process or as N pre-forked workers sharing one socket.

Why not uvicorn's own `workers=N`: its supervisor pings each worker from a helper thread, and
under full CPU load (which is what a load test is for) those pings failed and healthy workers
were restarted mid-request. Here the parent binds the socket, starts N workers that accept on
it, and only waits; the kernel spreads connections among them. A worker that dies (killed,
out of memory) is replaced; events it acknowledged are in the shared store, not in the worker.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from multiprocessing.connection import wait
from socket import IPPROTO_TCP, TCP_NODELAY, socket

import uvicorn

from engine.errors import TwostageError

APP = "serving.api:create_app"
EARLY_DEATH_SECONDS = 10.0
EARLY_DEATHS = 3


class ServeError(TwostageError, RuntimeError):
    """The server cannot keep its workers running."""


def listening_socket(config: uvicorn.Config) -> socket:
    """The socket every worker accepts on, with TCP_NODELAY, which accepted connections
    inherit. asyncio sets it only on sockets it creates itself: without it, a response's second
    write (headers, then body) waits for the client's delayed ACK on every keep-alive request
    that follows a response (docs/benchmarks.md has the events' p50 with and without it)."""
    sock = config.bind_socket()
    sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    return sock


def serve(host: str, port: int, workers: int = 1) -> None:
    config = uvicorn.Config(APP, factory=True, host=host, port=port, log_level="warning")
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    sock = listening_socket(config)
    context = multiprocessing.get_context("spawn")

    started_at: dict[int, float] = {}

    def start() -> multiprocessing.process.BaseProcess:
        child = context.Process(target=_worker, args=(config, sock), daemon=True)
        child.start()
        started_at[child.sentinel] = time.monotonic()
        return child

    children = [start() for _ in range(workers)]
    stopping = threading.Event()
    early_deaths = 0

    def stop(*_args) -> None:
        stopping.set()
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping.is_set():
            wait([child.sentinel for child in children], timeout=1.0)
            for slot, child in enumerate(children):
                if not child.is_alive() and not stopping.is_set():
                    child.join()
                    if time.monotonic() - started_at.pop(child.sentinel) < EARLY_DEATH_SECONDS:
                        early_deaths += 1
                    if early_deaths >= EARLY_DEATHS:  # a worker that cannot start: no restart loop
                        stop()
                        raise ServeError(
                            f"{early_deaths} workers exited within {EARLY_DEATH_SECONDS:g} s of starting; "
                            "run `twostage serve --workers 1` to see why (a missing build, an unreachable "
                            "event store)"
                        )
                    children[slot] = start()  # a dead worker is replaced at once
    except KeyboardInterrupt:
        stop()
    finally:
        for child in children:
            child.join(timeout=10)
        sock.close()


def _worker(config: uvicorn.Config, sock: socket) -> None:
    uvicorn.Server(config).run(sockets=[sock])
