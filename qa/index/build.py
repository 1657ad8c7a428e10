"""Building the index folder (its versions and opening them: `qa.index.versions`).

    index/
      CURRENT                 the name of the version in service (replaced atomically)
      versions/<version>/     manifest.json, catalog.sqlite, vectors.faiss
      .build.lock             held by the one build that may run at a time

A build never touches the version in service: it reads the corpus, copies the version
into a new folder, applies the corpus's changes there (only new or changed documents are
parsed, chunked and embedded, by content hash), writes the manifest last and then points
CURRENT at the new folder with one atomic rename. A build that fails or is interrupted
before that rename removes its folder at once; after a crash or SIGKILL, the next build
removes what was left. Each build keeps the version that served before it (requests may
still read it) and removes every other one.
"""

from __future__ import annotations

import fcntl
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from itertools import pairwise
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa.core.config import Settings
from qa.core.errors import BuildError, BuildInProgressError
from qa.core.types import BuildReport, Passage, SkippedFile
from qa.embedders import Embedder, pools_spans
from qa.index.chunking import (
    ChunkingParameters,
    chunk_document,
    embedding_text,
    passage_budget,
    truncate_title,
)
from qa.index.events import add_document_dates
from qa.index.versions import (
    CATALOG_FILE,
    FORMAT_VERSION,
    MANIFEST_FILE,
    VECTORS_FILE,
    IndexVersion,
    Manifest,
    check_compatible,
    current_version,
    fsync_folder,
    open_index,
    write_atomically,
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
from qa.store import Catalog, CatalogError, VectorStore, inverted_lists_for
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
        report = _write_version(folder, base, scan, settings, embedder)
        # The one step that switches service to the new version.
        write_atomically(index_dir / "CURRENT", name + "\n")
    except BaseException:
        # Interrupted or failed: the unfinished folder goes at once (unless the switch was made).
        if current_version(index_dir) != folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    # Kept: the new version and the one serving until now, for requests still reading it.
    # Anything else (older versions, orphans of a crash before the switch) goes.
    _remove_versions(index_dir, keep={name, live.name if live else name})
    report.version = name
    return report


def _write_version(
    folder: Path, base: Path | None, scan: CorpusScan, settings: Settings, embedder: Embedder
) -> BuildReport:
    """Writes the complete new version into `folder`, its manifest last."""
    catalog, vectors, previous = _start_version(folder, base, embedder, settings)
    try:
        report = _apply_changes(settings, embedder, catalog, vectors, previous, scan)
        catalog.commit()
        lists = inverted_lists_for(vectors.size, settings.faiss_factory, settings.ivf_min_passages)
        vectors = vectors.reorganised(lists)
        vectors.save(folder / VECTORS_FILE)
        report.documents, report.passages = catalog.counts()
        document_hashes = dict(sorted(catalog.document_hashes().items()))
    finally:
        catalog.close()
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
        vectors_layout=vectors.layout,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        documents=document_hashes,
        passages=report.passages,
    )
    manifest.write(folder)
    fsync_folder(folder)
    return report


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror} ({error.filename})" if error.filename else error.strerror
    return str(error) or type(error).__name__


def _start_version(folder: Path, base: Path | None, embedder: Embedder, settings: Settings):
    """The new version's stores: copies of the base version's, or empty ones."""
    previous: dict[str, str] = {}
    if base is not None:
        Catalog.copy_file(base / CATALOG_FILE, folder / CATALOG_FILE)
        shutil.copyfile(base / VECTORS_FILE, folder / VECTORS_FILE)
        previous = Manifest.read(base).documents
        vectors = VectorStore.load(folder / VECTORS_FILE, probes=settings.ivf_probes)
    else:
        # Vectors gather in the exact layout; the build's end moves them to inverted lists
        # when the archive is large enough (see VectorStore.reorganised).
        vectors = VectorStore.create(embedder.dimension, probes=settings.ivf_probes)
    return Catalog(folder / CATALOG_FILE, readonly=False), vectors, previous


