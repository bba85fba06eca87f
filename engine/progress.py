"""Progress reporting without a UI dependency: long steps call `report(step, done, total)`.

The CLI turns these calls into rich progress bars and the app into a progress widget; the
engine itself never imports either.
"""

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def no_progress(step: str, done: int, total: int) -> None:
    """Default for library calls that nobody watches."""
