"""twostage engine: stage 1 (retrieval paths over ANN backends), stage 2 (features, a CatBoost
re-ranker, business rules), and `Engine`, which runs one request through both."""

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
