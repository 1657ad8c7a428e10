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