def _apply_changes(
    settings: Settings,
    embedder: Embedder,
    catalog: Catalog,
    vectors: VectorStore,
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
            report.embedded_passages += _embed(pending, embedder, vectors, catalog, settings)
            pending = []
    report.embedded_passages += _embed(pending, embedder, vectors, catalog, settings)
    return report


def _embed(
    pending, embedder: Embedder, vectors: VectorStore, catalog: Catalog, settings: Settings
) -> int:
    """Embed the pending passages into the vector store and, when the settings ask for it,
    each of their sentences into the catalog (a sentence two passages share, once)."""
    if not pending:
        return 0
    ids = np.fromiter((passage.id for passage, _ in pending), dtype=np.int64)
    texts = [text for _, text in pending]
    if settings.sentence_vectors and pooled_sentences(settings, embedder):
        _embed_pooled(pending, texts, ids, embedder, vectors, catalog, settings)
        return len(pending)
    matrix = embedder.encode_passages(texts, batch_size=settings.batch_size)
    vectors.add(ids, matrix)
    if settings.sentence_vectors:
        _embed_sentences(pending, embedder, catalog, settings)
    return len(pending)


def pooled_sentences(settings: Settings, embedder: Embedder) -> bool:
    """Whether this build pools sentence vectors out of the passages' own passes."""
    source = settings.sentence_vector_source
    if source == "context" and not settings.sentence_context_vectors:
        return False  # nothing is pooled: sentences alone are embedded alone
    return source != "separate" and pools_spans(embedder)


def _embed_pooled(
    pending, texts, ids, embedder, vectors: VectorStore, catalog: Catalog, settings: Settings
) -> None:
    """Passages embedded with their sentences' vectors pooled out of the same pass:
    "passage", every vector; "context", the context vectors only (each sentence as read
    in its passage), the sentences alone embedded on their own."""
    every = settings.sentence_vector_source == "passage"
    pairs = every and settings.sentence_context_vectors
    spans = [_sentence_spans(passage, text, pairs) for passage, text in pending]
    matrix, pooled = embedder.encode_passages_pooled(texts, spans, settings.batch_size)
    vectors.add(ids, matrix)
    own, context = {}, {}
    for (passage, _), found in zip(pending, pooled, strict=True):
        if found is None:
            continue
        count = len(passage.sentences)
        if not every:
            context[passage.id] = found
            continue
        own[passage.id] = found[:count]
        if pairs:
            # A passage's first sentence has no pair and keeps its own vector.
            context[passage.id] = np.vstack([found[:1], found[count:]])
    if every:
        catalog.set_sentence_vectors(own, context)
    else:
        done = [item for item, found in zip(pending, pooled, strict=True) if found is not None]
        _embed_sentences(done, embedder, catalog, settings, pooled_context=context)
    # Passages it could not pool (embedded by the engine) get separate sentence passes.
    rest = [item for item, found in zip(pending, pooled, strict=True) if found is None]
    if rest:
        _embed_sentences(rest, embedder, catalog, settings)


def _sentence_spans(passage: Passage, text: str, pairs: bool) -> list[tuple[int, int]]:
    """Character spans, in the embedded `text` (the passage after its title line, if any), of
    each sentence of the passage, then (with `pairs`) of each sentence together with the one
    before it."""
    offset = len(text) - len(passage.text) - passage.start
    own = [(s.start + offset, s.end + offset) for s in passage.sentences]
    if not pairs:
        return own
    return own + [(before[0], after[1]) for before, after in pairwise(own)]


def _embed_sentences(
    pending,
    embedder: Embedder,
    catalog: Catalog,
    settings: Settings,
    pooled_context: dict[int, np.ndarray] | None = None,
) -> None:
    """Each sentence of the pending passages on its own and, when the settings ask for it,
    with the sentence before it in its passage (a sentence or pair two passages share is
    embedded once; a passage's first sentence has no pair and keeps its own vector). With
    `pooled_context`, those are the passages' context vectors and no pair is embedded."""
    pairs = settings.sentence_context_vectors and pooled_context is None
    texts: dict[tuple, str] = {}
    for passage, _ in pending:
        for sentence in passage.sentences:
            texts[(passage.document_id, sentence.start)] = sentence.text
    if pairs:
        for passage, _ in pending:
            for before, sentence in pairwise(passage.sentences):
                key = (passage.document_id, before.start, sentence.start)
                texts[key] = f"{before.text} {sentence.text}"
    keys = list(texts)
    encoded = embedder.encode_passages([texts[k] for k in keys], batch_size=settings.batch_size)
    row = {key: n for n, key in enumerate(keys)}
    own, context = {}, {}
    for passage, _ in pending:
        document, sentences = passage.document_id, passage.sentences
        own[passage.id] = encoded[[row[(document, s.start)] for s in sentences]]
        if pairs and sentences:
            pairs_rows = [row[(document, b.start, s.start)] for b, s in pairwise(sentences)]
            context[passage.id] = np.vstack([own[passage.id][:1], encoded[pairs_rows]])
    catalog.set_sentence_vectors(own, pooled_context if pooled_context is not None else context)


def _remove_leftovers(index_dir: Path, live: Path | None) -> None:
    """What interrupted builds leave: version folders that no manifest completes, and
    temporary files of the CURRENT pointer."""
    for folder in (index_dir / "versions").iterdir():
        if folder != live and not (folder / MANIFEST_FILE).is_file():
            shutil.rmtree(folder, ignore_errors=True)
    for temporary in index_dir.glob(".CURRENT.*.tmp"):
        temporary.unlink(missing_ok=True)


def _remove_versions(index_dir: Path, keep: set[str]) -> None:
    for folder in (index_dir / "versions").iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)
