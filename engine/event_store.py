"""Time-indexed views of the interaction log that features read: event counts per user and
per item, users' click histories, item co-occurrence, category price medians."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.data import Catalog, Interactions
from engine.events import EventIndex
from engine.kernels import pair_rows, summed_rows
from engine.limits import DAY
from engine.runs import place_in_run, run_starts, value_at

#: the (kind, window) item counts features use; serving gathers them as one block.
ITEM_COUNTS = (
    ("click", 3600),
    ("click", DAY),
    ("click", 3 * DAY),
    ("click", 7 * DAY),
    ("click", 30 * DAY),
    ("click", 365 * DAY),
    ("click", None),
    ("purchase", 30 * DAY),
    ("purchase", None),
    ("impression", 30 * DAY),
)
#: static item columns gathered in one step per request (`EventStore.item_attributes`)
ITEM_ATTRIBUTES = (
    "log_popularity",
    "log_inventory",
    "in_stock",
    "category",
    "log_price",
    "price_vs_category",
    "margin",
    "promoted",
    "created_day",
)
COOC_HISTORY = 50  # co-occurrence pairs come from each user's last 50 clicks
COOC_MIN = 2  # pairs co-clicked only once are noise; dropping them keeps the table small


@dataclass(frozen=True)
class Cooccurrence:
    """How often two items were clicked by the same user, as sorted pair keys a * n + b."""

    keys: np.ndarray
    counts: np.ndarray
    n_items: int

    @classmethod
    def from_clicks(
        cls,
        user: np.ndarray,
        item: np.ndarray,
        time: np.ndarray,
        n_items: int,
        before: int,
        max_gap: float | None = None,
        top: int = 0,
    ) -> Cooccurrence:
        """Pairs among each user's clicks before `before` (the window stops leakage into
        training) that are at most `max_gap` seconds apart (None: any gap); each item keeps
        its `top` most co-clicked items (0: all of them)."""
        keep = time < before
        user, item, time = user[keep], item[keep], time[keep]
        order = np.lexsort((time, user))
        user, item, time = user[order], item[order], time[order]
        # Pair every click with the previous COOC_HISTORY clicks of the same user.
        firsts, seconds = [], []
        for lag in range(1, COOC_HISTORY + 1):
            same = user[lag:] == user[:-lag]
            if max_gap is not None:
                same &= time[lag:] - time[:-lag] <= max_gap
            if not same.any():
                break
            a, b = item[lag:][same], item[:-lag][same]
            firsts += [a, b]
            seconds += [b, a]
        if not firsts:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.float32), n_items)
        a, b = np.concatenate(firsts), np.concatenate(seconds)
        distinct = a != b
        keys, counts = np.unique(a[distinct] * n_items + b[distinct], return_counts=True)
        frequent = counts >= COOC_MIN
        keys, counts = keys[frequent], counts[frequent].astype(np.float32)
        if top:
            keys, counts = _strongest_per_item(keys, counts, n_items, top)
        return cls(keys, counts, n_items)

    def lookup(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Counts for pairs (a[i], b[i]); 0 where the pair never co-occurred or a is -1."""
        query = np.asarray(a, dtype=np.int64) * self.n_items + np.asarray(b, dtype=np.int64)
        counts = value_at(self.keys, self.counts, query)
        return np.where(np.asarray(a) >= 0, counts, 0).astype(np.float32)

    def neighbours(self, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Items co-clicked with any of `seeds`, with their summed counts, by item id."""
        seeds = np.asarray(seeds, dtype=np.int64)
        if len(self.keys) == 0 or len(seeds) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        items, counts = summed_rows(self.keys, self.counts, self.n_items, seeds)
        order = np.argsort(items)
        return items[order], counts[order]

    def rows(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len(a) x len(b)) counts for every pair (a[j], b[i]): one user's recent clicks
        against a request's candidates. Each `a` row (at most `top` entries) is walked and
        its items found among the sorted `b`: a few hundred searches, not len(a) x len(b)."""
        if len(self.keys) == 0:
            return np.zeros((len(a), len(b)), dtype=np.float32)
        b = np.asarray(b, dtype=np.int64)
        order = np.argsort(b)
        return pair_rows(self.keys, self.counts, self.n_items, np.asarray(a, dtype=np.int64), b[order], order)


def _strongest_per_item(
    keys: np.ndarray, counts: np.ndarray, n_items: int, top: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's `top` pairs by count (ties: the lower item id), still sorted by key.

    A popular item co-occurs with a large part of the catalog; without a cap every request
    whose history holds it reads and merges that whole row (13,000 entries at a million items)."""
    first = keys // n_items
    order = np.lexsort((keys, -counts, first))
    strongest = np.sort(order[place_in_run(run_starts(first[order])) < top])
    return keys[strongest], counts[strongest]


class EventStore:
    """The log indexed for point-in-time lookups; built once per engine or training run."""

    def __init__(
        self,
        catalog: Catalog,
        log: Interactions,
        cooc_before: int,
        cooc_gap: float | None = None,
        cooc_top: int = 0,
    ):
        clicked, purchased = log.clicked, log.purchased
        self.clicks_by_user = EventIndex(log.user[clicked], log.time[clicked], payload=log.item[clicked])
        self.purchases_by_user = EventIndex(log.user[purchased], log.time[purchased])
        self.impressions_by_user = EventIndex(log.user, log.time, payload=log.item)
        self.clicks_by_item = EventIndex(log.item[clicked], log.time[clicked])
        self.purchases_by_item = EventIndex(log.item[purchased], log.time[purchased])
        self.impressions_by_item = EventIndex(log.item, log.time)
        self.cooc_gap = cooc_gap
        self.cooc = Cooccurrence.from_clicks(
            log.user[clicked],
            log.item[clicked],
            log.time[clicked],
            catalog.n_items,
            cooc_before,
            cooc_gap,
            cooc_top,
        )
        n_categories = len(catalog.category_names)
        log_price = np.log(np.maximum(catalog.price, 0.01))
        self.category_log_median = np.array(
            [
                np.median(log_price[catalog.category == c]) if (catalog.category == c).any() else 0.0
                for c in range(n_categories)
            ],
            dtype=np.float32,
        )
        self.item_log_price = log_price.astype(np.float32)
        # Similarity features are cosines: learned item vectors keep their length (how broadly
        # an item is liked, engine.factorise), which counts and popularity features say already
        norms = np.linalg.norm(catalog.vectors, axis=1)
        self.item_inverse_norm = (1.0 / np.where(norms > 1e-12, norms, 1.0)).astype(np.float32)
        self.item_attributes = np.stack(
            [
                np.log(catalog.popularity),
                np.log1p(catalog.inventory),
                catalog.inventory > 0,
                catalog.category,
                log_price,
                log_price - self.category_log_median[catalog.category],
                catalog.margin,
                catalog.promoted,
                catalog.created_at / DAY,
            ],
            axis=1,
        ).astype(np.float32)
        self.n_items = catalog.n_items
        self._tables: dict[int, np.ndarray] = {}

    def item_index(self, kind: str) -> EventIndex:
        return {
            "click": self.clicks_by_item,
            "purchase": self.purchases_by_item,
            "impression": self.impressions_by_item,
        }[kind]

    def user_index(self, kind: str) -> EventIndex:
        return {
            "click": self.clicks_by_user,
            "purchase": self.purchases_by_user,
            "impression": self.impressions_by_user,
        }[kind]

    def item_table(self, end: int) -> np.ndarray:
        """(items x ITEM_COUNTS + ITEM_ATTRIBUTES): every item's event counts as of `end`,
        then its static attributes; cached per `end`.

        A serving engine's clock is fixed, so the table is computed once and a request
        gathers its candidates' rows in one step (one row is a few cache lines; at a million
        items that matters more than the arithmetic). Each count column equals the
        corresponding `item_index(kind).count(...)`, which training uses row by row."""
        table = self._tables.get(end)
        if table is None:
            items = np.arange(self.n_items)
            counts = [
                self.item_index(kind).count(items, 0 if window is None else end - window, end)
                for kind, window in ITEM_COUNTS
            ]
            table = np.ascontiguousarray(np.column_stack([*counts, self.item_attributes]), dtype=np.float32)
            self._tables[end] = table
        return table
