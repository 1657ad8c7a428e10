"""Statements over a list of ids of any length: SQLite limits a statement's parameters, so an
IN list goes in chunks (`CHUNK` ids a statement)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence

#: Ids in one IN list: under SQLite's limit on parameters.
CHUNK = 500


def id_chunks(ids: Iterable[int]) -> Iterator[tuple[str, list[int]]]:
    """The ids `CHUNK` at a time, each chunk with its IN list's marks ("?,?,...")."""
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        yield ",".join("?" * len(chunk)), chunk


def rows_for_ids(
    db: sqlite3.Connection, sql: str, ids: Iterable[int], before: Sequence = ()
) -> Iterator[tuple]:
    """Rows of `sql`, whose `{marks}` is an IN list, for these ids (`CHUNK` a query);
    `before`: the values of the parameters before it."""
    for marks, chunk in id_chunks(ids):
        yield from db.execute(sql.format(marks=marks), [*before, *chunk])
