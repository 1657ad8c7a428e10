"""The catalog's `sentence_vectors` table: each passage's sentence vectors as two rows of 8-bit
or 6-bit codes (`qa.store.codes`), its own and in context, the first of which its passage row points
to. Rows are appended with ids that count up, so that their pages fill
(docs/benchmarks.md#where-the-bytes-go), and go with their passage when its document is
removed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

from qa.store.codes import pack_sentences
from qa.store.in_lists import id_chunks


def store_sentence_vectors(
    db: sqlite3.Connection,
    vectors: dict[int, np.ndarray],
    context: dict[int, np.ndarray] | None = None,
    bits: int = 8,
) -> None:
    """Store, for each passage id, the vectors of its sentences (one row each, in order) and,
    when given, their vectors in context, in place of any it had, in codes of `bits`."""
    context = context or {}
    remove_sentence_vectors(db, vectors)
    (last,) = db.execute("SELECT coalesce(max(id), 0) FROM sentence_vectors").fetchone()
    firsts = {passage_id: last + 1 + 2 * n for n, passage_id in enumerate(vectors)}
    rows = []
    for passage_id, matrix in vectors.items():
        first = firsts[passage_id]
        own, in_context = pack_sentences(matrix, context.get(passage_id), bits)
        rows.extend([(first, own), (first + 1, in_context)])
    db.executemany("INSERT INTO sentence_vectors VALUES (?, ?)", rows)
    db.executemany(
        "UPDATE passages SET vectors = ? WHERE id = ?",
        [(first, passage_id) for passage_id, first in firsts.items()],
    )


def remove_sentence_vectors(db: sqlite3.Connection, passage_ids: Iterable[int]) -> None:
    """Delete the sentence vectors of these passages (of those that have some)."""
    for marks, chunk in id_chunks(passage_ids):
        for row in ("vectors", "vectors + 1"):  # its own vectors, then in context
            db.execute(
                "DELETE FROM sentence_vectors WHERE id IN "
                f"(SELECT {row} FROM passages WHERE id IN ({marks}))",
                chunk,
            )
