"""Progress reporting without a UI dependency: long steps call `report(step, done, total)`.

The CLI turns these calls into rich progress bars and the app into a progress widget; the
engine itself never imports either.
"""

import time
from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def no_progress(step: str, done: int, total: int) -> None:
    """Default for library calls that nobody watches."""


class StepClock:
    """Passes reports on and notes when each step was first and last heard of, so a long
    command can end with what each step took (a step reports 0 of N when it starts)."""

    def __init__(self, report: Progress = no_progress) -> None:
        self.report = report
        self.spans: dict[str, list[float]] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        now = time.perf_counter()
        self.spans.setdefault(step, [now, now])[1] = now
        self.report(step, done, total)

    def seconds(self) -> dict[str, float]:
        return {step: round(end - start, 2) for step, (start, end) in self.spans.items()}


class Throttled:
    """Passes on a step's first and last report and at most one per `interval_s` between
    them: a UI that redraws on every report would otherwise share the interpreter with the
    work it watches (a build reports once per training request, thousands of times)."""

    def __init__(self, report: Progress, interval_s: float = 0.1) -> None:
        self.report, self.interval_ns = report, int(interval_s * 1e9)
        self.step: str | None = None
        self.last_ns = 0

    def __call__(self, step: str, done: int, total: int) -> None:
        now = time.perf_counter_ns()
        if step == self.step and done < total and now - self.last_ns < self.interval_ns:
            return
        self.step, self.last_ns = step, now
        self.report(step, done, total)
