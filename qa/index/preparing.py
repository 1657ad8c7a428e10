"""What a build does to each new or changed document before the one writer stores it, and
the executor that does it here, in the build's own process.

A build hands its documents and its groups of passages to an executor: `LocalExecutor`
prepares and embeds them in this process; `qa.index.cluster.ClusterExecutor` does the
same on a Ray cluster (`Settings.cluster`). Either way the build itself (the driver) keeps
scanning the corpus, the build lock, writing the version and switching to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from qa.core.config import Settings
from qa.core.types import Document, Passage
from qa.embedders import Embedder
from qa.index.chunking import (
    ChunkingParameters,
    chunk_document,
    embedding_text,
    truncate_title,
)
from qa.index.embedding import EmbeddedGroup, embed_group
from qa.index.events import document_date_rows
from qa.ingest.documents import (
    MetadataLimits,
    SourceEntry,
    UnreadableDocument,
    current_hash,
    load_document,
)
from qa.text.terms import terms


@dataclass
class PreparedDocument:
    """A document read and cut into passages, with what the catalog stores of it; or, with
    `skipped` set, why it could not be."""

    entry: SourceEntry
    document: Document | None = None
    passages: list[Passage] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # each passage as it is embedded
    terms: list[list[str]] = field(default_factory=list)
    date_rows: list[tuple] = field(default_factory=list)
    skipped: str = ""


def prepare_document(
    entry: SourceEntry,
    limits: MetadataLimits,
    embedder: Embedder,
    params: ChunkingParameters,
    check_hash: bool = False,
) -> PreparedDocument:
    """Read, parse and chunk one document. A failure on one document is named in
    `skipped`, never fatal; an OSError (the machine's, such as a full disk) is raised.
    With `check_hash`, a document whose bytes no longer have the scanned content hash (it
    changed since the scan) is skipped: the next build takes it."""
    try:
        if check_hash and current_hash(entry) != entry.content_hash:
            return PreparedDocument(entry, skipped="changed while the build ran")
        document = load_document(entry, limits)
        passages = chunk_document(document, embedder, params.max_tokens, params.overlap_sentences)
    except UnreadableDocument as error:
        return PreparedDocument(entry, skipped=str(error))
    except OSError:
        raise
    except Exception as error:  # a failure on one document is named, never fatal
        reason = f"cannot split into passages: {type(error).__name__}: {error}"
        return PreparedDocument(entry, skipped=reason)
    if not passages:
        return PreparedDocument(entry, document, skipped="no sentences")
    title = truncate_title(embedder, document.title) if params.title_in_passage else ""
    texts = [embedding_text(title, p.text, params.title_in_passage) for p in passages]
    return PreparedDocument(
        entry,
        document,
        passages,
        texts,
        [terms(text, document.language) for text in texts],
        document_date_rows(document, passages),
    )


class BuildExecutor(Protocol):
    """Where a build prepares its documents and embeds its groups of passages."""

    cluster: str  # the cluster's address, "" for the build's own process
    workers: int
    retried_tasks: int

    def prepare(self, entries: list[SourceEntry]) -> Iterator[PreparedDocument]: ...
    def staged(self, prepared: PreparedDocument) -> EmbeddedGroup | None: ...
    def embed(self, pending: list[tuple[Passage, str]]) -> Iterable[EmbeddedGroup]: ...
    def finish(self) -> Iterable[EmbeddedGroup]: ...
    def close(self, finished: bool = False) -> None: ...


class LocalExecutor:
    """Prepares and embeds in the build's own process, one document and one group at a time."""

    cluster = ""
    workers = 1
    retried_tasks = 0

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        params: ChunkingParameters,
        limits: MetadataLimits,
    ) -> None:
        self.settings, self.embedder, self.params, self.limits = settings, embedder, params, limits

    def prepare(self, entries: list[SourceEntry]) -> Iterator[PreparedDocument]:
        """Each entry prepared, in the order given."""
        for entry in entries:
            yield prepare_document(entry, self.limits, self.embedder, self.params)

    def staged(self, prepared: PreparedDocument) -> EmbeddedGroup | None:
        """The document's vectors when an earlier build already computed them: never here
        (a build in one process that dies starts over)."""
        return None

    def embed(self, pending: list[tuple[Passage, str]]) -> Iterable[EmbeddedGroup]:
        """Start embedding a group; returns the groups finished meanwhile, in order."""
        return [embed_group(pending, self.embedder, self.settings)] if pending else []

    def finish(self) -> Iterable[EmbeddedGroup]:
        """Every group not yet returned, in order."""
        return []

    def close(self, finished: bool = False) -> None:
        """Nothing to stop."""
