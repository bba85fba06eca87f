"""FAISS IVF-Flat: k-means cells, then an exact scan of the `nprobe` nearest cells."""

from __future__ import annotations

import math
from typing import ClassVar

import faiss
import numpy as np

from engine.ann import faiss_common
from engine.progress import Progress

MIN_POINTS_PER_CELL = 39  # FAISS warns below this many training points per centroid


class FaissIvfIndex(faiss_common.FaissIndex):
    """`nlist` 0 means about 4 sqrt(n) cells, capped so every cell has enough training points."""

    name = "faiss-ivf"
    search_defaults: ClassVar[dict[str, int]] = {"nprobe": 128}
    history_defaults: ClassVar[dict[str, int]] = {"nprobe": 16}

    def __init__(self, nlist: int = 0, train_points: int = 200_000, seed: int = 1234) -> None:
        super().__init__(nlist=nlist, train_points=train_points, seed=seed)
        self._index: faiss.IndexIVFFlat | None = None

    def cells(self, n: int) -> int:
        wanted = self.build_params["nlist"] or int(4 * math.sqrt(n))
        return max(1, min(wanted, n // MIN_POINTS_PER_CELL))

    def _make_index(self, quantizer: faiss.Index, nlist: int, n: int) -> faiss.Index:
        """The untrained index; IVF variants (IVF-PQ) override only this."""
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = self.build_params["seed"]
        return index

    def _build(self, data: np.ndarray, progress: Progress) -> None:
        nlist = self.cells(len(data))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = self._make_index(quantizer, nlist, len(data))
        rng = np.random.default_rng(self.build_params["seed"])
        n_train = min(len(data), max(self.build_params["train_points"], nlist * MIN_POINTS_PER_CELL))
        sample = data[np.sort(rng.choice(len(data), size=n_train, replace=False))]
        progress(f"train {self.name}", 0, 1)
        with faiss_common.all_threads():
            index.train(sample)
        progress(f"train {self.name}", 1, 1)
        faiss_common.add_in_chunks(index, data, f"index {self.name}", progress)
        self._index = index
        self._quantizer = quantizer  # keep the Python wrapper alive alongside the index

    def _settings(self, params: dict[str, int]) -> faiss.SearchParameters:
        return faiss.SearchParametersIVF(nprobe=params["nprobe"])

    def memory_bytes(self) -> int:
        index = self._index
        return int(index.ntotal * (index.code_size + 8) + index.nlist * self.dim * 4)
