"""Time as logs write it: any Unix second (1990s included), milliseconds and microseconds
converted when the import says so and refused when it does not, ISO 8601, mixed units refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from engine.config import load_config
from engine.data import load_dataset
from engine.engine import Engine
from engine.errors import DataFormatError
from engine.events import EARLIEST, LATEST, NEVER, EventIndex
from engine.layout import Layout
from engine.requests import RecommendRequest
from lab.build import build
from sample_data.importer import ImportOptions, import_dataset
from tests.test_import import write_generic

JAN_1995 = 788_918_400  # 1995-01-01T00:00:00Z
START = 1_600_000_000  # write_generic's first timestamp


def _shift_times(folder: Path, rewrite) -> None:
    """Rewrite the timestamp column of write_generic's interactions.csv with rewrite(seconds)."""
    path = folder / "interactions.csv"
    lines = path.read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        user, item, seconds, rating = line.split(",")
        out.append(f"{user},{item},{rewrite(int(seconds))},{rating}")
    path.write_text("\n".join(out) + "\n")


def test_event_index_keeps_times_before_2000_apart() -> None:
    """Keys used to start at 2000-01-01 and clip earlier times onto it: every 1990s count read 0."""
    times = np.array([JAN_1995, JAN_1995 + 86_400, JAN_1995 + 2 * 86_400, 1_700_000_000])
    index = EventIndex(np.zeros(4, dtype=np.int64), times, payload=np.arange(4))
    assert index.count(np.array([0]), JAN_1995 + 1, JAN_1995 + 3 * 86_400)[0] == 2
    assert index.count(np.array([0]), JAN_1995 + 86_400, 1_000_000_000)[0] == 2
    positions, valid = index.last(np.array([0]), JAN_1995 + 2 * 86_400, 3)
    assert valid.tolist() == [[False, True, True]]
    assert index.payload[positions[0, 1:]].tolist() == [0, 1]
    before_1970 = EventIndex(np.zeros(2, dtype=np.int64), np.array([-86_400 * 365, 0]))
    assert before_1970.count(np.array([0]), -86_400 * 366, 1)[0] == 2
    assert NEVER < EARLIEST < -(200 * 365 * 86_400) and LATEST > 200 * 365 * 86_400


def test_event_index_refuses_times_it_cannot_hold() -> None:
    with pytest.raises(DataFormatError, match=r"outside the Unix seconds.*--time-unit"):
        EventIndex(np.zeros(1, dtype=np.int64), np.array([1_600_000_000_000]))


def test_a_1995_log_keeps_every_users_history(tmp_path: Path, small_config: Path) -> None:
    """The bug of issue 22: imported cleanly, then every user's history was empty."""
    source = write_generic(tmp_path / "src")
    _shift_times(source, lambda t: t - START + JAN_1995)
    import_dataset(source, "generic", tmp_path / "data" / "dataset", dim=8)
    dataset = load_dataset(tmp_path / "data" / "dataset")
    assert dataset.interactions.time.min() == JAN_1995
    config = load_config(small_config)
    build(Layout(tmp_path / "data"), None, ["exact"], config=config)
    engine = Engine.open(tmp_path / "data", config)
    log = dataset.interactions
    user = 3
    clicks_before = int((log.clicked & (log.user == user) & (log.time <= engine.now)).sum())
    items, times = engine.history(user)
    assert clicks_before > 0 and len(items) == clicks_before
    assert times.min() >= JAN_1995 and times.max() < JAN_1995 + 31 * 86_400
    rated = log.item[log.user == user]
    response = engine.recommend(RecommendRequest(user, k=5, n_candidates=40, backend="exact"))
    assert not np.isin([item.item_id for item in response.items], rated).any(), "seen items stay out"
    row = response.feature_names.index("u_clicks_30d")
    assert response.features[0, row] > 0, "windowed counters read the 1995 clicks"


