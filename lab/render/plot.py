"""A small terminal line plot (rich text), for curves such as recall against latency.

Our own ~100 lines rather than a plotting dependency: the plots are simple, and the
terminal plotting libraries we tried changed their API between major versions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from rich.text import Text

MARKERS = "●■▲◆✚★"
COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red")
Y_LABEL_WIDTH = 8


def line_plot(
    series: dict[str, Sequence[tuple[float, float]]],
    *,
    x_label: str,
    y_label: str,
    width: int = 72,
    height: int = 16,
    log_x: bool = True,
    log_y: bool = False,
) -> Text:
    """Each series is a list of (x, y) points joined by dots; one marker and colour per series."""

    def finite(x: float, y: float) -> bool:
        return _finite(x, log_x) and _finite(y, log_y)

    points = [(x, y) for pts in series.values() for x, y in pts if finite(x, y)]
    if not points:
        return Text("(nothing to plot)")
    cols, rows = max(10, width - Y_LABEL_WIDTH - 1), max(4, height)
    fx = (lambda v: math.log10(v)) if log_x else (lambda v: v)
    fy = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    x_lo, x_hi = _span([fx(x) for x, _ in points])
    y_lo, y_hi = _span([fy(y) for _, y in points])

    def cell(x: float, y: float) -> tuple[int, int]:
        col = round((fx(x) - x_lo) / (x_hi - x_lo) * (cols - 1))
        row = rows - 1 - round((fy(y) - y_lo) / (y_hi - y_lo) * (rows - 1))
        return row, col

    grid: list[list[tuple[str, str]]] = [[(" ", "")] * cols for _ in range(rows)]
    for s, pts in enumerate(series.values()):
        colour = COLOURS[s % len(COLOURS)]
        cells = [cell(x, y) for x, y in sorted(pts) if finite(x, y)]
        for (r0, c0), (r1, c1) in itertools.pairwise(cells):
            steps = max(abs(r1 - r0), abs(c1 - c0), 1)
            for t in range(1, steps):
                r, c = round(r0 + (r1 - r0) * t / steps), round(c0 + (c1 - c0) * t / steps)
                if grid[r][c][0] == " ":
                    grid[r][c] = ("·", colour)
        for r, c in cells:
            grid[r][c] = (MARKERS[s % len(MARKERS)], f"bold {colour}")

    text = Text(f"{y_label}{' (log scale)' if log_y else ''}\n", style="bold")
    for r, line in enumerate(grid):
        y_value = y_hi - (y_hi - y_lo) * r / (rows - 1)
        y_value = 10**y_value if log_y else y_value
        label = f"{y_value:>{Y_LABEL_WIDTH - 1}.3g}" if r % max(1, rows // 4) == 0 or r == rows - 1 else ""
        text.append(f"{label:>{Y_LABEL_WIDTH - 1}} │", style="dim")
        for char, style in line:
            text.append(char, style=style)
        text.append("\n")
    text.append(" " * Y_LABEL_WIDTH + "└" + "─" * cols + "\n", style="dim")
    ticks = [x_lo + (x_hi - x_lo) * i / 4 for i in range(5)]
    labels = [f"{(10**t if log_x else t):.3g}" for t in ticks]
    axis = [" "] * (cols + 12)
    for i, label in enumerate(labels):
        start = min(round(i * (cols - 1) / 4), cols + 12 - len(label))
        axis[start : start + len(label)] = list(label)
    text.append(" " * (Y_LABEL_WIDTH + 1) + "".join(axis).rstrip() + "\n", style="dim")
    text.append(" " * (Y_LABEL_WIDTH + 1) + x_label + (" (log scale)" if log_x else "") + "\n", style="bold")
    for s, name in enumerate(series):
        text.append(f"  {MARKERS[s % len(MARKERS)]} {name}", style=f"bold {COLOURS[s % len(COLOURS)]}")
    text.append("\n")
    return text


def _finite(value: float, log: bool) -> bool:
    return math.isfinite(value) and (value > 0 or not log)


def _span(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.05 or 1.0
        return lo - pad, hi + pad
    return lo, hi
