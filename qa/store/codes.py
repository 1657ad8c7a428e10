"""Vectors as the catalog stores them: 6-bit codes with one float32 scale a row.

A matrix of R rows is stored as one byte (how many codes of padding end it), R float32
scales (each row's largest magnitude over 31), then its codes row after row, each a
component's multiple of its row's scale in [-31, 31] plus 32, four to three bytes (the last
group padded with zeros). Against int8 codes, a quarter fewer bytes, and every answer figure
within 0.002 of theirs (docs/benchmarks.md#sentence-vectors-in-6-bits).
"""

from __future__ import annotations

import numpy as np

#: A code's largest magnitude: codes are in [-31, 31], stored plus 32 in 6 bits.
CODE_MAX = 31
_OFFSET = 32
_BITS = 6
#: Codes a group of three bytes holds.
_GROUP = 4


def pack_rows(matrix: np.ndarray | None) -> bytes | None:
    """A matrix as its padding byte, its rows' float32 scales, then its 6-bit codes."""
    if matrix is None:
        return None
    matrix = np.asarray(matrix, dtype=np.float32).reshape(len(matrix), -1)
    scales = np.abs(matrix).max(axis=1) / CODE_MAX
    scales[scales == 0] = 1.0
    codes = np.rint(matrix / scales[:, None]).clip(-CODE_MAX, CODE_MAX).astype(np.int32)
    flat = (codes.reshape(-1) + _OFFSET).astype(np.uint32)
    padding = -len(flat) % _GROUP
    groups = np.concatenate([flat, np.zeros(padding, np.uint32)]).reshape(-1, _GROUP)
    word = groups[:, 0] | groups[:, 1] << 6 | groups[:, 2] << 12 | groups[:, 3] << 18
    three = np.stack([word & 0xFF, word >> 8 & 0xFF, word >> 16], axis=1).astype(np.uint8)
    return bytes([padding]) + scales.astype(np.float32).tobytes() + three.tobytes()


def unpack_rows(blob: bytes | None, rows: int) -> np.ndarray | None:
    """The float32 matrix of `rows` rows that `pack_rows` stored."""
    if blob is None:
        return None
    if not rows:
        return np.zeros((0, 0), np.float32)
    scales = np.frombuffer(blob, dtype=np.float32, count=rows, offset=1)
    three = np.frombuffer(blob, dtype=np.uint8, offset=1 + 4 * rows).reshape(-1, 3)
    word = three.astype(np.int32)
    word = word[:, 0] | word[:, 1] << 8 | word[:, 2] << 16
    shifts = np.arange(0, _BITS * _GROUP, _BITS, dtype=np.int32)
    codes = (word[:, None] >> shifts & 0x3F).reshape(-1)
    codes = codes[: len(codes) - blob[0]] - _OFFSET
    return codes.reshape(rows, -1).astype(np.float32) * scales[:, None]


def pack_context(own: np.ndarray | None, context: np.ndarray | None) -> bytes | None:
    """A passage's context vectors as `pack_rows` stores them, but for the first row when it
    is the first sentence's own vector (a first sentence has no sentence before it in its
    passage, and keeps its own vector): `unpack_context` takes it from the own vectors."""
    if context is None or own is None or not len(context) or not len(own):
        return pack_rows(context)
    if np.array_equal(np.asarray(context[0], np.float32), np.asarray(own[0], np.float32)):
        return pack_rows(context[1:]) if len(context) > 1 else b""
    return pack_rows(context)


def stored_length(rows: int, dimension: int) -> int:
    """The bytes `pack_rows` makes of a matrix of `rows` rows of `dimension` components."""
    return 1 + 4 * rows + 3 * -(-rows * dimension // _GROUP)


def unpack_context(blob: bytes | None, own: np.ndarray | None, rows: int) -> np.ndarray | None:
    """The context vectors `pack_context` stored, its first row restored from `own` (the
    passage's own vectors, as `unpack_rows` gave them back)."""
    if blob is None or own is None or not rows:
        return unpack_rows(blob, rows)
    if len(blob) == stored_length(rows, own.shape[1]):
        return unpack_rows(blob, rows)
    if rows == 1:
        return own[:1].copy()
    return np.vstack([own[:1], unpack_rows(blob, rows - 1)])