def test_millisecond_log_is_refused_without_the_flag_and_converted_with_it(tmp_path: Path) -> None:
    seconds = import_dataset(write_generic(tmp_path / "s"), "generic", tmp_path / "a", dim=8)
    source = write_generic(tmp_path / "ms")
    _shift_times(source, lambda t: t * 1000 + 123)
    with pytest.raises(
        DataFormatError,
        match=r"interactions\.csv, column 'timestamp': timestamps such as 1600000000123 \(row 2\) "
        r"look like milliseconds since 1970, not seconds; pass --time-unit ms",
    ):
        import_dataset(source, "generic", tmp_path / "b", dim=8)
    assert not (tmp_path / "b").exists()
    converted = import_dataset(
        source, "generic", tmp_path / "b", dim=8, options=ImportOptions(time_unit="ms")
    )
    assert converted["files"]["interactions.npz"] == seconds["files"]["interactions.npz"]
    micro = write_generic(tmp_path / "us")
    _shift_times(micro, lambda t: t * 1_000_000)
    with pytest.raises(DataFormatError, match=r"look like microseconds.*--time-unit us"):
        import_dataset(micro, "generic", tmp_path / "c", dim=8)
    assert (
        import_dataset(micro, "generic", tmp_path / "c", dim=8, options=ImportOptions(time_unit="us"))[
            "files"
        ]["interactions.npz"]
        == seconds["files"]["interactions.npz"]
    )
    with pytest.raises(
        DataFormatError, match=r"look like seconds since 1970, not microseconds \(--time-unit us"
    ):
        import_dataset(
            write_generic(tmp_path / "s2"),
            "generic",
            tmp_path / "d",
            dim=8,
            options=ImportOptions(time_unit="us"),
        )
    far = write_generic(tmp_path / "far")
    _shift_times(far, lambda t: t * 40)  # seconds-sized, but past the year 2242
    with pytest.raises(DataFormatError, match=r"row 2: 64000000000 seconds .* outside the years 1697-2242"):
        import_dataset(far, "generic", tmp_path / "e", dim=8)


def test_mixed_units_are_refused_whatever_the_flag(tmp_path: Path) -> None:
    source = write_generic(tmp_path / "mixed")
    _shift_times(source, lambda t: t * 1000 if t % 2 else t)
    for unit in (None, "s", "ms"):
        with pytest.raises(
            DataFormatError, match=r"column 'timestamp': the timestamps mix units: row \d+ \(\d+\) looks like"
        ):
            import_dataset(source, "generic", tmp_path / "out", dim=8, options=ImportOptions(time_unit=unit))


def test_iso_8601_timestamps_match_unix_seconds(tmp_path: Path) -> None:
    seconds = import_dataset(write_generic(tmp_path / "s"), "generic", tmp_path / "a", dim=8)
    source = write_generic(tmp_path / "iso")
    _shift_times(source, lambda t: datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z"))
    assert (
        import_dataset(source, "generic", tmp_path / "b", dim=8)["files"]["interactions.npz"]
        == (seconds["files"]["interactions.npz"])
    )
    broken = write_generic(tmp_path / "half")
    _shift_times(broken, lambda t: t if t % 3 else datetime.fromtimestamp(t, UTC).isoformat())
    with pytest.raises(DataFormatError, match=r"holds a number .* a date-time .* in one form"):
        import_dataset(broken, "generic", tmp_path / "c", dim=8)


def test_created_at_follows_the_time_unit(tmp_path: Path) -> None:
    source = write_generic(tmp_path / "src")
    _shift_times(source, lambda t: t * 1000)
    items = (source / "items.csv").read_text().splitlines()
    items = [items[0] + ",created_at"] + [f"{line},1500000000000" for line in items[1:]]
    (source / "items.csv").write_text("\n".join(items) + "\n")
    import_dataset(
        source, "generic", tmp_path / "data" / "dataset", dim=8, options=ImportOptions(time_unit="ms")
    )
    assert (load_dataset(tmp_path / "data" / "dataset").catalog.created_at == 1_500_000_000).all()


def test_a_unit_or_dimension_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    source = write_generic(tmp_path / "src")
    with pytest.raises(DataFormatError, match=r"unknown time unit 'minutes'; use one of s, ms, us"):
        import_dataset(source, "generic", tmp_path / "a", options=ImportOptions(time_unit="minutes"))
    with pytest.raises(DataFormatError, match="--dim must be a positive number of dimensions, got 0"):
        import_dataset(source, "generic", tmp_path / "b", dim=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
