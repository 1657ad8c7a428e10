"""The catalog's `sentence_dates` table: one row per date mention of a sentence, written at
build time (`qa.index.events`) and read by the timeline. A sentence is its document and span,
with the first passage holding it; rows go with their document (ON DELETE CASCADE).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qa.dates.values import date_bounds
from qa.store.passages import document_text

#: Most passages one `overlapping` call narrows to (under SQLite's limit on parameters).
MAX_PASSAGES = 500
_SELECT = (
    "SELECT s.document_id, s.start, s.end, s.passage_id, s.mention_start, s.mention_end, "
    "s.value_start, s.value_end, s.precision, s.first_day, s.last_day, d.title, d.language, "
    "d.metadata, d.text "
    "FROM sentence_dates s JOIN documents d ON d.id = s.document_id"
)


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


class SentenceDates:
    """The dated sentences of one catalog (`Catalog.dates`)."""

    def __init__(self, connection: Callable[[], sqlite3.Connection]) -> None:
        self._connection = connection  # the calling thread's connection of the catalog

    def add(self, rows: list[tuple]) -> None:
        """Store mention rows: (document id, sentence start, end, passage id, mention start,
        end, value start, end, precision, first day, last day)."""
        self._connection().executemany(
            "INSERT OR IGNORE INTO sentence_dates VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
        )

    def overlapping(
        self,
        source: str | None = None,
        language: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        passage_ids: Iterable[int] | None = None,
    ) -> list[DatedSentence]:
        """Mentions whose date overlaps [date_from, date_to], of documents with this source
        and language, oldest first; with `passage_ids`, only sentences inside those passages
        (the first MAX_PASSAGES of them)."""
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
            ids = [int(i) for i in passage_ids][:MAX_PASSAGES]
            if not ids:
                return []
            sql += (
                " JOIN passages p ON p.document_id = s.document_id AND s.start >= p.start "
                f"AND s.end <= p.end AND p.id IN ({','.join('?' * len(ids))})"
            )
            values = ids + values
        sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY s.first_day, s.last_day, s.document_id, s.start, s.mention_start"
        found, seen = [], set()
        for row in self._connection().execute(sql, values).fetchall():
            key = (row[0], row[1], row[4])  # overlapping passages hold a sentence twice
            if key not in seen:
                seen.add(key)
                found.append(_dated(row))
        return found

    def of_sentence(self, document_id: str, start: int) -> list[DatedSentence]:
        """The mentions of one sentence (by its document and start)."""
        rows = self._connection().execute(
            _SELECT + " WHERE s.document_id = ? AND s.start = ? ORDER BY s.mention_start",
            (document_id, start),
        )
        return [_dated(row) for row in rows.fetchall()]

    def busiest_years(self, limit: int) -> list[str]:
        """The years most mentions start in, most first."""
        rows = self._connection().execute(
            "SELECT substr(first_day, 1, 4) AS year FROM sentence_dates GROUP BY year "
            "ORDER BY count(*) DESC LIMIT ?",
            (limit,),
        )
        return [row[0] for row in rows.fetchall()]

    def count_within(self, first_day: str, last_day: str) -> int:
        """Mentions whose days overlap [first_day, last_day]."""
        return (
            self._connection()
            .execute(
                "SELECT count(*) FROM sentence_dates WHERE last_day >= ? AND first_day <= ?",
                (first_day, last_day),
            )
            .fetchone()[0]
        )

    def counts(self) -> tuple[int, int]:
        """Mentions, and the sentences that hold them."""
        return (
            self._connection()
            .execute(
                "SELECT count(*), count(DISTINCT document_id || ':' || start) FROM sentence_dates"
            )
            .fetchone()
        )


def _dated(row) -> DatedSentence:
    """A row of `_SELECT`: the sentence and its mention cut out of the document's text."""
    text = document_text(row[14])
    sentence, mention = text[row[1] : row[2]], text[row[4] : row[5]]
    return DatedSentence(*row[:13], json.loads(row[13]), sentence, mention)
