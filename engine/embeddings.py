"""Embeddings fitted as of a moment: stage 1's vectors never see the window they are judged on.

A data set says in its manifest where its vectors come from (`source.embeddings`):

* `learned`: implicit-feedback matrix factorisation (Hu, Koren and Volinsky 2008) of the
  positive interactions before the cut-off, solved by alternating conjugate-gradient steps
  (as the `implicit` library does), vectorised over all users or items at once;
* `given`: the data set brought item embeddings; a user's vector is the mean of the items
  they liked before the cut-off;
* `generator` (or absent): the data set's own vectors, used as they are.

`twostage build` fits one set per training window, before that window starts (the re-ranker
learns from similarities that knew nothing of its labels), and `serving`, before the test
window (the evaluation and the server). Each is an artifact with a manifest naming its cut-off.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

from engine.artifacts import load_array, read_manifest, save_array, write_manifest
from engine.config import EngineConfig
from engine.data import Dataset, load_dataset
from engine.errors import ArtifactError
from engine.layout import Layout
from engine.progress import Progress, no_progress
from engine.splits import Splits

EMBEDDINGS_KIND = "twostage.embeddings"
SERVING = "serving"
METHODS = ("learned", "given", "generator")
ITERATIONS = 10
CG_STEPS = 3
REGULARISATION = 0.1
ALPHA = 10.0


@dataclass(frozen=True)
class Embeddings:
    user_vectors: np.ndarray
    item_vectors: np.ndarray
    before: int
    method: str


def method_of(dataset: Dataset) -> str:
    method = dataset.manifest.get("source", {}).get("embeddings", "generator")
    if method not in METHODS:
        raise ArtifactError(f"{dataset.directory}: unknown embedding source {method!r}; use one of {METHODS}")
    return method


def roles(config: EngineConfig) -> tuple[str, ...]:
    """`serving` (fitted before the test window) and `train-1`.. (before each training window)."""
    return (SERVING, *(f"train-{j + 1}" for j in range(config.model.train_windows)))


def embedding_dim(dataset: Dataset) -> int:
    return int(dataset.manifest.get("source", {}).get("embedding_dim", dataset.catalog.dim))


def cutoff(dataset: Dataset, config: EngineConfig, role: str) -> int:
    """The moment a role's embeddings are fitted before."""
    splits = Splits.of(dataset, config)
    if role == SERVING:
        return splits.test_from
    return splits.windows[int(role.removeprefix("train-")) - 1][0]


def fit(dataset: Dataset, before: int, *, seed: int = 0, progress: Progress = no_progress) -> Embeddings:
    """Vectors from the positive interactions strictly before `before`."""
    method = method_of(dataset)
    if method == "generator":
        return Embeddings(dataset.users.vectors, dataset.catalog.vectors, before, method)
    log = dataset.interactions
    learn = log.clicked & (log.time < before)
    n_users, n_items = dataset.users.n_users, dataset.catalog.n_items
    if method == "given":
        items = dataset.catalog.vectors
        users = mean_of_positives(log.user[learn], log.item[learn], items, n_users)
        return Embeddings(users, items, before, method)
    users, items = implicit_als(
        log.user[learn],
        log.item[learn],
        n_users,
        n_items,
        dim=embedding_dim(dataset),
        seed=seed,
        progress=progress,
    )
    return Embeddings(users, items, before, method)


def implicit_als(
    users: np.ndarray,
    items: np.ndarray,
    n_users: int,
    n_items: int,
    *,
    dim: int = 32,
    iterations: int = ITERATIONS,
    seed: int = 0,
    progress: Progress = no_progress,
) -> tuple[np.ndarray, np.ndarray]:
    """(user vectors, item vectors), L2-normalised float32; confidence 1 + ALPHA * count.
    Rows with no interaction stay all zero: nothing is known of them, and stage 1 treats a
    user without a vector as a cold start."""
    rng = np.random.default_rng(seed)
    pairs, counts = np.unique(users.astype(np.int64) * n_items + items, return_counts=True)
    pair_users, pair_items = pairs // n_items, pairs % n_items
    confidence = 1.0 + ALPHA * counts
    by_user = _Rows.of(pair_users, pair_items, confidence, n_users, n_items)
    by_item = _Rows.of(pair_items, pair_users, confidence, n_items, n_users)
    user_vectors = rng.normal(0, 0.01, (n_users, dim))
    item_vectors = rng.normal(0, 0.01, (n_items, dim))
    for step in range(iterations):
        user_vectors = by_user.solve(item_vectors, user_vectors)
        item_vectors = by_item.solve(user_vectors, item_vectors)
        progress("learn embeddings", step + 1, iterations)
    return _normalise(user_vectors), _normalise(item_vectors)


