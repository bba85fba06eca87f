"""The columnar data set: items, users with their histories, and the interaction log.

Ids are dense: item i is row i of every item column, user u row u of every user column.
Everything is a numpy array so the request path can gather with fancy indexing instead of
looping over candidates in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from engine.artifacts import (
    load_array,
    load_table,
    read_manifest,
    save_array,
    save_table,
    write_manifest,
)
from engine.errors import ArtifactError
from engine.runs import value_at

DATASET_KIND = "twostage.dataset"

ITEM_SCHEMA = {
    "category": ("int32", 1),
    "price": ("float32", 1),
    "margin": ("float32", 1),
    "created_at": ("int64", 1),
    "inventory": ("int32", 1),
    "popularity": ("float32", 1),
    "promoted": ("bool", 1),
    "title_bytes": ("uint8", 1),
    "title_offsets": ("int64", 1),
}
USER_SCHEMA = {
    "segment": ("int8", 1),
    "price_sensitivity": ("float32", 1),
    "affinity_keys": ("int64", 1),
    "affinity_weights": ("float32", 1),
    "history_offsets": ("int64", 1),
    "history_items": ("int64", 1),
    "history_times": ("int64", 1),
}
INTERACTION_SCHEMA = {
    "user": ("int64", 1),
    "item": ("int64", 1),
    "time": ("int64", 1),
    "clicked": ("bool", 1),
    "purchased": ("bool", 1),
}
FILES = ("items.npz", "item_vectors.npy", "users.npz", "user_vectors.npy", "interactions.npz")
#: Optional attributes. A data set that lacks one stores a neutral column (in stock, not
#: promoted, ...) so every code path works, and lists only what it has in its manifest; the
#: features that read a missing attribute are left out (their `requires` in the registry).
ATTRIBUTES = (
    "price",
    "margin",
    "inventory",
    "created_at",
    "popularity",
    "promoted",
    "segment",
    "price_sensitivity",
    "category_affinity",
)


@dataclass(frozen=True)
class StringColumn:
    """Strings as one UTF-8 blob plus offsets: compact, and saved without pickles."""

    blob: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_strings(cls, strings: Sequence[str]) -> StringColumn:
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        return cls(blob, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:
        start, end = self.offsets[index], self.offsets[index + 1]
        return self.blob[start:end].tobytes().decode("utf-8")

    def take(self, indices: Sequence[int] | np.ndarray) -> list[str]:
        return [self[int(i)] for i in indices]


@dataclass(frozen=True)
class CategoryAffinity:
    """A user profile's declared weight per category, kept sparse: (user, category) pairs
    with a weight, sorted by `user * n_categories + category`. A dense users x categories
    matrix would be 37 GB at a million users and 9,400 categories; an absent pair weighs 0."""

    keys: np.ndarray  # int64, ascending
    weights: np.ndarray  # float32, one per key
    n_categories: int

    @classmethod
    def from_dense(cls, matrix: np.ndarray) -> CategoryAffinity:
        users, categories = np.nonzero(matrix)  # row-major: the keys come out sorted
        keys = users.astype(np.int64) * matrix.shape[1] + categories
        return cls(keys, matrix[users, categories].astype(np.float32), int(matrix.shape[1]))

    @classmethod
    def empty(cls, n_categories: int) -> CategoryAffinity:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), n_categories)

    def lookup(self, users: np.ndarray, categories: np.ndarray) -> np.ndarray:
        """The weight of each (user, category) pair, 0 where the profile has none."""
        return value_at(
            self.keys, self.weights, np.asarray(users, dtype=np.int64) * self.n_categories + categories
        )

    def strongest(self, n_users: int) -> np.ndarray:
        """Each user's heaviest category (the lowest code on a tie), -1 without a profile."""
        users, categories = np.divmod(self.keys, self.n_categories)
        order = np.lexsort((categories, -self.weights, users))
        first = order[np.r_[True, users[order][1:] != users[order][:-1]]] if len(order) else order
        out = np.full(n_users, -1, dtype=np.int64)
        out[users[first]] = categories[first]
        return out


