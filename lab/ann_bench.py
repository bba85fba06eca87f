"""ANN benchmark: each backend's search grid on one thread against exact search, over the
built index or (with `builds`) over every setting of its build grid.

Only raw results (ids and per-query nanoseconds) are recorded while timing; recall and the
latency percentiles are computed afterwards, as ann-benchmarks does. Memory is measured, not
estimated: the process's resident memory growth while the index is loaded (or built) and
searched, and the bytes of its files on disk.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.ann import AnnIndex, backend_class, build_grid, create, search_grid
from engine.ann.base import INDEX_KIND, check_k
from engine.artifacts import read_manifest
from engine.engine import Engine
from engine.progress import Progress, no_progress
from engine.retrieval.recall import recall_at_k

WARMUP_QUERIES = 5


@dataclass(frozen=True)
class BenchRow:
    """One backend, built one way, at one search setting."""

    backend: str
    build_params: dict[str, int | float | str]  # as built: the defaults, the config, the grid
    params: dict[str, int]
    used: dict[str, int]  # what the library ran with (ef below k is raised to k by some)
    k: int
    queries: int
    recall: float
    p50_ms: float
    p99_ms: float
    qps: float
    build_seconds: float
    resident_bytes: int  # resident memory growth while loading (or building) and searching
    disk_bytes: int  # the index's files (0: nothing on disk, e.g. exact search or a server)


def resident_bytes() -> int:
    """This process's resident set size now (Linux /proc; 0 where it is not available), after
    handing freed heap back to the system, so that an index built after another one is not
    measured as free because it reused the first one's pages."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the figure may undercount
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def query_set(engine: Engine, n_queries: int, seed: int = 0) -> np.ndarray:
    """A fixed sample of user embeddings: the queries the ANN path really serves."""
    users = engine.users
    rng = np.random.default_rng(seed)
    picked = rng.choice(users.n_users, size=min(n_queries, users.n_users), replace=False)
    return np.ascontiguousarray(users.vectors[np.sort(picked)])


def ann_sweep(
    engine: Engine,
    backends: list[str],
    k: int,
    n_queries: int,
    progress: Progress = no_progress,
    *,
    builds: bool = False,
) -> list[BenchRow]:
    check_k(k, engine.catalog.n_items)
    queries = query_set(engine, n_queries)
    progress("exact ground truth", 0, 1)
    truth = engine.index("exact").search(queries, k)
    progress("exact ground truth", 1, 1)
    rows = []
    for backend in backends:
        for index, started_rss, disk in _indexes(engine, backend, builds, progress):
            grid = search_grid(backend)
            timed = [_timed(index, queries, k, params) for params in _stepped(grid, backend, progress)]
            resident = max(0, resident_bytes() - started_rss)
            for params, (ids, ns) in zip(grid, timed, strict=True):
                recall = recall_at_k(ids, queries, engine.catalog.vectors, truth.scores[:, -1])
                rows.append(
                    BenchRow(
                        backend=backend,
                        build_params=dict(index.build_params),
                        params=params,
                        used=index.effective_params({**index.search_params, **params}, k),
                        k=k,
                        queries=len(queries),
                        recall=float(recall.mean()),
                        p50_ms=float(np.percentile(ns, 50) / 1e6),
                        p99_ms=float(np.percentile(ns, 99) / 1e6),
                        qps=float(1e9 / ns.mean()),
                        build_seconds=index.build_seconds,
                        resident_bytes=resident,
                        disk_bytes=disk,
                    )
                )
            del index  # freed before the next build's baseline is taken
    return rows


def _indexes(
    engine: Engine, backend: str, builds: bool, progress: Progress
) -> Iterator[tuple[AnnIndex, int, int]]:
    """(index, resident size before it was loaded or built, bytes on disk) for the built index,
    or for each setting of the backend's build grid, built in memory one at a time."""
    if not builds or not backend_class(backend).needs_build:
        started = resident_bytes()
        index = engine.index(backend)
        yield index, started, _disk_bytes(engine.layout.index(backend))
        return
    for setting in build_grid(backend):
        started = resident_bytes()
        index = create(backend, **{**engine.config.build.get(backend, {}), **setting})
        index.build(engine.catalog.vectors, progress)
        index.set_search_params(**{**index.search_defaults, **engine.config.search.get(backend, {})})
        scratch = Path(tempfile.mkdtemp(prefix="twostage-ann-bench-"))
        try:
            index.save(scratch / backend)
            disk = _disk_bytes(scratch / backend)
            yield index, started, disk
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        del index


def _disk_bytes(directory: Path) -> int:
    """The sizes of the files an index's manifest lists (0 when it has none)."""
    try:
        files = read_manifest(directory, INDEX_KIND, verify=False)["files"]
    except OSError:
        return 0
    return sum(int(entry["bytes"]) for entry in files.values())


def _stepped(grid: list[dict[str, int]], backend: str, progress: Progress) -> Iterator[dict[str, int]]:
    for step, params in enumerate(grid):
        yield params
        progress(f"sweep {backend}", step + 1, len(grid))


def _timed(
    index: AnnIndex, queries: np.ndarray, k: int, params: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Ids found and nanoseconds per query, one query at a time after a short warm-up."""
    for query in queries[:WARMUP_QUERIES]:
        index.search(query, k, params or None)
    ids = np.empty((len(queries), k), dtype=np.int64)
    ns = np.empty(len(queries), dtype=np.int64)
    for i, query in enumerate(queries):
        started = time.perf_counter_ns()
        ids[i] = index.search(query, k, params or None).ids[0]
        ns[i] = time.perf_counter_ns() - started
    return ids, ns
