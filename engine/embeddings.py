"""Embeddings fitted as of a moment: stage 1's vectors never see the window they are judged on.

A data set says in its manifest where its vectors come from (`source.embeddings`):

* `learned`: implicit-feedback matrix factorisation (Hu, Koren and Volinsky 2008; or BPR) of
  the positive interactions before the cut-off, by the `implicit` library, with settings
  chosen on the data's own holdout (engine.factorise);
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

from engine.artifacts import load_array, read_manifest, save_array, write_manifest
from engine.config import EmbeddingsConfig, EngineConfig
from engine.data import Dataset, load_dataset
from engine.errors import ArtifactError
from engine.factorise import FitSettings, choose, fit_factors, interaction_matrix
from engine.layout import Layout
from engine.progress import Progress, no_progress
from engine.splits import Splits

EMBEDDINGS_KIND = "twostage.embeddings"
SERVING = "serving"
METHODS = ("learned", "given", "generator")


@dataclass(frozen=True)
class Embeddings:
    user_vectors: np.ndarray
    item_vectors: np.ndarray
    before: int
    method: str
    settings: FitSettings | None = None  # what the library was given (learned vectors only)


def method_of(dataset: Dataset) -> str:
    method = dataset.manifest.get("source", {}).get("embeddings", "generator")
    if method not in METHODS:
        raise ArtifactError(f"{dataset.directory}: unknown embedding source {method!r}; use one of {METHODS}")
    return method


def roles(config: EngineConfig) -> tuple[str, ...]:
    """`serving` (fitted before the test window) and `train-1`.. (before each training window)."""
    return (SERVING, *(f"train-{j + 1}" for j in range(config.model.train_windows)))


def cutoff(dataset: Dataset, config: EngineConfig, role: str) -> int:
    """The moment a role's embeddings are fitted before."""
    splits = Splits.of(dataset, config)
    if role == SERVING:
        return splits.test_from
    return splits.windows[int(role.removeprefix("train-")) - 1][0]


def fit(
    dataset: Dataset,
    before: int,
    *,
    settings: FitSettings | None = None,
    config: EngineConfig | None = None,
    seed: int = 0,
    progress: Progress = no_progress,
) -> Embeddings:
    """Vectors from the positive interactions strictly before `before`; learned ones with
    `settings`, else with the settings chosen on the holdout before `before`."""
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
    if settings is None:
        settings, _ = choose_settings(dataset, before, config or EngineConfig(), seed=seed, progress=progress)
    progress("learn embeddings", 0, 1)
    matrix = interaction_matrix(log.user[learn], log.item[learn], n_users, n_items)
    users, items = fit_factors(matrix, settings, seed)
    progress("learn embeddings", 1, 1)
    return Embeddings(users, items, before, method, settings)


def choose_settings(
    dataset: Dataset, before: int, config: EngineConfig, *, seed: int = 0, progress: Progress = no_progress
) -> tuple[FitSettings, dict]:
    """The grid point of `config.embeddings` that ranks best on the holdout before `before`."""
    log = dataset.interactions
    learn = log.clicked & (log.time < before)
    return choose(
        log.user[learn],
        log.item[learn],
        log.time[learn],
        dataset.users.n_users,
        dataset.catalog.n_items,
        _grid(dataset, config),
        seed=seed,
        progress=progress,
    )


def mean_of_positives(user: np.ndarray, item: np.ndarray, vectors: np.ndarray, n_users: int) -> np.ndarray:
    """Each user's mean liked item, normalised; users who liked nothing stay all zero. (The
    sum as one sparse product: `np.add.at` took 0.7 s per cut-off on the default data set.)"""
    likes = interaction_matrix(user, item, n_users, len(vectors))  # a repeated like counts again
    return _normalise(np.asarray(likes @ vectors.astype(np.float64)))


def _normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit rows; all-zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms > 1e-12, norms, 1.0), dtype=np.float32)


# ------------------------------------------------------------------------ artifacts
def _grid(dataset: Dataset, config: EngineConfig) -> EmbeddingsConfig:
    """`config.embeddings`, with only the fixed factor count where the import fixed one
    (`import --dim`)."""
    fixed = dataset.manifest.get("source", {}).get("embedding_dim")
    return config.embeddings.replace(factors=(int(fixed),)) if fixed else config.embeddings


def grid_of(dataset: Dataset, config: EngineConfig) -> dict | None:
    """What learned vectors are chosen from (None for other sources): refitted when it changes."""
    return _grid(dataset, config).model_dump(mode="json") if method_of(dataset) == "learned" else None


def save(
    embeddings: Embeddings, directory: Path, fingerprint: str, grid: dict | None, choice: dict | None = None
) -> None:
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
        grid=grid,
        settings=None if embeddings.settings is None else embeddings.settings.as_dict(),
        choice=choice,
    )


def load(directory: Path, dataset: Dataset, before: int, config: EngineConfig) -> tuple[Embeddings, str]:
    """The saved embeddings and their fingerprint; refuses other data, another cut-off or
    another grid of settings."""
    manifest = read_manifest(directory, EMBEDDINGS_KIND)
    wanted = {
        "dataset": dataset.fingerprint,
        "before": before,
        "method": method_of(dataset),
        "grid": grid_of(dataset, config),
    }
    if any(manifest.get(key) != value for key, value in wanted.items()):
        raise ArtifactError(
            f"{directory} was fitted for other data, another test window or other embedding "
            f"settings; rebuild with `twostage build --data-dir {directory.parent.parent}`"
        )
    users = load_array(directory / "user_vectors.npy", dtype="float32", ndim=2)
    items = load_array(directory / "item_vectors.npy", dtype="float32", ndim=2)
    if users.shape != (dataset.users.n_users, items.shape[1]) or len(items) != dataset.catalog.n_items:
        raise ArtifactError(f"{directory}: the vectors do not match the data set's users and items")
    settings = manifest.get("settings")
    embeddings = Embeddings(
        users, items, before, str(manifest["method"]), FitSettings(**settings) if settings else None
    )
    return embeddings, str(manifest["fingerprint"])


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
    """Fit and save a role's embeddings unless they exist for this data, cut-off and grid;
    True if fitted. Learned vectors of every role use the settings chosen once, on the
    holdout before the serving cut-off (the serving role is ensured first)."""
    if method_of(dataset) == "generator":
        return False
    before = cutoff(dataset, config, role)
    directory = layout.embeddings(role)
    try:
        load(directory, dataset, before, config)
        return False
    except ArtifactError:
        pass
    settings, choice = None, None
    if method_of(dataset) == "learned":
        if role == SERVING:
            settings, choice = choose_settings(
                dataset, before, config, seed=config.model.seed, progress=progress
            )
        else:
            serving, _ = load(layout.embeddings(SERVING), dataset, cutoff(dataset, config, SERVING), config)
            settings = serving.settings
    fitted = fit(dataset, before, settings=settings, seed=config.model.seed, progress=progress)
    save(fitted, directory, dataset.fingerprint, grid_of(dataset, config), choice)
    return True


def open_dataset(layout: Layout, config: EngineConfig, role: str = SERVING) -> Dataset:
    """The data set with the vectors a role uses (the serving ones unless training)."""
    dataset = load_dataset(layout.dataset)
    if method_of(dataset) == "generator":
        return dataset
    embeddings, fingerprint = load(layout.embeddings(role), dataset, cutoff(dataset, config, role), config)
    return with_embeddings(dataset, embeddings, fingerprint)
