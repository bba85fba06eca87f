"""The table readers: pyarrow parses in C, and whatever it reads must be what the row-by-row
rules read (the rules decide every case pyarrow cannot, and name a bad row)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from engine.errors import DataFormatError
from sample_data.tables import (
    Keys,
    _csv_header,
    _from_arrow,
    _parquet_rules,
    _read_csv_arrow,
    _read_csv_rows,
    read_csv,
)

KINDS = {"id": "key", "count": "int", "score": "float", "note": "str", "size": "int", "weight": "float"}
REQUIRED = {"id": "key", "count": "int", "score": "float"}
OPTIONAL = {"note": "str", "size": "int", "weight": "float"}
#: cells that each column may hold: plain ones the fast reader takes, and ones only the rules read
CELLS = {
    "str": ["a", "b c", '"x, y"', '"say ""hi"""', "é", " padded ", "NA", "null", "", "  "],
    "int": ["0", "7", "-12", "007", "42", "+3", " 5", "1.5", "1_000", "x", "", "99999999999999999999"],
    "float": ["0.5", "-2", "1e3", ".25", "nan", "inf", " 1.5", "1,5", "abc", ""],
}
CELLS["key"] = CELLS["str"]


def _same(a: np.ndarray | Keys, b: np.ndarray | Keys) -> bool:
    if isinstance(a, Keys) or isinstance(b, Keys):  # the same id on every row
        return isinstance(a, Keys) and isinstance(b, Keys) and _same(a.distinct[a.codes], b.distinct[b.codes])
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return a.tolist() == b.tolist()


def _random_csv(path: Path, rng: np.random.Generator, messiness: float) -> None:
    """A file of plain cells; each cell is one only the rules read with chance `messiness`,
    and so is a blank row."""
    names = ["id", "count", "score"] + [n for n in OPTIONAL if rng.random() < 0.7]
    names = [names[i] for i in rng.permutation(len(names))]
    lines = [",".join(f" {n}" if rng.random() < 0.2 else n for n in names)]
    for _ in range(int(rng.integers(1, 25))):
        cells = []
        for name in names:
            plain = ["a", "b c", '"x, y"'] if name == "id" else CELLS[KINDS[name]][:5]
            options = CELLS[KINDS[name]] if rng.random() < messiness else plain
            cells.append(str(rng.choice(options)))
        lines.append(",".join(cells))
        if rng.random() < messiness:
            lines.append(str(rng.choice(["", ",,", ",".join([""] * len(names)), "1,2"])))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("clean", [True, False], ids=["clean", "messy"])
def test_the_fast_csv_reader_reads_what_the_rules_read(tmp_path: Path, clean: bool) -> None:
    rng = np.random.default_rng(5)
    fast_cases = 0
    for case in range(150):
        path = tmp_path / f"t{case}.csv"
        _random_csv(path, rng, 0.0 if clean else 0.03)
        header = _csv_header(path)
        wanted = {**REQUIRED, **{k: v for k, v in OPTIONAL.items() if k in header}}
        try:
            expected, refusal = _read_csv_rows(path, header, wanted, OPTIONAL), None
        except DataFormatError as error:
            expected, refusal = None, str(error)
        fast_cases += _read_csv_arrow(path, header, wanted, OPTIONAL) is not None
        if refusal is not None:
            with pytest.raises(DataFormatError) as raised:
                read_csv(path, REQUIRED, OPTIONAL)
            assert str(raised.value) == refusal, path.read_text()
            continue
        got = read_csv(path, REQUIRED, OPTIONAL)
        assert got.keys() == expected.keys()
        for name in got:
            assert _same(got[name], expected[name]), (name, got[name], expected[name], path.read_text())
    if clean:
        assert fast_cases == 150, "every clean file is parsed by pyarrow"
    else:
        assert 0 < fast_cases < 150, "messy files take both ways"


def test_arrow_columns_read_as_the_parquet_rules_do() -> None:
    columns = [
        pa.array([1, 2, 3], pa.int32()),
        pa.array([1, None, 3], pa.int64()),
        pa.array([1.0, 2.0, None], pa.float64()),
        pa.array([1.0, 2.5], pa.float64()),
        pa.array([math.nan, 1.0], pa.float64()),
        pa.array([math.inf], pa.float64()),
        pa.array([True, False]),
        pa.array(["a", None, ""]),
        pa.array(["7", "8"]),
        pa.array([2**63 - 1, 5], pa.uint64()),
        pa.array([2**64 - 1], pa.uint64()),
        pa.array([2**63], pa.uint64()),
        pa.array([2.0**63, -(2.0**63)], pa.float64()),
        pa.array([1e30], pa.float64()),
    ]
    taken = 0
    for column in columns:
        chunked = pa.chunked_array([column])
        for kind in ("int", "float", "str", "key"):
            for optional in (False, True):
                try:
                    rule, refusal = _parquet_rules(Path("t.parquet"), "c", kind, chunked, optional), None
                except DataFormatError as error:
                    rule, refusal = None, str(error)
                fast = _from_arrow(chunked, kind, optional)
                if refusal is not None:
                    assert fast is None, (column, kind, optional, refusal)
                elif fast is not None:
                    assert _same(fast, rule), (column, kind, optional, fast, rule)
                    taken += 1
    assert taken >= 15, "plain columns are converted by Arrow"


def test_a_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    rows = "".join(f"{i},title {i}\n" for i in range(5000))  # past the first block the reader decodes
    path.write_bytes(b"item_id,title\n" + rows.encode() + b"9,caf\xe9\n")
    with pytest.raises(DataFormatError, match=r"items\.csv is not UTF-8 text .*; save it as UTF-8"):
        read_csv(path, {"item_id": "str", "title": "str"})


def test_a_whole_number_too_large_for_64_bits_is_named(tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    path.write_text("user_id,timestamp\nu1,1600000000\nu2,99999999999999999999\n")
    with pytest.raises(
        DataFormatError, match=r"row 3, column 'timestamp': '99999999999999999999' is not a whole number from"
    ):
        read_csv(path, {"user_id": "str", "timestamp": "int"})
