"""Look-ups in the catalog's `vocabulary` table (each stemmed term and how many passages hold
it) beyond a term's own count, which `Catalog.document_frequencies` gives."""

from __future__ import annotations

import sqlite3

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
