"""Where the interaction log is cut: training windows, then the test window.

The test window is the last `evaluation.test_share` of the time span (or of the
interactions). Before it lie `model.train_windows` training windows of the same length, most
recent first: the re-ranker learns from each user's candidates at a window's start, labelled
by what the user did in it, which is the situation it is judged in. Everything before a
window (embeddings, counters, co-visits, popularity) is all that window's features may see;
this module is the one place that says where the windows begin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.config import EngineConfig
from engine.data import Dataset
from engine.errors import DataFormatError


@dataclass(frozen=True)
class Splits:
    start: int
    test_from: int
    end: int
    #: training windows (start, end), the most recent first; they tile [train_from, test_from)
    windows: tuple[tuple[int, int], ...]

    @property
    def train_from(self) -> int:
        return self.windows[-1][0]

    @classmethod
    def of(cls, dataset: Dataset, config: EngineConfig | None = None) -> Splits:
        config = config or EngineConfig()
        times = dataset.interactions.time
        if len(times) == 0:
            raise DataFormatError(
                "the interaction log is empty; a re-ranker needs interactions to learn from"
            )
        evaluation, count = config.evaluation, config.model.train_windows
        start, end = int(times.min()), dataset.now
        if evaluation.split_by == "time":
            return cls.between(start, end, evaluation.test_share, count)
        ordered = np.sort(times)
        shares = [1.0 - evaluation.test_share * (j + 1) for j in range(count + 1)]
        cuts = [int(ordered[min(len(ordered) - 1, int(share * len(ordered)))]) for share in shares]
        return cls(start, cuts[0], end, tuple(zip(cuts[1:], cuts[:-1], strict=True)))

    @classmethod
    def between(cls, start: int, end: int, test_share: float = 0.1, count: int = 3) -> Splits:
        """Cut [start, end) by time into windows of `test_share` of the span."""
        length = int((end - start) * test_share)
        test_from = end - length
        windows = tuple((test_from - (j + 1) * length, test_from - j * length) for j in range(count))
        return cls(start, test_from, end, windows)
