"""The rules the importer applies to a log as it comes (each stated in docs/data-format.md):
how rows become labels, and what happens to items the log names but the items file lacks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from engine.errors import DataFormatError
from sample_data.tables import positions

if TYPE_CHECKING:
    from sample_data.importer import Table

UNKNOWN_CATEGORY = "Unknown"


@dataclass(frozen=True)
class ImportOptions:
    """What a log leaves open, said by the user (docs/data-format.md): the timestamps' unit,
    which scores count as positive and strong, which column wins when a log has both a label
    and a score, and what to do with items the log names but items.csv lacks."""

    time_unit: str | None = None
    positive_rating: float = 4.0
    strong_rating: float = 5.0
    prefer: Literal["label", "score"] | None = None
    missing_items: Literal["refuse", "add"] = "refuse"

    def __post_init__(self) -> None:
        if not self.strong_rating >= self.positive_rating:
            raise DataFormatError(
                f"--strong-rating ({self.strong_rating:g}) must be at least --positive-rating "
                f"({self.positive_rating:g})"
            )

    def label_of(self, score: np.ndarray) -> np.ndarray:
        """0 seen, 1 positive, 2 strong, from a rating or weight."""
        return (score >= self.positive_rating).astype(np.int64) + (score >= self.strong_rating)


DEFAULT_OPTIONS = ImportOptions()


def labels(inter: dict[str, np.ndarray], options: ImportOptions, path: Path, first: int) -> np.ndarray:
    """Each row's label: 0 seen, 1 positive, 2 strong. A `label` column says it outright; a
    `rating` or `weight` (play counts, quantities) is scored by the thresholds; a row with
    neither is a positive (implicit feedback). With both, `options.prefer` decides, and the
    other fills the rows where the preferred one is empty."""
    if "rating" in inter and "weight" in inter:
        raise DataFormatError(f"{path}: has both 'rating' and 'weight'; keep the one that scores the rows")
    score_name = "rating" if "rating" in inter else "weight" if "weight" in inter else None
    if "label" in inter and score_name and options.prefer is None:
        raise DataFormatError(
            f"{path}: has both 'label' and '{score_name}', which may disagree; say which decides "
            "with --prefer label or --prefer score"
        )
    label = np.ones(len(inter["user_id"]), dtype=np.int64)
    given_label = np.zeros(len(label), dtype=bool)
    if "label" in inter:
        given_label = ~np.isnan(inter["label"])
        bad = np.flatnonzero(given_label & ~np.isin(inter["label"], (0, 1, 2)))
        if len(bad):
            raise DataFormatError(f"{path}, row {bad[0] + first}, column 'label': use 0, 1 or 2")
    scored = np.zeros(len(label), dtype=bool)
    if score_name is not None:
        scored = ~np.isnan(inter[score_name])
        label[scored] = options.label_of(inter[score_name][scored])
    if "label" in inter:
        by_label = given_label & ~scored if options.prefer == "score" else given_label
        label[by_label] = inter["label"][by_label]
    return label


def items_from_log(table: Table, missing_items: str) -> tuple[Table, int]:
    """Items the log names that items.csv lacks: refused (naming the first), or added with
    every attribute missing (the id as title, category Unknown, no embedding)."""
    log_items = table.inter_item
    known_ids = positions(log_items.distinct, table.item_keys) >= 0
    if known_ids.all():
        return table, 0
    inter_file, first_row, items_file, _ = table.files
    if missing_items != "add":
        row = int(np.flatnonzero(~known_ids[log_items.codes])[0])
        count = int((~known_ids).sum())
        raise DataFormatError(
            f"{inter_file}, row {row + first_row}, column 'item_id': {log_items.at(row)!r} is not in "
            f"{items_file} ({count:,} items are missing); add them there, or pass --missing-items add "
            "to import them with missing attributes"
        )
    new = np.unique(log_items.distinct[~known_ids].astype(str)).astype(object)
    attributes = {
        name: np.concatenate([values.astype(np.float64), np.full(len(new), np.nan)])
        for name, values in table.item_attributes.items()
    }
    embeddings = table.embeddings
    if embeddings is not None:
        embeddings = np.vstack([embeddings, np.zeros((len(new), embeddings.shape[1]), dtype=np.float32)])
    grown = replace(
        table,
        item_keys=np.concatenate([table.item_keys, new]),
        titles=[*table.titles, *new.tolist()],
        categories=[*table.categories, *[UNKNOWN_CATEGORY] * len(new)],
        item_attributes=attributes,
        embeddings=embeddings,
    )
    return grown, len(new)
