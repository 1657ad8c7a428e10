"""A stored passage as retrieval and answers read it: its text, its document's fields and its
sentence vectors."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.core.types import Hit, Passage, Sentence
from qa.store.codes import unpack_sentences

#: A passage's columns, its document's stored text in place of its own: a passage is the span
#: [start, end) of its document's text (stored once, there, compressed: `document_text`), cut
#: out in Python (`passage_from_row`). Not in SQL through a function of ours: SQLite would
#: then call into Python while holding the connection that every request thread shares, and
#: a thread holding the GIL while it waits for that connection would never let it return.
PASSAGE_COLUMNS = "p.id, p.document_id, p.ordinal, p.start, p.end, p.page, d.text, p.sentences"
#: Passages by id (`Catalog._rows_for_ids` fills `{marks}`) with their document's fields, and
#: `{vectors}` read through `{joins}`: `stored_passage` reads its rows.
PASSAGES_SQL = (
    f"SELECT {PASSAGE_COLUMNS}, d.title, d.language, d.metadata{{vectors}} "
    "FROM passages p JOIN documents d ON d.id = p.document_id {joins}WHERE p.id IN ({{marks}})"
)
#: A passage's sentence vectors, alone and in context: `PASSAGES_SQL`'s vectors and joins.
VECTOR_COLUMNS = (
    ", v.codes, c.codes",
    "LEFT JOIN sentence_vectors v ON v.id = p.vectors "
    "LEFT JOIN sentence_vectors c ON c.id = p.vectors + 1 ",
)


def stored_text(text: str) -> bytes:
    """A document's text as the catalog stores it: UTF-8, compressed with zlib (a BBC
    article's text in about half its bytes: docs/benchmarks.md#where-the-bytes-go)."""
    return zlib.compress(text.encode("utf-8"), 6)


@lru_cache(maxsize=32)
def document_text(stored: bytes) -> str:
    """A document's text from what `stored_text` made of it. Remembered for the last few
    documents: a query's rows read a document once for each of its passages or dates."""
    return zlib.decompress(stored).decode("utf-8")


@dataclass(frozen=True)
class StoredPassage:
    """A passage with the document fields that retrieval and answers show."""

    passage: Passage
    title: str
    language: str
    metadata: dict
    #: One unit vector per sentence of the passage, in order; None when not embedded.
    sentence_vectors: np.ndarray | None = None
    #: One unit vector per sentence, of the sentence with the one before it in the passage
    #: (what "it", "these devices" refer to); None when not embedded.
    context_vectors: np.ndarray | None = None

    def hit(self, rank: int, score: float = 0.0, dense: float = 0.0, lexical: float = 0.0) -> Hit:
        """The passage as a search hit at `rank` (unscored unless scores are given)."""
        passage = self.passage
        return Hit(
            passage_id=passage.id,
            document_id=passage.document_id,
            title=self.title,
            text=passage.text,
            score=round(score, 6),
            start=passage.start,
            end=passage.end,
            page=passage.page,
            rank=rank,
            dense_score=round(dense, 6),
            lexical_score=round(lexical, 6),
            metadata=self.metadata,
        )


def passage_from_row(row) -> Passage:
    """A passage from `PASSAGE_COLUMNS`: its id, document id, ordinal, start, end, page, its
    document's stored text and its sentence spans."""
    passage_id, document_id, ordinal, start, end, page, stored, sentence_spans = row
    text = document_text(stored)[start:end]
    sentences = tuple(
        Sentence(s, e, text[s - start : e - start]) for s, e in json.loads(sentence_spans)
    )
    return Passage(passage_id, document_id, ordinal, start, end, text, sentences, page)


def stored_passage(row, vectors: bool) -> StoredPassage:
    """A row of `PASSAGES_SQL`, with the `VECTOR_COLUMNS` if `vectors`, as a StoredPassage."""
    passage = passage_from_row(row[:8])
    count = len(passage.sentences)
    own, context = row[11:13] if vectors else (None, None)
    own, context = unpack_sentences(own, context, count)
    return StoredPassage(passage, row[8], row[9], json.loads(row[10]), own, context)
