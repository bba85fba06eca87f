"""Request and result types of the engine's public API (shared by the CLI, app and server)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.retrieval.types import CandidateSet


@dataclass(frozen=True)
class CandidateRequest:
    """Stage-1 request. `None` fields take the engine configuration's defaults.

    `query` replaces the user's embedding for the ANN path; `search_params` overrides the
    backend's search settings (efSearch, nprobe, ...) for this request only.
    """

    user_id: int
    query: Any = None
    n_candidates: int | None = None
    backend: str | None = None
    search_params: dict[str, int] = field(default_factory=dict)
    measure_recall: bool = False


@dataclass(frozen=True)
class CandidateResult:
    """Candidates with provenance, per-stage timings (ns) and, if asked, the ANN path's
    recall@`ann_k` against exact search (`ann_ids` may be shorter than `ann_k`)."""

    user_id: int
    known_user: bool
    cold_start: bool
    backend: str
    search_params: dict[str, int]
    candidates: CandidateSet
    ann_ids: np.ndarray
    ann_k: int
    timings_ns: dict[str, int]
    recall: float | None
    notes: tuple[str, ...]

    def timings_ms(self) -> dict[str, float]:
        return {stage: ns / 1e6 for stage, ns in self.timings_ns.items()}
