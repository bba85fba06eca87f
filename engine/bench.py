"""ANN benchmark: each backend's search grid on one thread against exact search.

Only raw results (ids and per-query nanoseconds) are recorded while timing; recall and the
latency percentiles are computed afterwards, as ann-benchmarks does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.ann import search_grid
from engine.ann.base import check_k
from engine.engine import Engine
from engine.progress import Progress, no_progress
from engine.retrieval.recall import recall_at_k

WARMUP_QUERIES = 5


@dataclass(frozen=True)
class BenchRow:
    """One backend at one search setting."""

    backend: str
    params: dict[str, int]
    used: dict[str, int]  # what the library ran with (ef below k is raised to k by some)
    k: int
    queries: int
    recall: float
    p50_ms: float
    p99_ms: float
    qps: float
    build_seconds: float
    memory_bytes: int


def query_set(engine: Engine, n_queries: int, seed: int = 0) -> np.ndarray:
    """A fixed sample of user embeddings: the queries the ANN path really serves."""
    users = engine.users
    rng = np.random.default_rng(seed)
    picked = rng.choice(users.n_users, size=min(n_queries, users.n_users), replace=False)
    return np.ascontiguousarray(users.vectors[np.sort(picked)])


def ann_sweep(
    engine: Engine, backends: list[str], k: int, n_queries: int, progress: Progress = no_progress
) -> list[BenchRow]:
    check_k(k, engine.catalog.n_items)
    queries = query_set(engine, n_queries)
    progress("exact ground truth", 0, 1)
    truth = engine.index("exact").search(queries, k)
    progress("exact ground truth", 1, 1)
    rows = []
    for backend in backends:
        index = engine.index(backend)
        grid = search_grid(backend)
        for step, params in enumerate(grid):
            for query in queries[:WARMUP_QUERIES]:
                index.search(query, k, params or None)
            ids = np.empty((len(queries), k), dtype=np.int64)
            ns = np.empty(len(queries), dtype=np.int64)
            for i, query in enumerate(queries):
                started = time.perf_counter_ns()
                ids[i] = index.search(query, k, params or None).ids[0]
                ns[i] = time.perf_counter_ns() - started
            recall = recall_at_k(ids, queries, engine.catalog.vectors, truth.scores[:, -1])
            rows.append(
                BenchRow(
                    backend=backend,
                    params=params,
                    used=index.effective_params({**index.search_params, **params}, k),
                    k=k,
                    queries=len(queries),
                    recall=float(recall.mean()),
                    p50_ms=float(np.percentile(ns, 50) / 1e6),
                    p99_ms=float(np.percentile(ns, 99) / 1e6),
                    qps=float(1e9 / ns.mean()),
                    build_seconds=index.build_seconds,
                    memory_bytes=index.memory_bytes(),
                )
            )
            progress(f"sweep {backend}", step + 1, len(grid))
    return rows
