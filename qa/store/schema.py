"""The tables of an index version's catalog (SQLite, with FTS5 for the lexical index)."""

import sqlite3

#: Bytes of a page of a new catalog. A passage's sentence vectors are a row of about 4 KB:
#: pages of 4 KB held one each and left an eighth of the catalog empty. Pages of 64 KB left
#: less, but each page a build changes goes whole to the log and back into the file, so
#: adding one article to 300 wrote a quarter of the index (docs/benchmarks.md#where-the-bytes-go).
PAGE_SIZE = 16_384
#: Each connection's page cache, in KiB (SQLite's default is 2 MB: 128 pages of 16 KB).
CACHE_KIB = 65_536

SCHEMA = """
-- What the catalog holds as a whole: 'version', the index version its last committed build
-- put in service (qa/index/versions.py), set in that build's transaction.
CREATE TABLE IF NOT EXISTS index_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    language TEXT NOT NULL,
    source TEXT,
    date TEXT,
    date_start TEXT,
    date_end TEXT,
    metadata TEXT NOT NULL,
    -- Its text, UTF-8 compressed with zlib (qa/store/passages.py `stored_text`, read back by
    -- `document_text`): its passages and dated sentences are spans of it.
    text BLOB NOT NULL,
    page_starts TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
-- The columns a search filter reads, beside each document's id: its checks of candidates read
-- this small index, not the documents' rows with their text (15 times as fast at 31,496
-- documents: docs/benchmarks.md#where-the-bytes-go).
CREATE INDEX IF NOT EXISTS documents_filtered
    ON documents(id, source, language, date_start, date_end);
-- Each document's content hash, read whole by every incremental build: from this index, not
-- from the documents' rows with their text (4.97 s at 314,961 documents; made on first
-- opening by a build if a catalog lacks it).
CREATE INDEX IF NOT EXISTS documents_hashes ON documents(id, content_hash);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    page INTEGER,
    -- A passage's text is its document's text from start to end (stored once, there).
    sentences TEXT NOT NULL,
    term_count INTEGER NOT NULL,
    -- Its lexical terms joined by single spaces, compressed (zlib): what the FTS5 index
    -- below holds for it, read back for the exact BM25 of a candidate and to delete it.
    terms BLOB NOT NULL,
    -- The first of its two rows of sentence_vectors (NULL when not embedded): its
    -- sentences' own vectors; the next row holds them in context.
    vectors INTEGER,
    -- Its row id in the lexical index (qa/store/lexical_rows.py): passages are numbered as
    -- they are stored, counting up, not by their ids (hashes), so that FTS5's posting lists
    -- hold small gaps between row ids. Unique: its index (made with the table, so that
    -- opening a catalog of an earlier format to rebuild it makes no index it cannot hold)
    -- takes a search's slots back to passages.
    slot INTEGER NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS passages_by_document ON passages(document_id, ordinal);
-- Each passage's sentence vectors as two rows, in a table of their own whose rows are
-- appended in the order they are stored (ids counting up), so that their pages fill: one
-- row of about 4 KB a passage, under the passages' scattered ids, left a seventh of their
-- pages empty. The first row holds each sentence's own vector, one after the other, as
-- 8-bit or 6-bit codes after one float32 scale a vector (qa/store/codes.py `pack_rows`); the second
-- each sentence embedded with the sentence before it in the passage, stored the same way
-- (NULL when not embedded): the first sentence has none before it and keeps its own
-- vector, which is then not stored twice (codes.py `pack_context`).
CREATE TABLE IF NOT EXISTS sentence_vectors (
    id INTEGER PRIMARY KEY,
    codes BLOB
);
-- The lexical index, contentless: each passage's terms are in its passages row, compressed
-- (FTS5's own copy of them took 731 bytes a passage, the compressed one about 360). Its row
-- ids are the passages' slots: FTS5 stores the gap between two row ids of a posting list,
-- which between two hashes took 7 bytes (1,346 bytes a BBC passage in all, 481 by slot).
CREATE VIRTUAL TABLE IF NOT EXISTS passage_terms
    USING fts5(terms, content='', tokenize='unicode61');
-- Passages holding each term, kept up to date document by document: a question's rarity
-- weights are one indexed look-up per term (FTS5's own counts walk each posting list).
CREATE TABLE IF NOT EXISTS vocabulary (
    term TEXT PRIMARY KEY,
    passages INTEGER NOT NULL
) WITHOUT ROWID;
-- Date mentions of sentences (qa/index/events.py), one row per mention: a sentence is its
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
-- What each corpus file was when its documents were read (qa/ingest/documents.py
-- `file_signature`: size, times, inode, its sidecar's): a build that finds a file as it was
-- takes its documents as they are here, without reading it. Set in the build's transaction,
-- for files whose every document is here; made on first opening by a build if missing.
CREATE TABLE IF NOT EXISTS corpus_files (
    path TEXT PRIMARY KEY,
    signature TEXT NOT NULL
) WITHOUT ROWID;
"""

#: The tables a full build makes again (index_state is kept: it names the version in service
#: until the build's commit), those that refer to others first.
TABLES = (
    "corpus_files",
    "sentence_dates",
    "passage_terms",
    "vocabulary",
    "sentence_vectors",
    "passages",
    "documents",
)


def remake_tables(db: sqlite3.Connection) -> None:
    """Drop the tables and make them again as SCHEMA declares them, in the connection's
    transaction (begun here if none is open: DDL opens none by itself)."""
    if not db.in_transaction:
        db.execute("BEGIN")
    for table in TABLES:
        db.execute(f"DROP TABLE IF EXISTS {table}")
    pending = ""  # SCHEMA's statements one by one: `executescript` would commit
    for line in SCHEMA.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending)
            pending = ""


#: Pages (of about 4 KB) a full build's merge of the lexical index's segments writes at most.
MERGE_PAGES = 1000


def merge_lexical_segments(db: sqlite3.Connection, pages: int = MERGE_PAGES) -> None:
    """Merge the lexical index's segments where a level holds four or more (about `pages`
    pages written at most). FTS5 writes a segment whenever a row id is lower than the last,
    so at almost every document when its row ids were the passages' ids (hashes): a new
    archive could end with fifteen, each one more b-tree a search looks its terms up in. Row
    ids are slots now, counting up, and a build's inserts come in order."""
    db.execute("INSERT INTO passage_terms(passage_terms, rank) VALUES ('merge', ?)", (pages,))
