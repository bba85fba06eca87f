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
from multiprocessing.connection import wait
from socket import socket

import uvicorn

APP = "engine.api:create_app"


def serve(host: str, port: int, workers: int = 1) -> None:
    config = uvicorn.Config(APP, factory=True, host=host, port=port, log_level="warning")
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    sock = config.bind_socket()
    context = multiprocessing.get_context("spawn")

    def start() -> multiprocessing.process.BaseProcess:
        child = context.Process(target=_worker, args=(config, sock), daemon=True)
        child.start()
        return child

    children = [start() for _ in range(workers)]
    stopping = threading.Event()

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
                    children[slot] = start()  # a dead worker is replaced at once
    except KeyboardInterrupt:
        stop()
    finally:
        for child in children:
            child.join(timeout=10)
        sock.close()


def _worker(config: uvicorn.Config, sock: socket) -> None:
    uvicorn.Server(config).run(sockets=[sock])
