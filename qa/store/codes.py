"""Vectors as the catalog stores them: 8-bit or 6-bit codes with one float32 scale a row.

A matrix of R rows is stored as one byte (its codes' bits times 16, plus how many codes of
padding end it), R float32 scales (each row's largest magnitude over the codes' largest),
then its codes row after row: in 8 bits, an int8 a component in [-127, 127]; in 6 bits, a
component's code in [-31, 31] plus 32, four to three bytes, the last group padded with
zeros. Each blob says its bits, so a catalog may hold both (`sentence_vector_bits` decides
what a build writes): 6 bits take a quarter fewer bytes than 8, and move a few answers
(docs/benchmarks.md#sentence-vectors-in-6-bits).
"""

from __future__ import annotations

import numpy as np

#: Bits a component's code may take, and each one's largest magnitude.
CODE_MAX = {8: 127, 6: 31}
_OFFSET = 32  # a 6-bit code is stored plus this, in [1, 63]
#: Codes in a group of three bytes, in 6 bits.
_GROUP = 4


def pack_rows(matrix: np.ndarray | None, bits: int = 8) -> bytes | None:
    """A matrix as its header byte, its rows' float32 scales, then its codes in `bits`."""
    if matrix is None:
        return None
    largest = CODE_MAX[bits]
    matrix = np.asarray(matrix, dtype=np.float32).reshape(len(matrix), -1)
    scales = np.abs(matrix).max(axis=1) / largest
    scales[scales == 0] = 1.0
    codes = np.rint(matrix / scales[:, None]).clip(-largest, largest)
    head = scales.astype(np.float32).tobytes()
    if bits == 8:
        return bytes([bits << 4]) + head + codes.astype(np.int8).tobytes()
    flat = (codes.reshape(-1) + _OFFSET).astype(np.uint32)
    padding = -len(flat) % _GROUP
    groups = np.concatenate([flat, np.zeros(padding, np.uint32)]).reshape(-1, _GROUP)
    word = groups[:, 0] | groups[:, 1] << 6 | groups[:, 2] << 12 | groups[:, 3] << 18
    three = np.stack([word & 0xFF, word >> 8 & 0xFF, word >> 16], axis=1).astype(np.uint8)
    return bytes([bits << 4 | padding]) + head + three.tobytes()


def unpack_rows(blob: bytes | None, rows: int) -> np.ndarray | None:
    """The float32 matrix of `rows` rows that `pack_rows` stored."""
    if blob is None:
        return None
    if not rows:
        return np.zeros((0, 0), np.float32)
    bits, padding = blob[0] >> 4, blob[0] & 0x0F
    scales = np.frombuffer(blob, dtype=np.float32, count=rows, offset=1)
    start = 1 + 4 * rows
    if bits == 8:
        codes = np.frombuffer(blob, dtype=np.int8, offset=start).astype(np.float32)
        return codes.reshape(rows, -1) * scales[:, None]
    three = np.frombuffer(blob, dtype=np.uint8, offset=start).reshape(-1, 3).astype(np.int32)
    word = three[:, 0] | three[:, 1] << 8 | three[:, 2] << 16
    shifts = np.arange(0, 6 * _GROUP, 6, dtype=np.int32)
    codes = (word[:, None] >> shifts & 0x3F).reshape(-1)
    codes = codes[: len(codes) - padding] - _OFFSET
    return codes.reshape(rows, -1).astype(np.float32) * scales[:, None]


def stored_length(rows: int, dimension: int, bits: int = 8) -> int:
    """The bytes `pack_rows` makes of a matrix of `rows` rows of `dimension` components."""
    if bits == 8:
        return 1 + 4 * rows + rows * dimension
    return 1 + 4 * rows + 3 * -(-rows * dimension // _GROUP)


def pack_context(own: np.ndarray | None, context: np.ndarray | None, bits: int = 8) -> bytes | None:
    """A passage's context vectors as `pack_rows` stores them, but for the first row when it
    is the first sentence's own vector (a first sentence has no sentence before it in its
    passage, and keeps its own vector): `unpack_context` takes it from the own vectors."""
    if context is None or own is None or not len(context) or not len(own):
        return pack_rows(context, bits)
    if np.array_equal(np.asarray(context[0], np.float32), np.asarray(own[0], np.float32)):
        return pack_rows(context[1:], bits) if len(context) > 1 else b""
    return pack_rows(context, bits)


def unpack_context(blob: bytes | None, own: np.ndarray | None, rows: int) -> np.ndarray | None:
    """The context vectors `pack_context` stored, its first row restored from `own` (the
    passage's own vectors, as `unpack_rows` gave them back)."""
    if blob is None or own is None or not rows:
        return unpack_rows(blob, rows)
    if blob and len(blob) == stored_length(rows, own.shape[1], blob[0] >> 4):
        return unpack_rows(blob, rows)
    if rows == 1:
        return own[:1].copy()
    return np.vstack([own[:1], unpack_rows(blob, rows - 1)])
