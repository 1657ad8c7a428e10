"""The two stores of an index version: SQLite for text and metadata (with an FTS5 lexical
index), FAISS for the vectors. Both are keyed by the stable 63-bit passage id.

The lexical index holds each passage's terms as `qa.text.terms` made them (accent-folded,
stemmed for the document's language) and FTS5 ranks them with its built-in BM25. It is
updated row by row, so incremental builds touch only what changed.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import math
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import InvalidQueryError
from qa.types import Document, Passage, Sentence

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    key INTEGER NOT NULL UNIQUE,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    language TEXT NOT NULL,
    source TEXT,
    date TEXT,
    date_start TEXT,
    date_end TEXT,
    metadata TEXT NOT NULL,
    text TEXT NOT NULL,
    page_starts TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    page INTEGER,
    text TEXT NOT NULL,
    sentences TEXT NOT NULL,
    term_count INTEGER NOT NULL,
    -- Each sentence's own vector, float16, one row per sentence (NULL when not embedded).
    sentence_vectors BLOB
);
CREATE INDEX IF NOT EXISTS passages_by_document ON passages(document_id, ordinal);
CREATE VIRTUAL TABLE IF NOT EXISTS passage_terms USING fts5(terms, tokenize='unicode61');
-- Passages holding each term, kept up to date document by document: a question's rarity
-- weights are one indexed look-up per term (FTS5's own counts walk each posting list).
CREATE TABLE IF NOT EXISTS vocabulary (
    term TEXT PRIMARY KEY,
    passages INTEGER NOT NULL
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS document_terms USING fts5(terms, tokenize='unicode61');
-- Date mentions of sentences (qa/events.py), one row per mention: a sentence is its
-- document and span, with the first passage holding it; removed with its document.
CREATE TABLE IF NOT EXISTS sentence_dates (
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    passage_id INTEGER NOT NULL,
    mention_start INTEGER NOT NULL,
    mention_end INTEGER NOT NULL,
    value_start TEXT NOT NULL,
    value_end TEXT NOT NULL,
    precision TEXT NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    PRIMARY KEY (document_id, start, mention_start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sentence_dates_by_day ON sentence_dates(first_day, last_day);
"""


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on document metadata; None means no restriction."""

    source: str | None = None
    language: str | None = None
    date_from: str | None = None  # ISO date prefix, inclusive
    date_to: str | None = None

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None and not _valid_date(value):
                raise InvalidQueryError(
                    f"{name} must be a date as YYYY, YYYY-MM or YYYY-MM-DD, not '{value}'."
                )

    def is_empty(self) -> bool:
        return not (self.source or self.language or self.date_from or self.date_to)

    @property
    def matches_nothing(self) -> bool:
        """A date range that ends before it starts holds no date, so no document."""
        if not (self.date_from and self.date_to):
            return False
        return date_bounds(self.date_from)[0] > date_bounds(self.date_to)[1]


def _valid_date(value: str) -> bool:
    """YYYY, YYYY-MM or YYYY-MM-DD in ASCII digits, a day that its month has."""
    match = re.fullmatch(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?", value)
    if not match:
        return False
    year, month, day = (int(part) if part else None for part in match.groups())
    if month is not None and not 1 <= month <= 12:
        return False
    return day is None or 1 <= day <= calendar.monthrange(year, month)[1]


@dataclass(frozen=True)
class StoredPassage:
    """A passage with the document fields that retrieval and answers show."""

    passage: Passage
    title: str
    language: str
    metadata: dict
    #: One unit vector per sentence of the passage, in order; None when not embedded.
    sentence_vectors: np.ndarray | None = None


def date_bounds(date: str | None) -> tuple[str | None, str | None]:
    """First and last day covered by an ISO date prefix: "2022-12" -> 2022-12-01..2022-12-31."""
    if not date:
        return None, None
    parts = date.split("-")
    start = "-".join(parts + ["01"] * (3 - len(parts)))
    end = "-".join(parts + (["12", "31"] if len(parts) == 1 else ["31"] if len(parts) == 2 else []))
    return start, end


class Catalog:
    """SQLite database of documents, passages, sentences and the lexical index."""

    def __init__(self, path: Path, readonly: bool = True) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []  # every thread's, so close() reaches all
        self._opened_lock = threading.Lock()
        self.closed = False
        if not readonly:
            self.connection.executescript(SCHEMA)

    @property
    def connection(self) -> sqlite3.Connection:
        """One connection per thread (web requests run in a thread pool)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self.closed:
                raise sqlite3.ProgrammingError(f"The catalog {self.path} is closed.")
            if self.readonly:
                uri = f"file:{self.path}?mode=ro"
                connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                connection = sqlite3.connect(self.path, check_same_thread=False)
                connection.execute("PRAGMA journal_mode=DELETE")
                connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
            with self._opened_lock:
                self._opened.append(connection)
        return connection

    def close(self) -> None:
        """Closes the connections of every thread; call it when no thread uses them."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self.closed = True
        for connection in opened:
            connection.close()
        self._local = threading.local()

    # --- Writing ---
    def add_document(
        self,
        document: Document,
        passages: list[Passage],
        passage_terms: list[list[str]],
        document_terms: list[str],
    ) -> None:
        date_start, date_end = date_bounds(document.date)
        db = self.connection
        db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                document.id,
                document_key(document.id),
                document.path,
                document.title,
                document.language,
                document.source,
                document.date,
                date_start,
                date_end,
                json.dumps(document.metadata, ensure_ascii=False),
                document.text,
                json.dumps(list(document.page_starts)),
                document.content_hash,
            ),
        )
        db.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    p.id,
                    p.document_id,
                    p.ordinal,
                    p.start,
                    p.end,
                    p.page,
                    p.text,
                    json.dumps([[s.start, s.end] for s in p.sentences]),
                    len(t),
                    None,  # sentence vectors, set once embedded
                )
                for p, t in zip(passages, passage_terms, strict=True)
            ],
        )
        db.execute(
            "INSERT INTO document_terms(rowid, terms) VALUES (?, ?)",
            (document_key(document.id), " ".join(document_terms)),
        )
        db.executemany(
            "INSERT INTO passage_terms(rowid, terms) VALUES (?, ?)",
            [(p.id, " ".join(t)) for p, t in zip(passages, passage_terms, strict=True)],
        )
        self._count_terms((set(t) for t in passage_terms), +1)

    def set_sentence_vectors(self, vectors: dict[int, np.ndarray]) -> None:
        """Store, for each passage id, the vectors of its sentences (one row each, in order)."""
        self.connection.executemany(
            "UPDATE passages SET sentence_vectors = ? WHERE id = ?",
            [
                (np.asarray(matrix, dtype=np.float16).tobytes(), passage_id)
                for passage_id, matrix in vectors.items()
            ],
        )

    def remove_document(self, document_id: str) -> list[int]:
        """Delete a document with its passages; returns the removed passage ids."""
        db = self.connection
        ids = [
            row[0]
            for row in db.execute("SELECT id FROM passages WHERE document_id=?", (document_id,))
        ]
        stored = self.passage_terms(ids)
        self._count_terms((set(text.split()) for text in stored.values()), -1)
        db.executemany("DELETE FROM passage_terms WHERE rowid=?", [(i,) for i in ids])
        db.execute("DELETE FROM document_terms WHERE rowid=?", (document_key(document_id),))
        db.execute("DELETE FROM passages WHERE document_id=?", (document_id,))
        db.execute("DELETE FROM documents WHERE id=?", (document_id,))
        return ids

    def _count_terms(self, term_sets: Iterable[set[str]], sign: int) -> None:
        """Add (sign +1) or take away (-1) passages from each term's count."""
        counts = Counter()
        for term_set in term_sets:
            counts.update(term_set)
        db = self.connection
        db.executemany(
            "INSERT INTO vocabulary VALUES (?, ?) "
            "ON CONFLICT(term) DO UPDATE SET passages = passages + excluded.passages",
            [(term, sign * n) for term, n in counts.items()],
        )
        if sign < 0:
            db.execute("DELETE FROM vocabulary WHERE passages <= 0")

    def commit(self) -> None:
        self.connection.commit()

    # --- Reading ---
    def document_hashes(self) -> dict[str, str]:
        return dict(self.connection.execute("SELECT id, content_hash FROM documents"))

    def document_ids(self, limit: int) -> list[str]:
        rows = self.connection.execute("SELECT id FROM documents ORDER BY id LIMIT ?", (limit,))
        return [row[0] for row in rows]

    def passages_per_document(self) -> dict[str, int]:
        rows = self.connection.execute(
            "SELECT document_id, count(*) FROM passages GROUP BY document_id"
        )
        return dict(rows)

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
            text=row[3],
            language=row[4],
            metadata=json.loads(row[5]),
            page_starts=tuple(json.loads(row[6])),
            content_hash=row[7],
        )

    def document_passages(self, document_id: str) -> list[Passage]:
        rows = self.connection.execute(
            "SELECT id, document_id, ordinal, start, end, page, text, sentences FROM passages "
            "WHERE document_id=? ORDER BY ordinal",
            (document_id,),
        )
        return [_passage(row) for row in rows]

    def _rows_for_ids(self, sql: str, ids: Iterable[int]) -> Iterator[tuple]:
        """Rows of `sql`, whose `{marks}` is an IN list, for these ids (500 a query, under
        SQLite's limit on parameters)."""
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            yield from self.connection.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)

    def passages(self, ids: Iterable[int]) -> dict[int, StoredPassage]:
        """The passages with these ids (unknown ids are left out)."""
        rows = self._rows_for_ids(
            "SELECT p.id, p.document_id, p.ordinal, p.start, p.end, p.page, p.text, "
            "p.sentences, d.title, d.language, d.metadata, p.sentence_vectors FROM passages p "
            "JOIN documents d ON d.id = p.document_id WHERE p.id IN ({marks})",
            ids,
        )
        found = {}
        for row in rows:
            passage = _passage(row[:8])
            vectors = None
            if row[11] is not None:
                vectors = np.frombuffer(row[11], dtype=np.float16).astype(np.float32)
                vectors = vectors.reshape(len(passage.sentences), -1)
            found[row[0]] = StoredPassage(passage, row[8], row[9], json.loads(row[10]), vectors)
        return found

    def lexical_search(
        self, query_terms: list[str], limit: int, filters: SearchFilters | None = None
    ) -> list[tuple[int, float]]:
        """(passage id, BM25 score) best first; higher is better."""
        match = _match_expression(query_terms)
        if not match:
            return []
        sql = "SELECT t.rowid, -bm25(passage_terms) AS score FROM passage_terms t"
        where = ["passage_terms MATCH ?"]
        params: list = [match]
        if filters is not None and not filters.is_empty():
            sql += " JOIN passages p ON p.id = t.rowid JOIN documents d ON d.id = p.document_id"
            clause, values = _filter_clause(filters)
            where.append(clause)
            params.extend(values)
        sql += " WHERE " + " AND ".join(where) + " ORDER BY score DESC LIMIT ?"
        params.append(limit)
        return [(int(row[0]), float(row[1])) for row in self.connection.execute(sql, params)]

    def passage_languages(self, ids: Iterable[int]) -> dict[int, str]:
        """The language of the document of each of these passages."""
        sql = (
            "SELECT p.id, d.language FROM passages p JOIN documents d ON d.id = p.document_id "
            "WHERE p.id IN ({marks})"
        )
        return dict(self._rows_for_ids(sql, ids))

    def passage_documents(self, ids: Iterable[int]) -> dict[int, str]:
        """The document id of each of these passages."""
        sql = "SELECT id, document_id FROM passages WHERE id IN ({marks})"
        return dict(self._rows_for_ids(sql, ids))

    def document_lexical_scores(self, query_terms: list[str], limit: int) -> dict[str, float]:
        """BM25 of whole documents (title and all text) for the query: the best `limit`."""
        match = _match_expression(query_terms)
        if not match:
            return {}
        rows = self.connection.execute(
            "SELECT d.id, -bm25(document_terms) AS score FROM document_terms t "
            "JOIN documents d ON d.key = t.rowid WHERE document_terms MATCH ? "
            "ORDER BY score DESC LIMIT ?",
            (match, limit),
        )
        return {row[0]: float(row[1]) for row in rows}

    def filtered_passage_ids(self, filters: SearchFilters) -> np.ndarray:
        clause, values = _filter_clause(filters)
        rows = self.connection.execute(
            f"SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id WHERE {clause}",
            values,
        )
        return np.fromiter((row[0] for row in rows), dtype=np.int64)

    def lexical_statistics(self) -> tuple[int, float]:
        """Passages and their mean number of terms (BM25's N and average length)."""
        count, total = self.connection.execute(
            "SELECT count(*), coalesce(sum(term_count), 0) FROM passages"
        ).fetchone()
        return int(count), (total / count if count else 0.0)

    def passage_terms(self, ids: Iterable[int]) -> dict[int, str]:
        """The indexed terms of each of these passages, joined by single spaces."""
        sql = "SELECT rowid, terms FROM passage_terms WHERE rowid IN ({marks})"
        return dict(self._rows_for_ids(sql, ids))

    def document_frequencies(self, query_terms: Iterable[str]) -> dict[str, int]:
        """How many passages hold each term (for rarity weights)."""
        unique = sorted(set(query_terms))
        if not unique:
            return {}
        marks = ",".join("?" * len(unique))
        rows = self.connection.execute(
            f"SELECT term, passages FROM vocabulary WHERE term IN ({marks})", unique
        )
        found = dict(rows)
        return {term: int(found.get(term, 0)) for term in unique}


