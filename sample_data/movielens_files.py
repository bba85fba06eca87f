"""Each MovieLens release's files, read into the same columns, so one reader serves them all.

- ml-latest, 20M, 25M, 32M: `movies.csv` and `ratings.csv`, with a header row (UTF-8).
- 1M and 10M: `movies.dat` and `ratings.dat`, fields split by "::", no header.
- 100K: `u.item` (fields split by "|", 19 genre flags named in `u.genre`) and `u.data` (tabs).

The older releases write titles in Latin-1 (their READMEs say so); a file that is not UTF-8 is
read as Latin-1, in which every byte is a character.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import DataFormatError
from sample_data.tables import ARROW_TYPES, TYPES, Keys, read_csv

#: u.genre of the 100K release, for a copy of it that lacks that file
GENRES_100K = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
#: the ratings' columns and their kinds (`sample_data.tables.TYPES`), in every release's order
RATINGS = {"userId": "key", "movieId": "key", "rating": "float", "timestamp": "int"}
MOVIES = {"movieId": "str", "title": "str", "genres": "str"}


@dataclass(frozen=True)
class MovieLensFiles:
    """movies: movieId, title, genres ("A|B"); ratings: userId and movieId as Keys, rating,
    timestamp as written. The names and first data row are for error messages."""

    movies: dict[str, np.ndarray]
    ratings: dict[str, np.ndarray | Keys]
    movies_name: str
    ratings_name: str
    first_row: int


def read_movielens_files(folder: Path) -> MovieLensFiles:
    """The release's files, told apart by their names."""
    if (folder / "ratings.csv").exists() or (folder / "movies.csv").exists():
        movies = read_csv(folder / "movies.csv", MOVIES)
        ratings = read_csv(folder / "ratings.csv", RATINGS)
        return MovieLensFiles(movies, ratings, "movies.csv", "ratings.csv", 2)
    if (folder / "ratings.dat").exists() or (folder / "movies.dat").exists():
        table = _parse(folder / "movies.dat", MOVIES, "::")
        fields = {name: _strings(table, name) for name in MOVIES}
        ratings = _read_ratings(folder / "ratings.dat", "::")
        return MovieLensFiles(fields, ratings, "movies.dat", "ratings.dat", 1)
    if (folder / "u.data").exists() or (folder / "u.item").exists():
        ratings = _read_ratings(folder / "u.data", "\t")
        return MovieLensFiles(_read_u_item(folder), ratings, "u.item", "u.data", 1)
    raise DataFormatError(
        f"{folder} holds no MovieLens files: expected movies.csv and ratings.csv (ml-latest, 20M, "
        "25M, 32M), movies.dat and ratings.dat (1M, 10M), or u.item and u.data (100K)"
    )


def _read_ratings(path: Path, separator: str) -> dict[str, np.ndarray | Keys]:
    table = _parse(path, RATINGS, separator)
    return {
        "userId": Keys.of_arrow(table.column("userId")),
        "movieId": Keys.of_arrow(table.column("movieId")),
        "rating": table.column("rating").to_numpy(),
        "timestamp": table.column("timestamp").to_numpy(),
    }


def _strings(table, name: str) -> np.ndarray:
    """A text column of the small movies table as an object array of str."""
    return table.column(name).to_numpy(zero_copy_only=False).astype(object)


def _read_u_item(folder: Path) -> dict[str, np.ndarray]:
    """100K's movies: id|title|release date|video release date|IMDb URL|19 genre flags."""
    names = _genre_names(folder)
    fields = ("movieId", "title", "released", "video", "url", *(f"g{i}" for i in range(len(names))))
    table = _parse(folder / "u.item", dict.fromkeys(fields, "str"), "|")
    flags = np.stack([_strings(table, f"g{i}") == "1" for i in range(len(names))])
    genres = np.array(["|".join(np.array(names)[row]) for row in flags.T], dtype=object)
    return {"movieId": _strings(table, "movieId"), "title": _strings(table, "title"), "genres": genres}


def _genre_names(folder: Path) -> list[str]:
    path = folder / "u.genre"
    if not path.exists():
        return list(GENRES_100K)
    lines = [line.rsplit("|", 1) for line in _text(path).splitlines() if line.strip()]
    if not all(len(line) == 2 and line[1].strip().isdigit() for line in lines):
        raise DataFormatError(f"{path}: each line must be 'genre|number', as in the 100K release")
    return [name for name, _ in sorted(lines, key=lambda line: int(line[1]))]


def _text(path: Path) -> str:
    if not path.is_file():
        raise DataFormatError(f"{path} is missing; a MovieLens folder holds the movies and the ratings")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _parse(path: Path, kinds: dict[str, str], separator: str):
    """The file as an Arrow table: pyarrow splits it in C; the first line it cannot read is
    found again line by line, for an error that names it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    text = _text(path)
    if not text.strip():
        raise DataFormatError(
            f"{path} is empty; it needs one line per {'rating' if 'rating' in kinds else 'movie'}"
        )
    single = "\x1f" if len(separator) > 1 else separator  # pyarrow splits on one character
    data = (text.replace(separator, single) if single != separator else text).encode("utf-8")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=list(kinds)),
            parse_options=pacsv.ParseOptions(delimiter=single, quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: ARROW_TYPES[kind] for name, kind in kinds.items()},
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        raise DataFormatError(_first_bad_line(path, text, kinds, separator)) from None
    for index, (name, kind) in enumerate(kinds.items()):  # as the CSV rules read a cell: stripped
        if kind in ("str", "key"):
            table = table.set_column(index, name, pc.utf8_trim_whitespace(table.column(name)))
    return table


def _first_bad_line(path: Path, text: str, kinds: dict[str, str], separator: str) -> str:
    """The first line that has the wrong number of fields or a field its kind refuses (the
    parsers and words of the CSV rules)."""
    names = list(kinds)
    shown = separator if separator != "\t" else "a tab"
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split(separator)
        if len(cells) != len(names):
            return (
                f"{path}, line {number}: {len(cells)} fields split by {shown}, expected {len(names)} "
                f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})"
            )
        for name, cell in zip(names, cells, strict=True):
            _, parse, expected = TYPES[kinds[name]]
            try:
                parse(cell.strip())
            except ValueError:
                return f"{path}, line {number}, field '{name}': {cell!r} is not {expected}"
    return f"{path}: cannot be read as fields split by {shown}"
