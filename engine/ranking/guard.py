"""When serving may skip the model: a breaker on its expected time that closes again.

The guard keeps a moving estimate of the model's milliseconds per candidate. A request whose
expected model time is over the budget is served in the stage-1 order (the breaker is open),
but once `cooldown_s` has passed since the model last ran, the next such request runs it
anyway (half-open) and its measurement replaces the estimate: one slow prediction (a pause
under load) can no longer switch the model off for good.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

SMOOTHING = 0.2  # weight of a new measurement in the moving estimate
#: A prediction costs a fixed overhead plus a little per row; below this many rows the overhead
#: dominates, so a call is counted as this many rows: a 1-candidate request's fixed cost must
#: not be scaled up to a 150-candidate one (it used to switch the model off for the requests after).
MIN_ROWS = 100


class ModelGuard:
    def __init__(
        self, budget_ms: float, cooldown_s: float, clock_ns: Callable[[], int] = time.perf_counter_ns
    ):
        self.budget_ms, self.cooldown_ns, self.clock_ns = budget_ms, int(cooldown_s * 1e9), clock_ns
        self.ms_per_candidate: float | None = None
        self._last_run_ns: int | None = None
        self._probing = False
        self._lock = threading.Lock()

    def expected_ms(self, n: int) -> float | None:
        return None if self.ms_per_candidate is None else self.ms_per_candidate * max(n, MIN_ROWS)

    def skip_reason(self, n: int) -> str | None:
        """Why `n` candidates should not be scored now, or None to run the model."""
        with self._lock:
            expected = self.expected_ms(n)
            if expected is None or expected <= self.budget_ms:
                return None
            now = self.clock_ns()
            if self._last_run_ns is None or now - self._last_run_ns >= self.cooldown_ns:
                self._probing, self._last_run_ns = True, now  # half-open: this request tries it
                return None
            wait = (self.cooldown_ns - (now - self._last_run_ns)) / 1e9
        return (
            f"model skipped: {expected:.2f} ms expected for {n} candidates is over the {self.budget_ms:g} ms "
            f"model budget; stage-1 order used (the model is tried again in {wait:.1f} s)"
        )

    def record(self, n: int, elapsed_ns: int) -> None:
        """A measured prediction of `n` candidates."""
        per_candidate = elapsed_ns / 1e6 / max(n, MIN_ROWS)
        with self._lock:
            self._last_run_ns = self.clock_ns()
            previous = self.ms_per_candidate
            if previous is None or self._probing:
                self.ms_per_candidate, self._probing = per_candidate, False
            else:
                self.ms_per_candidate = (1 - SMOOTHING) * previous + SMOOTHING * per_candidate


def guarded_scores(
    predict: Callable[[np.ndarray], np.ndarray], guard: ModelGuard | None, matrix: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Model scores, or the stage-1 order (descending) with the reason it was used: the
    guard expects the model over budget (`guard` None: never skip), or the model failed."""
    n = len(matrix)
    fallback = -np.arange(n, dtype=np.float64)
    skip = None if guard is None else guard.skip_reason(n)
    if skip is not None:
        return fallback, (skip,)
    started = time.perf_counter_ns()
    try:
        scores = predict(matrix)
    except Exception as exc:  # any model failure degrades to stage 1, never to an error
        return fallback, (f"model failed ({type(exc).__name__}: {exc}); stage-1 order used",)
    if guard is not None:
        guard.record(n, time.perf_counter_ns() - started)
    return scores, ()
