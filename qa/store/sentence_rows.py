"""The catalog's `sentence_vectors` table: each passage's sentence vectors as one row of int8
codes (`qa.store.codes`), which its passage row points to. Rows are appended with ids that
count up, so that their pages fill (docs/benchmarks.md#where-the-bytes-go), and go with
their passage when its document is removed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

from qa.store.codes import pack_context, pack_rows

#: Passage ids in one statement (under SQLite's limit on parameters).
BATCH = 500


def store_sentence_vectors(
    db: sqlite3.Connection,
    vectors: dict[int, np.ndarray],
    context: dict[int, np.ndarray] | None = None,
) -> None:
    """Store, for each passage id, the vectors of its sentences (one row each, in order) and,
    when given, their vectors in context, in place of any it had."""
    context = context or {}
    remove_sentence_vectors(db, vectors)
    (last,) = db.execute("SELECT coalesce(max(id), 0) FROM sentence_vectors").fetchone()
    rows = list(enumerate(vectors.items(), start=last + 1))
    db.executemany(
        "INSERT INTO sentence_vectors VALUES (?, ?, ?)",
        [
            (row, pack_rows(matrix), pack_context(matrix, context.get(passage_id)))
            for row, (passage_id, matrix) in rows
        ],
    )
    db.executemany(
        "UPDATE passages SET vectors = ? WHERE id = ?",
        [(row, passage_id) for row, (passage_id, _) in rows],
    )


def remove_sentence_vectors(db: sqlite3.Connection, passage_ids: Iterable[int]) -> None:
    """Delete the sentence vectors of these passages (of those that have some)."""
    ids = [int(i) for i in passage_ids]
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        db.execute(
            "DELETE FROM sentence_vectors WHERE id IN "
            f"(SELECT vectors FROM passages WHERE id IN ({','.join('?' * len(chunk))}))",
            chunk,
        )
