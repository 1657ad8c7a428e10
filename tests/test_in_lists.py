"""Statements over more ids than one statement may carry (`qa.store.in_lists`): every id is
reached, in chunks under SQLite's limit on parameters, by reads and by deletes."""

from __future__ import annotations

import sqlite3

import numpy as np

from qa.store.in_lists import CHUNK, id_chunks, rows_for_ids
from qa.store.sentence_rows import remove_sentence_vectors, store_sentence_vectors

MANY = 2 * CHUNK + 201


def test_ids_go_in_chunks_each_with_its_marks():
    chunks = list(id_chunks(range(MANY)))
    assert [len(chunk) for _, chunk in chunks] == [CHUNK, CHUNK, 201]
    assert all(marks.count("?") == len(chunk) for marks, chunk in chunks)
    assert [i for _, chunk in chunks for i in chunk] == list(range(MANY))
    assert list(id_chunks([])) == []


def test_rows_for_more_ids_than_a_statement_carries_come_back_whole():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, kind TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(i, "ab"[i % 2]) for i in range(MANY + 50)])
    wanted = range(MANY)
    rows = list(rows_for_ids(db, "SELECT id FROM t WHERE id IN ({marks})", wanted))
    assert sorted(r[0] for r in rows) == list(wanted)
    sql = "SELECT id FROM t WHERE kind = ? AND id IN ({marks})"
    odd = [r[0] for r in rows_for_ids(db, sql, wanted, before=["b"])]
    assert sorted(odd) == [i for i in wanted if i % 2]


def test_sentence_vectors_of_more_passages_than_a_statement_carries_are_all_removed():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE passages (id INTEGER PRIMARY KEY, vectors INTEGER)")
    db.execute("CREATE TABLE sentence_vectors (id INTEGER PRIMARY KEY, codes BLOB)")
    db.executemany("INSERT INTO passages VALUES (?, NULL)", [(i,) for i in range(MANY + 3)])
    rng = np.random.default_rng(0)
    vectors = {i: rng.normal(size=(2, 8)).astype(np.float32) for i in range(MANY + 3)}
    store_sentence_vectors(db, vectors)
    assert db.execute("SELECT count(*) FROM sentence_vectors").fetchone()[0] == 2 * (MANY + 3)
    remove_sentence_vectors(db, range(MANY))
    left = db.execute("SELECT count(*) FROM sentence_vectors").fetchone()[0]
    assert left == 2 * 3  # the three passages not named keep both their rows
