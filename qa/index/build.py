"""Building the index folder (its versions and opening them: `qa.index.versions`).

    index/
      catalog.sqlite          the catalog all versions share; its last commit names the
                              version in service
      versions/<version>/     manifest.json and vector parts (`qa.store.parts`)
      .build.lock             held by the one build that may run at a time

A build never touches what the version in service reads: it reads the corpus, applies
its changes (only new or changed documents are parsed, chunked and embedded, by content
hash) to the shared catalog inside one SQLite transaction, writes the vectors it embedded
as a new part in a new version folder, marks the removed ones, hard-links the unchanged
parts there, writes the manifest, and then commits: the commit, which names the new
version, is the one step that puts it in service. Readers of the version before keep
their snapshot of the catalog. A build that fails or is interrupted before the commit
leaves the catalog as it was (SQLite rolls the transaction back) and removes its folder at
once; after a crash or SIGKILL, the next build removes what was left. Each build keeps the
version that served before it (requests may still read it) and removes every other one.
"""

from __future__ import annotations

import fcntl
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from qa.core.config import Settings
from qa.core.errors import BuildError, BuildInProgressError
from qa.core.types import BuildReport, Passage, SkippedFile
from qa.embedders import Embedder
from qa.index.chunking import (
    ChunkingParameters,
    chunk_document,
    embedding_text,
    passage_budget,
    truncate_title,
)
from qa.index.embedding import embed_pending
from qa.index.events import add_document_dates
from qa.index.versions import (
    CATALOG_FILE,
    FORMAT_VERSION,
    LEGACY_POINTER,
    MANIFEST_FILE,
    IndexVersion,
    Manifest,
    check_compatible,
    current_version,
    fsync_folder,
    open_index,
)
from qa.ingest.documents import (
    CorpusScan,
    MetadataLimits,
    SourceEntry,
    UnreadableDocument,
    lies_in,
    load_document,
    scan_corpus,
)
from qa.store import Catalog, CatalogError
from qa.store.parts import PartsWriter
from qa.text.terms import terms

__all__ = [  # the versions' names too, for callers that build and then open
    "CATALOG_FILE",
    "IndexVersion",
    "Manifest",
    "build_index",
    "chunking_parameters",
    "current_version",
    "open_index",
]

#: Passages embedded per call: large enough for the model's length-sorted batching.
EMBED_GROUP = 1024
#: Said of a skipped document whose earlier version stays in the index.
KEPT = " (the previously indexed version is kept)"


def chunking_parameters(settings: Settings, embedder: Embedder) -> ChunkingParameters:
    budget = passage_budget(embedder, settings.chunk_tokens, settings.title_in_passage)
    return ChunkingParameters(budget, settings.chunk_overlap_sentences, settings.title_in_passage)


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    """One build of an index folder at a time across processes (`qa index` beside `qa
    serve`); builds within one process are kept apart by their `Assistant`."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgressError(
                f"Another build is updating {index_dir}; try again when it ends."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_index(settings: Settings, embedder: Embedder, full: bool = False) -> BuildReport:
    """Bring the index up to date with the corpus; see the module docstring for how.

    Raises CorpusError when the corpus folder is missing or unreadable and BuildError when
    writing fails (a full disk); either way the version in service is left as it was."""
    started = time.perf_counter()
    index_dir = Path(settings.index)
    try:
        with _build_lock(index_dir):
            report = _build(settings, embedder, full, index_dir)
    except (OSError, CatalogError) as error:
        live = current_version(index_dir)
        serving = f"version {live.name} is still in service" if live else "no index is built"
        raise BuildError(
            f"The build failed: {_describe(error)}. Nothing changed: {serving}."
        ) from None
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _build(settings: Settings, embedder: Embedder, full: bool, index_dir: Path) -> BuildReport:
    versions = index_dir / "versions"
    versions.mkdir(exist_ok=True)
    live = current_version(index_dir)
    base = None if full else live
    if base is not None:
        check_compatible(Manifest.read(base), settings, index_dir)
    # Read the corpus before anything is written: a missing one must not empty the archive.
    scan = scan_corpus(Path(settings.corpus))
    _remove_leftovers(index_dir, live)

    name = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    folder = versions / name
    folder.mkdir()
    try:
        report = _write_version(index_dir, folder, base, scan, settings, embedder)
    except BaseException:
        # Interrupted or failed: the unfinished folder goes at once (unless the switch was made).
        if current_version(index_dir) != folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    # Kept: the new version and the one serving until now, for requests still reading it.
    # Anything else (older versions, orphans of a crash before the switch) goes.
    _remove_versions(index_dir, keep={name, live.name if live else name})
    (index_dir / LEGACY_POINTER).unlink(missing_ok=True)
    report.version = name
    return report


def _write_version(
    index_dir: Path,
    folder: Path,
    base: Path | None,
    scan: CorpusScan,
    settings: Settings,
    embedder: Embedder,
) -> BuildReport:
    """Applies the changes to the catalog in one transaction and writes the new version's
    vector parts and manifest into `folder`; the catalog's commit puts it in service."""
    catalog = Catalog(index_dir / CATALOG_FILE, readonly=False)
    try:
        if base is None:
            catalog.clear()  # a full build: every document is read and embedded again
            previous, listing = {}, []
        else:
            previous, listing = catalog.document_hashes(), Manifest.read(base).parts
        vectors = PartsWriter(folder.name, embedder.dimension, settings.ivf_probes, base, listing)
        report = _apply_changes(settings, embedder, catalog, vectors, previous, scan)
        parts = vectors.write(folder, settings.faiss_factory, settings.ivf_min_passages)
        report.documents, report.passages = catalog.counts()
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            version=folder.name,
            embedder=embedder.backend,
            model=embedder.name,
            dimension=embedder.dimension,
            normalised=True,
            chunking={
                **asdict(chunking_parameters(settings, embedder)),
                "requested_tokens": settings.chunk_tokens,
                "model_max_tokens": embedder.max_tokens,
                "sentence_vectors": settings.sentence_vectors,
                "sentence_context_vectors": settings.sentence_context_vectors,
                "sentence_vector_source": settings.sentence_vector_source,
            },
            faiss_factory=settings.faiss_factory,
            vectors_layout=max(parts, key=lambda p: p["vectors"])["layout"] if parts else "Flat",
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            passages=report.passages,
            parts=parts,
        )
        manifest.write(folder)
        fsync_folder(folder)
        # The one step that switches service to the new version.
        catalog.switch_to(folder.name)
    finally:
        catalog.close()  # before the switch: SQLite rolls the build's changes back
    return report


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror} ({error.filename})" if error.filename else error.strerror
    return str(error) or type(error).__name__


