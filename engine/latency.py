"""Rolling per-stage latency samples: the app's sparkline and p50/p99, the server's /metrics."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from engine.config import BudgetConfig

STAGES = tuple(BudgetConfig().stages())  # the judged stages, in the budget's order
QUEUE = "queue"  # served requests: waiting for the engine, before any stage (not a stage)
RECORDED = (*STAGES, QUEUE)
HISTORY = 200


@dataclass
class SessionStats:
    """The last HISTORY requests' milliseconds per stage."""

    samples: dict[str, deque[float]] = field(
        default_factory=lambda: {stage: deque(maxlen=HISTORY) for stage in RECORDED}
    )

    def add(self, ms_by_stage: dict[str, float]) -> None:
        for stage in RECORDED:
            if stage in ms_by_stage:
                self.samples[stage].append(float(ms_by_stage[stage]))

    def __len__(self) -> int:
        return len(self.samples["total"])

    def percentile(self, stage: str, q: float) -> float | None:
        values = self.samples[stage]
        return float(np.percentile(list(values), q)) if values else None

    def recent_totals(self, n: int = 40) -> list[float]:
        return list(self.samples["total"])[-n:]
