"""Ranked item lists per category and overall, from the log: trending (recency-weighted
clicks and purchases) and popular (positive interactions in a window).

Trending is computed once at build time and saved as a small artifact; popular is one
bincount, computed when an engine opens. The request path only slices precomputed arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.artifacts import load_table, read_manifest, save_table, write_manifest
from engine.data import Dataset
from engine.errors import ArtifactError
from engine.limits import DAY
from engine.runs import place_in_run, run_starts

TRENDING_KIND = "twostage.trending"
HALF_LIFE_DAYS = 3.0
PURCHASE_WEIGHT = 3.0
PER_CATEGORY = 2_000
GLOBAL = 20_000
SCHEMA = {
    "offsets": ("int64", 1),
    "items": ("int64", 1),
    "scores": ("float32", 1),
    "global_items": ("int64", 1),
    "global_scores": ("float32", 1),
}


@dataclass(frozen=True)
class Trending:
    """Per category (CSR by `offsets`) and global lists, best first (trending or popular)."""

    offsets: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    global_items: np.ndarray
    global_scores: np.ndarray

    def in_category(self, category: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.offsets[category], self.offsets[category + 1]
        return self.items[start:end], self.scores[start:end]


def compute(dataset: Dataset, now: int | None = None) -> Trending:
    """Score = sum over clicks (purchases count PURCHASE_WEIGHT) of 2^(-age / half-life),
    from events before `now` (the data set's end by default)."""
    log, catalog = dataset.interactions, dataset.catalog
    now = dataset.now if now is None else now
    age_days = (now - log.time) / DAY
    weight = np.exp2(-np.maximum(age_days, 0) / HALF_LIFE_DAYS) * (
        log.clicked + PURCHASE_WEIGHT * log.purchased
    )
    weight = np.where(log.time < now, weight, 0.0)
    return ranked_lists(np.bincount(log.item, weights=weight, minlength=catalog.n_items), catalog)


def popular(dataset: Dataset, now: int, window_days: float = 0.0) -> Trending:
    """Positive interactions (clicks) per item in [now - window, now); 0 days: all time."""
    log = dataset.interactions
    since = now - window_days * DAY if window_days > 0 else -np.inf
    counted = log.clicked & (log.time < now) & (log.time >= since)
    return ranked_lists(np.bincount(log.item[counted], minlength=dataset.catalog.n_items), dataset.catalog)


def ranked_lists(score: np.ndarray, catalog) -> Trending:
    """Items with a positive score, best first, per category (at most PER_CATEGORY) and overall."""
    score = score.astype(np.float32)
    live = np.flatnonzero(score > 0)
    order = live[np.lexsort((live, -score[live], catalog.category[live]))]
    counts = np.bincount(catalog.category[order], minlength=len(catalog.category_names))
    top = order[place_in_run(run_starts(catalog.category[order])) < PER_CATEGORY]
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.minimum(counts, PER_CATEGORY), out=offsets[1:])
    best = live[np.lexsort((live, -score[live]))][:GLOBAL]
    return Trending(offsets, top.astype(np.int64), score[top], best.astype(np.int64), score[best])


def save(trending: Trending, directory: Path, fingerprint: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_table(directory / "trending.npz", {name: getattr(trending, name) for name in SCHEMA})
    write_manifest(directory, TRENDING_KIND, ["trending.npz"], dataset=fingerprint)


def load(directory: Path, fingerprint: str) -> Trending:
    manifest = read_manifest(directory, TRENDING_KIND)
    if manifest.get("dataset") != fingerprint:
        raise ArtifactError(
            f"{directory} was computed for another data set; rebuild with `twostage build --force`"
        )
    return Trending(**load_table(directory / "trending.npz", SCHEMA))
