"""How many candidates each retrieval path may contribute to one request."""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.errors import InvalidRequestError
from engine.retrieval.types import PATHS


def check_paths(paths: Sequence[str] | None) -> frozenset[str]:
    """The paths a request runs (all of them when it names none)."""
    if paths is None:
        return frozenset(PATHS)
    if isinstance(paths, str) or not paths:
        raise InvalidRequestError(f"paths must be a non-empty list of path names from {', '.join(PATHS)}")
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        raise InvalidRequestError(
            f"unknown retrieval path(s) {', '.join(map(str, unknown))}; use {', '.join(PATHS)}"
        )
    return frozenset(paths)


def path_sizes(
    shares: dict[str, float], n: int, active: frozenset[str], *, has_vector: bool, has_history: bool
) -> dict[str, int]:
    """Each quota-bound path gets ceil(share x n); what is left goes to the ANN path, or,
    when it cannot run (no vector, or not asked for), to the popular path, else to the first
    path that runs. Paths that cannot run get 0: history and co-visits need a history."""
    runnable = set(active)
    if not has_vector:
        runnable.discard("ann")
    if not has_history:
        runnable -= {"history", "covisit"}
    sizes = {path: 0 for path in PATHS}
    for path, share in shares.items():
        if path in runnable:
            sizes[path] = math.ceil(share * n)
    rest = max(0, n - sum(sizes.values()))
    taker = next((p for p in ("ann", "popular", *PATHS) if p in runnable), None)
    if taker is not None:
        sizes[taker] += max(rest, 1 if taker == "ann" else 0)
    return sizes
