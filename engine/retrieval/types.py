"""The small typed values that flow between the stage-1 modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Query:
    """Who and what a request retrieves for, resolved from the request by the engine.

    `vector` is the explicit query or the user's embedding (None for a cold start without a
    query); `history` holds the user's item ids, oldest first; `top_categories` the user's
    strongest categories by recency-weighted history (empty for a cold start).
    """

    user_id: int
    known_user: bool
    vector: np.ndarray | None
    history: np.ndarray
    top_categories: np.ndarray
    category_weights: np.ndarray


@dataclass(frozen=True)
class PathResult:
    """One retrieval path's output, best first."""

    name: str
    item_ids: np.ndarray
    scores: np.ndarray
    quota: int

    def __len__(self) -> int:
        return int(self.item_ids.shape[0])


@dataclass(frozen=True)
class MergeCounts:
    """How the merge narrowed the paths' output: items each path returned (in `path_names`
    order), the distinct items among them, those left after the seen-items filter, and
    those kept (at most the candidate-set size asked for)."""

    found: tuple[int, ...]
    distinct: int
    unseen: int
    kept: int


@dataclass(frozen=True)
class CandidateSet:
    """The merged, de-duplicated candidates in stage-1 order, with per-path provenance.

    Column p of `path_scores` / `path_ranks` belongs to `path_names[p]`; a candidate that
    path p did not find has score NaN and rank -1 there. Ranks are 0-based.
    """

    item_ids: np.ndarray
    path_names: tuple[str, ...]
    path_scores: np.ndarray
    path_ranks: np.ndarray
    similarity: np.ndarray
    counts: MergeCounts
    #: the candidates' embeddings, gathered once for `similarity` and read again by the
    #: features (None without a query vector)
    vectors: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.item_ids.shape[0])

    def found_by(self, row: int) -> list[str]:
        return [name for name, rank in zip(self.path_names, self.path_ranks[row], strict=True) if rank >= 0]

    def path_counts(self) -> dict[str, int]:
        """How many candidates each path contributed (a candidate can count for several)."""
        return {name: int((self.path_ranks[:, p] >= 0).sum()) for p, name in enumerate(self.path_names)}

    def only_counts(self) -> dict[str, int]:
        """How many candidates each path alone found (no other path found them)."""
        found = self.path_ranks >= 0
        alone = found & (found.sum(axis=1) == 1)[:, None]
        return {name: int(alone[:, p].sum()) for p, name in enumerate(self.path_names)}


@dataclass(frozen=True)
class CandidateRequest:
    """Stage-1 request. `None` fields take the engine configuration's defaults.

    `query` replaces the user's embedding for the ANN path; `search_params` overrides the
    backend's search settings (efSearch, nprobe, ...) for this request only; `paths` runs only
    the named retrieval paths (engine.retrieval.registry.PATHS), e.g. one path alone.
    """

    user_id: int
    query: Any = None
    n_candidates: int | None = None
    backend: str | None = None
    search_params: dict[str, int] = field(default_factory=dict)
    measure_recall: bool = False
    paths: tuple[str, ...] | None = None


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
    query_vector: np.ndarray | None
    timings_ns: dict[str, int]
    recall: float | None
    notes: tuple[str, ...]

    def timings_ms(self) -> dict[str, float]:
        return {stage: ns / 1e6 for stage, ns in self.timings_ns.items()}
