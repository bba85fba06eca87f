"""Run the API with uvicorn, in one process or as N pre-forked workers sharing one socket.

Why not uvicorn's own `workers=N`: its supervisor pings each worker from a helper thread, and
under full CPU load (which is what a load test is for) those pings failed and healthy workers
were restarted mid-request. Here the parent binds the socket, starts N workers that accept on
it, and only waits; the kernel spreads connections among them.
"""

from __future__ import annotations

import multiprocessing
import signal
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
    children = [context.Process(target=_worker, args=(config, sock), daemon=True) for _ in range(workers)]
    for child in children:
        child.start()

    def stop(*_args) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        for child in children:
            child.join()
    except KeyboardInterrupt:
        stop()
        for child in children:
            child.join(timeout=10)
    finally:
        sock.close()


def _worker(config: uvicorn.Config, sock: socket) -> None:
    uvicorn.Server(config).run(sockets=[sock])
