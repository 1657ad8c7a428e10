"""The dated sentences of the catalog: written at build time, read by the timeline.

Every sentence of a document is read by `qa.dates.find_dates` against the document's date;
each mention becomes a row of the catalog's `sentence_dates` table, keyed by the document,
the sentence's span and the mention's start, with the first passage that holds the sentence
(passages overlap by a sentence). Rows go with their document (ON DELETE CASCADE), so an
incremental build that re-reads or removes a document keeps the table right.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from qa.dates import find_dates
from qa.query import date_bounds
from qa.store import Catalog
from qa.types import Document, Passage


@dataclass(frozen=True)
class DatedSentence:
    """One stored mention with its sentence and document fields."""

    document_id: str
    start: int
    end: int
    passage_id: int
    mention_start: int
    mention_end: int
    value_start: str
    value_end: str
    precision: str
    first_day: str
    last_day: str
    title: str
    language: str
    metadata: dict
    sentence: str
    mention: str


def document_date_rows(document: Document, passages: list[Passage]) -> list[tuple]:
    """The `sentence_dates` rows of a document (each sentence once, with its first passage)."""
    rows: list[tuple] = []
    seen: set[int] = set()
    for passage in sorted(passages, key=lambda p: p.ordinal):
        for sentence in passage.sentences:
            if sentence.start in seen:
                continue
            seen.add(sentence.start)
            for mention in find_dates(sentence.text, document.date):
                rows.append(
                    (
                        document.id,
                        sentence.start,
                        sentence.end,
                        passage.id,
                        sentence.start + mention.start,
                        sentence.start + mention.end,
                        mention.value_start,
                        mention.value_end,
                        mention.precision,
                        mention.first_day,
                        mention.last_day,
                    )
                )
    return rows


def add_document_dates(catalog: Catalog, document: Document, passages: list[Passage]) -> int:
    """Store the dated sentences of a document just added to the catalog; returns the count."""
    rows = document_date_rows(document, passages)
    catalog.connection.executemany(
        "INSERT OR IGNORE INTO sentence_dates VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
    )
    return len(rows)


_SELECT = (
    "SELECT s.document_id, s.start, s.end, s.passage_id, s.mention_start, s.mention_end, "
    "s.value_start, s.value_end, s.precision, s.first_day, s.last_day, d.title, d.language, "
    "d.metadata, substr(d.text, s.start + 1, s.end - s.start), "
    "substr(d.text, s.mention_start + 1, s.mention_end - s.mention_start) "
    "FROM sentence_dates s JOIN documents d ON d.id = s.document_id"
)


def dated_sentences(
    catalog: Catalog,
    source: str | None = None,
    language: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    passage_ids: Iterable[int] | None = None,
) -> list[DatedSentence]:
    """Stored mentions whose date overlaps [date_from, date_to], of documents with this source
    and language, oldest first; with `passage_ids`, only sentences inside those passages."""
    clauses, values = ["1=1"], []
    if source:
        clauses.append("d.source = ?")
        values.append(source)
    if language:
        clauses.append("d.language = ?")
        values.append(language)
    if date_from:
        clauses.append("s.last_day >= ?")
        values.append(date_bounds(date_from)[0])
    if date_to:
        clauses.append("s.first_day <= ?")
        values.append(date_bounds(date_to)[1])
    sql = _SELECT
    if passage_ids is not None:
        ids = [int(i) for i in passage_ids][:500]
        if not ids:
            return []
        sql += (
            " JOIN passages p ON p.document_id = s.document_id AND s.start >= p.start "
            f"AND s.end <= p.end AND p.id IN ({','.join('?' * len(ids))})"
        )
        values = ids + values
    sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY s.first_day, s.last_day, s.document_id, s.start, s.mention_start"
    rows = catalog.connection.execute(sql, values).fetchall()
    found, seen = [], set()
    for row in rows:
        key = (row[0], row[1], row[4])  # overlapping passages hold a sentence twice
        if key in seen:
            continue
        seen.add(key)
        found.append(DatedSentence(*row[:13], json.loads(row[13]), row[14], row[15]))
    return found


def sentence_mentions(catalog: Catalog, document_id: str, start: int) -> list[DatedSentence]:
    """The stored mentions of one sentence (by its document and start)."""
    rows = catalog.connection.execute(
        _SELECT + " WHERE s.document_id = ? AND s.start = ? ORDER BY s.mention_start",
        (document_id, start),
    ).fetchall()
    return [DatedSentence(*row[:13], json.loads(row[13]), row[14], row[15]) for row in rows]