@dataclass(frozen=True)
class _Rows:
    """One side of the interaction matrix in CSR order: row of each entry, column, confidence."""

    row: np.ndarray
    col: np.ndarray
    confidence: np.ndarray
    indptr: np.ndarray
    n_cols: int
    empty: np.ndarray  # boolean per row

    @classmethod
    def of(
        cls, rows: np.ndarray, cols: np.ndarray, confidence: np.ndarray, n_rows: int, n_cols: int
    ) -> _Rows:
        order = np.argsort(rows, kind="stable")
        rows, cols, confidence = rows[order], cols[order], confidence[order]
        counts = np.bincount(rows, minlength=n_rows)
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(rows, cols, confidence, indptr, n_cols, counts == 0)

    def _weighted_sum(self, weights: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        """Per row: the sum over its entries of weight x the entry's column vector (one sparse product)."""
        matrix = csr_matrix((weights, self.col, self.indptr), shape=(len(self.indptr) - 1, self.n_cols))
        return np.asarray(matrix @ fixed)

    def solve(self, fixed: np.ndarray, current: np.ndarray) -> np.ndarray:
        """A few conjugate-gradient steps on every row's normal equations at once:
        (YtY + reg I + Yr^T (Cr - I) Yr) x = Yr^T Cr 1, warm-started from `current`."""
        dim = current.shape[1]
        gram = fixed.T @ fixed + REGULARISATION * np.eye(dim)
        factors = fixed[self.col]
        extra = self.confidence - 1.0

        def apply(x: np.ndarray) -> np.ndarray:
            projected = np.einsum("nd,nd->n", factors, x[self.row]) * extra
            return x @ gram + self._weighted_sum(projected, fixed)

        target = self._weighted_sum(self.confidence, fixed)
        x = current.copy()
        x[self.empty] = 0.0
        residual = target - apply(x)
        direction = residual.copy()
        old = np.einsum("nd,nd->n", residual, residual)
        for _ in range(CG_STEPS):
            moved = apply(direction)
            step = old / np.maximum(np.einsum("nd,nd->n", direction, moved), 1e-20)
            x += step[:, None] * direction
            residual -= step[:, None] * moved
            new = np.einsum("nd,nd->n", residual, residual)
            direction = residual + (new / np.maximum(old, 1e-20))[:, None] * direction
            old = new
        x[self.empty] = 0.0
        return x


def mean_of_positives(user: np.ndarray, item: np.ndarray, vectors: np.ndarray, n_users: int) -> np.ndarray:
    """Each user's mean liked item, normalised; users who liked nothing stay all zero."""
    sums = np.zeros((n_users, vectors.shape[1]))
    np.add.at(sums, user, vectors[item])
    return _normalise(sums)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit rows; all-zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms > 1e-12, norms, 1.0), dtype=np.float32)


# ------------------------------------------------------------------------ artifacts
def save(embeddings: Embeddings, directory: Path, fingerprint: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_array(directory / "user_vectors.npy", embeddings.user_vectors)
    save_array(directory / "item_vectors.npy", embeddings.item_vectors)
    write_manifest(
        directory,
        EMBEDDINGS_KIND,
        ["user_vectors.npy", "item_vectors.npy"],
        fingerprint=True,
        dataset=fingerprint,
        before=int(embeddings.before),
        method=embeddings.method,
        dim=int(embeddings.item_vectors.shape[1]),
        iterations=ITERATIONS,
    )


def load(directory: Path, dataset: Dataset, before: int) -> tuple[Embeddings, str]:
    """The saved embeddings and their fingerprint; refuses other data or another cut-off."""
    manifest = read_manifest(directory, EMBEDDINGS_KIND)
    wanted = {"dataset": dataset.fingerprint, "before": before, "method": method_of(dataset)}
    if method_of(dataset) == "learned":
        wanted.update(dim=embedding_dim(dataset), iterations=ITERATIONS)
    if any(manifest.get(key) != value for key, value in wanted.items()):
        raise ArtifactError(
            f"{directory} was fitted for other data or another test window; rebuild with "
            f"`twostage build --data-dir {directory.parent.parent}`"
        )
    users = load_array(directory / "user_vectors.npy", dtype="float32", ndim=2)
    items = load_array(directory / "item_vectors.npy", dtype="float32", ndim=2)
    if users.shape != (dataset.users.n_users, items.shape[1]) or len(items) != dataset.catalog.n_items:
        raise ArtifactError(f"{directory}: the vectors do not match the data set's users and items")
    return Embeddings(users, items, before, str(manifest["method"])), str(manifest["fingerprint"])


def with_embeddings(dataset: Dataset, embeddings: Embeddings, fingerprint: str) -> Dataset:
    """The data set seen through other vectors. Its fingerprint names both, so indexes and
    models built on these vectors are refused with any others."""
    if embeddings.method == "generator":
        return dataset
    combined = hashlib.blake2b(f"{dataset.fingerprint}:{fingerprint}".encode(), digest_size=8).hexdigest()
    catalog = replace(dataset.catalog, vectors=embeddings.item_vectors)
    users = replace(dataset.users, vectors=embeddings.user_vectors)
    manifest = {**dataset.manifest, "fingerprint": combined, "dataset_fingerprint": dataset.fingerprint}
    opened = Dataset(dataset.directory, catalog, users, manifest)
    if "interactions" in dataset.__dict__:  # share the loaded log instead of reading it again
        opened.__dict__["interactions"] = dataset.interactions
    return opened


def ensure(
    layout: Layout, dataset: Dataset, config: EngineConfig, role: str, progress: Progress = no_progress
) -> bool:
    """Fit and save a role's embeddings unless they exist for this data and cut-off; True if fitted."""
    if method_of(dataset) == "generator":
        return False
    before = cutoff(dataset, config, role)
    directory = layout.embeddings(role)
    try:
        load(directory, dataset, before)
        return False
    except ArtifactError:
        pass
    save(fit(dataset, before, seed=config.model.seed, progress=progress), directory, dataset.fingerprint)
    return True


def open_dataset(layout: Layout, config: EngineConfig, role: str = SERVING) -> Dataset:
    """The data set with the vectors a role uses (the serving ones unless training)."""
    dataset = load_dataset(layout.dataset)
    if method_of(dataset) == "generator":
        return dataset
    embeddings, fingerprint = load(layout.embeddings(role), dataset, cutoff(dataset, config, role))
    return with_embeddings(dataset, embeddings, fingerprint)
