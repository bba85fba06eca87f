"""Benchmarks. `ann_sweep`: each backend's search grid on one thread against exact search.
`pipeline_bench`: the request path's per-stage latency over many requests.

Only raw results (ids and per-query nanoseconds) are recorded while timing; recall and the
latency percentiles are computed afterwards, as ann-benchmarks does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from engine.ann import search_grid
from engine.ann.base import check_k
from engine.engine import Engine
from engine.errors import InvalidRequestError
from engine.progress import Progress, no_progress
from engine.requests import CandidateRequest
from engine.retrieval.recall import recall_at_k

WARMUP_QUERIES = 5


@dataclass(frozen=True)
class BenchRow:
    """One backend at one search setting."""

    backend: str
    params: dict[str, int]
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


@dataclass(frozen=True)
class StageStats:
    """Latency percentiles of one stage over a benchmark run, in milliseconds."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class PipelineBench:
    """`twostage bench`: per-stage latency over R sequential requests on one thread."""

    backend: str
    n_candidates: int
    requests: int
    requests_per_second: float
    stages: dict[str, StageStats]
    ann_recall: float | None


def pipeline_bench(
    engine: Engine,
    n_requests: int,
    *,
    backend: str | None = None,
    n_candidates: int | None = None,
    recall_sample: int = 50,
    seed: int = 0,
    progress: Progress = no_progress,
) -> PipelineBench:
    """Random known users, one request at a time; recall is measured afterwards, untimed."""
    if n_requests < 1:
        raise InvalidRequestError(f"the number of requests must be at least 1, got {n_requests}")
    users = np.random.default_rng(seed).integers(0, engine.users.n_users, size=n_requests)
    requests = [CandidateRequest(int(u), n_candidates=n_candidates, backend=backend) for u in users]
    for request in requests[:WARMUP_QUERIES]:
        engine.candidates(request)
    timings: dict[str, list[int]] = {}
    started = time.perf_counter_ns()
    for i, request in enumerate(requests):
        for stage, ns in engine.candidates(request).timings_ns.items():
            timings.setdefault(stage, []).append(ns)
        if i % 50 == 49 or i == len(requests) - 1:
            progress("requests", i + 1, len(requests))
    elapsed = time.perf_counter_ns() - started
    recalls = [
        engine.candidates(replace(request, measure_recall=True)).recall
        for request in requests[:recall_sample]
    ]
    measured = [r for r in recalls if r is not None]
    first = engine.candidates(requests[0])
    return PipelineBench(
        backend=first.backend,
        n_candidates=len(first.candidates),
        requests=n_requests,
        requests_per_second=n_requests / (elapsed / 1e9),
        stages={stage: _stats(ns) for stage, ns in timings.items()},
        ann_recall=float(np.mean(measured)) if measured else None,
    )


def _stats(ns: list[int]) -> StageStats:
    ms = np.asarray(ns, dtype=np.float64) / 1e6
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return StageStats(float(p50), float(p95), float(p99), float(ms.max()))
