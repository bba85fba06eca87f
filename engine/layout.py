"""Where a data set and its artifacts live inside a data directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "TWOSTAGE_DATA_DIR"


def default_data_dir() -> Path:
    """$TWOSTAGE_DATA_DIR, else the user's cache directory (XDG), so runs share one build."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "twostage" / "default"


@dataclass(frozen=True)
class Layout:
    """`root/dataset`, `root/trending`, `root/model`, `root/embeddings/<role>` and
    `root/indexes/<backend>`, each with a manifest."""

    root: Path

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def trending(self) -> Path:
        return self.root / "trending"

    @property
    def model(self) -> Path:
        return self.root / "model"

    def embeddings(self, role: str) -> Path:
        """Vectors fitted before a cut-off (`training` or `serving`; engine.embeddings)."""
        return self.root / "embeddings" / role

    def index(self, backend: str) -> Path:
        return self.root / "indexes" / backend

    def history_neighbours(self, backend: str) -> Path:
        """The history path's searches, precomputed (engine.retrieval.neighbours)."""
        return self.root / "neighbours" / backend
