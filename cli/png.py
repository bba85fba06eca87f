"""Curves drawn to a PNG file (`--png`) with matplotlib, off screen: what the sweep and scale
commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.artifacts import atomic_write
from engine.errors import InvalidRequestError


def check_png_path(path: Path | None) -> None:
    """Refused before any work starts, so a long sweep does not end on a bad file name."""
    if path is not None and path.suffix.lower() != ".png":
        raise InvalidRequestError(f"--png needs a file name ending in .png, got {path}")


def panels(count: int, size: tuple[float, float]) -> tuple[Any, Any]:
    """A figure of `count` axes side by side, with matplotlib imported only when a PNG is asked
    for (it is slow to import) and drawing without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, count, figsize=size)


def save_png(figure: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110))
    plt.close(figure)
