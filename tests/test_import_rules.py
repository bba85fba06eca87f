"""The importer's rules for logs as they come (docs/data-format.md): no titles, other rating
scales, weights, a label beside a rating, repeated pairs, items missing from the items file,
many categories, and per-user category profiles that stay sparse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from engine.data import CategoryAffinity, favourite_categories, load_dataset
from engine.errors import DataFormatError
from sample_data.importer import ImportOptions, import_dataset, read_movielens


def write_log(folder: Path, items: list[str], interactions: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.csv").write_text("\n".join(items) + "\n")
    (folder / "interactions.csv").write_text("\n".join(interactions) + "\n")
    return folder


def labels_of(directory: Path) -> list[int]:
    """Each stored interaction's label (0 seen, 1 positive, 2 strong), in user-then-time order."""
    log = load_dataset(directory).interactions
    return (log.clicked.astype(int) + log.purchased.astype(int)).tolist()


def rated(column: str, values: list[str]) -> list[str]:
    return [f"user_id,item_id,timestamp,{column}"] + [
        f"u{i % 2},i{i % 3},{1_600_000_000 + i},{value}" for i, value in enumerate(values)
    ]


ITEMS = ["item_id,category", "i0,A", "i1,B", "i2,A"]


def test_a_log_without_titles_or_categories_imports_with_the_ids_standing_in(tmp_path: Path) -> None:
    source = write_log(tmp_path / "src", ["item_id", "i0", "i1", "i2"], rated("rating", ["5"] * 6))
    import_dataset(source, "generic", tmp_path / "out", dim=4)
    catalog = load_dataset(tmp_path / "out").catalog
    assert catalog.titles.take(range(3)) == ["i0", "i1", "i2"]
    assert catalog.category_names == ("Unknown",) and set(catalog.category.tolist()) == {0}


def test_rating_thresholds_are_options_and_a_weight_column_reads_the_same(tmp_path: Path) -> None:
    ten_scale = ["2", "7", "9", "10", "6.5", "8"]
    source = write_log(tmp_path / "src", ITEMS, rated("rating", ten_scale))
    import_dataset(source, "generic", tmp_path / "default", dim=4)
    by_default = labels_of(tmp_path / "default")
    assert sorted(by_default) == [0, 2, 2, 2, 2, 2], "1-5 thresholds: 4 positive, 5 strong"
    options = ImportOptions(positive_rating=7, strong_rating=9)
    manifest = import_dataset(source, "generic", tmp_path / "ten", dim=4, options=options)
    assert sorted(labels_of(tmp_path / "ten")) == [0, 0, 1, 1, 2, 2]
    assert manifest["source"]["positive_rating"] == 7 and manifest["source"]["strong_rating"] == 9
    plays = write_log(tmp_path / "plays", ITEMS, rated("weight", ["1", "3", "12", "0", "2", "30"]))
    import_dataset(
        plays, "generic", tmp_path / "w", dim=4, options=ImportOptions(positive_rating=2, strong_rating=10)
    )
    assert sorted(labels_of(tmp_path / "w")) == [0, 0, 1, 1, 2, 2]
    with pytest.raises(
        DataFormatError, match=r"--strong-rating \(3\) must be at least --positive-rating \(4\)"
    ):
        ImportOptions(positive_rating=4, strong_rating=3)


def test_a_label_beside_a_rating_is_refused_unless_told_which_wins(tmp_path: Path) -> None:
    rows = ["user_id,item_id,timestamp,label,rating"]
    rows += ["u0,i0,1600000000,0,5", "u0,i1,1600000001,2,1", "u0,i2,1600000002,,5", "u1,i0,1600000003,1,"]
    source = write_log(tmp_path / "src", ITEMS, rows)
    with pytest.raises(DataFormatError, match=r"both 'label' and 'rating'.*--prefer label or --prefer score"):
        import_dataset(source, "generic", tmp_path / "a", dim=4)
    import_dataset(source, "generic", tmp_path / "label", dim=4, options=ImportOptions(prefer="label"))
    import_dataset(source, "generic", tmp_path / "score", dim=4, options=ImportOptions(prefer="score"))
    # the preferred column decides where it has a value, the other fills its empty cells
    assert labels_of(tmp_path / "label") == [0, 2, 2, 1]
    assert labels_of(tmp_path / "score") == [2, 0, 2, 1]
    both = write_log(tmp_path / "both", ITEMS, ["user_id,item_id,timestamp,rating,weight", "u0,i0,1,5,2"])
    with pytest.raises(DataFormatError, match="both 'rating' and 'weight'"):
        import_dataset(both, "generic", tmp_path / "b", dim=4)


def test_repeated_pairs_are_separate_events(tmp_path: Path) -> None:
    """As docs/data-format.md says: every row is an event. A pair seen twice is two clicks in
    the history and the counters; the seen-items filter and the judged test set hold it once."""
    rows = ["user_id,item_id,timestamp", "u0,i0,1600000000", "u0,i0,1600086400", "u1,i1,1600000000"]
    import_dataset(write_log(tmp_path / "src", ITEMS, rows), "generic", tmp_path / "out", dim=4)
    dataset = load_dataset(tmp_path / "out")
    assert len(dataset.interactions) == 3
    items, times = dataset.users.history(0)
    assert items.tolist() == [0, 0] and times.tolist() == [1_600_000_000, 1_600_086_400]


