"""ScaNN beyond the shared contract: its C++ training log stays off the terminal."""

from __future__ import annotations

import os

import pytest

from tests.conftest import unit_rows

scann_index = pytest.importorskip("engine.ann.scann_index", reason="scann is not installed")


def test_training_logs_stay_off_the_terminal_unless_the_build_fails(capfd, rng) -> None:
    index = scann_index.ScannIndex()
    index.build(unit_rows(rng, scann_index.MIN_TREE_POINTS, 16))  # the tree and hashing path
    assert index.search(unit_rows(rng, 1, 16), 5).ids.shape == (1, 5)
    assert capfd.readouterr().err == "", "ScaNN's C++ log must not reach file descriptor 2"
    with pytest.raises(RuntimeError), scann_index.native_stderr_held():
        os.write(2, b"partitioner trained\n")
        raise RuntimeError("build failed")
    assert "partitioner trained" in capfd.readouterr().err, "a failed build shows what ScaNN said"
