"""Shared fixtures: one small synthetic data set, built once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.ann import available
from engine.build import build
from engine.engine import Engine
from engine.layout import Layout
from sample_data.synthetic import SyntheticParams

SMALL = SyntheticParams(n_items=3_000, dim=16, n_users=400, n_categories=8, items_per_topic=100, seed=11)


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the small data set and every available backend built."""
    root = tmp_path_factory.mktemp("small")
    build(Layout(root), SMALL, available())
    return root


@pytest.fixture(scope="session")
def engine(small_dir: Path) -> Engine:
    return Engine.open(small_dir)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)
