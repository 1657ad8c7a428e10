"""Which version an index folder's catalog serves, read without opening it for searching."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

_LOOKING = threading.Lock()


def served_version(path: Path) -> str | None:
    """The name of the version the catalog at `path` serves (its last committed build), or
    None when there is no catalog or nothing was committed into it yet."""
    if not Path(path).is_file():
        return None
    # One look at a time: SQLite keeps the descriptor of a connection closed while the
    # process's other connections lock the file, for the next open to reuse, so looks made
    # at once by many threads would each leave one behind.
    with _LOOKING:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = connection.execute(
                "SELECT value FROM index_state WHERE key = 'version'"
            ).fetchone()
        except sqlite3.OperationalError:  # created, no build committed into it yet
            return None
        finally:
            connection.close()
    return row[0] if row else None
