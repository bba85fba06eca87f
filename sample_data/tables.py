"""Read CSV or Parquet tables into numpy columns, checking names and types, with errors that
name the file, the row and the column. pyarrow, and plain `csv` to name a bad row: no pandas
in this project."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import DataFormatError

INT64 = (-(2**63), 2**63 - 1)


def _int64(value: str | int | bool) -> int:
    """A whole number numpy can hold; a larger one is refused, not an overflow later."""
    number = int(value)
    if not INT64[0] <= number <= INT64[1]:
        raise ValueError
    return number


#: column type -> (numpy dtype, parser, what the error calls it); a "key" column is text
#: read as `Keys`
TYPES = {
    "int": (np.int64, _int64, f"a whole number from {INT64[0]} to {INT64[1]}"),
    "float": (np.float64, float, "a number"),
    "str": (object, str, "text"),
    "key": (object, str, "text"),
}


@dataclass(frozen=True)
class Keys:
    """A column of ids as codes into its distinct ids: a log's millions of rows name far fewer
    users and items, and each id is one Python string, not one per row."""

    codes: np.ndarray  # int64, one per row
    distinct: np.ndarray  # object array of str

    @classmethod
    def of(cls, ids: np.ndarray) -> Keys:
        distinct, codes = np.unique(ids.astype(str), return_inverse=True)
        return cls(codes.astype(np.int64).reshape(-1), distinct.astype(object))

    @classmethod
    def of_arrow(cls, column) -> Keys:
        """From an Arrow text column: the distinct ids are found by hashing in C."""
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(column).combine_chunks()
        distinct = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
        return cls(encoded.indices.to_numpy().astype(np.int64), distinct)

    def __len__(self) -> int:
        return len(self.codes)

    def at(self, row: int) -> str:
        return str(self.distinct[self.codes[row]])

    def rows_in(self, index: np.ndarray) -> np.ndarray:
        """Each row's position in `index` (-1 where absent): distinct ids are looked up once,
        compared as fixed-width strings in C."""
        return positions(self.distinct, index)[self.codes]


def positions(ids: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The position of each id in `index`, -1 where it is absent (one sort of the index)."""
    if len(index) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    ids, index = ids.astype(str), index.astype(str)
    order = np.argsort(index, kind="stable")
    at = np.minimum(np.searchsorted(index, ids, sorter=order), len(index) - 1)
    return np.where(index[order[at]] == ids, order[at], -1).astype(np.int64)


def read_csv(
    path: Path, required: dict[str, str], optional: dict[str, str] | None = None
) -> dict[str, np.ndarray]:
    """Columns of `path` by name; `required` must all be there, `optional` are read if present,
    and an empty cell in an optional column is a missing value, not an error.

    pyarrow parses the file in C. Whenever it refuses a file or meets a case the rules below
    read differently (blank cells in required columns, padded numbers), the file is read again
    row by row: the result is the same, and a bad cell's error names its row and column."""
    optional = optional or {}
    header = _csv_header(path)
    missing = [name for name in required if name not in header]
    if missing:
        raise DataFormatError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'})"
        )
    wanted = {**required, **{k: v for k, v in optional.items() if k in header}}
    fast = _read_csv_arrow(path, header, wanted, optional)
    return fast if fast is not None else _read_csv_rows(path, header, wanted, optional)


def _csv_header(path: Path) -> list[str]:
    if not path.is_file():
        raise DataFormatError(f"{path} is missing; see docs/data-format.md for the files a data set needs")
    with open(path, newline="", encoding="utf-8") as handle:
        try:
            return [name.strip() for name in next(csv.reader(handle))]
        except StopIteration:
            raise DataFormatError(f"{path} is empty; it needs a header row and data rows") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: cannot read the header ({exc})") from None


#: column type -> the Arrow type pyarrow parses it as
ARROW_TYPES = {"int": "int64", "float": "float64", "str": "string", "key": "string"}


