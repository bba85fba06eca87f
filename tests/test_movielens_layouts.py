"""Every MovieLens release reads the same: the ml-latest/20M/25M CSV files, the 1M/10M ".dat"
files and the 100K "u." files, holding one set of ratings, import to one data set."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import DataFormatError
from sample_data.importer import import_dataset, read_movielens
from sample_data.movielens_files import GENRES_100K

#: movie id, title, genres in u.genre order (100K keeps flags, not a listed order)
MOVIES = [
    ("1", "Toy Story (1995)", "Animation|Comedy"),
    ("2", "Café (1999) ", "Drama"),
    ("5", "Heat (1995)", ""),
]
RATINGS = [
    (u, m, r, 978_300_760 + 86_400 * i)
    for i, (u, m, r) in enumerate(
        [
            ("1", "1", 5.0),
            ("1", "2", 3.0),
            ("2", "1", 4.0),
            ("2", "5", 2.0),
            ("10", "2", 4.5),
            ("10", "5", 1.0),
        ]
        * 3
    )
]
GENRES = GENRES_100K


def write_csv(folder: Path) -> Path:
    folder.mkdir()
    movies = ["movieId,title,genres", *(f'{m},"{t}",{g or "(no genres listed)"}' for m, t, g in MOVIES)]
    (folder / "movies.csv").write_text("\n".join(movies) + "\n", encoding="utf-8")
    ratings = ["userId,movieId,rating,timestamp", *(f"{u},{m},{r},{t}" for u, m, r, t in RATINGS)]
    (folder / "ratings.csv").write_text("\n".join(ratings) + "\n")
    return folder


def write_dat(folder: Path) -> Path:
    """1M's layout, its titles in Latin-1 as that release writes them."""
    folder.mkdir()
    (folder / "movies.dat").write_bytes("".join(f"{m}::{t}::{g}\n" for m, t, g in MOVIES).encode("latin-1"))
    (folder / "ratings.dat").write_text("".join(f"{u}::{m}::{r:g}::{t}\n" for u, m, r, t in RATINGS))
    return folder


def write_100k(folder: Path, genre_file: bool = True) -> Path:
    folder.mkdir()
    if genre_file:
        (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n")
    lines = []
    for m, t, g in MOVIES:
        flags = ["1" if name in g.split("|") else "0" for name in GENRES]
        lines.append("|".join([m, t, "01-Jan-1995", "", "http://example.org", *flags]))
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    (folder / "u.data").write_text("".join(f"{u}\t{m}\t{r:g}\t{t}\n" for u, m, r, t in RATINGS))
    return folder


def stored(directory: Path) -> dict[str, bytes]:
    """The data set's files, but its manifest (which names the source folder and the time)."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.suffix != ".json"}


def test_every_release_layout_imports_to_the_same_data_set(tmp_path: Path) -> None:
    sources = {
        "csv": write_csv(tmp_path / "csv"),
        "dat": write_dat(tmp_path / "dat"),
        "100k": write_100k(tmp_path / "100k"),
        "100k without u.genre": write_100k(tmp_path / "bare", genre_file=False),
    }
    table = read_movielens(sources["dat"])
    assert table.titles == ["Toy Story (1995)", "Café (1999)", "Heat (1995)"], "Latin-1 titles read"
    assert table.categories == ["Animation", "Drama", "Unknown"]
    assert table.user_keys.tolist() == ["1", "2", "10"] and table.files[:2] == ("ratings.dat", 1)
    assert table.label.tolist()[:6] == [2, 0, 1, 0, 1, 0], "4 positive, 5 strong"
    imported = {}
    for name, source in sources.items():
        import_dataset(source, "movielens", tmp_path / f"out-{name}", dim=4)
        imported[name] = stored(tmp_path / f"out-{name}")
    assert len(imported["csv"]) >= 4
    for name in sources:
        assert imported[name] == imported["csv"], f"{name} differs from the CSV layout"


@pytest.mark.parametrize(
    ("layout", "file", "text", "message"),
    [
        ("dat", "ratings.dat", "1::1::5\n", r"ratings.dat, line 1: 3 fields split by ::, expected 4"),
        (
            "dat",
            "ratings.dat",
            "1::1::5::x\n",
            r"ratings.dat, line 1, field 'timestamp': 'x' is not a whole number from",
        ),
        ("100k", "u.data", "1\t1\t4\t978300760\n1\t2\tgood\t978300761\n", r"u.data, line 2, field 'rating'"),
        ("100k", "u.genre", "Action\n", r"u.genre: each line must be 'genre\|number'"),
        ("dat", "ratings.dat", "\n", r"ratings.dat is empty; it needs one line per rating"),
        (
            "dat",
            "movies.dat",
            "1::A (1999)::Drama\n1::B::Drama\n",
            r"movies.dat, row 2, column 'movieId': duplicate id '1' \(first at row 1\)",
        ),
    ],
)
def test_a_malformed_release_file_names_its_line(
    tmp_path: Path, layout: str, file: str, text: str, message: str
) -> None:
    source = (write_dat if layout == "dat" else write_100k)(tmp_path / "src")
    (source / file).write_text(text)
    with pytest.raises(DataFormatError, match=message):
        import_dataset(source, "movielens", tmp_path / "out", dim=4)
    assert not (tmp_path / "out").exists(), "nothing written"


def test_a_folder_of_no_release_and_a_missing_half_are_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DataFormatError,
        match=r"holds no MovieLens files: expected movies.csv and ratings.csv .*u.item and u.data",
    ):
        read_movielens(tmp_path / "empty")
    source = write_dat(tmp_path / "dat")
    (source / "movies.dat").unlink()
    with pytest.raises(DataFormatError, match=r"movies.dat is missing"):
        read_movielens(source)