def document_key(document_id: str) -> int:
    """A 63-bit integer key for a document id (FTS5 rows are keyed by integers)."""
    digest = hashlib.blake2b(document_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _passage(row) -> Passage:
    passage_id, document_id, ordinal, start, end, page, text, sentence_spans = row
    sentences = tuple(
        Sentence(s, e, text[s - start : e - start]) for s, e in json.loads(sentence_spans)
    )
    return Passage(passage_id, document_id, ordinal, start, end, text, sentences, page)


def _match_expression(query_terms: list[str]) -> str:
    # Terms are \w+ tokens, so quoting them is enough to keep FTS5 syntax out.
    unique = list(dict.fromkeys(term for term in query_terms if term))
    return " OR ".join(f'"{term}"' for term in unique)


def _filter_clause(filters: SearchFilters) -> tuple[str, list]:
    clauses, values = ["1=1"], []
    if filters.matches_nothing:
        clauses.append("0")
    if filters.source:
        clauses.append("d.source = ?")
        values.append(filters.source)
    if filters.language:
        clauses.append("d.language = ?")
        values.append(filters.language)
    if filters.date_from:
        clauses.append("d.date_end >= ?")
        values.append(date_bounds(filters.date_from)[0])
    if filters.date_to:
        clauses.append("d.date_start <= ?")
        values.append(date_bounds(filters.date_to)[1])
    return " AND ".join(clauses), values


#: Fewest training vectors per inverted list (FAISS warns below 39).
TRAIN_PER_LIST = 40
#: Most training vectors per inverted list (more adds k-means time, not quality).
TRAIN_MAX_PER_LIST = 128
#: A filtered dense search over at most this many allowed passages is exact.
EXACT_FILTER_LIMIT = 20_000


def inverted_lists_for(count: int, factory: str, ivf_min_passages: int) -> int:
    """Inverted lists the vectors of `count` passages should have; 0 means exact (flat).

    'auto' stays exact below `ivf_min_passages` (a flat scan of 50,000 vectors takes a few
    milliseconds), then takes about 4·√N lists, the usual balance of list scans against
    the coarse search; 'IVF<n>,Flat' asks for n lists whatever the size."""
    if factory == "Flat":
        return 0
    if factory == "auto":
        return 0 if count < ivf_min_passages else int(round(4 * math.sqrt(count)))
    match = re.fullmatch(r"IVF(\d+),Flat", factory)
    if match is None:
        raise ValueError(f"Unsupported FAISS layout '{factory}'.")
    return int(match.group(1))


class VectorStore:
    """FAISS vectors keyed by passage id; inner product on unit vectors is cosine similarity.

    Two layouts: exact (IndexIDMap2 over IndexFlatIP) and inverted-file (IndexIVFFlat with
    the passage ids as its own ids and a hash-table direct map, so vectors can be read back
    and removed by id, as incremental builds need). Which one is decided at the end of each
    build (`reorganised`) from the archive's size; changing it needs no re-embedding, since
    every vector can be read back."""

    def __init__(self, index, probes: int = 16) -> None:
        import faiss

        self._index = index
        self._ivf = index if isinstance(index, faiss.IndexIVF) else None
        self.probes = probes

    @classmethod
    def create(cls, dimension: int, lists: int = 0, probes: int = 16) -> VectorStore:
        import faiss

        if lists <= 0:
            return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), probes)
        quantizer = faiss.IndexFlatIP(dimension)
        ivf = faiss.IndexIVFFlat(quantizer, dimension, lists, faiss.METRIC_INNER_PRODUCT)
        ivf.own_fields = True
        quantizer.this.disown()
        return cls(ivf, probes)

    @classmethod
    def load(cls, path: Path, probes: int = 16) -> VectorStore:
        import faiss

        return cls(faiss.read_index(str(path)), probes)

    def save(self, path: Path) -> None:
        import faiss

        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as error:  # FAISS reports a failed write (a full disk) this way
            raise OSError(f"cannot write {path}: {str(error).strip().splitlines()[-1]}") from None

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def lists(self) -> int:
        """Inverted lists; 0 for the exact layout."""
        return int(self._ivf.nlist) if self._ivf is not None else 0

    @property
    def layout(self) -> str:
        return f"IVF{self.lists},Flat" if self._ivf is not None else "Flat"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(vectors.astype(np.float32), ids.astype(np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def vectors(self, ids: list[int]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def ids(self) -> np.ndarray:
        """Every stored passage id."""
        import faiss

        if self._ivf is None:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        lists = self._ivf.invlists
        found = [
            faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)).copy()
            for n in range(self._ivf.nlist)
            if lists.list_size(n)
        ]
        return np.concatenate(found).astype(np.int64) if found else np.zeros(0, np.int64)

    def reorganised(self, lists: int) -> VectorStore:
        """These vectors in the layout with `lists` inverted lists (0: exact); self when it
        already fits (an inverted file within a factor 2 of the lists wanted). Each list
        needs TRAIN_PER_LIST vectors to train on, which caps the lists of a small archive."""
        lists = min(lists, self.size // TRAIN_PER_LIST)
        if lists <= 0 and self._ivf is None:
            return self
        if lists > 0 and self._ivf is not None and lists / 2 <= self.lists <= lists * 2:
            return self
        ids = self.ids()
        matrix = self.vectors(ids)
        store = VectorStore.create(self.dimension, lists, self.probes)
        if store._ivf is not None:
            # A fixed-seed sample: the same vectors train the same lists.
            sample = np.random.default_rng(0).permutation(len(ids))[: lists * TRAIN_MAX_PER_LIST]
            store._ivf.train(matrix[np.sort(sample)])
            store._ivf.set_direct_map_type(_hashtable_direct_map())
        store.add(ids, matrix)
        return store

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        import faiss

        if self.size == 0 or k <= 0:
            return []
        query = query.reshape(1, -1).astype(np.float32)
        if allowed is not None:
            if len(allowed) == 0:
                return []
            if self._ivf is not None and len(allowed) <= EXACT_FILTER_LIMIT:
                return self._exact(query[0], allowed, k)
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
        else:
            selector = None
        if self._ivf is not None:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self.probes)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = self._index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _exact(self, query: np.ndarray, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact inner product over the allowed ids (a narrow filter defeats inverted lists);
        the ids come from the same index version's catalog, so each has its vector."""
        scores = self.vectors(allowed.tolist()) @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(allowed[i]), float(scores[i])) for i in top]


def _hashtable_direct_map():
    import faiss

    return faiss.DirectMap.Hashtable
