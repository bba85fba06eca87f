"""FAISS IVF-PQ with exact re-ranking: compressed codes for the scan, then the best
`k x k_factor` re-scored with the full vectors (IndexRefineFlat).

k_factor = 1 shows what product quantisation alone costs in recall; larger values buy it
back. The full vectors are kept for the re-ranking, so the memory saving is in the scan's
bandwidth, not the resident size.
"""

from __future__ import annotations

import math
from typing import ClassVar

import faiss

from engine.ann.faiss_ivf import MIN_POINTS_PER_CELL, FaissIvfIndex


class FaissIvfPqIndex(FaissIvfIndex):
    """`m` 0 picks about d/4 sub-quantisers (a divisor of d); `nbits` shrinks on small data."""

    name = "faiss-ivfpq"
    search_defaults: ClassVar[dict[str, int]] = {"nprobe": 128, "k_factor": 4}
    history_defaults: ClassVar[dict[str, int]] = {"nprobe": 16, "k_factor": 4}

    def __init__(
        self, nlist: int = 0, m: int = 0, nbits: int = 8, train_points: int = 200_000, seed: int = 1234
    ) -> None:
        super().__init__(nlist=nlist, train_points=train_points, seed=seed)
        self.build_params.update(m=m, nbits=nbits)

    def sub_quantisers(self) -> int:
        if self.build_params["m"]:
            return self.build_params["m"]
        return max(m for m in range(1, max(1, self.dim // 4) + 1) if self.dim % m == 0)

    def _make_index(self, quantizer: faiss.Index, nlist: int, n: int) -> faiss.Index:
        nbits = max(1, min(self.build_params["nbits"], int(math.log2(max(2, n // MIN_POINTS_PER_CELL)))))
        ivfpq = faiss.IndexIVFPQ(
            quantizer, self.dim, nlist, self.sub_quantisers(), nbits, faiss.METRIC_INNER_PRODUCT
        )
        ivfpq.cp.seed = self.build_params["seed"]
        index = faiss.IndexRefineFlat(ivfpq)
        self._parts = (quantizer, ivfpq)  # keep the Python wrappers alive alongside the index
        return index

    def _settings(self, params: dict[str, int]) -> faiss.SearchParameters:
        return faiss.IndexRefineSearchParameters(
            k_factor=params["k_factor"], base_index_params=faiss.SearchParametersIVF(nprobe=params["nprobe"])
        )

    def memory_bytes(self) -> int:
        base = faiss.downcast_index(self._index.base_index)
        codes = base.ntotal * (base.code_size + 8)
        codebooks = base.pq.M * base.pq.ksub * base.pq.dsub * 4
        return int(codes + codebooks + base.nlist * self.dim * 4 + self._index.ntotal * self.dim * 4)