@dataclass(frozen=True)
class Catalog:
    """Item columns; `vectors` are L2-normalised float32 rows."""

    vectors: np.ndarray
    category: np.ndarray
    price: np.ndarray
    margin: np.ndarray
    created_at: np.ndarray
    inventory: np.ndarray
    popularity: np.ndarray
    promoted: np.ndarray
    titles: StringColumn
    category_names: tuple[str, ...]

    @property
    def n_items(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass(frozen=True)
class Users:
    """User columns plus each user's time-ordered history in CSR form."""

    vectors: np.ndarray
    segment: np.ndarray
    price_sensitivity: np.ndarray
    category_affinity: CategoryAffinity
    history_offsets: np.ndarray
    history_items: np.ndarray
    history_times: np.ndarray
    segment_names: tuple[str, ...]

    @property
    def n_users(self) -> int:
        return int(self.vectors.shape[0])

    def knows(self, user_id: int) -> bool:
        return 0 <= user_id < self.n_users

    def most_active(self, n: int) -> np.ndarray:
        """The `n` users with the longest histories (load generators' "active" users)."""
        return np.argsort(np.diff(self.history_offsets))[::-1][: max(0, n)]

    def history(self, user_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Item ids and times of the user's history, oldest first (views, no copy)."""
        start, end = self.history_offsets[user_id], self.history_offsets[user_id + 1]
        return self.history_items[start:end], self.history_times[start:end]


@dataclass(frozen=True)
class Interactions:
    """The impression log: one row per item shown to a user, with its outcome."""

    user: np.ndarray
    item: np.ndarray
    time: np.ndarray
    clicked: np.ndarray
    purchased: np.ndarray

    def __len__(self) -> int:
        return int(self.user.shape[0])


@dataclass(frozen=True)
class Dataset:
    """A loaded data set directory; `now` is the reference time the log ends at."""

    directory: Path
    catalog: Catalog
    users: Users
    manifest: dict[str, Any]

    @property
    def now(self) -> int:
        return int(self.manifest["now"])

    @property
    def attributes(self) -> frozenset[str]:
        """The optional attributes this data set really has (older manifests: all)."""
        return frozenset(self.manifest.get("attributes", ATTRIBUTES))

    @property
    def consumption_log(self) -> bool:
        """True when every logged interaction is a consumption (a rating, a purchase), as in
        imported data; False for an impression log, where shown-but-ignored items may return."""
        return self.manifest.get("source", {}).get("log", "impressions") == "consumptions"

    @property
    def fingerprint(self) -> str:
        """Identifies the data an index or model was built from."""
        return str(self.manifest["fingerprint"])

    @cached_property
    def interactions(self) -> Interactions:
        """Loaded on first use: only building and training need the log."""
        cols = load_table(self.directory / "interactions.npz", INTERACTION_SCHEMA)
        return Interactions(**cols)


def favourite_categories(dataset: Dataset) -> np.ndarray:
    """Each user's strongest category (-1: none): the declared profile's where the data set
    has one, else the category they clicked most; kept sparse, as users x categories can be
    huge."""
    users, catalog = dataset.users, dataset.catalog
    if "category_affinity" in dataset.attributes:
        return users.category_affinity.strongest(users.n_users)
    owners = np.repeat(np.arange(users.n_users), np.diff(users.history_offsets))
    n_categories = len(catalog.category_names)
    keys, clicks = np.unique(
        owners * n_categories + catalog.category[users.history_items], return_counts=True
    )
    return CategoryAffinity(keys, clicks.astype(np.float32), n_categories).strongest(users.n_users)


def save_dataset(
    directory: Path,
    catalog: Catalog,
    users: Users,
    interactions: Interactions,
    *,
    now: int,
    source: dict[str, Any],
    attributes: tuple[str, ...] = ATTRIBUTES,
    extra: dict[str, dict[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Write a data set; the manifest (with its fingerprint) is written last. `extra` tables
    (file name -> columns) travel with it, checked like the rest (the generator's hidden truth)."""
    directory.mkdir(parents=True, exist_ok=True)
    item_cols = {name: getattr(catalog, name) for name in ITEM_SCHEMA if not name.startswith("title_")}
    item_cols["title_bytes"] = catalog.titles.blob
    item_cols["title_offsets"] = catalog.titles.offsets
    save_table(directory / "items.npz", item_cols)
    save_array(directory / "item_vectors.npy", catalog.vectors.astype(np.float32, copy=False))
    user_cols = {name: getattr(users, name) for name in USER_SCHEMA if not name.startswith("affinity_")}
    user_cols["affinity_keys"] = users.category_affinity.keys
    user_cols["affinity_weights"] = users.category_affinity.weights
    save_table(directory / "users.npz", user_cols)
    save_array(directory / "user_vectors.npy", users.vectors.astype(np.float32, copy=False))
    save_table(
        directory / "interactions.npz",
        {name: getattr(interactions, name) for name in INTERACTION_SCHEMA},
    )
    manifest_meta = {
        "now": int(now),
        "source": source,
        "n_items": catalog.n_items,
        "n_users": users.n_users,
        "n_interactions": len(interactions),
        "dim": catalog.dim,
        "category_names": list(catalog.category_names),
        "segment_names": list(users.segment_names),
        "attributes": sorted(attributes),
    }
    for name, columns in (extra or {}).items():
        save_table(directory / name, columns)
    files = [*FILES, *(extra or {})]
    return write_manifest(directory, DATASET_KIND, files, fingerprint=True, **manifest_meta)


def load_dataset(directory: Path, *, verify: bool = True) -> Dataset:
    """Open a data set directory, checking its manifest and every column's type and length."""
    manifest = read_manifest(directory, DATASET_KIND, verify=verify)
    items = load_table(directory / "items.npz", ITEM_SCHEMA)
    # Read into memory rather than mapped: a request gathers its ~500 candidates' rows, and
    # from a mapped file each is a TLB miss on a 4 KiB page; numpy's own large allocations
    # sit on 2 MiB pages. The price is memory: each server worker holds its own copy, where
    # a mapped file is shared (docs/benchmarks.md has both figures).
    item_vectors = load_array(directory / "item_vectors.npy", dtype="float32", ndim=2, mmap=False)
    user_cols = load_table(directory / "users.npz", USER_SCHEMA)
    user_vectors = load_array(directory / "user_vectors.npy", dtype="float32", ndim=2)
    n_items, n_users = manifest["n_items"], manifest["n_users"]
    _check_lengths(
        directory / "items.npz",
        {k: v for k, v in items.items() if not k.startswith("title")},
        n_items,
    )
    _check_lengths(directory / "item_vectors.npy", {"rows": item_vectors}, n_items)
    _check_lengths(
        directory / "users.npz",
        {k: user_cols[k] for k in ("segment", "price_sensitivity")},
        n_users,
    )
    _check_lengths(directory / "user_vectors.npy", {"rows": user_vectors}, n_users)
    if len(items["title_offsets"]) != n_items + 1 or len(user_cols["history_offsets"]) != n_users + 1:
        raise ArtifactError(f"{directory}: title or history offsets do not match the row counts")
    if user_vectors.shape[1] != item_vectors.shape[1]:
        raise ArtifactError(
            f"{directory}: user vectors have {user_vectors.shape[1]} dimensions, item vectors "
            f"{item_vectors.shape[1]}; both must share one embedding space"
        )
    titles = StringColumn(items.pop("title_bytes"), items.pop("title_offsets"))
    catalog = Catalog(
        vectors=item_vectors,
        titles=titles,
        category_names=tuple(manifest["category_names"]),
        **items,
    )
    if len(user_cols["affinity_keys"]) != len(user_cols["affinity_weights"]):
        raise ArtifactError(f"{directory / 'users.npz'}: category affinity keys and weights differ in length")
    affinity = CategoryAffinity(
        user_cols.pop("affinity_keys"), user_cols.pop("affinity_weights"), len(catalog.category_names)
    )
    users = Users(
        vectors=user_vectors,
        segment_names=tuple(manifest["segment_names"]),
        category_affinity=affinity,
        **user_cols,
    )
    return Dataset(directory=directory, catalog=catalog, users=users, manifest=manifest)


def _check_lengths(path: Path, columns: dict[str, np.ndarray], expected: int) -> None:
    for name, column in columns.items():
        if column.shape[0] != expected:
            raise ArtifactError(
                f"{path}: '{name}' has {column.shape[0]} rows, the manifest says {expected}; "
                "the files are from different builds; rebuild with `twostage build --force`"
            )
