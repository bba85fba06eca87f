"""How many candidates each retrieval path may contribute to one request."""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.config import RetrievalConfig
from engine.errors import InvalidRequestError
from engine.retrieval import registry


def check_paths(paths: Sequence[str] | None) -> frozenset[str]:
    """The paths a request runs (all of them when it names none)."""
    names = [path.name for path in registry.REGISTRY]
    if paths is None:
        return frozenset(names)
    if isinstance(paths, str) or not paths:
        raise InvalidRequestError(f"paths must be a non-empty list of path names from {', '.join(names)}")
    unknown = [p for p in paths if p not in names]
    if unknown:
        raise InvalidRequestError(
            f"unknown retrieval path(s) {', '.join(map(str, unknown))}; use {', '.join(names)}"
        )
    return frozenset(paths)


def path_sizes(
    config: RetrievalConfig, n: int, active: frozenset[str], *, has_vector: bool, has_history: bool
) -> dict[str, int]:
    """Each path with a share gets ceil(share x n); what is left goes to the first runnable
    path that takes the rest (the ANN path, else the popular path), else to the first path
    that runs. Paths that cannot run get 0: the ANN path needs a vector, history and
    co-visits a history (the registry says which)."""
    runnable = [
        path
        for path in registry.REGISTRY
        if path.name in active
        and (has_vector or not path.needs_vector)
        and (has_history or not path.needs_history)
    ]
    sizes = {path.name: 0 for path in registry.REGISTRY}
    for path in runnable:
        if path.share is not None:
            sizes[path.name] = math.ceil(path.share(config) * n)
    rest = max(0, n - sum(sizes.values()))
    taker = next((path for path in runnable if path.takes_rest), runnable[0] if runnable else None)
    if taker is not None:
        sizes[taker.name] += max(rest, 1 if taker.share is None else 0)  # a path without a share runs
    return sizes
