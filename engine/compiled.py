"""The request path's few compiled loops, and how they are compiled (one place).

Inside a request, numpy pays a few microseconds per call before any arithmetic, and a
stage written as twenty array calls over 500 candidates is mostly that overhead (at a
million items the engine's own work was ~100 such calls, 2-3x the ANN search and the model
together). Where a stage reads more plainly as one loop over its entries, numba compiles
that loop: one call, no temporaries, the GIL released so requests run side by side.

Machine code is cached next to the module (`__pycache__`, else numba's user cache directory,
or $NUMBA_CACHE_DIR): only the first run after an install or a change pays the compile,
later processes load it (docs/benchmarks.md, "Why the code is as it is", has both times); a
warmed-up engine (`Engine.warm_up`) has done either before its first measured request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

_OPTIONS: dict[str, Any] = {"nogil": True, "error_model": "numpy"}


def kernel(function: Callable[..., Any]) -> Any:
    """Compile a request-path loop: the GIL released, numpy's rules for division and errors
    (no Python exception machinery inside the loop), the machine code cached on disk. Where
    no cache directory is writable (a read-only install without a home), numba refuses to
    cache: the loop is then compiled once per process instead of failing the import."""
    try:
        return njit(cache=True, **_OPTIONS)(function)
    except RuntimeError:
        return njit(cache=False, **_OPTIONS)(function)


@kernel
def gather_rows(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """table[rows] for a few hundred random rows of a large table (a request's candidates'
    vectors at a million items): copied element by element, the loop keeps many cache misses
    in flight, where numpy copies row by row (docs/benchmarks.md: the loop is the faster)."""
    out = np.empty((len(rows), table.shape[1]), dtype=table.dtype)
    for i in range(len(rows)):
        row = rows[i]
        for j in range(table.shape[1]):
            out[i, j] = table[row, j]
    return out
