"""The catalog's `vocabulary` table: each stemmed term and how many passages hold it, kept up
to date document by document, and the look-ups in it."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable

#: Sorts after any character: every string that begins with a prefix sorts below it + this.
_LAST = "\U0010ffff"


def has_term_with_prefix(connection: sqlite3.Connection, prefix: str) -> bool:
    """Whether some passage holds a term that begins with `prefix` (one range look-up on the
    vocabulary's key): a word spelt alike across languages, "congreso" / "congress"."""
    if not prefix:
        return False
    row = connection.execute(
        "SELECT 1 FROM vocabulary WHERE term >= ? AND term < ? AND passages > 0 LIMIT 1",
        (prefix, prefix + _LAST),
    ).fetchone()
    return row is not None


def count_terms(connection: sqlite3.Connection, term_sets: Iterable[set[str]], sign: int) -> None:
    """Add (sign +1) or take away (-1) passages, given by their sets of terms, from each
    term's count."""
    counts: Counter[str] = Counter()
    for term_set in term_sets:
        counts.update(term_set)
    connection.executemany(
        "INSERT INTO vocabulary VALUES (?, ?) "
        "ON CONFLICT(term) DO UPDATE SET passages = passages + excluded.passages",
        [(term, sign * n) for term, n in counts.items()],
    )
    if sign < 0:
        connection.execute("DELETE FROM vocabulary WHERE passages <= 0")


def document_frequencies(connection: sqlite3.Connection, terms: Iterable[str]) -> dict[str, int]:
    """How many passages hold each of `terms` (for rarity weights)."""
    unique = sorted(set(terms))
    if not unique:
        return {}
    marks = ",".join("?" * len(unique))
    rows = connection.execute(
        f"SELECT term, passages FROM vocabulary WHERE term IN ({marks})", unique
    )
    found = dict(rows)
    return {term: int(found.get(term, 0)) for term in unique}
