"""Read CSV or Parquet tables into numpy columns, checking names and types, with errors that
name the file, the row and the column. Plain `csv` and pyarrow: no pandas in this project."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.errors import DataFormatError

#: column type -> (numpy dtype, parser, what the error calls it)
TYPES = {
    "int": (np.int64, int, "a whole number"),
    "float": (np.float64, float, "a number"),
    "str": (object, str, "text"),
}


def read_csv(
    path: Path, required: dict[str, str], optional: dict[str, str] | None = None
) -> dict[str, np.ndarray]:
    """Columns of `path` by name; `required` must all be there, `optional` are read if present,
    and an empty cell in an optional column is a missing value, not an error."""
    optional = optional or {}
    if not path.is_file():
        raise DataFormatError(f"{path} is missing; see docs/data-format.md for the files a data set needs")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise DataFormatError(f"{path} is empty; it needs a header row and data rows") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: cannot read the header ({exc})") from None
        missing = [name for name in required if name not in header]
        if missing:
            raise DataFormatError(
                f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'})"
            )
        wanted = {**required, **{k: v for k, v in optional.items() if k in header}}
        index = {name: header.index(name) for name in wanted}
        values: dict[str, list] = {name: [] for name in wanted}
        try:
            for row_number, row in enumerate(reader, start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise DataFormatError(
                        f"{path}, row {row_number}: {len(row)} fields, the header has {len(header)}"
                    )
                for name, kind in wanted.items():
                    cell = row[index[name]].strip()
                    try:
                        if not cell and name in optional:
                            values[name].append(MISSING[kind])
                            continue
                        values[name].append(TYPES[kind][1](cell))
                    except ValueError:
                        raise DataFormatError(
                            f"{path}, row {row_number}, column '{name}': {cell!r} is not {TYPES[kind][2]}"
                        ) from None
        except csv.Error as exc:
            raise DataFormatError(f"{path}: malformed CSV ({exc})") from None
    return {name: _column(values[name], wanted[name], name in optional) for name in wanted}


#: what an empty cell (CSV) or a null (Parquet) of an optional column becomes
MISSING = {"int": float("nan"), "float": float("nan"), "str": ""}


def read_table(stem: Path, required: dict[str, str], optional: dict[str, str] | None = None):
    """`stem`.parquet when it exists, else `stem`.csv; returns (path, columns, first data row)."""
    parquet = stem.with_suffix(".parquet")
    if parquet.exists():
        return parquet, read_parquet(parquet, required, optional), 1
    csv_path = stem.with_suffix(".csv")
    return csv_path, read_csv(csv_path, required, optional), 2


def read_parquet(
    path: Path, required: dict[str, str], optional: dict[str, str] | None = None
) -> dict[str, np.ndarray]:
    """Like `read_csv`; rows are counted from 1 (Parquet has no header row)."""
    import pyarrow.parquet as pq  # only data sets in Parquet pay for importing pyarrow

    optional = optional or {}
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataFormatError(f"{path} cannot be read as Parquet ({type(exc).__name__}: {exc})") from None
    names = table.column_names
    missing = [name for name in required if name not in names]
    if missing:
        raise DataFormatError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(names) or 'none'})"
        )
    wanted = {**required, **{k: v for k, v in optional.items() if k in names}}
    columns = {}
    for name, kind in wanted.items():
        parse, what = TYPES[kind][1], TYPES[kind][2]
        values = []
        for row, value in enumerate(table.column(name).to_pylist(), start=1):
            try:
                if value is None and name in optional:
                    values.append(MISSING[kind])
                    continue
                if value is None:
                    raise ValueError
                values.append(
                    parse(value) if kind != "int" or not isinstance(value, float) else _whole(value)
                )
            except (ValueError, TypeError):
                raise DataFormatError(
                    f"{path}, row {row}, column '{name}': {value!r} is not {what}"
                ) from None
        columns[name] = _column(values, kind, name in optional)
    return columns


def _column(values: list, kind: str, optional: bool) -> np.ndarray:
    """Numbers of an optional column are float64 with NaN where the value is missing (the
    importer fills them); text keeps "" for missing."""
    if optional and kind in ("int", "float"):
        return np.array(values, dtype=np.float64)
    return np.array(values, dtype=TYPES[kind][0])


def _whole(value: float) -> int:
    if not value.is_integer():
        raise ValueError
    return int(value)


def check_unique(path: Path, column: str, values: np.ndarray, first_row: int = 2) -> None:
    """Refuse duplicate ids, naming the first repeated value and its row."""
    seen: dict[object, int] = {}
    for row, value in enumerate(values.tolist(), start=first_row):
        if value in seen:
            raise DataFormatError(
                f"{path}, row {row}, column '{column}': duplicate id {value!r} (first at row {seen[value]})"
            )
        seen[value] = row
