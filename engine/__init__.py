"""twostage engine: stage 1 (ANN candidate generation) and, later, stage 2 (re-ranking)."""

from engine.errors import (
    ArtifactError,
    BackendUnavailableError,
    ConfigError,
    DataFormatError,
    InvalidRequestError,
    TwostageError,
    UnknownBackendError,
)

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "BackendUnavailableError",
    "ConfigError",
    "DataFormatError",
    "InvalidRequestError",
    "TwostageError",
    "UnknownBackendError",
    "__version__",
]
