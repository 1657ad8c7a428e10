"""The lexical index's rows: FTS5 indexes each passage's terms under the passage's slot, a
number given as passages are stored, counting up (`passages.slot`), not under its id.

FTS5 stores each posting list as the gaps between its row ids. Passage ids are hashes, 7
bytes of gap each between two of them; slots are dense, a byte or two. On 300 BBC articles
the lexical index took 1,346 bytes a passage by id and 481 by slot
(docs/benchmarks.md#where-the-bytes-go). Slots are the lexical index's own business: what
leaves this module is passage ids, and a passage's slot never changes while it is stored.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable, Sequence

from qa.store.in_lists import rows_for_ids


def next_slot(db: sqlite3.Connection) -> int:
    """The slot of the next passage stored: one past the highest in use (one index look-up;
    a slot freed by a removed passage is not given again)."""
    return int(db.execute("SELECT coalesce(max(slot), 0) + 1 FROM passages").fetchone()[0])


def index_terms(db: sqlite3.Connection, rows: Sequence[tuple[int, str]]) -> None:
    """Index passages' terms: (slot, terms joined by single spaces) each, slots in order."""
    db.executemany("INSERT INTO passage_terms(rowid, terms) VALUES (?, ?)", rows)


def forget_terms(db: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str]:
    """Take these passages out of the lexical index (contentless, it is told what it indexed
    for each); returns each one's terms, joined by single spaces, by passage id."""
    found: dict[int, str] = {}
    forgotten: list[tuple[int, str]] = []
    sql = "SELECT id, slot, terms FROM passages WHERE id IN ({marks})"
    for passage_id, slot, stored in rows_for_ids(db, sql, ids):
        terms = zlib.decompress(stored).decode()
        found[passage_id] = terms
        forgotten.append((slot, terms))
    forget = "INSERT INTO passage_terms(passage_terms, rowid, terms) VALUES ('delete', ?, ?)"
    db.executemany(forget, forgotten)
    return found


def passage_ids(db: sqlite3.Connection, scored: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """(slot, score) pairs as (passage id, score), best first and, between equal scores, by
    passage id: the order does not depend on the order passages were stored in."""
    sql = "SELECT slot, id FROM passages WHERE slot IN ({marks})"
    ids = dict(rows_for_ids(db, sql, [slot for slot, _ in scored]))
    found = [(ids[slot], score) for slot, score in scored if slot in ids]
    return sorted(found, key=lambda pair: (-pair[1], pair[0]))
