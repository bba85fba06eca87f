"""Bring your own data: the generic CSV layout (docs/data-format.md) and MovieLens.

Both are read into one `Table` of columns, checked, and converted into the engine's data set:
ids are renumbered densely in file order, embeddings are learned when none are given, and
attributes the data lacks are listed as absent (their features are left out). The data set is
written to a temporary folder and renamed into place, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.artifacts import load_array
from engine.data import Catalog, CategoryAffinity, Interactions, StringColumn, Users, save_dataset
from engine.errors import ArtifactError, DataFormatError
from engine.progress import Progress, no_progress
from sample_data.log_rules import DEFAULT_OPTIONS, UNKNOWN_CATEGORY, ImportOptions, items_from_log, labels
from sample_data.movielens_files import read_movielens_files
from sample_data.tables import Keys, check_unique, read_table
from sample_data.timestamps import convert_numbers, parse_times

ITEM_OPTIONAL = {
    "price": "float",
    "margin": "float",
    "inventory": "int",
    "created_at": "int",
    "popularity": "float",
    "promoted": "int",
}
#: missing values of these attributes take the median of the known ones (a typical value)
MEDIAN_FILLED = ("price", "margin", "popularity")


@dataclass
class Table:
    """What an adapter read, before conversion. `label`: 0 seen, 1 positive, 2 strongly positive."""

    item_keys: np.ndarray
    titles: list[str]
    categories: list[str]
    item_attributes: dict[str, np.ndarray]
    user_keys: np.ndarray
    user_attributes: dict[str, np.ndarray]
    inter_user: Keys
    inter_item: Keys
    inter_time: np.ndarray
    label: np.ndarray
    embeddings: np.ndarray | None = None
    source: dict[str, Any] = field(default_factory=dict)
    #: for error messages: the interactions file, its first data row, the items and users files
    files: tuple[str, int, str, str] = ("interactions.csv", 2, "items.csv", "users.csv")


def read_generic(
    folder: Path, options: ImportOptions = DEFAULT_OPTIONS, progress: Progress = no_progress
) -> Table:
    progress("read items", 0, 1)
    items_path, items, first = read_table(
        folder / "items", {"item_id": "str"}, {"title": "str", "category": "str", **ITEM_OPTIONAL}
    )
    check_unique(items_path, "item_id", items["item_id"], first)
    progress("read items", 1, 1)
    progress("read interactions", 0, 1)
    inter_path, inter, inter_first = read_table(
        folder / "interactions",
        {"user_id": "key", "item_id": "key", "timestamp": "str"},
        {"rating": "float", "weight": "float", "label": "int"},
    )
    times = parse_times(inter["timestamp"], options.time_unit, inter_path, "timestamp", inter_first)
    if "created_at" in items:
        items["created_at"] = convert_numbers(
            items["created_at"], options.time_unit, items_path, "created_at", first
        )
    label = labels(inter, options, inter_path, inter_first)
    progress("read interactions", 1, 1)
    progress("read users", 0, 1)
    user_keys, user_attributes = _users(folder, inter["user_id"])
    progress("read users", 1, 1)
    embeddings = None
    if (folder / "item_embeddings.npy").exists():
        try:
            embeddings = load_array(folder / "item_embeddings.npy", dtype="float32", ndim=2, mmap=False)
        except ArtifactError as exc:
            raise DataFormatError(str(exc)) from None
        if len(embeddings) != len(items["item_id"]):
            raise DataFormatError(
                f"{folder / 'item_embeddings.npy'} has {len(embeddings)} rows, items.csv has "
                f"{len(items['item_id'])}; row i must be the embedding of items.csv's item i"
            )
    keys = items["item_id"]
    titles = items.get("title", np.full(len(keys), "", dtype=object))
    categories = items.get("category", np.full(len(keys), "", dtype=object))
    return Table(
        item_keys=keys,
        titles=[title or key for title, key in zip(titles.tolist(), keys.tolist(), strict=True)],
        categories=[c.split("|")[0] or UNKNOWN_CATEGORY for c in categories.tolist()],
        item_attributes={k: items[k] for k in ITEM_OPTIONAL if k in items},
        user_keys=user_keys,
        user_attributes=user_attributes,
        inter_user=inter["user_id"],
        inter_item=inter["item_id"],
        inter_time=times,
        label=label,
        embeddings=embeddings,
        source={"format": "generic", "path": str(folder)},
        files=(
            inter_path.name,
            inter_first,
            items_path.name,
            "users" + (".parquet" if (folder / "users.parquet").exists() else ".csv"),
        ),
    )


def _users(folder: Path, interaction_users: Keys) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if not (folder / "users.csv").exists() and not (folder / "users.parquet").exists():
        return np.array(sorted(interaction_users.distinct.tolist()), dtype=object), {}
    path, users, first = read_table(
        folder / "users", {"user_id": "str"}, {"segment": "str", "price_sensitivity": "float"}
    )
    check_unique(path, "user_id", users["user_id"], first)
    return users["user_id"], {k: users[k] for k in ("segment", "price_sensitivity") if k in users}


def read_movielens(
    folder: Path, options: ImportOptions = DEFAULT_OPTIONS, progress: Progress = no_progress
) -> Table:
    """Any MovieLens release (`sample_data/movielens_files.py`; tags are not needed): genres
    become categories, the year in the title the release time, and ratings are scored by the
    thresholds (4 and 5 unless told)."""
    progress("read movies and ratings", 0, 1)
    files = read_movielens_files(folder)
    movies, ratings = files.movies, files.ratings
    check_unique(folder / files.movies_name, "movieId", movies["movieId"], files.first_row)
    ratings_path = folder / files.ratings_name
    ratings["timestamp"] = parse_times(
        ratings["timestamp"], options.time_unit, ratings_path, "timestamp", files.first_row
    )
    progress("read movies and ratings", 1, 1)
    years = [re.search(r"\((\d{4})\)\s*$", title) for title in movies["title"]]
    first = int(ratings["timestamp"].min()) if len(ratings["timestamp"]) else 0
    created = np.array(
        [int(datetime(int(y.group(1)), 1, 1, tzinfo=UTC).timestamp()) if y else first for y in years],
        dtype=np.int64,
    )
    genres = [
        g.split("|")[0] if g and g != "(no genres listed)" else UNKNOWN_CATEGORY for g in movies["genres"]
    ]
    return Table(
        item_keys=movies["movieId"],
        titles=list(movies["title"]),
        categories=genres,
        item_attributes={"created_at": created},
        user_keys=_in_id_order(ratings["userId"].distinct),
        user_attributes={},
        inter_user=ratings["userId"],
        inter_item=ratings["movieId"],
        inter_time=ratings["timestamp"],
        label=options.label_of(ratings["rating"]),
        source={"format": "movielens", "path": str(folder)},
        files=(files.ratings_name, files.first_row, files.movies_name, files.ratings_name),
    )


def _in_id_order(ids: np.ndarray) -> np.ndarray:
    """MovieLens numbers its users: user 2 comes before user 10. Ids that are not all whole
    numbers (a file from elsewhere in this layout) are sorted as text."""
    values = ids.tolist()
    try:
        return np.array(sorted(values, key=int), dtype=object)
    except ValueError:
        return np.array(sorted(values), dtype=object)


READERS = {"generic": read_generic, "movielens": read_movielens}


def import_dataset(
    source: Path,
    format_name: str,
    destination: Path,
    *,
    dim: int | None = None,
    force: bool = False,
    options: ImportOptions = DEFAULT_OPTIONS,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Read, check, convert and write; returns the new data set's manifest (its `source`
    records the options used and how many items were added from the log)."""
    if format_name not in READERS:
        raise DataFormatError(f"unknown format '{format_name}'; use one of: {', '.join(READERS)}")
    if dim is not None and dim < 1:
        raise DataFormatError(f"--dim must be a positive number of dimensions, got {dim}")
    if not source.is_dir():
        raise DataFormatError(f"{source} is not a folder; pass the folder that holds the CSV files")
    if destination.exists() and not force:
        raise DataFormatError(f"{destination} already holds a data set; pass --force to replace it")
    table = READERS[format_name](source, options, progress)
    table, added = items_from_log(table, options.missing_items)
    progress("convert", 0, 1)
    catalog, users, interactions, attributes = convert(table, dim, progress)
    progress("convert", 1, 1)
    progress("write", 0, 1)
    temporary = destination.with_name(f".{destination.name}.importing")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        manifest = save_dataset(
            temporary,
            catalog,
            users,
            interactions,
            now=int(interactions.time.max()) + 1,
            source={
                **table.source,
                "embedding_dim": dim if table.embeddings is None else catalog.dim,
                "embeddings": "learned" if table.embeddings is None else "given",
                "log": "consumptions",
                "positive_rating": options.positive_rating,
                "strong_rating": options.strong_rating,
                "prefer": options.prefer,
                "items_added_from_log": added,
            },
            attributes=attributes,
        )
        if destination.exists():
            shutil.rmtree(destination)
        temporary.rename(destination)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    progress("write", 1, 1)
    return manifest


