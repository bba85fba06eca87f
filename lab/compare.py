"""Two answers for one user (two backends, or one backend with two settings) side by side:
how much their candidate sets overlap, each one's recall, and how the final top K differs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.requests import RecommendResponse


@dataclass(frozen=True)
class Side:
    label: str  # the backend and any search settings the request overrode
    candidates: int
    recall: float | None
    ann_ms: float
    total_ms: float


@dataclass(frozen=True)
class Comparison:
    """`moved` holds (item, rank in a, rank in b) for top-K items both lists share at
    different ranks; `only_a` / `only_b` the top-K items one list has and the other lacks."""

    a: Side
    b: Side
    shared_candidates: int
    shared_ann: int
    ann_k: int
    k: int
    shared_top: int
    only_a: tuple[int, ...]
    only_b: tuple[int, ...]
    moved: tuple[tuple[int, int, int], ...]


def compare(a: RecommendResponse, b: RecommendResponse) -> Comparison:
    if a.user_id != b.user_id:
        raise ValueError(f"compare answers for one user, not users {a.user_id} and {b.user_id}")
    top_a = [item.item_id for item in a.items]
    top_b = [item.item_id for item in b.items]
    rank_b = {item: rank for rank, item in enumerate(top_b, start=1)}
    shared = [item for item in top_a if item in rank_b]
    in_a = set(top_a)
    return Comparison(
        a=_side(a),
        b=_side(b),
        shared_candidates=_shared(a.candidates.candidates.item_ids, b.candidates.candidates.item_ids),
        shared_ann=_shared(a.candidates.ann_ids, b.candidates.ann_ids),
        ann_k=min(a.candidates.ann_k, b.candidates.ann_k),
        k=max(len(top_a), len(top_b)),
        shared_top=len(shared),
        only_a=tuple(item for item in top_a if item not in rank_b),
        only_b=tuple(item for item in top_b if item not in in_a),
        moved=tuple(
            (item, rank, rank_b[item])
            for rank, item in enumerate(top_a, start=1)
            if item in rank_b and rank_b[item] != rank
        ),
    )


def _side(response: RecommendResponse) -> Side:
    result = response.candidates
    settings = " ".join(f"{name}={value}" for name, value in sorted(result.search_params.items()))
    return Side(
        label=f"{result.backend} {settings}".strip(),
        candidates=len(result.candidates),
        recall=result.recall,
        ann_ms=result.timings_ms().get("ann", 0.0),
        total_ms=response.timings_ms["total"],
    )


def _shared(a: np.ndarray, b: np.ndarray) -> int:
    return len(np.intersect1d(a, b))
