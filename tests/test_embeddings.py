"""Learned vectors: implicit's ALS (or BPR) with settings chosen on the data's own holdout
before the cut-off, recorded in the manifest, refitted when the grid changes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.config import EmbeddingsConfig, load_config
from engine.data import Dataset, load_dataset
from engine.embeddings import fit, open_dataset
from engine.engine import Engine
from engine.errors import ArtifactError
from engine.factorise import FitSettings, Holdout, fit_factors, interaction_matrix
from engine.layout import Layout
from engine.splits import Splits
from lab.build import build
from sample_data.importer import import_dataset
from tests.test_import import write_generic


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, small_config: Path) -> Path:
    """A generic import (no embeddings given: learned), built with the small model."""
    root = tmp_path_factory.mktemp("learned")
    import_dataset(write_generic(root / "src", n_items=120, n_users=60), "generic", root / "data" / "dataset")
    build(Layout(root / "data"), None, ["exact"], config=load_config(small_config))
    return root / "data"


def test_the_choice_is_made_on_the_holdout_and_recorded(imported: Path) -> None:
    manifest = json.loads((imported / "embeddings" / "serving" / "manifest.json").read_text())
    grid = EmbeddingsConfig()
    settings, choice = manifest["settings"], manifest["choice"]
    assert settings["method"] == "als" and settings["factors"] in grid.factors
    assert settings["regularization"] in grid.regularization and settings["alpha"] in grid.alpha
    tried = {(t["factors"], t["regularization"], t["alpha"]): t["ndcg"] for t in choice["tried"]}
    chosen = (settings["factors"], settings["regularization"], settings["alpha"])
    assert tried[chosen] == max(tried.values()), "the best validation NDCG wins"
    assert len(tried) == len(grid.regularization) * len(grid.alpha) + len(grid.factors) - 1
    assert choice["validation_users"] > 0 and 0 <= choice["popularity_ndcg"] <= 1
    training = json.loads((imported / "embeddings" / "train-1" / "manifest.json").read_text())
    assert training["settings"] == settings and training["choice"] is None, "every role uses one choice"
    engine = Engine.open(imported)
    assert engine.catalog.dim == settings["factors"]


def test_another_grid_is_refused_until_rebuilt(imported: Path) -> None:
    other = load_config(None).replace(embeddings=EmbeddingsConfig(factors=(4,), regularization=(1.0,)))
    with pytest.raises(ArtifactError, match="other embedding settings; rebuild with `twostage build"):
        Engine.open(imported, other)


def test_learned_vectors_see_nothing_after_their_cut_off(imported: Path) -> None:
    dataset = load_dataset(imported / "dataset")
    cut = Splits.of(dataset).test_from
    log = dataset.interactions
    later = log.time >= cut
    rng = np.random.default_rng(0)
    scrambled = Dataset(dataset.directory, dataset.catalog, dataset.users, dataset.manifest)
    scrambled.__dict__["interactions"] = replace(
        log, item=np.where(later, rng.integers(0, dataset.catalog.n_items, len(log)), log.item)
    )
    settings = FitSettings("als", 8, 1.0, 1.0, 5)
    a, b = fit(dataset, cut, settings=settings), fit(scrambled, cut, settings=settings)
    np.testing.assert_array_equal(a.item_vectors, b.item_vectors)
    np.testing.assert_array_equal(a.user_vectors, b.user_vectors)
    assert not np.array_equal(
        a.item_vectors, fit(dataset, Splits.of(dataset).end, settings=settings).item_vectors
    )


def test_fit_factors_keeps_item_lengths_and_zeroes_the_unknown() -> None:
    rng = np.random.default_rng(3)
    users, items = rng.integers(0, 40, 600), rng.integers(0, 50, 600)
    items[items == 49] = 48  # item 49 is never seen
    matrix = interaction_matrix(users, items, 41, 50)  # user 40 is never seen
    assert matrix.sum() == 600 and matrix.shape == (41, 50)
    for method in ("als", "bpr"):
        user_vectors, item_vectors = fit_factors(matrix, FitSettings(method, 8, 0.1, 0.05, 20))
        assert user_vectors.dtype == item_vectors.dtype == np.float32
        assert not user_vectors[40].any() and not item_vectors[49].any()
        np.testing.assert_allclose(np.linalg.norm(user_vectors[:40], axis=1), 1.0, rtol=1e-5)
        lengths = np.linalg.norm(item_vectors[:49], axis=1)
        assert lengths.std() > 0.01 * lengths.mean(), "item lengths are kept, not unit rows"


def test_holdout_keeps_each_users_latest_positives_apart() -> None:
    users = np.repeat(np.arange(3), [10, 4, 6])  # user 1 has too few positives to hold out
    items = np.arange(20) % 7
    times = np.arange(20)[::-1].copy()  # the log's order is not time order
    holdout = Holdout.of(users, items, times, 3, 7, most=10)
    assert holdout.users.tolist() == [0, 2]
    held = holdout.relevant
    assert held[0].nnz == 2 and held[2].nnz == 1 and held[1].nnz == 0
    # user 0's latest two (times 19 and 18: rows 0 and 1) are held out, the rest train
    assert sorted(held[0].indices.tolist()) == [items[0], items[1]]
    assert holdout.train.sum() + held.sum() == 20
    # a scorer that puts exactly the held-out items first is perfect; one that ranks them last is not
    perfect = held.toarray().astype(np.float32)
    assert holdout.ndcg(perfect, np.eye(7, dtype=np.float32)) == pytest.approx(1.0)
    assert holdout.ndcg(-perfect, np.eye(7, dtype=np.float32)) < 0.9, "held-out items ranked last"


def test_the_given_source_needs_no_choice(small_dir: Path) -> None:
    """The default synthetic set brings content vectors: users are the mean of their likes."""
    manifest = json.loads((small_dir / "embeddings" / "serving" / "manifest.json").read_text())
    assert manifest["method"] == "given" and manifest["settings"] is None and manifest["grid"] is None
    dataset = open_dataset(Layout(small_dir), load_config(None))
    stored = load_dataset(small_dir / "dataset")
    np.testing.assert_array_equal(dataset.catalog.vectors, stored.catalog.vectors)
    assert np.abs(np.linalg.norm(dataset.users.vectors, axis=1) - 1).min() < 1e-5