def _apply_changes(
    settings: Settings,
    embedder: Embedder,
    catalog: Catalog,
    vectors: PartsWriter,
    previous: dict[str, str],
    scan: CorpusScan,
) -> BuildReport:
    report = BuildReport()
    seen = {entry.id for entry in scan.entries}
    for document_id in sorted(set(previous) - seen):
        if scan.keeps(document_id):
            continue  # in a file or folder that could not be read: unknown, not removed
        vectors.remove(catalog.remove_document(document_id))
        report.removed += 1
    for skipped in scan.skipped:
        unreadable = skipped.path in scan.unreadable
        kept = unreadable and any(lies_in(document_id, skipped.path) for document_id in previous)
        report.skipped.append(SkippedFile(skipped.path, skipped.reason + (KEPT if kept else "")))

    todo: list[SourceEntry] = []
    for entry in scan.entries:
        old_hash = previous.get(entry.id)
        if old_hash == entry.content_hash:
            report.unchanged += 1
        else:
            todo.append(entry)

    params = chunking_parameters(settings, embedder)
    limits = MetadataLimits.of(settings)
    pending: list[tuple[Passage, str]] = []  # passages waiting for their vectors
    progress = tqdm(
        todo, desc="Indexing", unit="doc", disable=not settings.progress or len(todo) < 50
    )
    for entry in progress:
        try:
            document = load_document(entry, limits)
            passages = chunk_document(
                document, embedder, params.max_tokens, params.overlap_sentences
            )
        except UnreadableDocument as error:
            kept = KEPT if entry.id in previous else ""
            report.skipped.append(SkippedFile(entry.id, f"{error}{kept}"))
            continue
        except OSError:
            raise  # the machine's failure (a full disk), not the document's
        except Exception as error:  # a failure on one document is named, never fatal
            kept = KEPT if entry.id in previous else ""
            reason = f"cannot split into passages: {type(error).__name__}: {error}{kept}"
            report.skipped.append(SkippedFile(entry.id, reason))
            continue
        if not passages:
            report.skipped.append(SkippedFile(entry.id, "no sentences"))
            continue
        if entry.id in previous:
            vectors.remove(catalog.remove_document(entry.id))
            report.changed += 1
        else:
            report.added += 1
        title = truncate_title(embedder, document.title) if params.title_in_passage else ""
        texts = [embedding_text(title, p.text, params.title_in_passage) for p in passages]
        catalog.add_document(document, passages, [terms(text, document.language) for text in texts])
        add_document_dates(catalog, document, passages)
        pending.extend(zip(passages, texts, strict=True))
        if len(pending) >= EMBED_GROUP:
            report.embedded_passages += embed_pending(pending, embedder, vectors, catalog, settings)
            pending = []
    report.embedded_passages += embed_pending(pending, embedder, vectors, catalog, settings)
    return report


def _remove_leftovers(index_dir: Path, live: Path | None) -> None:
    """What interrupted builds leave: version folders that no manifest completes (those
    with a manifest that no commit put in service go once the new version serves)."""
    for folder in (index_dir / "versions").iterdir():
        if folder != live and not (folder / MANIFEST_FILE).is_file():
            shutil.rmtree(folder, ignore_errors=True)


def _remove_versions(index_dir: Path, keep: set[str]) -> None:
    for folder in (index_dir / "versions").iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)
