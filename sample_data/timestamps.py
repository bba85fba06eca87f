"""Timestamps as logs write them: Unix seconds, milliseconds or microseconds, or ISO 8601.

Click logs often count milliseconds; a millisecond read as a second lands thousands of years
ahead, and the engine's clock would clip it. So a numeric column is read in the unit the
import names (`--time-unit`), and without one it must look like seconds: values whose size
says milliseconds or microseconds are refused with the flag that converts them, and a column
that mixes sizes is refused whatever the flag (no single unit fits it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engine.errors import DataFormatError
from engine.events import EARLIEST, LATEST

#: seconds per unit, as `--time-unit` names them
UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000}
#: below this many units since 1970 a value reads as seconds (up to the year 5138), then as
#: milliseconds, microseconds, nanoseconds: each a factor of 1,000 above the last
_SIZE_LIMITS = (1e11, 1e14, 1e17)
_SIZE_NAMES = ("seconds", "milliseconds", "microseconds", "nanoseconds")
_FLAG_OF = {"seconds": "s", "milliseconds": "ms", "microseconds": "us"}


def parse_times(
    cells: np.ndarray, unit: str | None, path: Path | str, column: str, first_row: int
) -> np.ndarray:
    """Unix seconds (int64) from a column of whole numbers or ISO 8601 date-times (text)."""
    if unit is not None and unit not in UNITS:
        raise DataFormatError(f"unknown time unit {unit!r}; use one of {', '.join(UNITS)}")
    where = f"{path}, column '{column}'"
    numbers = _as_numbers(cells)
    if numbers is None:
        return _check_span(_iso_seconds(cells, where, first_row), where, first_row, unit)
    _check_sizes(numbers, unit, where, first_row)
    return _check_span(numbers // UNITS[unit or "s"], where, first_row, unit)


def convert_numbers(
    values: np.ndarray, unit: str | None, path: Path | str, column: str, first_row: int
) -> np.ndarray:
    """An optional numeric time column (NaN where missing) in seconds, checked like `parse_times`."""
    given = ~np.isnan(values)
    if not given.any():
        return values
    where = f"{path}, column '{column}'"
    numbers = values[given].astype(np.int64)
    rows = np.flatnonzero(given)
    _check_sizes(numbers, unit, where, first_row, rows)
    out = values.copy()
    out[given] = _check_span(numbers // UNITS[unit or "s"], where, first_row, unit, rows)
    return out


def _as_numbers(cells: np.ndarray) -> np.ndarray | None:
    """The column as int64 if every cell is a whole number, else None (text to parse as dates)."""
    if cells.dtype.kind in "iu":
        return cells.astype(np.int64)
    try:
        return np.array([int(cell) for cell in cells.tolist()], dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        return None


def _iso_seconds(cells: np.ndarray, where: str, first_row: int) -> np.ndarray:
    """ISO 8601 date-times; one without a zone is read as UTC. Numbers among them are refused."""
    texts = [str(cell).strip() for cell in cells.tolist()]
    numeric = np.array([text.lstrip("-").isdigit() for text in texts], dtype=bool)
    out = np.zeros(len(texts), dtype=np.int64)
    for row in np.flatnonzero(~numeric).tolist():
        try:
            moment = datetime.fromisoformat(texts[row])
        except ValueError:
            raise DataFormatError(
                f"{where}, row {row + first_row}: {texts[row]!r} is neither Unix time nor an ISO 8601 "
                "date-time (e.g. 2024-05-01T13:45:00Z)"
            ) from None
        out[row] = int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    if numeric.any():
        number, date = int(np.argmax(numeric)), int(np.argmin(numeric))
        raise DataFormatError(
            f"{where}: row {number + first_row} holds a number ({texts[number]}), row {date + first_row} "
            f"a date-time ({texts[date]}); write every timestamp in one form (Unix time or ISO 8601)"
        )
    return out


def _size_class(numbers: np.ndarray) -> np.ndarray:
    """0 seconds, 1 milliseconds, 2 microseconds, 3 nanoseconds, by each value's size."""
    return np.searchsorted(_SIZE_LIMITS, np.abs(numbers.astype(np.float64)), side="right")


def _check_sizes(
    numbers: np.ndarray, unit: str | None, where: str, first_row: int, rows: np.ndarray | None = None
) -> None:
    """Refuse a column whose values are of two sizes, or of a size its unit does not name."""
    rows = np.arange(len(numbers)) if rows is None else rows
    sizes = _size_class(numbers)
    found = np.unique(sizes)
    if len(found) > 1:
        a, b = (int(np.flatnonzero(sizes == s)[0]) for s in found[:2])
        first, second = _SIZE_NAMES[found[0]], _SIZE_NAMES[found[1]]
        raise DataFormatError(
            f"{where}: the timestamps mix units: row {rows[a] + first_row} ({numbers[a]}) looks like "
            f"{first}, row {rows[b] + first_row} ({numbers[b]}) like {second}; "
            "convert the column to one unit, then pass it with --time-unit s|ms|us"
        )
    expected = list(UNITS).index(unit or "s")
    if len(found) and found[0] != expected:
        name = _SIZE_NAMES[int(found[0])]
        hint = f"pass --time-unit {_FLAG_OF[name]}" if name in _FLAG_OF else "convert them to seconds"
        said = "" if unit is None else f" (--time-unit {unit} was given)"
        raise DataFormatError(
            f"{where}: timestamps such as {numbers[0]} (row {rows[0] + first_row}) look like {name} "
            f"since 1970, not {_SIZE_NAMES[expected]}{said}; {hint}"
        )


def _check_span(
    seconds: np.ndarray,
    where: str,
    first_row: int,
    unit: str | None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    outside = np.flatnonzero((seconds < EARLIEST) | (seconds > LATEST))
    if len(outside):
        i = int(outside[0])
        row = (i if rows is None else int(rows[i])) + first_row
        raise DataFormatError(
            f"{where}, row {row}: {seconds[i]} seconds (read as --time-unit {unit or 's'}) is outside "
            "the years 1697-2242 the engine keeps; check the column's unit (--time-unit s|ms|us)"
        )
    return seconds.astype(np.int64)
