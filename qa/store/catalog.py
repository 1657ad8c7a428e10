"""The catalog of an index version: SQLite for documents, passages, their metadata and
the FTS5 lexical index, keyed by the stable 63-bit passage id. Its tables are declared in
`qa.store.schema`; the dated sentences' queries are in `qa.store.dates` (`Catalog.dates`).

The lexical index holds each passage's terms as `qa.text.terms` made them (accent-folded,
stemmed for the document's language) and FTS5 ranks them with its built-in BM25. It is
updated row by row, so incremental builds touch only what changed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from qa.core.types import Document, Passage
from qa.dates.values import date_bounds
from qa.store.dates import SentenceDates
from qa.store.filters import SearchFilters, filter_clause, match_expression
from qa.store.in_lists import rows_for_ids
from qa.store.lexical_rows import (
    forget_terms,
    index_terms,
    next_slot,
    passage_ids,
)
from qa.store.passages import (
    PASSAGE_COLUMNS,
    PASSAGES_SQL,
    VECTOR_COLUMNS,
    StoredPassage,
    document_text,
    passage_from_row,
    stored_passage,
    stored_text,
)
from qa.store.schema import CACHE_KIB, PAGE_SIZE, SCHEMA, merge_lexical_segments, remake_tables
from qa.store.sentence_rows import remove_sentence_vectors, store_sentence_vectors
from qa.store.vocabulary import count_terms, document_frequencies

#: What the catalog raises when SQLite fails (a full disk, a corrupt file).
CatalogError = sqlite3.Error
#: Bytes the write-ahead log is cut back to once a checkpoint has copied all of it.
WAL_SIZE_LIMIT = 64 * 1024 * 1024


class Catalog:
    """SQLite database of documents, passages, sentences and the lexical index."""

    def __init__(self, path: Path, readonly: bool = True, code_bits: int = 8) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.code_bits = code_bits  # of the sentence vectors it stores (qa.store.codes)
        self._connection: sqlite3.Connection | None = None
        self._opened_lock = threading.Lock()
        self.closed = False
        self.dates = SentenceDates(lambda: self.connection)
        if readonly:
            self.connection  # noqa: B018 (opened now: the version read is the one at opening)
        else:
            self.connection.executescript(SCHEMA)

    @property
    def connection(self) -> sqlite3.Connection:
        """The catalog's one connection, shared by every thread (web requests run in a thread
        pool). A reader's holds one read transaction from its opening to `close`: it reads
        the version committed when it opened while builds commit newer ones beside it
        (SQLite's write-ahead log keeps each reader's snapshot)."""
        connection = self._connection
        if connection is None:
            with self._opened_lock:
                if self.closed:
                    raise sqlite3.ProgrammingError(f"The catalog {self.path} is closed.")
                if self._connection is None:
                    self._connection = self._connect()
                connection = self._connection
        return connection

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            uri = f"file:{self.path}?mode=ro"  # a reader writes nothing: no foreign keys
            connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            connection.execute("BEGIN")
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot
            return connection
        connection = sqlite3.connect(self.path, check_same_thread=False)
        connection.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new file's; kept by one made
        connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        connection.execute("PRAGMA journal_mode=WAL")
        # The commit that switches versions is on disk before the build reports it.
        connection.execute("PRAGMA synchronous=FULL")
        # Once readers let a checkpoint reach its end, the log is cut back to this size.
        connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    def close(self) -> None:
        """Closes the connection when no thread uses it (a writer's uncommitted work is lost)."""
        with self._opened_lock:
            connection, self._connection = self._connection, None
            self.closed = True
        if connection is not None:
            connection.close()

    def version(self) -> str | None:
        """The version this catalog holds (as of a reader's opening)."""
        row = self.connection.execute(
            "SELECT value FROM index_state WHERE key = 'version'"
        ).fetchone()
        return row[0] if row else None

    def switch_to(self, version: str) -> None:
        """Commit the build: the one step that puts `version` in service. Until it runs, a
        failed or killed build leaves nothing (SQLite rolls its transaction back)."""
        self.connection.execute(
            "INSERT INTO index_state VALUES ('version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (version,),
        )
        self.connection.commit()
        # Copies what it can of the log into the file; never waits for readers.
        self.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def clear(self) -> None:
        """Delete every document (a full build, inside its transaction). The tables are made
        again as this version of the code declares them, so that a full build also brings
        a catalog of an earlier format to this one; until the commit, readers keep theirs."""
        remake_tables(self.connection)

    def integrity(self) -> str:
        """SQLite's integrity check of the file: "ok", or what is wrong."""
        return self.connection.execute("PRAGMA integrity_check").fetchone()[0]

    # --- Writing ---
    def add_document(
        self,
        document: Document,
        passages: list[Passage],
        passage_terms: list[list[str]],
    ) -> None:
        date_start, date_end = date_bounds(document.date)
        db = self.connection
        db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                document.id,
                document.path,
                document.title,
                document.language,
                document.source,
                document.date,
                date_start,
                date_end,
                json.dumps(document.metadata, ensure_ascii=False),
                stored_text(document.text),
                json.dumps(list(document.page_starts)),
                document.content_hash,
            ),
        )
        first = next_slot(db)
        db.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    p.id,
                    p.document_id,
                    p.ordinal,
                    p.start,
                    p.end,
                    p.page,
                    json.dumps([[s.start, s.end] for s in p.sentences]),
                    len(t),
                    zlib.compress(" ".join(t).encode()),
                    None,  # sentence vectors, set once embedded
                    first + n,
                )
                for n, (p, t) in enumerate(zip(passages, passage_terms, strict=True))
            ],
        )
        index_terms(db, [(first + n, " ".join(t)) for n, t in enumerate(passage_terms)])
        self._count_terms((set(t) for t in passage_terms), +1)

    def set_sentence_vectors(
        self, vectors: dict[int, np.ndarray], context: dict[int, np.ndarray] | None = None
    ) -> None:
        """Store, for each passage id, the vectors of its sentences (one row each, in order)
        and, when given, their vectors in context (see `StoredPassage.context_vectors`), in
        codes of `code_bits`."""
        store_sentence_vectors(self.connection, vectors, context, self.code_bits)

    def remove_document(self, document_id: str) -> list[int]:
        """Delete a document with its passages; returns the removed passage ids."""
        db = self.connection
        ids = [
            row[0]
            for row in db.execute("SELECT id FROM passages WHERE document_id=?", (document_id,))
        ]
        stored = forget_terms(db, ids)
        self._count_terms((set(text.split()) for text in stored.values()), -1)
        remove_sentence_vectors(db, ids)
        db.execute("DELETE FROM passages WHERE document_id=?", (document_id,))
        db.execute("DELETE FROM documents WHERE id=?", (document_id,))
        return ids

    def _count_terms(self, term_sets: Iterable[set[str]], sign: int) -> None:
        count_terms(self.connection, term_sets, sign)

    def set_file_signatures(self, changed: dict[str, str], gone: Iterable[str]) -> None:
        """Record the signatures of corpus files whose documents this build read (`changed`)
        and forget those of files that are gone or must be read again (`gone`)."""
        db = self.connection
        db.executemany("DELETE FROM corpus_files WHERE path = ?", [(path,) for path in gone])
        db.executemany(
            "INSERT INTO corpus_files VALUES (?, ?) "
            "ON CONFLICT(path) DO UPDATE SET signature = excluded.signature",
            list(changed.items()),
        )

    def merge_lexical_segments(self) -> None:
        """The lexical index's segments merged (`qa.store.schema.merge_lexical_segments`)."""
        merge_lexical_segments(self.connection)

    def commit(self) -> None:
        self.connection.commit()

    # --- Reading ---
    def document_hashes(self) -> dict[str, str]:
        return dict(self.connection.execute("SELECT id, content_hash FROM documents"))

    def file_signatures(self) -> dict[str, str]:
        """Each corpus file's signature as the last build read it (see `corpus_files`);
        empty for a catalog made before they were kept."""
        try:
            return dict(self.connection.execute("SELECT path, signature FROM corpus_files"))
        except sqlite3.OperationalError:  # no such table: a reader of an older catalog
            return {}

    def document_ids(self, limit: int) -> list[str]:
        rows = self.connection.execute("SELECT id FROM documents ORDER BY id LIMIT ?", (limit,))
        return [row[0] for row in rows]

    def languages(self) -> list[str]:
        """The documents' languages, the language of most documents first."""
        rows = self.connection.execute(
            "SELECT language, count(*) FROM documents GROUP BY language ORDER BY 2 DESC"
        )
        return [row[0] for row in rows]

    def passage_ids(self, limit: int | None = None) -> list[int]:
        """Passage ids in ascending order: all of them, or the lowest `limit` (passage ids
        are hashes, so these are an arbitrary but stable sample)."""
        rows = self.connection.execute(
            "SELECT id FROM passages ORDER BY id LIMIT ?", (-1 if limit is None else limit,)
        )
        return [row[0] for row in rows]

    def passages_per_document(self) -> dict[str, int]:
        rows = self.connection.execute(
            "SELECT document_id, count(*) FROM passages GROUP BY document_id"
        )
        return dict(rows)

    def titled_passages(self) -> list[tuple[int, str, str]]:
        """(passage id, its document's title, passage text) of every passage."""
        rows = self.connection.execute(
            "SELECT p.id, d.title, d.text, p.start, p.end FROM passages p "
            "JOIN documents d ON d.id = p.document_id"
        )
        return [(i, title, document_text(text)[start:end]) for i, title, text, start, end in rows]

    def counts(self) -> tuple[int, int]:
        db = self.connection
        documents = db.execute("SELECT count(*) FROM documents").fetchone()[0]
        passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
        return documents, passages

    def document(self, document_id: str) -> Document | None:
        row = self.connection.execute(
            "SELECT id, path, title, text, language, metadata, page_starts, content_hash "
            "FROM documents WHERE id=?",
            (document_id,),
        ).fetchone()
        if row is None:
            return None
        return Document(
            id=row[0],
            path=row[1],
            title=row[2],
            text=document_text(row[3]),
            language=row[4],
            metadata=json.loads(row[5]),
            page_starts=tuple(json.loads(row[6])),
            content_hash=row[7],
        )

    def document_passages(self, document_id: str) -> list[Passage]:
        # The document's stored text read once, not once a passage (a long report has
        # hundreds): each passage is cut out of it.
        found = self.connection.execute(
            "SELECT text FROM documents WHERE id=?", (document_id,)
        ).fetchone()
        if found is None:
            return []
        (stored,) = found
        rows = self.connection.execute(
            f"SELECT {PASSAGE_COLUMNS.replace('d.text', 'NULL')} FROM passages p "
            "WHERE p.document_id=? ORDER BY p.ordinal",
            (document_id,),
        )
        return [passage_from_row((*row[:6], stored, row[7])) for row in rows]

    def _rows_for_ids(self, sql: str, ids: Iterable[int], before: list = ()) -> Iterator[tuple]:
        """`qa.store.in_lists.rows_for_ids` on the catalog's connection."""
        return rows_for_ids(self.connection, sql, ids, before)

    def passages(self, ids: Iterable[int], vectors: bool = True) -> dict[int, StoredPassage]:
        """The passages with these ids (unknown ids are left out), with their sentence
        vectors if `vectors` (a search's hits show none, and reading and unpacking them is
        most of the time of reading ten passages)."""
        columns, joins = VECTOR_COLUMNS if vectors else ("", "")
        rows = self._rows_for_ids(PASSAGES_SQL.format(vectors=columns, joins=joins), ids)
        return {row[0]: stored_passage(row, vectors) for row in rows}

    def lexical_search(
        self, query_terms: list[str], limit: int, filters: SearchFilters | None = None
    ) -> list[tuple[int, float]]:
        """(passage id, BM25 score) best first; higher is better."""
        match = match_expression(query_terms)
        if not match:
            return []
        sql = "SELECT t.rowid, -bm25(passage_terms) AS score FROM passage_terms t"
        where = ["passage_terms MATCH ?"]
        params: list = [match]
        if filters is not None and not filters.is_empty():
            sql += f" JOIN passages p ON p.slot = t.rowid {_FILTER_COLUMNS}"
            clause, values = filter_clause(filters)
            where.append(clause)
            params.extend(values)
        sql += " WHERE " + " AND ".join(where) + " ORDER BY score DESC LIMIT ?"
        params.append(limit)
        scored = [(int(row[0]), float(row[1])) for row in self.connection.execute(sql, params)]
        return passage_ids(self.connection, scored)  # row ids are slots

    def passage_languages(self, ids: Iterable[int]) -> dict[int, str]:
        """The language of the document of each of these passages."""
        sql = f"SELECT p.id, d.language FROM passages p {_FILTER_COLUMNS} WHERE p.id IN ({{marks}})"
        return dict(self._rows_for_ids(sql, ids))

    def filtered_passage_ids(self, filters: SearchFilters, limit: int | None = None) -> np.ndarray:
        """The ids of the passages whose document passes the filters: all of them, or at most
        `limit` (a search asks for one more than it would scan exactly, to learn whether the
        filter is narrow without reading every id of a broad one)."""
        clause, values = filter_clause(filters)
        # Documents first, then their passages through passages_by_document, which holds the
        # ids: the passages' own rows (text and sentence vectors) are never read.
        rows = self.connection.execute(
            "SELECT p.id FROM documents d CROSS JOIN passages p ON p.document_id = d.id "
            f"WHERE {clause} LIMIT ?",
            [*values, -1 if limit is None else limit],
        )
        return np.fromiter((row[0] for row in rows), dtype=np.int64)

    def passing_filters(self, filters: SearchFilters, ids: Iterable[int]) -> set[int]:
        """Those of these passage ids whose document passes the filters."""
        clause, values = filter_clause(filters)
        sql = (
            f"SELECT p.id FROM passages p {_FILTER_COLUMNS} WHERE {clause} AND p.id IN ({{marks}})"
        )
        return {row[0] for row in self._rows_for_ids(sql, ids, values)}

    def lexical_statistics(self) -> tuple[int, float]:
        """Passages and their mean number of terms (BM25's N and average length)."""
        count, total = self.connection.execute(
            "SELECT count(*), coalesce(sum(term_count), 0) FROM passages"
        ).fetchone()
        return int(count), (total / count if count else 0.0)

    def passage_terms(self, ids: Iterable[int]) -> dict[int, str]:
        """The indexed terms of each of these passages, joined by single spaces."""
        sql = "SELECT id, terms FROM passages WHERE id IN ({marks})"
        return {row[0]: zlib.decompress(row[1]).decode() for row in self._rows_for_ids(sql, ids)}

    def document_frequencies(self, query_terms: Iterable[str]) -> dict[str, int]:
        """How many passages hold each term (for rarity weights)."""
        return document_frequencies(self.connection, query_terms)


#: A passage's document's filter columns and language, read from the small index of them.
_FILTER_COLUMNS = "JOIN documents d INDEXED BY documents_filtered ON d.id = p.document_id"
