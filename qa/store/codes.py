"""Vectors as the catalog stores them: int8 codes with one float32 scale a row."""

from __future__ import annotations

import numpy as np

#: Sentence vectors are stored as int8 codes with one float32 scale a row (the row's largest
#: magnitude over 127): half the bytes of float16, and every answer figure within 0.002 of
#: float16's (docs/benchmarks.md#sentence-vectors-in-int8).
_CODE_MAX = 127


def pack_rows(matrix: np.ndarray | None) -> bytes | None:
    """A matrix as its rows' float32 scales, then its int8 codes (row by row)."""
    if matrix is None:
        return None
    matrix = np.asarray(matrix, dtype=np.float32).reshape(len(matrix), -1)
    scales = np.abs(matrix).max(axis=1) / _CODE_MAX
    scales[scales == 0] = 1.0
    codes = np.rint(matrix / scales[:, None]).clip(-_CODE_MAX, _CODE_MAX).astype(np.int8)
    return scales.astype(np.float32).tobytes() + codes.tobytes()


def unpack_rows(blob: bytes | None, rows: int) -> np.ndarray | None:
    """The float32 matrix of `rows` rows that `pack_rows` stored."""
    if blob is None:
        return None
    scales = np.frombuffer(blob, dtype=np.float32, count=rows)
    codes = np.frombuffer(blob, dtype=np.int8, offset=4 * rows).reshape(rows, -1)
    return codes.astype(np.float32) * scales[:, None]


def pack_context(own: np.ndarray | None, context: np.ndarray | None) -> bytes | None:
    """A passage's context vectors as `pack_rows` stores them, but for the first row when it
    is the first sentence's own vector (a first sentence has no sentence before it in its
    passage, and keeps its own vector): `unpack_context` takes it from the own vectors."""
    if context is None or own is None or not len(context) or not len(own):
        return pack_rows(context)
    if np.array_equal(np.asarray(context[0], np.float32), np.asarray(own[0], np.float32)):
        return pack_rows(context[1:]) if len(context) > 1 else b""
    return pack_rows(context)


def unpack_context(blob: bytes | None, own_blob: bytes | None, rows: int) -> np.ndarray | None:
    """The context vectors `pack_context` stored, its first row restored from the own."""
    if blob is None or own_blob is None or not rows:
        return unpack_rows(blob, rows)
    row_bytes = len(own_blob) // rows
    if len(blob) == row_bytes * rows:
        return unpack_rows(blob, rows)
    own_first = unpack_rows(own_blob[:4] + own_blob[4 * rows : 4 * rows + row_bytes - 4], 1)
    if rows == 1:
        return own_first
    return np.vstack([own_first, unpack_rows(blob, rows - 1)])