def _read_csv_arrow(
    path: Path, header: list[str], wanted: dict[str, str], optional: dict[str, str]
) -> dict[str, np.ndarray] | None:
    """The columns as the row-by-row rules read them, or None where those rules must decide."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if len(set(header)) != len(header):
        return None  # the rules read the first of two columns with one name
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            convert_options=pacsv.ConvertOptions(
                column_types={name: ARROW_TYPES[kind] for name, kind in wanted.items()},
                include_columns=list(wanted),
                null_values=[""],  # only an empty cell is missing: "NA" is text, and no number
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, OSError):
        return None
    columns = {}
    for name, kind in wanted.items():
        column = table.column(name)
        if kind in ("str", "key"):
            column = pc.utf8_trim_whitespace(column)
            if name not in optional and pc.sum(pc.equal(column, "")).as_py():
                return None  # a blank row is skipped by the rules; a blank cell is kept
        values = _from_arrow(column, kind, name in optional)
        if values is None:
            return None
        columns[name] = values
    return columns


def _from_arrow(column, kind: str, optional: bool) -> np.ndarray | None:
    """An Arrow column as the rules would read it (MISSING for nulls of an optional column),
    or None where a value needs the rules: a null in a required column, a fraction in a whole
    number column, a type the rules convert value by value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count and not optional:
        return None
    kind_of = column.type
    if kind in ("str", "key"):
        if not (pa.types.is_string(kind_of) or pa.types.is_large_string(kind_of)):
            return None
        if kind == "key":
            return Keys.of_arrow(column.fill_null(""))
        return column.fill_null("").to_numpy(zero_copy_only=False).astype(object)
    if kind == "int":
        if pa.types.is_floating(kind_of):
            whole = pc.and_(pc.is_finite(column), pc.equal(column, pc.floor(column)))
            inside = pc.and_(pc.greater_equal(column, -(2.0**63)), pc.less(column, 2.0**63))
            if not pc.all(pc.and_(whole, inside)).as_py():
                return None  # a fraction, NaN, infinity or too large: the rules name it
        elif not pa.types.is_integer(kind_of):
            return None
        target = pa.int64()
    elif pa.types.is_integer(kind_of) or pa.types.is_floating(kind_of):
        target = pa.float64()
    else:
        return None
    try:  # a safe cast: one that would change a value raises, and the rules decide
        values = column.cast(target)
        if optional:  # numbers with NaN where missing, as `_column` makes them
            return values.cast(pa.float64()).fill_null(float("nan")).to_numpy()
        return values.to_numpy()
    except pa.ArrowInvalid:
        return None


def _read_csv_rows(
    path: Path, header: list[str], wanted: dict[str, str], optional: dict[str, str]
) -> dict[str, np.ndarray]:
    """The rules, one row at a time: blank rows are skipped, cells stripped, and the first
    bad row is named."""
    index = {name: header.index(name) for name in wanted}
    values: dict[str, list] = {name: [] for name in wanted}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            next(reader)
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
        except UnicodeDecodeError as exc:
            raise DataFormatError(f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    return {name: _column(values[name], wanted[name], name in optional) for name in wanted}


#: what an empty cell (CSV) or a null (Parquet) of an optional column becomes
MISSING = {"int": float("nan"), "float": float("nan"), "str": "", "key": ""}


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
        column = table.column(name)
        is_optional = name in optional
        fast = _from_arrow(column, kind, is_optional)
        columns[name] = fast if fast is not None else _parquet_rules(path, name, kind, column, is_optional)
    return columns


def _parquet_rules(path: Path, name: str, kind: str, column, optional: bool) -> np.ndarray:
    """The rules, value by value: whole floats are whole numbers, anything `int`, `float` or
    `str` accepts is taken, and the first value refused is named with its row."""
    parse, what = TYPES[kind][1], TYPES[kind][2]
    values = []
    for row, value in enumerate(column.to_pylist(), start=1):
        try:
            if value is None and optional:
                values.append(MISSING[kind])
                continue
            if value is None:
                raise ValueError
            values.append(parse(value) if kind != "int" or not isinstance(value, float) else _whole(value))
        except (ValueError, TypeError):
            raise DataFormatError(f"{path}, row {row}, column '{name}': {value!r} is not {what}") from None
    return _column(values, kind, optional)


def _column(values: list, kind: str, optional: bool) -> np.ndarray | Keys:
    """Numbers of an optional column are float64 with NaN where the value is missing (the
    importer fills them); text keeps "" for missing."""
    if optional and kind in ("int", "float"):
        return np.array(values, dtype=np.float64)
    if kind == "key":
        return Keys.of(np.array(values, dtype=object))
    return np.array(values, dtype=TYPES[kind][0])


def _whole(value: float) -> int:
    if not value.is_integer():
        raise ValueError
    return _int64(value)


def check_unique(path: Path, column: str, values: np.ndarray, first_row: int = 2) -> None:
    """Refuse duplicate ids, naming the first repeated value and its row. A dict, not a sort:
    ids are Python strings, and numpy sorts those by calling Python (3.4x slower on 5 million)."""
    seen: dict[object, int] = {}
    for row, value in enumerate(values.tolist(), start=first_row):
        if value in seen:
            raise DataFormatError(
                f"{path}, row {row}, column '{column}': duplicate id {value!r} (first at row {seen[value]})"
            )
        seen[value] = row