def test_items_missing_from_the_items_file_are_refused_or_added_by_flag(tmp_path: Path, capsys) -> None:
    rows = [*rated("rating", ["5", "4", "5", "4"]), "u0,i7,1600000100,5", "u1,i9,1600000200,5"]
    source = write_log(tmp_path / "src", ITEMS, rows)
    with pytest.raises(
        DataFormatError, match=r"row 6, column 'item_id': 'i7' is not in items\.csv \(2 items"
    ):
        import_dataset(source, "generic", tmp_path / "a", dim=4)
    added = ImportOptions(missing_items="add")
    manifest = import_dataset(source, "generic", tmp_path / "b", dim=4, options=added)
    catalog = load_dataset(tmp_path / "b").catalog
    assert manifest["source"]["items_added_from_log"] == 2 and catalog.n_items == 5
    assert catalog.titles.take([3, 4]) == ["i7", "i9"]
    assert [catalog.category_names[c] for c in catalog.category[3:]] == ["Unknown", "Unknown"]
    code = main(
        ["import", str(source), "--data-dir", str(tmp_path / "c"), "--no-build", "--missing-items", "add"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "warning: 2 items named in the log were not in the items file" in out
    assert "steps: read items" in out and "convert" in out and "write" in out


def test_categories_beyond_int16_and_profiles_that_stay_sparse(tmp_path: Path) -> None:
    n = 40_000  # more categories than int16 holds
    items = ["item_id,category"] + [f"i{i},c{i:05d}" for i in range(n)]
    rows = ["user_id,item_id,timestamp"] + [
        f"u{i % 50},i{i * 397 % n},{1_600_000_000 + i}" for i in range(500)
    ]
    import_dataset(write_log(tmp_path / "src", items, rows), "generic", tmp_path / "out", dim=4)
    dataset = load_dataset(tmp_path / "out")
    assert dataset.catalog.category.dtype == np.int32 and dataset.catalog.category[n - 1] == n - 1
    assert dataset.catalog.category_names[n - 1] == f"c{n - 1:05d}"
    # 50 users x 40,000 categories would be 8 MB dense; a log declares no profiles: nothing stored
    assert len(dataset.users.category_affinity.keys) == 0
    assert (tmp_path / "out" / "users.npz").stat().st_size < 100_000


def test_sparse_category_affinity_matches_the_dense_matrix_it_replaces(rng) -> None:
    dense = rng.random((30, 7)).astype(np.float32)
    dense[dense < 0.6] = 0  # most pairs absent
    dense[4] = 0  # a user without a profile
    dense[5, 2] = dense[5, 5] = 0.9  # a tie: the lower code wins, as argmax does
    sparse = CategoryAffinity.from_dense(dense)
    users, categories = rng.integers(0, 30, 500), rng.integers(0, 7, 500)
    np.testing.assert_array_equal(sparse.lookup(users, categories), dense[users, categories])
    expected = np.where(dense.any(axis=1), dense.argmax(axis=1), -1)
    np.testing.assert_array_equal(sparse.strongest(30), expected)
    assert CategoryAffinity.empty(7).lookup(users, categories).sum() == 0


def test_the_retail_shaped_log_imports_as_its_docstring_says(tmp_path: Path) -> None:
    """The sizing log (sample_data/shaped_log.py) needs the flags it names, and has what it
    promises: millisecond times, repeated pairs, items only the log knows."""
    from sample_data.shaped_log import write_shaped_log

    source = write_shaped_log(
        tmp_path / "log", n_interactions=5_000, n_items=1_000, n_users=200, n_categories=50
    )
    with pytest.raises(DataFormatError, match="--time-unit ms"):
        import_dataset(source, "generic", tmp_path / "a", dim=4)
    options = ImportOptions(time_unit="ms", missing_items="add")
    manifest = import_dataset(source, "generic", tmp_path / "b", dim=4, options=options)
    assert manifest["source"]["items_added_from_log"] > 0 and manifest["n_interactions"] == 5_000
    log = load_dataset(tmp_path / "b").interactions
    pairs = log.user * manifest["n_items"] + log.item
    assert len(np.unique(pairs)) < len(pairs), "repeated pairs"
    assert log.time.min() >= 1_577_836_800 and log.time.max() < 1_577_836_800 + 2 * 365 * 86_400


def test_favourite_categories_come_from_the_profile_or_else_the_clicks(tmp_path: Path) -> None:
    rows = ["user_id,item_id,timestamp", "u0,i0,1", "u0,i2,2", "u0,i1,3", "u1,i1,4"]
    import_dataset(write_log(tmp_path / "src", ITEMS, rows), "generic", tmp_path / "out", dim=4)
    dataset = load_dataset(tmp_path / "out")
    names = dataset.catalog.category_names
    assert [names[c] for c in favourite_categories(dataset)] == ["A", "B"], "u0 clicked A twice, B once"


def test_movielens_users_are_numbered_in_id_order_and_text_ids_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "movies.csv").write_text("movieId,title,genres\n1,A (1999),Drama\n2,B,Comedy\n")
    ratings = ["userId,movieId,rating,timestamp"]
    for user in ("10", "2", "33", "2"):
        ratings.append(f"{user},1,4.0,1600000000")
    (folder / "ratings.csv").write_text("\n".join(ratings) + "\n")
    assert read_movielens(folder).user_keys.tolist() == ["2", "10", "33"], "numeric, not text, order"
    (folder / "ratings.csv").write_text("\n".join([*ratings, "alice,2,5.0,1600000001"]) + "\n")
    assert read_movielens(folder).user_keys.tolist() == ["10", "2", "33", "alice"]
