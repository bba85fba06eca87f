"""The synthetic world's click model: what a user would click, and the terms of it no
feature reads. `sample_data.synthetic` draws the log from it; on synthetic data `eval` and
`sweep --judge click-model` judge lists by it (synthetic truth: it knows what the data was
made from). The synthetic module's docstring describes the whole generative model."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.artifacts import load_table
from engine.data import Catalog, Users
from engine.limits import DAY

CLICK_BIAS = -4.2
POPULARITY_WEIGHT = 0.2
FRESHNESS_WEIGHT = 2.5
PRICE_MATCH_WEIGHT = 1.5
CHUNK = 100_000
HIDDEN_FILE = "hidden.npz"
HIDDEN_QUALITY = 0.8
HIDDEN_DIM = 4
HIDDEN_SCHEMA = {
    "quality": ("float32", 1),
    "trait": ("float32", 2),
    "taste": ("float32", 2),
    "item_vectors": ("float32", 2),  # the true vectors, for the click-model judge
    "user_vectors": ("float32", 2),
}


@dataclass(frozen=True)
class Hidden:
    """The click model's terms that no feature reads (see sample_data.synthetic)."""

    quality: np.ndarray
    trait: np.ndarray
    taste: np.ndarray
    item_vectors: np.ndarray
    user_vectors: np.ndarray

    @classmethod
    def draw(cls, seed: int, catalog: Catalog, users: Users) -> Hidden:
        rng = np.random.default_rng([seed, 1])
        n_items, n_users = catalog.n_items, users.n_users
        return cls(
            quality=(rng.standard_normal(n_items) * HIDDEN_QUALITY).astype(np.float32),
            trait=rng.standard_normal((n_items, HIDDEN_DIM)).astype(np.float32),
            taste=(rng.standard_normal((n_users, HIDDEN_DIM)) / 2).astype(np.float32),
            item_vectors=catalog.vectors,
            user_vectors=users.vectors,
        )

    def truth(self, catalog: Catalog, users: Users) -> tuple[Catalog, Users]:
        """The catalog and users with the generator's own vectors, as the click model reads them."""
        return replace(catalog, vectors=self.item_vectors), replace(users, vectors=self.user_vectors)

    @classmethod
    def load(cls, directory: Path) -> Hidden:
        return cls(**load_table(directory / HIDDEN_FILE, HIDDEN_SCHEMA))

    def logit(self, user: np.ndarray, item: np.ndarray) -> np.ndarray:
        return self.quality[item] + np.einsum("ij,ij->i", self.taste[user], self.trait[item])


def click_logit(
    catalog: Catalog,
    users: Users,
    hidden: Hidden,
    user: np.ndarray,
    item: np.ndarray,
    time: np.ndarray | int,
    medians: np.ndarray | None = None,
) -> np.ndarray:
    """The true click model (log-odds) of the generator, for any (user, item, time) rows;
    `catalog` and `users` must hold the generator's own vectors.

    The sweep uses it as ground truth on synthetic data: it knows what a user would click."""
    medians = category_medians(catalog) if medians is None else medians
    sim = np.empty(len(user), dtype=np.float32)
    for start in range(0, len(user), CHUNK):
        stop = min(len(user), start + CHUNK)
        sim[start:stop] = np.einsum(
            "ij,ij->i", users.vectors[user[start:stop]], catalog.vectors[item[start:stop]]
        )
    affinity = users.category_affinity.lookup(user, catalog.category[item])
    freshness = np.exp(-np.maximum(time - catalog.created_at[item], 0) / (45.0 * DAY))
    match = price_match(catalog, users, user, item, medians)
    in_stock = catalog.inventory[item] > 0
    return (
        CLICK_BIAS
        + 5.0 * sim
        + 3.0 * affinity
        + FRESHNESS_WEIGHT * freshness
        + POPULARITY_WEIGHT * np.log(catalog.popularity[item])
        + PRICE_MATCH_WEIGHT * match
        - 2.5 * ~in_stock
        + hidden.logit(user, item)
    )


def category_medians(catalog: Catalog) -> np.ndarray:
    medians = np.zeros(len(catalog.category_names), dtype=np.float64)
    for k in np.unique(catalog.category):
        medians[k] = np.median(catalog.price[catalog.category == k])
    return medians


def price_match(
    catalog: Catalog, users: Users, user: np.ndarray, item: np.ndarray, medians: np.ndarray | None = None
) -> np.ndarray:
    """0 when the item's price sits where the user's sensitivity wants it, negative otherwise."""
    medians = category_medians(catalog) if medians is None else medians
    relative = np.log(catalog.price[item] / np.maximum(medians[catalog.category[item]], 1e-6))
    preferred = (0.5 - users.price_sensitivity[user]) * 2.0
    return -np.abs(relative - preferred)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
