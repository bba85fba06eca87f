"""The generator: deterministic, sized by its parameters, and with a ground truth that
depends on signals no embedding holds."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.data import load_dataset
from engine.engine import Engine
from engine.errors import DataFormatError
from sample_data import synthetic
from sample_data.click_model import Hidden, price_match
from sample_data.synthetic import SyntheticParams, generate
from tests.conftest import SMALL


def _digests(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text())["files"]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    synthetic.write(tmp_path / "a", SMALL)
    synthetic.write(tmp_path / "b", SMALL)
    synthetic.write(tmp_path / "c", SyntheticParams(**{**SMALL.__dict__, "seed": SMALL.seed + 1}))
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert _digests(tmp_path / "a")["item_vectors.npy"] != _digests(tmp_path / "c")["item_vectors.npy"]


def test_manifest_records_generator_parameters(small_dir: Path) -> None:
    dataset = load_dataset(small_dir / "dataset")
    assert dataset.manifest["source"]["params"]["n_items"] == SMALL.n_items
    assert dataset.manifest["source"]["params"]["seed"] == SMALL.seed
    assert dataset.manifest["source"]["embeddings"] == "given", "content vectors, a user's the mean of likes"
    assert dataset.manifest["format_version"] == 1
    assert dataset.catalog.n_items == SMALL.n_items and dataset.catalog.dim == SMALL.dim
    assert "hidden.npz" in dataset.manifest["files"]


def test_hidden_terms_do_not_change_the_vectors_and_stage_1_does_not_get_them(small_dir: Path) -> None:
    """The hidden terms and the content noise come from their own streams; stage 1 searches
    content vectors (a noisy view of the true ones) and users made of what they liked."""
    catalog, _, _, hidden = synthetic.generate(SMALL)
    stored = load_dataset(small_dir / "dataset")
    np.testing.assert_array_equal(stored.catalog.vectors, catalog.vectors)
    loaded = Hidden.load(small_dir / "dataset")
    np.testing.assert_array_equal(loaded.quality, hidden.quality)
    np.testing.assert_array_equal(loaded.item_vectors, hidden.item_vectors)
    truth = synthetic.generate(replace(SMALL, embeddings="generator"))[0]
    np.testing.assert_array_equal(truth.vectors, hidden.item_vectors)  # the same truth either way
    agreement = np.einsum("ij,ij->i", catalog.vectors, hidden.item_vectors)
    assert 0.8 < agreement.mean() < 0.99, "a noisy view of the truth, not the truth"
    assert not stored.users.vectors.any(), "the data set holds no user vector to copy"
    served = Engine.open(small_dir)
    known = served.users.vectors.any(axis=1)
    assert known.mean() > 0.9
    taste = np.einsum("ij,ij->i", served.users.vectors[known], hidden.user_vectors[known])
    assert taste.mean() > 0.3, "a user's mean of likes points toward their true taste"


@pytest.fixture(scope="module")
def data():
    return generate(SyntheticParams(n_items=20_000, n_users=3_000, dim=32, items_per_topic=200, seed=5))


def test_item_attributes_have_the_documented_shape(data) -> None:
    catalog, _, _, _ = data
    np.testing.assert_allclose(np.linalg.norm(catalog.vectors, axis=1), 1.0, atol=1e-5)
    assert 0.05 < (catalog.inventory == 0).mean() < 0.12
    assert catalog.promoted.sum() >= 5
    # Heavy tail: the top 1 % of items hold a large share of the popularity mass.
    top = np.sort(catalog.popularity)[::-1][: len(catalog.popularity) // 100]
    assert top.sum() / catalog.popularity.sum() > 0.1
    assert len(set(catalog.category.tolist())) == 30
    assert catalog.titles[0].endswith("#0") and len(catalog.titles) == catalog.n_items
    assert (catalog.created_at <= synthetic.NOW).all()


def test_history_is_the_users_clicks_in_time_order(data) -> None:
    _, users, log, _ = data
    assert users.history_offsets[-1] == log.clicked.sum()
    for user in (0, 1, 2, 500):
        items, times = users.history(user)
        clicks = (log.user == user) & log.clicked
        assert items.tolist() == log.item[clicks].tolist()
        assert (np.diff(times) >= 0).all()
    lengths = np.diff(users.history_offsets)
    assert lengths.max() >= 5 * max(1, np.median(lengths)), "some users need long histories"


def _ctr_gap(log, signal: np.ndarray, control: np.ndarray | None = None) -> float:
    """Click-rate difference between high and low `signal`, within quintiles of `control`."""
    n_bins = 1 if control is None else 5
    bins = (
        np.zeros(len(signal), dtype=int)
        if control is None
        else np.argsort(np.argsort(control)) * 5 // len(control)
    )
    gaps = []
    for b in range(n_bins):
        in_bin = bins == b
        high = in_bin & (signal > np.median(signal[in_bin]))
        low = in_bin & (signal <= np.median(signal[in_bin]))
        gaps.append(log.clicked[high].mean() - log.clicked[low].mean())
    return float(np.mean(gaps))


def test_clicks_depend_on_signals_that_no_vector_holds(data) -> None:
    catalog, users, log, hidden = data
    catalog, users = hidden.truth(catalog, users)
    similarity = np.einsum("ij,ij->i", users.vectors[log.user], catalog.vectors[log.item])
    assert _ctr_gap(log, similarity) > 0.02
    # At equal embedding similarity, each non-vector signal still moves the click rate.
    affinity = users.category_affinity.lookup(log.user, catalog.category[log.item])
    fresh = -(log.time - catalog.created_at[log.item]).astype(np.float64)
    popularity = catalog.popularity[log.item]
    match = price_match(catalog, users, log.user, log.item)
    for name, signal in [
        ("affinity", affinity),
        ("freshness", fresh),
        ("popularity", popularity),
        ("price match", match),
    ]:
        assert _ctr_gap(log, signal, similarity) > 0.005, name
    # ... and so do the hidden terms, which no feature reads.
    assert _ctr_gap(log, hidden.quality[log.item], similarity) > 0.005, "hidden quality"
    assert _ctr_gap(log, hidden.logit(log.user, log.item), similarity) > 0.01, "hidden terms"
    in_stock = catalog.inventory[log.item] > 0
    assert log.clicked[in_stock].mean() > 2 * log.clicked[~in_stock].mean()
    assert not log.purchased[~in_stock].any()
    assert (log.purchased <= log.clicked).all()


@pytest.mark.parametrize(
    ("field", "value"), [("n_items", 10), ("dim", 1), ("n_categories", 99), ("impressions_per_user", 0)]
)
def test_out_of_range_parameters_are_refused(field: str, value: int) -> None:
    with pytest.raises(DataFormatError, match=f"{field} must be in"):
        SyntheticParams(**{field: value})
