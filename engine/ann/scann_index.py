"""ScaNN: a k-means tree over the catalog, anisotropic hashing (4-bit codes scored
asymmetrically against the float query), then an exact re-scoring of the best `reorder`."""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import numpy as np
from scann.scann_ops.py import scann_ops_pybind

from engine.ann.base import AnnIndex
from engine.artifacts import atomic_write_dir
from engine.errors import ArtifactError
from engine.progress import Progress

SUBDIR = "scann"  # ScaNN writes several files whose set depends on the configuration
ASSETS = "scann_assets.pbtxt"
MIN_TREE_POINTS = 2_000  # below this ScaNN's own brute force: too few points to train leaves and codes
POINTS_PER_LEAF = 100


@contextmanager
def native_stderr_held() -> Iterator[None]:
    """ScaNN's C++ logs its training steps to file descriptor 2, over the progress bars; keep
    them aside and show them only if the build fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class ScannIndex(AnnIndex):
    """`num_leaves` 0 means about sqrt(n) leaves (at least POINTS_PER_LEAF points each).
    Search: `leaves` nearest leaves are scanned with the hashed codes, and the best
    max(`reorder`, k) of those are re-scored exactly, so scores are true inner products."""

    name = "scann"
    search_defaults: ClassVar[dict[str, int]] = {"leaves": 80, "reorder": 1000}
    history_defaults: ClassVar[dict[str, int]] = {"leaves": 10, "reorder": 100}

    def __init__(
        self,
        num_leaves: int = 0,
        dims_per_block: int = 2,
        avq_threshold: float = 0.2,
        train_points: int = 250_000,
    ) -> None:
        super().__init__(
            num_leaves=num_leaves,
            dims_per_block=dims_per_block,
            avq_threshold=avq_threshold,
            train_points=train_points,
        )
        self._searcher: scann_ops_pybind.ScannSearcher | None = None
        self._brute_force = False

    def leaf_count(self, n: int) -> int:
        wanted = self.build_params["num_leaves"] or int(math.sqrt(n))
        return max(1, min(wanted, n // POINTS_PER_LEAF))

    def _build(self, data: np.ndarray, progress: Progress) -> None:
        progress(f"train {self.name}", 0, 1)
        builder = scann_ops_pybind.builder(data, 10, "dot_product")
        self._brute_force = len(data) < MIN_TREE_POINTS
        if self._brute_force:
            builder = builder.score_brute_force()
        else:
            leaves = self.leaf_count(len(data))
            builder = (
                builder.tree(
                    num_leaves=leaves,
                    num_leaves_to_search=min(leaves, self.search_defaults["leaves"]),
                    training_sample_size=min(len(data), self.build_params["train_points"]),
                )
                .score_ah(
                    self.build_params["dims_per_block"],
                    anisotropic_quantization_threshold=self.build_params["avq_threshold"],
                )
                .reorder(self.search_defaults["reorder"])
            )
        with native_stderr_held():
            self._searcher = builder.set_n_training_threads(os.cpu_count() or 1).build()
        progress(f"train {self.name}", 1, 1)

    def effective_params(self, params: dict[str, int], k: int) -> dict[str, int]:
        return {**params, "reorder": max(params["reorder"], k)}

    def _search(self, queries: np.ndarray, k: int, params: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        if self._brute_force:
            ids, scores = self._searcher.search_batched(queries, final_num_neighbors=k)
        else:
            ids, scores = self._searcher.search_batched(
                queries,
                final_num_neighbors=k,
                pre_reorder_num_neighbors=self.effective_params(params, k)["reorder"],
                leaves_to_search=params["leaves"],
            )
        return ids, scores

    def _write(self, directory: Path) -> list[str]:
        def serialize(tmp: Path) -> None:
            tmp.mkdir()
            self._searcher.serialize(str(tmp), relative_path=True)

        return [str(path.relative_to(directory)) for path in atomic_write_dir(directory / SUBDIR, serialize)]

    def _read(self, directory: Path) -> None:
        # Not scann's load_searcher: it would unpickle a docids file if one were there.
        path = directory / SUBDIR
        try:
            assets = (path / ASSETS).read_text()
            numpy_searcher = scann_ops_pybind.scann_pybind.ScannNumpy(str(path), assets)
        except (OSError, RuntimeError) as exc:
            raise ArtifactError(f"ScaNN cannot read {path}: {exc}; rebuild with `twostage build`") from None
        self._searcher = scann_ops_pybind.ScannSearcher(numpy_searcher)
        self._brute_force = "PARTITIONER" not in assets

    def memory_bytes(self) -> int:
        """The float vectors kept for re-scoring, plus one byte per code block and a leaf id."""
        if self._brute_force:
            return int(self.count * self.dim * 4)
        blocks = math.ceil(self.dim / self.build_params["dims_per_block"])
        return int(self.count * (self.dim * 4 + blocks + 4))
