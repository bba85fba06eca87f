"""One exception hierarchy, so every client (CLI, app, server) can show a clear message.

Every message says what was wrong and how to fix it; clients print `str(error)` and never
need a traceback.
"""


class TwostageError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidRequestError(TwostageError, ValueError):
    """A request argument is out of range or malformed (k, vector length, NaN, ...)."""


class NotInResponseError(InvalidRequestError):
    """An item a request refers to (to explain it) is not among its candidates."""


class NotScoredError(InvalidRequestError):
    """The response was served without the model (over budget): there is nothing to explain."""


class UnknownBackendError(TwostageError, KeyError):
    """An ANN backend name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class BackendUnavailableError(TwostageError, RuntimeError):
    """A known backend whose library is not installed."""


class ArtifactError(TwostageError, OSError):
    """An artifact on disk is missing, truncated, corrupt or built for other data."""


class ConfigError(TwostageError, ValueError):
    """A configuration file or value that cannot be used."""


class DataFormatError(TwostageError, ValueError):
    """Input data (generator parameters, CSV files) that cannot be turned into a data set."""
