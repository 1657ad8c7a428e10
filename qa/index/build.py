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
from qa.index.chunking import ChunkingParameters, passage_budget
from qa.index.embedding import store_group
from qa.index.preparing import BuildExecutor, LocalExecutor
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
from qa.ingest.documents import CorpusScan, MetadataLimits, SourceEntry, lies_in, scan_corpus
from qa.store import Catalog, CatalogError
from qa.store.parts import PartsWriter

__all__ = [  # the versions' names too, for callers that build and then open
    "CATALOG_FILE",
    "IndexVersion",
    "Manifest",
    "build_index",
    "chunking_parameters",
    "current_version",
    "open_index",
]

#: Where a cluster build keeps the vectors it computed until a build finishes (qa.index.cluster).
STAGING_FOLDER = "staging"
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


def _executor(settings: Settings, embedder: Embedder, index_dir: Path):
    """Where documents are prepared and passages embedded: here, or on the Ray cluster that
    `Settings.cluster` names (its module imports Ray, an optional dependency)."""
    params = chunking_parameters(settings, embedder)
    limits = MetadataLimits.of(settings)
    if not settings.cluster:
        return LocalExecutor(settings, embedder, params, limits)
    from qa.index.cluster import ClusterExecutor

    return ClusterExecutor(settings, embedder, params, limits, index_dir / STAGING_FOLDER)


def _build(settings: Settings, embedder: Embedder, full: bool, index_dir: Path) -> BuildReport:
    versions = index_dir / "versions"
    versions.mkdir(exist_ok=True)
    live = current_version(index_dir)
    base = None if full else live
    if base is not None:
        check_compatible(Manifest.read(base), settings, index_dir)
    # Read the corpus before anything is written: a missing one must not empty the archive.
    known = _file_signatures(index_dir) if base is not None else {}
    scan = scan_corpus(Path(settings.corpus), known)
    _remove_leftovers(index_dir, live)

    name = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    folder = versions / name
    folder.mkdir()
    executor, switched = None, False
    try:
        executor = _executor(settings, embedder, index_dir)
        report = _write_version(
            index_dir, folder, base, (scan, known), settings, embedder, executor
        )
        switched = True
    except BaseException:
        # Interrupted or failed: the unfinished folder goes at once (unless the switch was made).
        if current_version(index_dir) != folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        if executor is not None:
            executor.close(finished=switched)
    report.cluster, report.workers = executor.cluster, executor.workers
    report.retried_tasks = executor.retried_tasks
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
    scanned: tuple[CorpusScan, dict[str, str]],
    settings: Settings,
    embedder: Embedder,
    executor: BuildExecutor,
) -> BuildReport:
    """Applies the changes to the catalog in one transaction and writes the new version's
    vector parts and manifest into `folder`; the catalog's commit puts it in service."""
    scan, known = scanned
    catalog = Catalog(
        index_dir / CATALOG_FILE, readonly=False, code_bits=settings.sentence_vector_bits
    )
    try:
        if base is None:
            catalog.clear()  # a full build: every document is read and embedded again
            previous, listing = {}, []
        else:
            previous, listing = catalog.document_hashes(), Manifest.read(base).parts
        vectors = PartsWriter(folder.name, embedder.dimension, settings.ivf_probes, base, listing)
        report, failed = _apply_changes(settings, executor, catalog, vectors, previous, scan)
        _record_files(catalog, scan, known, failed)
        if base is None:  # incremental builds leave it to FTS5's own merges, a bit a write
            catalog.merge_lexical_segments()
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
    executor: BuildExecutor,
    catalog: Catalog,
    vectors: PartsWriter,
    previous: dict[str, str],
    scan: CorpusScan,
) -> tuple[BuildReport, set[str]]:
    """Applies the scan's changes; returns the report and the files some of whose documents
    could not be read (their signatures are not recorded: they are read again next time)."""
    report = BuildReport()
    seen = {entry.id for entry in scan.entries}
    if scan.unchanged_files:  # found as they were: their documents stay as they are
        files = set(scan.unchanged_files)
        kept = [i for i in previous if i in files or i.rpartition(":")[0] in files]
        seen.update(kept)
        report.unchanged += len(kept)
    failed: set[str] = set()
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

    # Passages waiting for their vectors, and a bar of passages embedded (on a cluster too).
    pending: list[tuple[Passage, str]] = []
    progress = tqdm(
        total=0, desc="Embedding", unit="passage", disable=not settings.progress or len(todo) < 50
    )

    def store(groups) -> None:
        for group in groups:
            store_group(group, vectors, catalog)
            report.embedded_passages += len(group.ids)
            progress.update(len(group.ids))

    for prepared in executor.prepare(todo):
        entry = prepared.entry
        if prepared.skipped:
            failed.add(entry.relative_path)
            kept = KEPT if entry.id in previous and prepared.document is None else ""
            report.skipped.append(SkippedFile(entry.id, prepared.skipped + kept))
            continue
        if entry.id in previous:
            vectors.remove(catalog.remove_document(entry.id))
            report.changed += 1
        else:
            report.added += 1
        catalog.add_document(prepared.document, prepared.passages, prepared.terms)
        catalog.dates.add(prepared.date_rows)
        staged = executor.staged(prepared)
        if staged is not None:  # embedded by an earlier build that did not finish
            store_group(staged, vectors, catalog)
            report.staged_passages += len(staged.ids)
            continue
        progress.total += len(prepared.passages)
        progress.refresh()
        pending.extend(zip(prepared.passages, prepared.texts, strict=True))
        if len(pending) >= settings.embed_group:
            store(executor.embed(pending))
            pending = []
    store(executor.embed(pending))
    store(executor.finish())
    progress.close()
    return report, failed


def _file_signatures(index_dir: Path) -> dict[str, str]:
    """The corpus files' signatures as the build of the version in service read them."""
    catalog = Catalog(index_dir / CATALOG_FILE)
    try:
        return catalog.file_signatures()
    finally:
        catalog.close()


def _record_files(
    catalog: Catalog, scan: CorpusScan, known: dict[str, str], failed: set[str]
) -> None:
    """Keep the signature of each file whose documents are now all in the catalog as read;
    forget those of files gone, unreadable or with a document that could not be read."""
    read = {path: sig for path, sig in scan.signatures.items() if path not in failed}
    present = set(read) | set(scan.unchanged_files)
    changed = {path: sig for path, sig in read.items() if known.get(path) != sig}
    catalog.set_file_signatures(changed, [path for path in known if path not in present])


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
