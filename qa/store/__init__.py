"""The two stores of the index, both keyed by the stable 63-bit passage id: the catalog
(SQLite: documents, passages, the FTS5 lexical index, dated sentences; one for every
version, each reading its own snapshot) and the vectors (FAISS, as each version's immutable
parts: `qa.store.parts`). Every SQL statement of the project lives in this package."""

from qa.store.catalog import Catalog, CatalogError
from qa.store.dates import DatedSentence, SentenceDates
from qa.store.filters import SearchFilters
from qa.store.passages import StoredPassage
from qa.store.vectors import VectorStore, inverted_lists_for

__all__ = [
    "Catalog",
    "CatalogError",
    "DatedSentence",
    "SearchFilters",
    "SentenceDates",
    "StoredPassage",
    "VectorStore",
    "inverted_lists_for",
]