def convert(
    table: Table, dim: int | None, progress: Progress
) -> tuple[Catalog, Users, Interactions, tuple[str, ...]]:
    n_items, n_users = len(table.item_keys), len(table.user_keys)
    if n_items == 0 or len(table.inter_user) == 0:
        raise DataFormatError("the data set needs at least one item and one interaction")
    inter_file, first_row, items_file, users_file = table.files
    item = _lookup(table.inter_item, table.item_keys, inter_file, first_row, "item_id", items_file)
    user = _lookup(table.inter_user, table.user_keys, inter_file, first_row, "user_id", users_file)
    order = np.lexsort((table.inter_time, user))
    user, item, time, label = user[order], item[order], table.inter_time[order], table.label[order]
    positive = label > 0
    # Vectors are fitted by `twostage build`, once per cut-off (engine.embeddings), so that no
    # window's interactions reach the embeddings that judge or train it. Until then the data
    # set holds the given item embeddings, or zeros of the requested size.
    if table.embeddings is None:  # a placeholder: the build chooses the size unless `dim` fixes it
        item_vectors = np.zeros((n_items, dim or 32), dtype=np.float32)
    else:
        item_vectors = table.embeddings / np.maximum(
            np.linalg.norm(table.embeddings, axis=1, keepdims=True), 1e-9
        )
    user_vectors = np.zeros((n_users, item_vectors.shape[1]), dtype=np.float32)
    names, category = np.unique(np.array(table.categories, dtype=str), return_inverse=True)
    names, category = names.tolist(), category.astype(np.int32)
    attrs = {k: v for k, v in table.item_attributes.items() if not _all_missing(v)}
    neutral = {"price": 1.0, "margin": 0.0, "created_at": int(time.min()), "inventory": 1, "popularity": 1.0}

    def column(name: str, dtype: type) -> np.ndarray:
        """The attribute with missing values filled (the median where a typical value is
        neutral, else the value an absent column gets); absent: all neutral."""
        values = attrs.get(name)
        if values is None:
            return np.full(n_items, neutral.get(name, 0), dtype=dtype)
        missing = np.isnan(values)
        fill = float(np.median(values[~missing])) if name in MEDIAN_FILLED else neutral.get(name, 0)
        return np.where(missing, fill, values).astype(dtype)

    catalog = Catalog(
        vectors=np.ascontiguousarray(item_vectors, dtype=np.float32),
        category=category,
        price=column("price", np.float32),
        margin=column("margin", np.float32),
        created_at=column("created_at", np.int64),
        inventory=column("inventory", np.int32),
        popularity=np.maximum(column("popularity", np.float32), 1e-6),
        promoted=column("promoted", np.float32) > 0,
        titles=StringColumn.from_strings(table.titles),
        category_names=tuple(names),
    )
    user_attrs = {k: v for k, v in table.user_attributes.items() if not _all_missing(v)}
    segments = user_attrs.get("segment")
    if segments is not None:
        segments = np.where(segments == "", "unknown", segments)
    segment_names = tuple(sorted(set(segments.tolist()))) if segments is not None else ("all",)
    sensitivity = user_attrs.get("price_sensitivity", np.full(n_users, np.nan))
    offsets = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(user[positive], minlength=n_users), out=offsets[1:])
    users = Users(
        vectors=user_vectors,
        segment=(
            np.array([segment_names.index(s) for s in segments.tolist()])
            if segments is not None
            else np.zeros(n_users)
        ).astype(np.int8),
        price_sensitivity=np.where(np.isnan(sensitivity), 0.5, sensitivity).astype(np.float32),
        category_affinity=CategoryAffinity.empty(len(names)),  # no declared profiles in a log
        history_offsets=offsets,
        history_items=item[positive].astype(np.int64),
        history_times=time[positive].astype(np.int64),
        segment_names=segment_names,
    )
    interactions = Interactions(
        user=user.astype(np.int64),
        item=item.astype(np.int64),
        time=time.astype(np.int64),
        clicked=positive,
        purchased=label > 1,
    )
    attributes = tuple(sorted(set(attrs) | set(user_attrs)))
    return catalog, users, interactions, attributes


def _all_missing(values: np.ndarray) -> bool:
    """A column with no value at all is an absent attribute."""
    if values.dtype.kind == "f":
        return bool(np.isnan(values).all())
    return bool((values == "").all())


def _lookup(keys: Keys, index: np.ndarray, file: str, first_row: int, column: str, table: str) -> np.ndarray:
    """The row of each key in `index`; the first key it lacks is an error naming its row."""
    rows = keys.rows_in(index)
    missing = np.flatnonzero(rows < 0)
    if len(missing):
        row = int(missing[0])
        raise DataFormatError(
            f"{file}, row {row + first_row}, column '{column}': {keys.at(row)!r} is not in {table}"
        )
    return rows
