"""The dated sentences of a document, found at build time for the timeline.

Every sentence of a document is read by `qa.dates.find_dates` against the document's date;
each mention becomes a row of the catalog's `sentence_dates` table (`qa.store.dates`), keyed
by the document, the sentence's span and the mention's start, with the first passage that
holds the sentence (passages overlap by a sentence). Rows go with their document (ON DELETE
CASCADE), so an incremental build that re-reads or removes a document keeps the table right.
"""

from __future__ import annotations

from qa.core.types import Document, Passage
from qa.dates.mentions import find_dates
from qa.store import Catalog


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
    catalog.dates.add(rows)
    return len(rows)
