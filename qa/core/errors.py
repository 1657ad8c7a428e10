"""Domain errors, raised in the core and translated once at the edges (CLI, HTTP)."""

from __future__ import annotations


class QAError(Exception):
    """Base of every error archive-qa raises on purpose; its message is meant for users."""


class IndexMissingError(QAError):
    """There is no built index where one was expected."""


class IndexMismatchError(QAError):
    """The index on disk was built with another model, format or settings."""


class DocumentNotFoundError(QAError):
    """No document has the requested id."""


class InvalidQueryError(QAError):
    """A question, query or filter that cannot be served (empty, too long, bad dates...)."""


class BuildInProgressError(QAError):
    """Another build holds the index lock."""


class EvalFileError(QAError):
    """An evaluation file that is missing or not in the expected format."""


class ConfigurationError(QAError):
    """A setting names something that cannot be used (an unknown embedder or model)."""


class CorpusError(QAError):
    """The corpus folder is missing or cannot be listed: a build would empty the archive."""


class BuildError(QAError):
    """A build failed on the way (a full disk, an unwritable index folder); the version in
    service is unchanged."""


class BuildStalledError(BuildError):
    """A cluster build had no result from any worker for too long; the message names the
    step it waited for."""
